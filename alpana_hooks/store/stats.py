"""Delivery statistics per subscription, computed in SQL: what happened in a window reads only that window (the
index on tenant and time); the last success, the last failure and the failures since read one subscription's
attempts of one status (the index m005 adds), never a subscription's whole history."""

from __future__ import annotations

from datetime import datetime

from alpana_hooks.store.connection import Connection
from alpana_hooks.timeutil import to_iso

PERCENTILES = (0.50, 0.95)


class StatsStore(Connection):
    """Counts, durations and activity per time bucket of a tenant's subscriptions."""

    def bucket_number(self) -> str:
        """SQL for the bucket of an attempt: whole bucket lengths (the 2nd parameter, seconds) since the window's
        start (the 1st); PostgreSQL overrides it."""
        return "CAST((julianday(created_at) - julianday(?)) * 86400.0 / ? AS INTEGER)"

    def window_counts(self, tenant: str, sub_ids: list[int], since: datetime, bucket_seconds: int) -> list:
        """Per subscription and bucket since `since`: attempts, succeeded, failed, pending (or sending) and how
        many have a duration."""
        if not sub_ids:
            return []
        stamp, marks = to_iso(since), ",".join("?" * len(sub_ids))
        return self.conn.execute(
            f"SELECT subscription_id, {self.bucket_number()} AS bucket, count(*) AS attempts,"
            " sum(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END) AS succeeded,"
            " sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS failed,"
            " sum(CASE WHEN status IN ('pending', 'sending') THEN 1 ELSE 0 END) AS pending,"
            " count(duration_ms) AS timed"
            f" FROM attempts WHERE tenant = ? AND created_at >= ? AND subscription_id IN ({marks})"
            " GROUP BY subscription_id, bucket ORDER BY subscription_id, bucket",
            [stamp, bucket_seconds, tenant, stamp, *sub_ids],
        ).fetchall()

    def duration_percentiles(self, tenant: str, sub_id: int, since: datetime, timed: int) -> list[int | None]:
        """p50 and p95 (nearest rank) of the durations of a subscription's attempts since `since`; `timed` is how
        many of them have a duration."""
        found: list[int | None] = []
        for share in PERCENTILES:
            rank = max(1, -(-int(share * 100) * timed // 100))  # ceil(share * timed), in integers
            row = self.conn.execute(
                "SELECT duration_ms FROM attempts WHERE tenant = ? AND subscription_id = ? AND created_at >= ?"
                " AND duration_ms IS NOT NULL ORDER BY duration_ms LIMIT 1 OFFSET ?",
                (tenant, sub_id, to_iso(since), rank - 1),
            ).fetchone() if timed else None
            found.append(None if row is None else row["duration_ms"])
        return found

    def health(self, tenant: str, sub_id: int) -> dict:
        """A subscription's last success and last failure (finish times, any age) and its failed attempts since
        the last success (its whole history when it never succeeded)."""
        last = {}
        for status in ("succeeded", "failed"):
            last[status] = self.conn.execute(
                "SELECT created_at, finished_at FROM attempts WHERE tenant = ? AND subscription_id = ? AND status = ?"
                " ORDER BY created_at DESC LIMIT 1",
                (tenant, sub_id, status),
            ).fetchone()
        since_success = "" if last["succeeded"] is None else " AND created_at > ?"
        streak = self.conn.execute(
            "SELECT count(*) FROM attempts WHERE tenant = ? AND subscription_id = ? AND status = 'failed'"
            + since_success,
            (tenant, sub_id) + (() if last["succeeded"] is None else (last["succeeded"]["created_at"],)),
        ).fetchone()[0]
        return {"last_success": last["succeeded"] and last["succeeded"]["finished_at"],
                "last_failure": last["failed"] and last["failed"]["finished_at"], "consecutive_failures": streak}
