"""The product's decisions, apart from how they are stored; pure."""

from __future__ import annotations

from datetime import datetime, timedelta

from alpana_hooks import events
from alpana_hooks.timeutil import to_iso


def update_fires(action: str, version: int | None, known_version: int | None) -> bool:
    """The rename rule: `*.updated` with the version already known is a rename (or nothing) and does not
    fire; a new or an older (restored) version fires, and so does an update without a version."""
    return not (action == "updated" and version is not None and version == known_version)


def disable_reason(now: datetime, failing_since: datetime, disable_after: timedelta, reason: str | None) -> str | None:
    """Why a subscription whose delivery just failed must be disabled, or None: a reason given (410 Gone), or
    every delivery failing for disable_after."""
    if reason is None and now - failing_since >= disable_after:
        return f"every delivery failed since {to_iso(failing_since)}"
    return reason


def resource(event_type: str, payload: dict) -> tuple | None:
    """(kind, id, name, version, action) for the rename rule of dashboards and widgets."""
    kind_action = events.resource_of(event_type)
    if kind_action is None:
        return None
    kind, action = kind_action
    return kind, payload[f"{kind}_id"], payload.get("name"), payload.get("version"), action
