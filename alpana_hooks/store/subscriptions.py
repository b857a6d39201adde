"""Subscriptions, their extra headers and their signing secrets."""

from __future__ import annotations

from datetime import datetime

from alpana_hooks import pacing
from alpana_hooks.errors import Conflict, NotFound
from alpana_hooks.model import DISABLED_BY_USER, Secret, State, Subscription
from alpana_hooks.store.alerts import ALERTS_TENANT
from alpana_hooks.store.connection import Connection
from alpana_hooks.timeutil import from_iso, to_iso
from alpana_hooks.validate import normal_url


class SubscriptionStore(Connection):
    """A tenant's subscriptions: every method is confined to the tenant it is given."""

    def add_subscription(self, *, tenant: str, event_type: str, url: str, description: str, state: str,
                         headers: list[tuple[str, str]], secret: str, now: datetime, filter: str | None = None,
                         rate_limit: str | None = None) -> int:
        """Insert a subscription with its headers and first secret; refuse a duplicate."""
        stamp = to_iso(now)
        with self.write() as conn:
            self.serialize(conn, f"subscription {tenant} {event_type} {url}")
            self._refuse_duplicate(conn, tenant, event_type, url, None)
            disabled = state == "disabled"  # added --disabled: disabled by the user, at creation
            sub_id = conn.execute(
                "INSERT INTO subscriptions (tenant, event_type, url, description, state, filter, rate_limit,"
                " disabled_reason, disabled_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " RETURNING id",
                (tenant, event_type, url, description, state, filter, rate_limit,
                 DISABLED_BY_USER if disabled else None, stamp if disabled else None, stamp, stamp),
            ).fetchone()[0]
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
        """Conflict when another subscription of the tenant sends this event to the same URL, compared
        normalised (rows stored before URLs were normalised may be spelled otherwise)."""
        rows = conn.execute(
            "SELECT id, url FROM subscriptions WHERE tenant = ? AND event_type = ? AND id IS DISTINCT FROM ?",
            (tenant, event_type, own_id),
        ).fetchall()
        same = next((row for row in rows if normal_url(row["url"]) == normal_url(url)), None)
        if same:
            raise Conflict(f"subscription {same['id']} in {tenant} already sends {event_type} to {url}")

    def list_subscriptions(self, tenant: str, event_type: str | None = None, state: str | None = None) -> list[Subscription]:
        """The tenant's subscriptions, oldest first, with their headers."""
        where, params = ["tenant = ?"], [tenant]
        for clause, value in (("event_type = ?", event_type), ("state = ?", state)):
            if value is not None:
                where.append(clause)
                params.append(value)
        rows = self.conn.execute(
            f"SELECT * FROM subscriptions WHERE {' AND '.join(where)} ORDER BY id", params
        ).fetchall()
        return self._with_headers(rows)

    def tenants(self) -> list[str]:
        """Every tenant that has a subscription or a recorded event, sorted."""
        rows = self.conn.execute(
            "SELECT DISTINCT tenant FROM subscriptions UNION SELECT DISTINCT tenant FROM events ORDER BY tenant"
        ).fetchall()
        return [row[0] for row in rows if row[0] != ALERTS_TENANT]  # the alerts' own records are no tenant

    def get_subscription(self, tenant: str, sub_id: int) -> Subscription:
        """One subscription of this tenant, with its headers; NotFound otherwise."""
        row = self.conn.execute(
            "SELECT * FROM subscriptions WHERE tenant = ? AND id = ?", (tenant, sub_id)
        ).fetchone()
        if row is None:
            raise NotFound(f"subscription {sub_id} not found in tenant {tenant}")
        return self._with_headers([row])[0]

    def _with_headers(self, rows: list) -> list[Subscription]:
        """Subscriptions from their rows, each with its headers (one query for all)."""
        headers = headers_of(self.conn, [row["id"] for row in rows]) if rows else {}
        return [_subscription(row, headers.get(row["id"], [])) for row in rows]

    def edit_subscription(self, tenant: str, sub_id: int, *, now: datetime, url: str | None = None,
                          event_type: str | None = None, description: str | None = None,
                          filter: str | None = None, rate_limit: str | None = None) -> None:
        """Change the URL, event type, description, filter or rate limit ("" removes the filter or the limit;
        None keeps each) of a subscription. Without a limit its next allowed send time is forgotten."""
        with self.write() as conn:
            current = self._locked_subscription(conn, tenant, sub_id)
            new_url = url if url is not None else current["url"]
            new_type = event_type if event_type is not None else current["event_type"]
            self.serialize(conn, f"subscription {tenant} {new_type} {new_url}")
            self._refuse_duplicate(conn, tenant, new_type, new_url, sub_id)
            new_filter = current["filter"] if filter is None else filter or None
            new_rate = current["rate_limit"] if rate_limit is None else rate_limit or None
            conn.execute(
                "UPDATE subscriptions SET url = ?, event_type = ?, description = ?, filter = ?, rate_limit = ?,"
                " updated_at = ? WHERE id = ?",
                (new_url, new_type, description if description is not None else current["description"],
                 new_filter, new_rate, to_iso(now), sub_id),
            )
            if new_rate is None:
                conn.execute("UPDATE subscriptions SET next_send_at = NULL WHERE id = ?", (sub_id,))

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
            set_state(conn, sub_id, state, now, reason)

    def _locked_subscription(self, conn, tenant: str, sub_id: int):
        row = conn.execute(f"SELECT * FROM subscriptions WHERE tenant = ? AND id = ?{self.for_update()}",
                           (tenant, sub_id)).fetchone()
        if row is None:
            raise NotFound(f"subscription {sub_id} not found in tenant {tenant}")
        return row

    def set_header(self, tenant: str, sub_id: int, name: str, value: str, *, now: datetime) -> None:
        """Add or replace one header (names are case-insensitive: the new spelling wins)."""
        with self.write() as conn:
            self._locked_subscription(conn, tenant, sub_id)
            conn.execute("DELETE FROM subscription_headers WHERE subscription_id = ? AND lower(name) = lower(?)",
                         (sub_id, name))
            conn.execute(
                "INSERT INTO subscription_headers (subscription_id, name, value) VALUES (?, ?, ?)", (sub_id, name, value)
            )
            conn.execute("UPDATE subscriptions SET updated_at = ? WHERE id = ?", (to_iso(now), sub_id))

    def replace_headers(self, tenant: str, sub_id: int, headers: list[tuple[str, str]], *, now: datetime) -> None:
        """Make these the subscription's headers, in this order (the old ones are removed)."""
        with self.write() as conn:
            self._locked_subscription(conn, tenant, sub_id)
            conn.execute("DELETE FROM subscription_headers WHERE subscription_id = ?", (sub_id,))
            conn.executemany("INSERT INTO subscription_headers (subscription_id, name, value) VALUES (?, ?, ?)",
                             [(sub_id, name, value) for name, value in headers])
            conn.execute("UPDATE subscriptions SET updated_at = ? WHERE id = ?", (to_iso(now), sub_id))

    def remove_header(self, tenant: str, sub_id: int, name: str, *, now: datetime) -> None:
        """Remove one header; NotFound when the subscription has no such header."""
        with self.write() as conn:
            self._locked_subscription(conn, tenant, sub_id)
            removed = conn.execute(
                "DELETE FROM subscription_headers WHERE subscription_id = ? AND lower(name) = lower(?)", (sub_id, name)
            ).rowcount
            if not removed:
                raise NotFound(f"subscription {sub_id} has no header {name!r}")
            conn.execute("UPDATE subscriptions SET updated_at = ? WHERE id = ?", (to_iso(now), sub_id))

    def signing_secrets(self, sub_id: int, now: datetime) -> list[Secret]:
        """The secrets that sign a delivery now, with their times: the current one first, then those in grace."""
        return signing_secrets(self.conn, sub_id, now)

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


