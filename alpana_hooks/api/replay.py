"""`resend --event-id`: send one event again to the subscriptions it went to (or to one of them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alpana_hooks.errors import NotFound

if TYPE_CHECKING:
    from alpana_hooks.api.hooks import Hooks
    from alpana_hooks.model import Attempt


def resend_event(hooks: Hooks, tenant: str, event_id: str, *, subscription_id: int | None = None,
                 force: bool = False) -> list[Attempt]:
    """For each subscription the event went to (or only subscription_id), replay its latest attempt as a new
    one (same webhook-id), checked as `resend` checks one attempt: every check passes before anything is sent."""
    _, attempts = hooks.event(tenant, event_id)
    latest: dict[int, Attempt] = {}
    for attempt in attempts:  # newest first
        if subscription_id in (None, attempt.subscription_id):
            latest.setdefault(attempt.subscription_id, attempt)
    if not latest:
        where = "any subscription" if subscription_id is None else f"subscription {subscription_id}"
        raise NotFound(f"event {event_id} was never sent to {where} in tenant {tenant}")
    chosen = sorted(attempt.id for attempt in latest.values())
    for attempt_id in chosen:
        hooks.resendable(tenant, attempt_id, force=force)
    return hooks.store.attempts_by_ids(tenant, hooks.resend_now(tenant, chosen))
