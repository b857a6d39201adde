"""attempts list --watch: new and changed attempts as they happen (LISTEN/NOTIFY on PostgreSQL, else polling)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from alpana_hooks import validate
from alpana_hooks.model import Attempt, Status
from alpana_hooks.timeutil import utcnow

if TYPE_CHECKING:
    from alpana_hooks.api.hooks import Hooks

WATCH_LOOKBACK = timedelta(seconds=60)  # polling PostgreSQL: how late an attempt may commit after its created_at


def watch_attempts(hooks: Hooks, tenant: str, *, interval: float = 2.0, limit: int | None = 50,
                   subscription_id: int | None = None, event_type: str | None = None,
                   status: Status | str | None = None, since: datetime | None = None,
                   event_id: str | None = None) -> Iterator[list[Attempt]]:
    """Live attempts: first the latest `limit` (oldest first), then after every wake-up the attempts that
    are new or changed (status, code or retry time), possibly none. Attempts seen unfinished are followed
    until they finish, whatever the filters. On PostgreSQL it wakes on LISTEN/NOTIFY (at once, without
    polling the table); on SQLite, or where notifications are not allowed, it polls every `interval`."""
    tenant = validate.tenant(tenant)
    filters: dict[str, Any] = {"subscription_id": subscription_id, "event_type": validate.event_type_filter(event_type),
               "status": validate.status(status), "since": since, "event_id": event_id}
    seen: dict[int, tuple] = {}

    def changed(rows: list[Attempt]) -> list[Attempt]:
        fresh = []
        for row in rows:
            state = (row.status, row.status_code, row.next_attempt_at)
            if seen.get(row.id) != state:
                seen[row.id] = state
                fresh.append(row)
        return fresh

    listener = hooks.store.attempt_listener()  # listening before the first read: nothing falls in between
    try:
        yield changed(list(reversed(hooks.store.list_attempts(tenant, limit=limit, **filters))))
        while True:
            woke_at = utcnow()
            ids = listener.wait(interval, tenant) if listener else None
            if ids is None:
                if listener:  # the connection went: poll from now on
                    listener.close()
                    listener = None
                time.sleep(interval)
                rows = _polled(hooks, tenant, seen, filters, woke_at)
            else:
                known = [i for i in ids if i in seen]
                rows = hooks.store.attempts_by_ids(tenant, known)
                rows += list(reversed(hooks.store.list_attempts(
                    tenant, ids=[i for i in ids if i not in seen], limit=None, **filters)))
            yield changed(sorted(rows, key=lambda a: a.id))
    finally:
        if listener:
            listener.close()


def _polled(hooks: Hooks, tenant: str, seen: dict[int, tuple], filters: dict, woke_at: datetime) -> list[Attempt]:
    """One poll: the unfinished attempts seen, and those added since. Where ids may commit out of order
    (PostgreSQL), 'since' is a time window rather than the newest id seen."""
    unfinished = [i for i, state in seen.items() if state[0] in (Status.PENDING, Status.SENDING) or state[2]]
    rows = hooks.store.attempts_by_ids(tenant, unfinished)
    if hooks.store.commits_in_id_order():
        newer: dict[str, Any] = {"after_id": max(seen, default=0)}
    else:
        window = woke_at - WATCH_LOOKBACK
        newer = {"since": max(filters["since"], window) if filters["since"] else window}
    query: dict[str, Any] = {**filters, **newer}
    return rows + list(reversed(hooks.store.list_attempts(tenant, limit=None, **query)))