def _subscription(row, headers: list[tuple[str, str]]) -> Subscription:
    """A Subscription from its row and its headers."""
    return Subscription(
        id=row["id"], tenant=row["tenant"], event_type=row["event_type"], url=row["url"],
        description=row["description"], state=State(row["state"]), disabled_reason=row["disabled_reason"],
        disabled_at=row["disabled_at"], failing_since=row["failing_since"], created_at=row["created_at"],
        updated_at=row["updated_at"], headers=tuple(headers), filter=row["filter"],
        rate_limit=row["rate_limit"],
    )


def set_state(conn, sub_id: int, state: str, now: datetime, reason: str | None) -> None:
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
            (reason or DISABLED_BY_USER, stamp, stamp, sub_id),
        )


def signing_secrets(conn, sub_id: int, now: datetime) -> list[Secret]:
    """The secrets that sign a delivery now: the current one first, then those in their grace period."""
    return signing_secrets_of(conn, [sub_id], now).get(sub_id, [])


def headers_of(conn, sub_ids: list[int]) -> dict[int, list[tuple[str, str]]]:
    """The extra headers (name, value) of each of these subscriptions that has any, in the order added; one query."""
    headers: dict[int, list[tuple[str, str]]] = {}
    for row in conn.execute("SELECT subscription_id, name, value FROM subscription_headers"
                            f" WHERE subscription_id IN ({','.join('?' * len(sub_ids))}) ORDER BY id", sub_ids):
        headers.setdefault(row["subscription_id"], []).append((row["name"], row["value"]))
    return headers


