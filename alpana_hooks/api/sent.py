"""`verify --attempt`: a recorded delivery's signed headers and body as they went out."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from alpana_hooks.errors import NotFound, UsageError
from alpana_hooks.timeutil import from_iso

if TYPE_CHECKING:
    from alpana_hooks.api.hooks import Hooks


def sent_request(hooks: Hooks, tenant: str, attempt_id: int) -> tuple[dict[str, str], bytes]:
    """The webhook-id, webhook-timestamp and webhook-signature headers and the body of an attempt as it went
    out. The record keeps the signature masked, so it is made again, as the sender made it, from the
    subscription's secrets that were signing when the attempt started (an old one in its grace period too)."""
    from alpana_hooks import signing  # with hashlib and hmac: only for verify --attempt, not with every Hooks

    attempt = hooks.attempt(tenant, attempt_id)
    recorded = {name.lower(): value for name, value in json.loads(attempt.request_headers or "[]")}
    msg_id, timestamp = recorded.get("webhook-id"), recorded.get("webhook-timestamp")
    if attempt.started_at is None or msg_id is None or timestamp is None or not timestamp.isdigit():
        raise UsageError(f"attempt {attempt_id} was never sent: there is nothing to verify")
    try:
        hooks.subscription(tenant, attempt.subscription_id)
    except NotFound:
        raise NotFound(f"subscription {attempt.subscription_id} of attempt {attempt_id} was deleted, "
                       "with its secrets") from None
    started = attempt.started_at
    secrets = [s.secret for s in hooks.store.signing_secrets(attempt.subscription_id, from_iso(started))
               if s.created_at <= started]
    headers = {"webhook-id": msg_id, "webhook-timestamp": timestamp,
               "webhook-signature": signing.signature_header(secrets, msg_id, int(timestamp), attempt.payload)}
    return headers, attempt.payload
