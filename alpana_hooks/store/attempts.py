"""Send attempts: the history and its queries, resends, pruning."""

from __future__ import annotations

from datetime import datetime

from alpana_hooks.errors import NotFound
from alpana_hooks.model import Attempt, ErrorClass, Status, Trigger
from alpana_hooks.store.connection import Connection, iso_or_none
from alpana_hooks.timeutil import to_iso

ATTEMPT_SELECT = (
    "SELECT a.*, e.event_id, e.type AS event_type, e.body AS payload FROM attempts a"
    " JOIN events e ON e.id = a.event_pk"
)


class AttemptStore(Connection):
    """The attempts of each tenant."""

    def list_attempts(self, tenant: str, *, subscription_id: int | None = None, event_type: str | None = None,
                      status: str | None = None, since: datetime | None = None, event_pk: int | None = None,
                      after_id: int | None = None, limit: int | None = 50, ids: list[int] | None = None,
                      event_id: str | None = None) -> list[Attempt]:
        """The tenant's attempts, newest first, filtered (ids: only among these)."""
        where, params = ["a.tenant = ?"], [tenant]  # type: list[str], list[object]
        if ids is not None:
            if not ids:
                return []
            where.append(f"a.id IN ({','.join('?' * len(ids))})")
            params.extend(ids)
        for clause, value in (("a.subscription_id = ?", subscription_id), ("e.type = ?", event_type),
                              ("a.status = ?", status), ("a.created_at >= ?", iso_or_none(since)),
                              ("a.event_pk = ?", event_pk), ("a.id > ?", after_id), ("e.event_id = ?", event_id)):
            if value is not None:
                where.append(clause)
                params.append(value)
        sql = f"{ATTEMPT_SELECT} WHERE {' AND '.join(where)} ORDER BY a.created_at DESC, a.id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_attempt(row) for row in self.conn.execute(sql, params).fetchall()]

    def get_attempt(self, tenant: str, attempt_id: int) -> Attempt:
        """One attempt of this tenant, with its event's id, type and payload; NotFound otherwise."""
        row = self.conn.execute(f"{ATTEMPT_SELECT} WHERE a.tenant = ? AND a.id = ?", (tenant, attempt_id)).fetchone()
        if row is None:
            raise NotFound(f"attempt {attempt_id} not found in tenant {tenant}")
        return _attempt(row)

    def add_resend(self, tenant: str, attempt_id: int, *, now: datetime, only_if_latest: bool = False,
                   claim: tuple[str, datetime] | None = None) -> int | None:
        """A new pending attempt that replays an attempt's event to its subscription. With only_if_latest
        (bulk recovery), None when another attempt of that delivery was made meanwhile (say by a second
        engineer's resend --failed). claim=(owner, lease_until) stores it already claimed by the caller."""
        with self.write() as conn:
            original = conn.execute(  # locked: two hosts resending it take turns, the second sees the first's
                f"SELECT * FROM attempts WHERE tenant = ? AND id = ?{self.for_update()}", (tenant, attempt_id)
            ).fetchone()
            if original is None:
                raise NotFound(f"attempt {attempt_id} not found in tenant {tenant}")
            if only_if_latest and conn.execute(
                "SELECT 1 FROM attempts WHERE event_pk = ? AND subscription_id = ? AND id > ?",
                (original["event_pk"], original["subscription_id"], attempt_id),
            ).fetchone():
                return None
            sub = conn.execute("SELECT url FROM subscriptions WHERE id = ?", (original["subscription_id"],)).fetchone()
            if sub is None:
                raise NotFound(f"subscription {original['subscription_id']} of attempt {attempt_id} was deleted")
            return conn.execute(
                "INSERT INTO attempts (tenant, subscription_id, event_pk, attempt_number, trigger, resend_of, status,"
                " created_at, url, claimed_by, lease_until) VALUES (?, ?, ?, 1, 'resend', ?, ?, ?, ?, ?, ?) RETURNING id",
                (tenant, original["subscription_id"], original["event_pk"], attempt_id,
                 "sending" if claim else "pending", to_iso(now), sub["url"],
                 claim[0] if claim else None, to_iso(claim[1]) if claim else None),
            ).fetchone()[0]

    def attempts_by_ids(self, tenant: str | None, attempt_ids: list[int]) -> list[Attempt]:
        """These attempts (of this tenant, or of any with None), in id order."""
        rows = []
        for start in range(0, len(attempt_ids), 500):
            chunk = attempt_ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            in_tenant = "" if tenant is None else " AND a.tenant = ?"
            rows += self.conn.execute(
                f"{ATTEMPT_SELECT} WHERE a.id IN ({marks}){in_tenant} ORDER BY a.id",
                (*chunk, *([] if tenant is None else [tenant])),
            ).fetchall()
        return [_attempt(row) for row in rows]

    def failed_not_recovered(self, tenant: str, *, since: datetime | None, subscription_id: int | None,
                             event_type: str | None, limit: int | None, include_disabled: bool = False) -> list[Attempt]:
        """For each (event, subscription) whose latest attempt failed, that attempt; oldest first.
        Subscriptions that were deleted, or (unless include_disabled) disabled, are left out."""
        where, params = ["a.tenant = ?", "a.status = 'failed'"], [tenant]  # type: list[str], list[object]
        for clause, value in (("a.created_at >= ?", iso_or_none(since)), ("a.subscription_id = ?", subscription_id),
                              ("e.type = ?", event_type)):
            if value is not None:
                where.append(clause)
                params.append(value)
        active = "" if include_disabled else " AND s.state = 'active'"
        sql = (
            f"{ATTEMPT_SELECT} WHERE {' AND '.join(where)}"
            " AND a.id = (SELECT max(b.id) FROM attempts b WHERE b.event_pk = a.event_pk"
            " AND b.subscription_id = a.subscription_id)"
            f" AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.id = a.subscription_id{active})"
            " AND a.trigger != 'ping' ORDER BY a.id"
        )
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_attempt(row) for row in self.conn.execute(sql, params).fetchall()]

    def prune_attempts(self, tenant: str, *, before: datetime, dry_run: bool = False) -> tuple[int, int]:
        """Delete finished attempts older than a time (never pending, sending or awaiting a retry), then the events
        older than it left without attempts; (attempts, events) deleted, or with dry_run that would be."""
        stamp = to_iso(before)
        with self.write() as conn:
            events = conn.execute(
                f"SELECT count(*) FROM events e WHERE e.tenant = ? AND e.created_at < ? AND NOT EXISTS"
                f" (SELECT 1 FROM attempts a WHERE a.event_pk = e.id AND NOT ({_PRUNABLE.format(a='a.')}))",
                (tenant, stamp, stamp),
            ).fetchone()[0]
            if dry_run:
                return conn.execute(f"SELECT count(*) FROM attempts WHERE tenant = ? AND {_PRUNABLE.format(a='')}",
                                    (tenant, stamp)).fetchone()[0], events
            removed = conn.execute(f"DELETE FROM attempts WHERE tenant = ? AND {_PRUNABLE.format(a='')}",
                                   (tenant, stamp)).rowcount
            conn.execute(
                "DELETE FROM events WHERE tenant = ? AND created_at < ? AND NOT EXISTS"
                " (SELECT 1 FROM attempts a WHERE a.event_pk = events.id)",
                (tenant, stamp),
            )
        return removed, events


# A finished attempt older than a time: what `attempts prune` deletes ({a}: the table's alias and a dot, or "").
_PRUNABLE = "{a}created_at < ? AND {a}status IN ('succeeded', 'failed') AND {a}next_attempt_at IS NULL"


def _attempt(row) -> Attempt:
    """An Attempt from a row of _ATTEMPT_SELECT."""
    values = dict(row)
    values.update(
        trigger=Trigger(values["trigger"]), status=Status(values["status"]),
        error_class=None if values["error_class"] is None else ErrorClass(values["error_class"]),
        response_truncated=bool(values["response_truncated"]), payload=bytes(values["payload"]),
        response_headers_truncated=bool(values["response_headers_truncated"]),
        response_body=None if values["response_body"] is None else bytes(values["response_body"]),
    )
    return Attempt(**values)