def signing_secrets_of(conn, sub_ids: list[int], now: datetime) -> dict[int, list[Secret]]:
    """signing_secrets of each of these subscriptions, in one query."""
    rows = conn.execute(
        "SELECT subscription_id, secret, created_at, expires_at FROM subscription_secrets"
        f" WHERE subscription_id IN ({','.join('?' * len(sub_ids))}) AND (expires_at IS NULL OR expires_at > ?)"
        " ORDER BY subscription_id, expires_at IS NOT NULL, id DESC",
        (*sub_ids, to_iso(now)),
    ).fetchall()
    secrets: dict[int, list[Secret]] = {}
    for row in rows:
        secrets.setdefault(row["subscription_id"], []).append(Secret(row["secret"], row["created_at"], row["expires_at"]))
    return secrets


def within_budget(conn, candidates: list[tuple[int, int]], now: datetime, lock: str) -> list[int]:
    """The attempts among candidates ((attempt id, subscription id), in order) that their subscription's rate limit
    lets go now: each one let go moves its subscription's next allowed send time on by the limit's spacing.
    Inside the caller's write transaction, so processes sharing the store share the budget (`lock`: FOR UPDATE on
    PostgreSQL, in id order). Subscriptions without a limit let everything go."""
    sub_ids = sorted({sub_id for _, sub_id in candidates})
    if not sub_ids:
        return []
    limited = {row["id"]: [row["rate_limit"], row["next_send_at"], False] for row in conn.execute(
        f"SELECT id, rate_limit, next_send_at FROM subscriptions WHERE id IN ({','.join('?' * len(sub_ids))})"
        f" AND rate_limit IS NOT NULL ORDER BY id{lock}", sub_ids)}
    allowed = []
    for attempt_id, sub_id in candidates:
        budget = limited.get(sub_id)
        if budget is not None:
            allowed_at = from_iso(budget[1]) if budget[1] else None
            if allowed_at is not None and allowed_at > now:
                continue
            budget[1:] = [to_iso(pacing.next_send_at(allowed_at, now, budget[0])), True]
        allowed.append(attempt_id)
    conn.executemany("UPDATE subscriptions SET next_send_at = ? WHERE id = ?",
                     [(stamp, sub_id) for sub_id, (_, stamp, spent) in limited.items() if spent])
    return allowed
