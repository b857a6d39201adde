"""The only module that speaks SQL: opens the file safely, migrates it, offers domain methods."""

import json
import os
import sqlite3
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from alpana_hooks import rules
from alpana_hooks.errors import Conflict, NotFound
from alpana_hooks.model import (
    Attempt, ErrorClass, Event, Secret, SendingContext, State, Status, Subscription, Trigger,
)
from alpana_hooks.timeutil import from_iso, to_iso

SCHEMA_VERSION = 2  # the number of migrations in migrations.py; each sets PRAGMA user_version
BUSY_TIMEOUT_SECONDS = 10.0


class Store:
    """A tenant-aware view of one SQLite file."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self._write_depth = 0  # write() blocks open: the outermost one owns the transaction

    @classmethod
    def open(cls, path: Path) -> "Store":
        """Open (creating it 0600, with its folder) and migrate the database file."""
        _create_private_file(path)
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        conn.row_factory = sqlite3.Row
        _set_wal(conn)
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        store = cls(conn)
        store.migrate()
        return store

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def migrate(self) -> None:
        """Apply pending migrations under one write lock, so racing processes apply each once."""
        if self.schema_version() >= SCHEMA_VERSION:
            return
        from sqlite_utils import Database

        from alpana_hooks.migrations import migrations

        with self.write():
            if self.schema_version() < SCHEMA_VERSION:
                migrations.apply(Database(self.conn))

    def schema_version(self) -> int:
        """PRAGMA user_version: how many migrations were applied."""
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    @contextmanager
    def write(self):
        """A BEGIN IMMEDIATE transaction: safe for read-then-write across processes. Inside another
        write() it is a savepoint, so several domain methods can commit (or fail) as one."""
        depth = self._write_depth
        self._write_depth += 1
        try:
            if depth:
                with self._savepoint(f"write_{depth}"):
                    yield self.conn
                return
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                yield self.conn
            except BaseException:
                if self.conn.in_transaction:  # also after an interrupt that landed during BEGIN itself
                    self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
        finally:
            self._write_depth = depth

    @contextmanager
    def _savepoint(self, name: str):
        self.conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self.conn.execute(f"ROLLBACK TO {name}")
            self.conn.execute(f"RELEASE {name}")
            raise
        self.conn.execute(f"RELEASE {name}")

    # -- subscriptions -------------------------------------------------------------------

    def add_subscription(self, *, tenant: str, event_type: str, url: str, description: str, state: str,
                         headers: list[tuple[str, str]], secret: str, now: datetime) -> int:
        """Insert a subscription with its headers and first secret; refuse a duplicate."""
        stamp = to_iso(now)
        with self.write() as conn:
            self._refuse_duplicate(conn, tenant, event_type, url, None)
            sub_id = conn.execute(
                "INSERT INTO subscriptions (tenant, event_type, url, description, state, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (tenant, event_type, url, description, state, stamp, stamp),
            ).lastrowid
            conn.executemany(
                "INSERT INTO subscription_headers (subscription_id, name, value) VALUES (?, ?, ?)",
                [(sub_id, name, value) for name, value in headers],
            )
            conn.execute(
                "INSERT INTO subscription_secrets (subscription_id, secret, created_at) VALUES (?, ?, ?)",
                (sub_id, secret, stamp),
            )
        return sub_id

    @staticmethod
    def _refuse_duplicate(conn, tenant, event_type, url, own_id) -> None:
        row = conn.execute(
            "SELECT id FROM subscriptions WHERE tenant = ? AND event_type = ? AND url = ? AND id IS NOT ?",
            (tenant, event_type, url, own_id),
        ).fetchone()
        if row:
            raise Conflict(f"subscription {row['id']} in {tenant} already sends {event_type} to {url}")

    def list_subscriptions(self, tenant: str, event_type: str | None = None, state: str | None = None) -> list[Subscription]:
        """The tenant's subscriptions, oldest first, with their headers."""
        rows = self.conn.execute(
            "SELECT * FROM subscriptions WHERE tenant = ? AND (? IS NULL OR event_type = ?)"
            " AND (? IS NULL OR state = ?) ORDER BY id",
            (tenant, event_type, event_type, state, state),
        ).fetchall()
        return self._with_headers(rows)

    def tenants(self) -> list[str]:
        """Every tenant that has a subscription or a recorded event, sorted."""
        rows = self.conn.execute(
            "SELECT DISTINCT tenant FROM subscriptions UNION SELECT DISTINCT tenant FROM events ORDER BY tenant"
        ).fetchall()
        return [row[0] for row in rows]

    def get_subscription(self, tenant: str, sub_id: int) -> Subscription:
        """One subscription of this tenant, with its headers; NotFound otherwise."""
        row = self.conn.execute(
            "SELECT * FROM subscriptions WHERE tenant = ? AND id = ?", (tenant, sub_id)
        ).fetchone()
        if row is None:
            raise NotFound(f"subscription {sub_id} not found in tenant {tenant}")
        return self._with_headers([row])[0]

    def _with_headers(self, rows: list[sqlite3.Row]) -> list[Subscription]:
        """Subscriptions from their rows, each with its headers (one query for all)."""
        headers: dict[int, list[tuple[str, str]]] = {row["id"]: [] for row in rows}
        if rows:
            marks = ",".join("?" * len(headers))
            for found in self.conn.execute(
                f"SELECT subscription_id, name, value FROM subscription_headers"
                f" WHERE subscription_id IN ({marks}) ORDER BY rowid",
                list(headers),
            ):
                headers[found["subscription_id"]].append((found["name"], found["value"]))
        return [_subscription(row, headers[row["id"]]) for row in rows]

    def edit_subscription(self, tenant: str, sub_id: int, *, now: datetime, url: str | None = None,
                          event_type: str | None = None, description: str | None = None) -> None:
        """Change the URL, event type or description of a subscription."""
        with self.write() as conn:
            current = self._locked_subscription(conn, tenant, sub_id)
            new_url = url if url is not None else current["url"]
            new_type = event_type if event_type is not None else current["event_type"]
            self._refuse_duplicate(conn, tenant, new_type, new_url, sub_id)
            conn.execute(
                "UPDATE subscriptions SET url = ?, event_type = ?, description = ?, updated_at = ? WHERE id = ?",
                (new_url, new_type, description if description is not None else current["description"],
                 to_iso(now), sub_id),
            )

    def delete_subscription(self, tenant: str, sub_id: int) -> None:
        """Delete a subscription with its headers and secrets; its attempts stay as history."""
        with self.write() as conn:
            self._locked_subscription(conn, tenant, sub_id)
            conn.execute("DELETE FROM subscriptions WHERE id = ?", (sub_id,))
            conn.execute(  # its unsent work goes nowhere: no pending attempt, no scheduled retry
                "UPDATE attempts SET status = 'failed', error_class = 'discarded',"
                " error = 'subscription deleted before sending' WHERE subscription_id = ? AND status = 'pending'",
                (sub_id,),
            )
            conn.execute("UPDATE attempts SET next_attempt_at = NULL WHERE subscription_id = ?"
                         " AND next_attempt_at IS NOT NULL", (sub_id,))

    def set_state(self, tenant: str, sub_id: int, state: str, *, now: datetime, reason: str | None = None) -> None:
        """Enable or disable a subscription; enabling clears the reason and the failure clock."""
        with self.write() as conn:
            self._locked_subscription(conn, tenant, sub_id)
            self._set_state(conn, sub_id, state, now, reason)

    @staticmethod
    def _set_state(conn, sub_id: int, state: str, now: datetime, reason: str | None) -> None:
        stamp = to_iso(now)
        if state == "active":
            conn.execute(
                "UPDATE subscriptions SET state = 'active', disabled_reason = NULL, disabled_at = NULL,"
                " failing_since = NULL, updated_at = ? WHERE id = ?",
                (stamp, sub_id),
            )
        else:
            conn.execute(
                "UPDATE subscriptions SET state = 'disabled', disabled_reason = ?, disabled_at = ?, updated_at = ?"
                " WHERE id = ?",
                (reason or "disabled by a user", stamp, stamp, sub_id),
            )

    @staticmethod
    def _locked_subscription(conn, tenant: str, sub_id: int) -> sqlite3.Row:
        row = conn.execute("SELECT * FROM subscriptions WHERE tenant = ? AND id = ?", (tenant, sub_id)).fetchone()
        if row is None:
            raise NotFound(f"subscription {sub_id} not found in tenant {tenant}")
        return row

    def set_header(self, tenant: str, sub_id: int, name: str, value: str, *, now: datetime) -> None:
        """Add or replace one header (names are case-insensitive: the new spelling wins)."""
        with self.write() as conn:
            self._locked_subscription(conn, tenant, sub_id)
            conn.execute("DELETE FROM subscription_headers WHERE subscription_id = ? AND name = ?", (sub_id, name))
            conn.execute(
                "INSERT INTO subscription_headers (subscription_id, name, value) VALUES (?, ?, ?)", (sub_id, name, value)
            )
            conn.execute("UPDATE subscriptions SET updated_at = ? WHERE id = ?", (to_iso(now), sub_id))

    def remove_header(self, tenant: str, sub_id: int, name: str, *, now: datetime) -> None:
        """Remove one header; NotFound when the subscription has no such header."""
        with self.write() as conn:
            self._locked_subscription(conn, tenant, sub_id)
            removed = conn.execute(
                "DELETE FROM subscription_headers WHERE subscription_id = ? AND name = ?", (sub_id, name)
            ).rowcount
            if not removed:
                raise NotFound(f"subscription {sub_id} has no header {name!r}")
            conn.execute("UPDATE subscriptions SET updated_at = ? WHERE id = ?", (to_iso(now), sub_id))

    # -- secrets -------------------------------------------------------------------------

    def signing_secrets(self, sub_id: int, now: datetime) -> list[Secret]:
        """The secrets that sign a delivery now, with their times: the current one first, then those in grace."""
        rows = self.conn.execute(
            "SELECT secret, created_at, expires_at FROM subscription_secrets WHERE subscription_id = ?"
            " AND (expires_at IS NULL OR expires_at > ?) ORDER BY expires_at IS NOT NULL, id DESC",
            (sub_id, to_iso(now)),
        ).fetchall()
        return [Secret(row["secret"], row["created_at"], row["expires_at"]) for row in rows]

    def rotate_secret(self, tenant: str, sub_id: int, new_secret: str, *, now: datetime, old_expires: datetime) -> None:
        """Make new_secret current; the old one keeps signing until old_expires."""
        with self.write() as conn:
            self._locked_subscription(conn, tenant, sub_id)
            conn.execute(
                "UPDATE subscription_secrets SET expires_at = ? WHERE subscription_id = ? AND"
                " (expires_at IS NULL OR expires_at > ?)",
                (to_iso(old_expires), sub_id, to_iso(old_expires)),
            )
            conn.execute(
                "INSERT INTO subscription_secrets (subscription_id, secret, created_at) VALUES (?, ?, ?)",
                (sub_id, new_secret, to_iso(now)),
            )


    # -- events and the outbox ------------------------------------------------------------

    def record_event(self, *, tenant: str, event_id: str, event_type: str, data: dict, body: bytes,
                     now: datetime, resource: tuple | None = None, trigger: str = "emit",
                     only_subscription: int | None = None, claim=None) -> dict:
        """The outbox: in one transaction, remember the resource, store the event and one pending
        attempt per matching active subscription. claim=(owner, lease_for(count) -> datetime) stores them
        already claimed by the caller, who sends them at once, so no other process takes them meanwhile.
        Returns {event_pk, attempt_ids, duplicate, fired}."""
        stamp = to_iso(now)
        with self.write() as conn:
            existing = conn.execute(
                "SELECT id FROM events WHERE tenant = ? AND event_id = ?", (tenant, event_id)
            ).fetchone()
            if existing:
                return {"event_pk": existing["id"], "attempt_ids": [], "duplicate": True, "fired": False}
            if resource and not self._remember_resource(conn, tenant, resource, stamp):
                return {"event_pk": None, "attempt_ids": [], "duplicate": False, "fired": False}
            event_pk = conn.execute(
                "INSERT INTO events (tenant, event_id, type, data, body, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (tenant, event_id, event_type, dumps(data), body, stamp),
            ).lastrowid
            if only_subscription is not None:
                targets = conn.execute(
                    "SELECT id, url FROM subscriptions WHERE tenant = ? AND id = ?", (tenant, only_subscription)
                ).fetchall()
            else:
                targets = conn.execute(
                    "SELECT id, url FROM subscriptions WHERE tenant = ? AND event_type = ? AND state = 'active'"
                    " ORDER BY id",
                    (tenant, event_type),
                ).fetchall()
            owner, lease = (claim[0], to_iso(claim[1](len(targets)))) if claim else (None, None)
            attempt_ids = [
                conn.execute(
                    "INSERT INTO attempts (tenant, subscription_id, event_pk, trigger, status, created_at, url,"
                    " claimed_by, lease_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (tenant, row["id"], event_pk, trigger, "sending" if claim else "pending", stamp, row["url"],
                     owner, lease),
                ).lastrowid
                for row in targets
            ]
        return {"event_pk": event_pk, "attempt_ids": attempt_ids, "duplicate": False, "fired": True}

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
        rows = self.conn.execute(
            "SELECT e.*,"
            " (SELECT count(*) FROM attempts a WHERE a.event_pk = e.id) AS attempts"
            " FROM events e WHERE e.tenant = ? AND (? IS NULL OR e.type = ?) AND (? IS NULL OR e.created_at >= ?)"
            " ORDER BY e.created_at DESC, e.id DESC LIMIT ?",
            (tenant, event_type, event_type, _iso_or_none(since), _iso_or_none(since), limit),
        ).fetchall()
        return [_event(row) for row in rows]

    def get_event(self, tenant: str, event_id: str) -> Event:
        """One event of this tenant, with its body; NotFound otherwise."""
        row = self.conn.execute(
            "SELECT * FROM events WHERE tenant = ? AND event_id = ?", (tenant, event_id)
        ).fetchone()
        if row is None:
            raise NotFound(f"event {event_id} not found in tenant {tenant}")
        return _event(row)

    # -- send attempts -------------------------------------------------------------------

    _ATTEMPT_SELECT = (
        "SELECT a.*, e.event_id, e.type AS event_type, e.body AS payload FROM attempts a"
        " JOIN events e ON e.id = a.event_pk"
    )

    def list_attempts(self, tenant: str, *, subscription_id: int | None = None, event_type: str | None = None,
                      status: str | None = None, since: datetime | None = None, event_pk: int | None = None,
                      after_id: int | None = None, limit: int | None = 50) -> list[Attempt]:
        """The tenant's attempts, newest first, filtered."""
        where, params = ["a.tenant = ?"], [tenant]  # type: list[str], list[object]
        for clause, value in (("a.subscription_id = ?", subscription_id), ("e.type = ?", event_type),
                              ("a.status = ?", status), ("a.created_at >= ?", _iso_or_none(since)),
                              ("a.event_pk = ?", event_pk), ("a.id > ?", after_id)):
            if value is not None:
                where.append(clause)
                params.append(value)
        sql = f"{self._ATTEMPT_SELECT} WHERE {' AND '.join(where)} ORDER BY a.created_at DESC, a.id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_attempt(row) for row in self.conn.execute(sql, params).fetchall()]

    def get_attempt(self, tenant: str, attempt_id: int) -> Attempt:
        """One attempt of this tenant, with its event's id, type and payload; NotFound otherwise."""
        row = self.conn.execute(f"{self._ATTEMPT_SELECT} WHERE a.tenant = ? AND a.id = ?", (tenant, attempt_id)).fetchone()
        if row is None:
            raise NotFound(f"attempt {attempt_id} not found in tenant {tenant}")
        return _attempt(row)

    def add_resend(self, tenant: str, attempt_id: int, *, now: datetime, only_if_latest: bool = False,
                   claim: tuple[str, datetime] | None = None) -> int | None:
        """A new pending attempt that replays an attempt's event to its subscription. With only_if_latest
        (bulk recovery), None when another attempt of that delivery was made meanwhile (say by a second
        engineer's resend --failed). claim=(owner, lease_until) stores it already claimed by the caller."""
        with self.write() as conn:
            original = conn.execute(
                "SELECT * FROM attempts WHERE tenant = ? AND id = ?", (tenant, attempt_id)
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
                " created_at, url, claimed_by, lease_until) VALUES (?, ?, ?, 1, 'resend', ?, ?, ?, ?, ?, ?)",
                (tenant, original["subscription_id"], original["event_pk"], attempt_id,
                 "sending" if claim else "pending", to_iso(now), sub["url"],
                 claim[0] if claim else None, to_iso(claim[1]) if claim else None),
            ).lastrowid

    def attempts_by_ids(self, tenant: str | None, attempt_ids: list[int]) -> list[Attempt]:
        """These attempts (of this tenant, or of any with None), in id order."""
        rows = []
        for start in range(0, len(attempt_ids), 500):
            chunk = attempt_ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            rows += self.conn.execute(
                f"{self._ATTEMPT_SELECT} WHERE a.id IN ({marks}) AND (? IS NULL OR a.tenant = ?) ORDER BY a.id",
                (*chunk, tenant, tenant),
            ).fetchall()
        return [_attempt(row) for row in rows]

    def count_by_status(self, attempt_ids: list[int]) -> dict[str, int]:
        """How many of these attempts are in each status (without loading their bodies)."""
        counts: dict[str, int] = {}
        for start in range(0, len(attempt_ids), 500):
            chunk = attempt_ids[start:start + 500]
            for row in self.conn.execute(
                f"SELECT status, count(*) AS n FROM attempts WHERE id IN ({','.join('?' * len(chunk))}) GROUP BY status",
                chunk,
            ):
                counts[row["status"]] = counts.get(row["status"], 0) + row["n"]
        return counts

    def get_subscription_of_attempt(self, tenant: str, attempt: Attempt) -> Subscription:
        """The subscription an attempt went to; NotFound when it was deleted."""
        try:
            return self.get_subscription(tenant, attempt.subscription_id)
        except NotFound:
            raise NotFound(f"subscription {attempt.subscription_id} of attempt {attempt.id} was deleted") from None

    def failed_not_recovered(self, tenant: str, *, since: datetime | None, subscription_id: int | None,
                             event_type: str | None, limit: int | None, include_disabled: bool = False) -> list[Attempt]:
        """For each (event, subscription) whose latest attempt failed, that attempt; oldest first.
        Subscriptions that were deleted, or (unless include_disabled) disabled, are left out."""
        sql = (
            f"{self._ATTEMPT_SELECT} WHERE a.tenant = ? AND a.status = 'failed'"
            " AND (? IS NULL OR a.created_at >= ?) AND (? IS NULL OR a.subscription_id = ?) AND (? IS NULL OR e.type = ?)"
            " AND a.id = (SELECT max(b.id) FROM attempts b WHERE b.event_pk = a.event_pk"
            " AND b.subscription_id = a.subscription_id)"
            " AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.id = a.subscription_id AND (? OR s.state = 'active'))"
            " AND a.trigger != 'ping' ORDER BY a.id"
        )
        params = [tenant, _iso_or_none(since), _iso_or_none(since), subscription_id, subscription_id,
                  event_type, event_type, int(include_disabled)]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_attempt(row) for row in self.conn.execute(sql, params).fetchall()]

    def claim(self, attempt_ids: list[int] | None, *, now: datetime, lease_until: datetime, owner: str,
              limit: int = 1000) -> list[int]:
        """Take attempts for sending: pending ones, or 'sending' ones whose lease expired; each is won by one
        process. With attempt_ids None, takes up to `limit` of any such attempts, oldest first."""
        stamp = to_iso(now)
        with self.write() as conn:
            if attempt_ids is None:
                attempt_ids = [row["id"] for row in conn.execute(
                    "SELECT id FROM attempts WHERE status IN ('pending', 'sending') AND (status = 'pending' OR lease_until < ?)"
                    " ORDER BY id LIMIT ?",
                    (stamp, limit),
                ).fetchall()]
            won = []
            for attempt_id in attempt_ids:
                taken = conn.execute(
                    "UPDATE attempts SET status = 'sending', lease_until = ?, claimed_by = ? WHERE id = ?"
                    " AND (status = 'pending' OR (status = 'sending' AND lease_until < ?))",
                    (to_iso(lease_until), owner, attempt_id, stamp),
                ).rowcount
                if taken:
                    won.append(attempt_id)
        return won

    def release_all(self, *, owner: str) -> None:
        """Hand back every claim this owner still holds (after an interrupt, when none is in flight)."""
        with self.write() as conn:
            conn.execute("UPDATE attempts SET status = 'pending', lease_until = NULL, claimed_by = NULL"
                         " WHERE status = 'sending' AND claimed_by = ?", (owner,))

    def claim_due_retries(self, *, now: datetime, lease_until: datetime, owner: str, limit: int = 1000) -> list[int]:
        """Turn failed attempts whose retry time has come into new claimed 'retry' attempts."""
        stamp = to_iso(now)
        with self.write() as conn:
            due = conn.execute(
                "SELECT a.*, s.state, s.url AS current_url FROM attempts a LEFT JOIN subscriptions s"
                " ON s.id = a.subscription_id WHERE a.next_attempt_at IS NOT NULL AND a.next_attempt_at <= ?"
                " ORDER BY a.next_attempt_at LIMIT ?",
                (stamp, limit),
            ).fetchall()
            created = []
            for row in due:
                conn.execute("UPDATE attempts SET next_attempt_at = NULL WHERE id = ?", (row["id"],))
                if row["state"] != "active":
                    continue
                created.append(conn.execute(
                    "INSERT INTO attempts (tenant, subscription_id, event_pk, attempt_number, trigger, status,"
                    " created_at, url, lease_until, claimed_by) VALUES (?, ?, ?, ?, 'retry', 'sending', ?, ?, ?, ?)",
                    (row["tenant"], row["subscription_id"], row["event_pk"], row["attempt_number"] + 1, stamp,
                     row["current_url"], to_iso(lease_until), owner),
                ).lastrowid)
        return created

    def sending_context(self, attempt_id: int, now: datetime) -> SendingContext:
        """What a send needs: the attempt, its event body and id, the subscription as it is now, and its secrets."""
        row = self.conn.execute(
            "SELECT a.id, a.tenant, a.subscription_id, a.trigger, a.attempt_number, e.event_id, e.body,"
            " s.url AS url, s.state AS state FROM attempts a JOIN events e ON e.id = a.event_pk"
            " LEFT JOIN subscriptions s ON s.id = a.subscription_id WHERE a.id = ?",
            (attempt_id,),
        ).fetchone()
        headers = tuple((h["name"], h["value"]) for h in self.conn.execute(
            "SELECT name, value FROM subscription_headers WHERE subscription_id = ? ORDER BY rowid",
            (row["subscription_id"],),
        ))
        return SendingContext(
            id=row["id"], tenant=row["tenant"], subscription_id=row["subscription_id"], trigger=Trigger(row["trigger"]),
            attempt_number=row["attempt_number"], event_id=row["event_id"], body=bytes(row["body"]), url=row["url"],
            state=None if row["state"] is None else State(row["state"]), headers=headers,
            secrets=tuple(s.secret for s in self.signing_secrets(row["subscription_id"], now)),
        )

    def record_results(self, items: list[tuple[int, dict, str | None]], *, now: datetime,
                       disable_after: timedelta, owner: str) -> None:
        """Store sends' outcomes in one transaction: (attempt id, attempts columns to set, reason to disable or
        None). Moves each subscription's failure clock and disables it when the reason or the clock says so."""
        with self.write() as conn:
            for attempt_id, outcome, disable_reason in items:
                columns = ", ".join(f"{name} = ?" for name in outcome)
                written = conn.execute(  # only while this process still holds the claim
                    f"UPDATE attempts SET {columns}, lease_until = NULL, claimed_by = NULL WHERE id = ?"
                    " AND status = 'sending' AND claimed_by IS ?",
                    (*outcome.values(), attempt_id, owner),
                ).rowcount
                if written and outcome.get("error_class") != "discarded":
                    self._track_health(conn, attempt_id, outcome["status"] == "succeeded", now, disable_after,
                                       disable_reason)

    def _track_health(self, conn, attempt_id: int, succeeded: bool, now: datetime, disable_after: timedelta,
                      disable_reason: str | None) -> None:
        """A success resets the failure clock; failures for disable_after (or a reason such as 410) disable."""
        sub = conn.execute(
            "SELECT s.id, s.state, s.failing_since, a.event_pk FROM attempts a JOIN subscriptions s"
            " ON s.id = a.subscription_id WHERE a.id = ?",
            (attempt_id,),
        ).fetchone()
        if sub is None:
            return
        if succeeded:
            conn.execute("UPDATE subscriptions SET failing_since = NULL WHERE id = ?", (sub["id"],))
            conn.execute(  # a delivery that got through needs no scheduled retry
                "UPDATE attempts SET next_attempt_at = NULL WHERE event_pk = ? AND subscription_id = ?"
                " AND next_attempt_at IS NOT NULL",
                (sub["event_pk"], sub["id"]),
            )
            return
        failing_since = sub["failing_since"] or to_iso(now)
        conn.execute("UPDATE subscriptions SET failing_since = ? WHERE id = ?", (failing_since, sub["id"]))
        disable_reason = rules.disable_reason(now, from_iso(failing_since), disable_after, disable_reason)
        if disable_reason and sub["state"] == "active":
            self._set_state(conn, sub["id"], "disabled", now, disable_reason)
            conn.execute(
                "UPDATE attempts SET next_attempt_at = NULL WHERE subscription_id = ? AND next_attempt_at IS NOT NULL",
                (sub["id"],),
            )

    def prune_attempts(self, tenant: str, *, before: datetime) -> int:
        """Delete finished attempts older than a time (never pending, sending or awaiting a retry); then their orphan events."""
        with self.write() as conn:
            removed = conn.execute(
                "DELETE FROM attempts WHERE tenant = ? AND created_at < ? AND status IN ('succeeded', 'failed')"
                " AND next_attempt_at IS NULL",
                (tenant, to_iso(before)),
            ).rowcount
            conn.execute(
                "DELETE FROM events WHERE tenant = ? AND created_at < ? AND NOT EXISTS"
                " (SELECT 1 FROM attempts a WHERE a.event_pk = events.id)",
                (tenant, to_iso(before)),
            )
        return removed

