"""Operational alerts: events about the tool's own decisions (a subscription disabled, retries used up, a
subscription recovered), written into the outbox in the same transaction as the decision, as a pending attempt
to the [alerts] URL, so they go through the same sending, signing, safety rules and records. They live under a
tenant name no user tenant can have (tenants start with a letter or digit), apart from every tenant's data."""

from __future__ import annotations

from datetime import datetime

from alpana_hooks import events
from alpana_hooks.store.connection import Connection, dumps
from alpana_hooks.timeutil import to_iso

ALERTS_TENANT = "_alerts"
ALERTS_EVENT = "alerts"  # the event type of the one alerts subscription: it takes every operational event


class AlertStore(Connection):
    """Where operational alerts go: set alert_target = (url, secret) to raise them (the API does, from settings)."""

    alert_target: tuple[str, str] | None = None

    def raise_alert(self, conn, event_type: str, data: dict, now: datetime) -> None:
        """Inside a write: record the alert event and a pending attempt to the alerts subscription (made or brought
        up to date with the configured URL and secret first). Nothing when no [alerts] is configured."""
        if self.alert_target is None:
            return
        sub_id = self._alerts_subscription(conn, now)
        event_id, stamp = events.new_event_id(now), to_iso(now)
        body = events.event_body(event_type=event_type, event_id=event_id, tenant=ALERTS_TENANT, data=data, now=now)
        event_pk = conn.execute(
            "INSERT INTO events (tenant, event_id, type, data, body, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            (ALERTS_TENANT, event_id, event_type, dumps(data), body, stamp),
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO attempts (tenant, subscription_id, event_pk, trigger, status, created_at, url)"
            " SELECT ?, id, ?, 'emit', 'pending', ?, url FROM subscriptions WHERE id = ?",
            (ALERTS_TENANT, event_pk, stamp, sub_id),
        )

    def _alerts_subscription(self, conn, now: datetime) -> int:
        """The alerts subscription's id, its URL and current secret made the configured ones."""
        assert self.alert_target is not None
        url, secret = self.alert_target
        stamp = to_iso(now)
        row = conn.execute("SELECT id, url FROM subscriptions WHERE tenant = ? AND event_type = ?",
                           (ALERTS_TENANT, ALERTS_EVENT)).fetchone()
        if row is None:
            sub_id = conn.execute(
                "INSERT INTO subscriptions (tenant, event_type, url, description, state, created_at, updated_at)"
                " VALUES (?, ?, ?, '[alerts] url', 'active', ?, ?) RETURNING id",
                (ALERTS_TENANT, ALERTS_EVENT, url, stamp, stamp),
            ).fetchone()[0]
        else:
            sub_id = row["id"]
            if row["url"] != url:
                conn.execute("UPDATE subscriptions SET url = ?, updated_at = ? WHERE id = ?", (url, stamp, sub_id))
        current = conn.execute("SELECT secret FROM subscription_secrets WHERE subscription_id = ? AND expires_at IS NULL",
                               (sub_id,)).fetchone()
        if current is None or current["secret"] != secret:
            conn.execute("UPDATE subscription_secrets SET expires_at = ? WHERE subscription_id = ? AND expires_at IS NULL",
                         (stamp, sub_id))
            conn.execute("INSERT INTO subscription_secrets (subscription_id, secret, created_at) VALUES (?, ?, ?)",
                         (sub_id, secret, stamp))
        return sub_id
