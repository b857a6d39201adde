"""Claims and results: who sends which attempt, what happened, retries due, and each subscription's health."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from alpana_hooks import rules
from alpana_hooks.model import NOT_RETRIED, ErrorClass, SendingContext, State, Status, Trigger
from alpana_hooks.store.alerts import ALERTS_TENANT, AlertStore
from alpana_hooks.store.subscriptions import headers_of, set_state, signing_secrets_of, within_budget
from alpana_hooks.timeutil import from_iso, to_iso


class ClaimStore(AlertStore):
    """Attempts taken for sending, with a lease, by one owner at a time."""

    def claim(self, attempt_ids: list[int] | None, *, now: datetime, lease_until: datetime, owner: str,
              limit: int = 1000) -> list[int]:
        """Take attempts for sending: pending ones, or 'sending' ones whose lease expired; each is won by one
        process. With attempt_ids None, takes up to `limit` of any such attempts, oldest first, that their
        subscription's rate limit lets go now (the others stay pending: they wait, they never fail)."""
        stamp = to_iso(now)
        with self.write() as conn:
            if attempt_ids is None:
                in_id_order = self.in_index_order(conn, "attempts_unfinished_by_id")
                candidates = [(row["id"], row["subscription_id"]) for row in conn.execute(
                    f"SELECT a.id, a.subscription_id FROM attempts a{in_id_order}"
                    " LEFT JOIN subscriptions s ON s.id = a.subscription_id"
                    " WHERE a.status IN ('pending', 'sending') AND (a.status = 'pending' OR a.lease_until < ?)"
                    " AND (s.next_send_at IS NULL OR s.next_send_at <= ?)"
                    f" ORDER BY a.id LIMIT ?{self.for_update('a', skip_locked=True)}",
                    (stamp, stamp, limit),
                ).fetchall()]
                attempt_ids = within_budget(conn, candidates, now, self.for_update())
            if not attempt_ids:
                return []
            taken = {row[0] for row in conn.execute(  # one statement for the whole batch
                "UPDATE attempts SET status = 'sending', lease_until = ?, claimed_by = ?"
                f" WHERE id IN ({','.join('?' * len(attempt_ids))})"
                " AND (status = 'pending' OR (status = 'sending' AND lease_until < ?)) RETURNING id",
                (to_iso(lease_until), owner, *attempt_ids, stamp),
            ).fetchall()}
        return [attempt_id for attempt_id in attempt_ids if attempt_id in taken]

    def rate_limited_backlog(self, now: datetime) -> tuple[int, datetime | None]:
        """How many pending attempts wait for their subscription's rate limit, and when the earliest of those
        subscriptions may send (now or earlier: one may go at once; None when none waits)."""
        row = self.conn.execute(
            "SELECT count(*) AS waiting, min(coalesce(s.next_send_at, ?)) AS earliest FROM subscriptions s"
            " CROSS JOIN attempts a WHERE s.rate_limit IS NOT NULL AND a.tenant = s.tenant"  # SQLite: s outer
            " AND a.subscription_id = s.id AND a.status = 'pending'",
            (to_iso(now),),
        ).fetchone()
        return row["waiting"], None if row["earliest"] is None else from_iso(row["earliest"])

    def extend_leases(self, owner: str, lease_until: datetime) -> None:
        """Move the lease of every claim this owner still holds to lease_until: it is alive and working on them.
        Rows locked at the moment (PostgreSQL: the owner's own results being written on another connection) are
        skipped, not waited for: waiting could deadlock with that write, and they are about to be finished."""
        with self.write() as conn:
            conn.execute("UPDATE attempts SET lease_until = ? WHERE id IN (SELECT id FROM attempts"
                         f" WHERE status = 'sending' AND claimed_by = ?{self.for_update(skip_locked=True)})",
                         (to_iso(lease_until), owner))

    def release_all(self, *, owner: str, keep: Collection[int] = ()) -> None:
        """Hand back every claim this owner still holds but those in keep (sent, result not written yet), when
        none is in flight: the next deliver takes them at once."""
        kept = f" AND id NOT IN ({','.join('?' * len(keep))})" if keep else ""
        with self.write() as conn:
            conn.execute("UPDATE attempts SET status = 'pending', lease_until = NULL, claimed_by = NULL"
                         f" WHERE status = 'sending' AND claimed_by = ?{kept}", (owner, *keep))

    def claim_due_retries(self, *, now: datetime, lease_until: datetime, owner: str, limit: int = 1000) -> list[int]:
        """Turn failed attempts whose retry time has come into new claimed 'retry' attempts (those of a
        subscription with a rate limit into pending ones, which claim() takes within its budget)."""
        stamp = to_iso(now)
        with self.write() as conn:
            due = conn.execute(
                "SELECT a.*, s.state, s.url AS current_url, s.rate_limit FROM attempts a LEFT JOIN subscriptions s"
                " ON s.id = a.subscription_id WHERE a.next_attempt_at IS NOT NULL AND a.next_attempt_at <= ?"
                f" ORDER BY a.next_attempt_at LIMIT ?{self.for_update('a', skip_locked=True)}",
                (stamp, limit),
            ).fetchall()
            created, lease_stamp = [], to_iso(lease_until)
            for row in due:
                conn.execute("UPDATE attempts SET next_attempt_at = NULL WHERE id = ?", (row["id"],))
                if row["state"] != "active":
                    continue
                claimed = row["rate_limit"] is None
                retry_id = conn.execute(
                    "INSERT INTO attempts (tenant, subscription_id, event_pk, attempt_number, trigger, status,"
                    " created_at, url, lease_until, claimed_by) VALUES (?, ?, ?, ?, 'retry', ?, ?, ?, ?, ?) RETURNING id",
                    (row["tenant"], row["subscription_id"], row["event_pk"], row["attempt_number"] + 1,
                     "sending" if claimed else "pending", stamp, row["current_url"],
                     lease_stamp if claimed else None, owner if claimed else None),
                ).fetchone()[0]
                if claimed:
                    created.append(retry_id)
        return created

    def sending_contexts(self, attempt_ids: list[int], now: datetime) -> list[SendingContext]:
        """What each send needs, in the order given: the attempt, its event body and id, the subscription as it is
        now, and its secrets. Three queries for the whole batch (claims come in batches of up to `concurrency`)."""
        if not attempt_ids:
            return []
        marks = ",".join("?" * len(attempt_ids))
        rows = {row["id"]: row for row in self.conn.execute(
            "SELECT a.id, a.tenant, a.subscription_id, a.trigger, a.attempt_number, e.event_id, e.body,"
            " s.url AS url, s.state AS state FROM attempts a JOIN events e ON e.id = a.event_pk"
            f" LEFT JOIN subscriptions s ON s.id = a.subscription_id WHERE a.id IN ({marks})",
            attempt_ids,
        )}
        sub_ids = sorted({row["subscription_id"] for row in rows.values()})
        headers = headers_of(self.conn, sub_ids)
        secrets = signing_secrets_of(self.conn, sub_ids, now)
        return [SendingContext(
            id=row["id"], tenant=row["tenant"], subscription_id=row["subscription_id"], trigger=Trigger(row["trigger"]),
            attempt_number=row["attempt_number"], event_id=row["event_id"], body=bytes(row["body"]), url=row["url"],
            state=None if row["state"] is None else State(row["state"]),
            headers=tuple(headers.get(row["subscription_id"], ())),
            secrets=tuple(secret.secret for secret in secrets.get(row["subscription_id"], ())),
        ) for row in (rows[attempt_id] for attempt_id in attempt_ids)]

    def record_results(self, items: list[tuple[int, dict, str | None]], *, now: datetime,
                       disable_after: timedelta, owner: str) -> set[int]:
        """Store sends' outcomes in one transaction: (attempt id, attempts columns to set, reason to disable or
        None). Moves each subscription's failure clock and disables it when the reason or the clock says so.
        Returns the ids whose outcome is stored: written now (the claim was still this owner's), or by an
        earlier call an interrupt cut short after its commit (the same status and finished_at are there)."""
        written_ids = set()
        with self.write() as conn:
            self.lock_subscriptions_of(conn, [item[0] for item in items])
            for attempt_id, outcome, disable_reason in items:
                columns = ", ".join(f"{name} = ?" for name in outcome)
                written = conn.execute(  # only while this process still holds the claim
                    f"UPDATE attempts SET {columns}, lease_until = NULL, claimed_by = NULL WHERE id = ?"
                    " AND status = 'sending' AND claimed_by IS NOT DISTINCT FROM ?",
                    (*outcome.values(), attempt_id, owner),
                ).rowcount
                if not written:
                    if conn.execute("SELECT 1 FROM attempts WHERE id = ? AND status = ? AND finished_at = ?",
                                    (attempt_id, outcome["status"], outcome.get("finished_at"))).fetchone():
                        written_ids.add(attempt_id)
                    continue
                written_ids.add(attempt_id)
                if outcome.get("error_class") != ErrorClass.DISCARDED:
                    self._track_health(conn, attempt_id, outcome, now, disable_after, disable_reason)
        return written_ids

    def _track_health(self, conn, attempt_id: int, outcome: dict, now: datetime, disable_after: timedelta,
                      disable_reason: str | None) -> None:
        """A success resets the failure clock; failures for disable_after (or a reason such as 410) disable. Each
        decision raises its operational alert (subscription.recovered, subscription.disabled, attempt.exhausted)."""
        sub = conn.execute(
            "SELECT s.id, s.tenant, s.url, s.state, s.failing_since, a.event_pk, a.trigger, a.attempt_number, a.error,"
            " e.event_id, e.type FROM attempts a JOIN subscriptions s ON s.id = a.subscription_id"
            " JOIN events e ON e.id = a.event_pk WHERE a.id = ?",
            (attempt_id,),
        ).fetchone()
        if sub is None:
            return
        if outcome["status"] == Status.SUCCEEDED:
            if sub["failing_since"] is not None:
                self._alert(conn, sub, "subscription.recovered", now, failing_since=sub["failing_since"])
                conn.execute("UPDATE subscriptions SET failing_since = NULL WHERE id = ?", (sub["id"],))
            if sub["trigger"] != Trigger.EMIT or sub["attempt_number"] > 1:  # a first send has no earlier attempt
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
            self._alert(conn, sub, "subscription.disabled", now, reason=disable_reason)
            set_state(conn, sub["id"], "disabled", now, disable_reason)
            conn.execute(
                "UPDATE attempts SET next_attempt_at = NULL WHERE subscription_id = ? AND next_attempt_at IS NOT NULL",
                (sub["id"],),
            )
        elif outcome.get("next_attempt_at") is None and sub["trigger"] not in NOT_RETRIED:
            self._alert(conn, sub, "attempt.exhausted", now, attempt_id=attempt_id, attempts=sub["attempt_number"],
                        event_id=sub["event_id"], event=sub["type"], status_code=outcome.get("status_code"),
                        error=outcome.get("error"))

    def _alert(self, conn, sub, event_type: str, now: datetime, **details) -> None:
        """An operational alert about a tenant's subscription (never about the alerts subscription itself)."""
        if sub["tenant"] != ALERTS_TENANT:
            self.raise_alert(conn, event_type, {"tenant": sub["tenant"], "subscription_id": sub["id"],
                                                "url": sub["url"], "at": to_iso(now), **details}, now)