def _create_private_file(path: Path) -> None:
    """Create the database file mode 0600 (and its folder 0700) if it does not exist yet."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass


def _set_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL, retrying while another process holds the lock on a fresh file."""
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def dumps(value) -> str:
    """JSON for a TEXT column."""
    return json.dumps(value, separators=(",", ":"))


def _iso_or_none(moment: datetime | None) -> str | None:
    return to_iso(moment) if moment is not None else None


def _event(row: sqlite3.Row) -> Event:
    """An Event from its row (with the attempt count when the query has one)."""
    return Event(id=row["id"], tenant=row["tenant"], event_id=row["event_id"], type=row["type"],
                 data=json.loads(row["data"]), body=bytes(row["body"]), created_at=row["created_at"],
                 attempts=row["attempts"] if "attempts" in row.keys() else None)


def _subscription(row: sqlite3.Row, headers: list[tuple[str, str]]) -> Subscription:
    """A Subscription from its row and its headers."""
    return Subscription(
        id=row["id"], tenant=row["tenant"], event_type=row["event_type"], url=row["url"],
        description=row["description"], state=State(row["state"]), disabled_reason=row["disabled_reason"],
        disabled_at=row["disabled_at"], failing_since=row["failing_since"], created_at=row["created_at"],
        updated_at=row["updated_at"], headers=tuple(headers),
    )


def _attempt(row: sqlite3.Row) -> Attempt:
    """An Attempt from a row of _ATTEMPT_SELECT."""
    values = dict(row)
    values.update(
        trigger=Trigger(values["trigger"]), status=Status(values["status"]),
        error_class=None if values["error_class"] is None else ErrorClass(values["error_class"]),
        response_truncated=bool(values["response_truncated"]), payload=bytes(values["payload"]),
        response_body=None if values["response_body"] is None else bytes(values["response_body"]),
    )
    return Attempt(**values)
