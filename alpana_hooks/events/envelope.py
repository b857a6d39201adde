"""The envelope around an event's ``data``: a new event id, and the exact bytes every delivery carries.

    {"type": TYPE, "id": EVENT_ID, "timestamp": ISO-8601 UTC, "tenant": T, "data": {...}}
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

__all__ = ["event_body", "new_event_id"]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_event_id(now: datetime) -> str:
    """'evt_' + a ULID: 48 bits of milliseconds then 80 random bits, so ids sort by time; no '.'."""
    import secrets  # with hashlib and hmac: imported when an event is made, not by every reader of events

    value = (int(now.timestamp() * 1000) << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_CROCKFORD[digit])
    return "evt_" + "".join(reversed(chars))


def event_body(*, event_type: str, event_id: str, tenant: str, data: dict[str, Any], now: datetime) -> bytes:
    """The exact bytes every delivery of an event carries (and signs)."""
    envelope = {"type": event_type, "id": event_id, "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "tenant": tenant, "data": data}
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
