"""Events and the outbox: an event and its attempts in one transaction; the resources the rename rule remembers."""

from __future__ import annotations

import json
from datetime import datetime

from alpana_hooks import filters, rules
from alpana_hooks.errors import Conflict, NotFound
from alpana_hooks.model import Event
from alpana_hooks.store.connection import Connection, dumps, iso_or_none
from alpana_hooks.store.subscriptions import within_budget
from alpana_hooks.timeutil import to_iso


class OutboxStore(Connection):
    """Recorded events of each tenant."""

    def record_event(self, *, tenant: str, event_id: str, event_type: str, data: dict, body: bytes,
                     now: datetime, resource: tuple | None = None, trigger: str = "emit",
                     only_subscription: int | None = None, claim=None) -> dict:
        """The outbox: in one transaction, remember the resource, store the event and one pending
        attempt per matching active subscription. claim=(owner, lease_until) stores them already claimed by
        the caller, who sends them at once (renewing the lease), so no other process takes them meanwhile; an
        emit's attempts over their subscription's rate limit stay pending (claimed_ids: those claimed).
        Returns {event_pk, attempt_ids, claimed_ids, duplicate, fired, skipped}."""
        stamp = to_iso(now)
        with self.write() as conn:
            self.serialize(conn, f"event {tenant} {event_id}")  # a repeated event id waits, then sees the first
            if resource:  # the rename rule reads then writes what it remembers of this resource
                self.serialize(conn, f"resource {tenant} {resource[0]} {resource[1]}")
            existing = conn.execute(
                "SELECT id, type, data FROM events WHERE tenant = ? AND event_id = ?", (tenant, event_id)
            ).fetchone()
            if existing:
                _refuse_other_payload(existing, event_id, event_type, data)
                return {"event_pk": existing["id"], "attempt_ids": [], "duplicate": True, "fired": False}
            if resource and not self._remember_resource(conn, tenant, resource, stamp):
                return {"event_pk": None, "attempt_ids": [], "duplicate": False, "fired": False}
            event_pk = conn.execute(
                "INSERT INTO events (tenant, event_id, type, data, body, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (tenant, event_id, event_type, dumps(data), body, stamp),
            ).fetchone()[0]
            targets, skipped = self._targets(conn, tenant, event_type, data, only_subscription)
            claimed = self._claimable(conn, targets, trigger, now) if claim else set()
            attempt_ids, claimed_ids = [], []
            owner, lease_until = (claim[0], to_iso(claim[1])) if claim else (None, None)
            for row in targets:
                taken = row["id"] in claimed
                attempt_ids.append(conn.execute(
                    "INSERT INTO attempts (tenant, subscription_id, event_pk, trigger, status, created_at, url,"
                    " claimed_by, lease_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (tenant, row["id"], event_pk, trigger, "sending" if taken else "pending", stamp, row["url"],
                     owner if taken else None, lease_until if taken else None),
                ).fetchone()[0])
                claimed_ids += attempt_ids[-1:] if taken else []
        return {"event_pk": event_pk, "attempt_ids": attempt_ids, "claimed_ids": claimed_ids, "duplicate": False,
                "fired": True, "skipped": skipped}

    def _claimable(self, conn, targets: list, trigger: str, now: datetime) -> set[int]:
        """The target subscriptions whose attempt the caller may claim and send now: an emit's fan-out spends
        each subscription's rate-limit budget (over it, the attempt stays pending for `deliver`); a ping, asked
        for by a person, goes at once."""
        sub_ids = [row["id"] for row in targets]
        return set(sub_ids) if trigger == "ping" else set(
            within_budget(conn, [(sub_id, sub_id) for sub_id in sub_ids], now, self.for_update()))

    @staticmethod
    def _targets(conn, tenant: str, event_type: str, data: dict, only_subscription: int | None) -> tuple[list, int]:
        """The subscriptions an event goes to (a ping: the one it names, filter or not), and how many active
        ones of its type a filter skipped."""
        if only_subscription is not None:
            return conn.execute("SELECT id, url FROM subscriptions WHERE tenant = ? AND id = ?",
                                (tenant, only_subscription)).fetchall(), 0
        rows = conn.execute(
            "SELECT id, url, filter FROM subscriptions WHERE tenant = ? AND event_type = ? AND state = 'active'"
            " ORDER BY id",
            (tenant, event_type),
        ).fetchall()
        seen = filters.envelope(tenant, event_type, data)
        targets = [row for row in rows if filters.matches(row["filter"], seen)]
        return targets, len(rows) - len(targets)

    def would_fire(self, tenant: str, event_id: str | None, resource: tuple | None) -> str | None:
        """Why record_event would not fire this event (a repeated id, the rename rule), or None: it fires.
        Reads only."""
        if event_id is not None and self.conn.execute(
                "SELECT 1 FROM events WHERE tenant = ? AND event_id = ?", (tenant, event_id)).fetchone():
            return f"event {event_id} was already recorded; nothing would be sent again"
        if resource and resource[4] != "deleted":
            kind, resource_id, _, version, action = resource
            known = self.conn.execute("SELECT version FROM resources WHERE tenant = ? AND kind = ? AND resource_id = ?",
                                      (tenant, kind, resource_id)).fetchone()
            if not rules.update_fires(action, version, None if known is None else known["version"]):
                return "would not fire: only the name changed"
        return None

    @staticmethod
    def _remember_resource(conn, tenant: str, resource: tuple, stamp: str) -> bool:
        """The rename rule: (kind, id, name, version, action). Returns whether the event fires."""
        kind, resource_id, name, version, action = resource
        if action == "deleted":
            conn.execute("DELETE FROM resources WHERE tenant = ? AND kind = ? AND resource_id = ?",
                         (tenant, kind, resource_id))
            return True
        known = conn.execute(
            "SELECT version FROM resources WHERE tenant = ? AND kind = ? AND resource_id = ?", (tenant, kind, resource_id)
        ).fetchone()
        fires = rules.update_fires(action, version, None if known is None else known["version"])
        conn.execute(
            "INSERT INTO resources (tenant, kind, resource_id, name, version, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (tenant, kind, resource_id) DO UPDATE SET name = excluded.name,"
            " version = coalesce(excluded.version, resources.version), updated_at = excluded.updated_at",
            (tenant, kind, resource_id, name, version, stamp),
        )
        return fires

    def list_events(self, tenant: str, *, event_type: str | None = None, since: datetime | None = None,
                    limit: int = 50) -> list[Event]:
        """The tenant's events, newest first, with how many attempts each caused."""
        where, params = ["e.tenant = ?"], [tenant]  # type: list[str], list[object]
        for clause, value in (("e.type = ?", event_type), ("e.created_at >= ?", iso_or_none(since))):
            if value is not None:
                where.append(clause)
                params.append(value)
        rows = self.conn.execute(
            "SELECT e.*,"
            " (SELECT count(*) FROM attempts a WHERE a.event_pk = e.id) AS attempts"
            f" FROM events e WHERE {' AND '.join(where)} ORDER BY e.created_at DESC, e.id DESC LIMIT ?",
            [*params, limit],
        ).fetchall()
        return [_event(row) for row in rows]

    def missed_events(self, tenant: str, sub_id: int, event_type: str, since: datetime) -> list[Event]:
        """The tenant's events of this type since `since` that were never attempted to the subscription (fired
        while it was disabled, or whose only attempts were discarded), oldest first."""
        rows = self.conn.execute(
            f"SELECT e.* FROM events e WHERE e.tenant = ? AND e.type = ? AND e.created_at >= ? AND {_NOT_ATTEMPTED}"
            " ORDER BY e.created_at, e.id",
            (tenant, event_type, to_iso(since), sub_id),
        ).fetchall()
        return [_event(row) for row in rows]

    def add_replay(self, tenant: str, sub_id: int, event_pk: int, *, now: datetime, claim) -> int | None:
        """A first attempt of a missed event to the subscription, stored claimed by the caller (claim=(owner,
        lease_until)); None when it was attempted meanwhile (another replay), so each goes once."""
        with self.write() as conn:
            self.serialize(conn, f"replay {sub_id} {event_pk}")
            sub = conn.execute("SELECT url FROM subscriptions WHERE tenant = ? AND id = ?", (tenant, sub_id)).fetchone()
            if sub is None or not conn.execute(f"SELECT 1 FROM events e WHERE e.id = ? AND {_NOT_ATTEMPTED}",
                                               (event_pk, sub_id)).fetchone():
                return None
            return conn.execute(
                "INSERT INTO attempts (tenant, subscription_id, event_pk, trigger, status, created_at, url, claimed_by,"
                " lease_until) VALUES (?, ?, ?, 'emit', 'sending', ?, ?, ?, ?) RETURNING id",
                (tenant, sub_id, event_pk, to_iso(now), sub["url"], claim[0], to_iso(claim[1])),
            ).fetchone()[0]

    def get_event(self, tenant: str, event_id: str) -> Event:
        """One event of this tenant, with its body; NotFound otherwise."""
        row = self.conn.execute(
            "SELECT * FROM events WHERE tenant = ? AND event_id = ?", (tenant, event_id)
        ).fetchone()
        if row is None:
            raise NotFound(f"event {event_id} not found in tenant {tenant}")
        return _event(row)


_NOT_ATTEMPTED = ("NOT EXISTS (SELECT 1 FROM attempts a WHERE a.event_pk = e.id AND a.subscription_id = ?"
                  " AND (a.error_class IS NULL OR a.error_class <> 'discarded'))")


def _refuse_other_payload(existing, event_id: str, event_type: str, data: dict) -> None:
    """An event id is an idempotency key: reused for another type or other data it is an error, not a no-op
    (as Stripe does with an Idempotency-Key reused with other parameters)."""
    stored = existing["data"]
    same_data = json.loads(stored if isinstance(stored, str) else dumps(stored)) == json.loads(dumps(data))
    if existing["type"] != event_type or not same_data:
        raise Conflict(f"event id {event_id} is already used by a {existing['type']} event with other data;"
                       " give a new --event-id, or repeat that event exactly")


def _event(row) -> Event:
    """An Event from its row (with the attempt count when the query has one)."""
    return Event(id=row["id"], tenant=row["tenant"], event_id=row["event_id"], type=row["type"],
                 data=json.loads(row["data"]), body=bytes(row["body"]), created_at=row["created_at"],
                 attempts=row["attempts"] if "attempts" in row.keys() else None)
