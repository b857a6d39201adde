"""The public Python API: `Hooks` does what the commands do, returns records and raises HooksError.

    from alpana_hooks import Hooks

    with Hooks.open(database="hooks.db") as hooks:
        hooks.add_subscription("acme", "dashboard.updated", "https://hooks.example.com/bi")
        result = hooks.emit("acme", "dashboard.updated", {"dashboard_id": "42", "name": "Sales",
                                                          "url": "https://bi.example.com/d/42", "version": 3})

One `Hooks` holds one database connection: use it from one thread at a time (in a web server, one
`Hooks` per request thread, or per request). Sends inside one call run on the engine's own threads.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alpana_hooks import events, validate
from alpana_hooks.errors import NotFound, UsageError
from alpana_hooks.model import (
    Attempt,
    EmitResult,
    Event,
    Secret,
    State,
    Status,
    Subscription,
    Totals,
    Trigger,
)
from alpana_hooks.timeutil import utcnow

if TYPE_CHECKING:
    from alpana_hooks.apply import Step, SubscriptionsFile
    from alpana_hooks.config import Settings
    from alpana_hooks.dispatch import Dispatcher
    from alpana_hooks.store import Store

EVENT_ID = re.compile(r"[A-Za-z0-9_:-]{1,128}")
WATCH_LOOKBACK = timedelta(seconds=60)  # polling PostgreSQL: how late an attempt may commit after its created_at


@dataclass(frozen=True)
class NewSubscription:
    """A subscription just added, with its signing secret (the only time it is handed out)."""

    subscription: Subscription
    secret: str


@dataclass(frozen=True)
class DatabaseStatus:
    """What `db status` shows: the backend, where the data is (password masked), schema version, rows."""

    backend: str
    location: str
    schema_version: int
    rows: dict[str, int]


@dataclass(frozen=True)
class CopyResult:
    """Rows per table in the source and in the target after `db copy` (equal when it succeeded)."""

    source: str
    target: str
    rows: dict[str, tuple[int, int]]


@dataclass(frozen=True)
class RotatedSecret:
    """The new signing secret, and until when the old one keeps signing."""

    secret: str
    old_expires_at: datetime


class Hooks:
    """Webhook subscriptions, events and send attempts of one store."""

    def __init__(self, settings: Settings, store: Store | None = None):
        self.settings = settings
        self._store = store

    @property
    def store(self) -> Store:
        """The store, opened (created and migrated) on first use, so bad input creates no file."""
        if self._store is None:
            from alpana_hooks.store import open_store

            self._store = open_store(self.settings.database)
        return self._store

    @classmethod
    def open(cls, database: str | None = None, config: str | None = None) -> Hooks:
        """Open the store the settings name (argument > environment > config file > default)."""
        from alpana_hooks.config import load_settings

        return cls.with_settings(load_settings(db=database, config=config))

    @classmethod
    def with_settings(cls, settings: Settings) -> Hooks:
        """The API on the store of settings already resolved (the CLI's)."""
        return cls(settings)

    def close(self) -> None:
        """Close the store."""
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Hooks:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- subscriptions -----------------------------------------------------------------------

    def add_subscription(self, tenant: str, event_type: str, url: str, *, headers: Iterable[tuple[str, str]] = (),
                         description: str = "", disabled: bool = False) -> NewSubscription:
        """Add a subscription (checked like the CLI's input) with a new signing secret."""
        from alpana_hooks.signing import generate_secret

        tenant = validate.tenant(tenant)
        event_type = _event_type(event_type)
        url = validate.url(url, require_https=self.settings.require_https)
        checked = validate.unique_headers([validate.header(name, value) for name, value in headers])
        secret = generate_secret()
        sub_id = self.store.add_subscription(
            tenant=tenant, event_type=event_type, url=url, description=description,
            state=State.DISABLED if disabled else State.ACTIVE, headers=checked, secret=secret, now=utcnow(),
        )
        return NewSubscription(self.store.get_subscription(tenant, sub_id), secret)

    def subscription(self, tenant: str, sub_id: int) -> Subscription:
        """One subscription of the tenant (NotFound otherwise)."""
        return self.store.get_subscription(validate.tenant(tenant), sub_id)

    def subscriptions(self, tenant: str, *, event_type: str | None = None,
                      state: State | str | None = None) -> list[Subscription]:
        """The tenant's subscriptions, oldest first."""
        filters = (validate.tenant(tenant), _event_type(event_type) if event_type else None, _state(state))
        return self.store.list_subscriptions(*filters)

    def edit_subscription(self, tenant: str, sub_id: int, *, url: str | None = None, event_type: str | None = None,
                          description: str | None = None) -> Subscription:
        """Change the URL, event type or description."""
        if url is None and event_type is None and description is None:
            raise UsageError("nothing to change: give --url, --event or --description")
        checked_url = validate.url(url, require_https=self.settings.require_https) if url is not None else None
        checked_type = _event_type(event_type) if event_type is not None else None
        self.store.edit_subscription(validate.tenant(tenant), sub_id, now=utcnow(), url=checked_url,
                                     event_type=checked_type, description=description)
        return self.store.get_subscription(tenant, sub_id)

    def set_state(self, tenant: str, sub_id: int, state: State | str) -> Subscription:
        """Enable (State.ACTIVE) or disable (State.DISABLED) a subscription."""
        self.store.set_state(validate.tenant(tenant), sub_id, _state(state) or State.ACTIVE, now=utcnow())
        return self.store.get_subscription(tenant, sub_id)

    def enable(self, tenant: str, sub_id: int) -> Subscription:
        """The event triggers the webhook again."""
        return self.set_state(tenant, sub_id, State.ACTIVE)

    def disable(self, tenant: str, sub_id: int) -> Subscription:
        """The event no longer triggers the webhook."""
        return self.set_state(tenant, sub_id, State.DISABLED)

    def delete_subscription(self, tenant: str, sub_id: int) -> None:
        """Delete a subscription; its unsent attempts are discarded, its history stays."""
        self.store.delete_subscription(validate.tenant(tenant), sub_id)

    def set_header(self, tenant: str, sub_id: int, name: str, value: str) -> Subscription:
        """Add or replace one extra header."""
        name, value = validate.header(name, value)
        self.store.set_header(validate.tenant(tenant), sub_id, name, value, now=utcnow())
        return self.store.get_subscription(tenant, sub_id)

    def remove_header(self, tenant: str, sub_id: int, name: str) -> Subscription:
        """Remove one extra header (NotFound when there is none of that name)."""
        self.store.remove_header(validate.tenant(tenant), sub_id, name, now=utcnow())
        return self.store.get_subscription(tenant, sub_id)

    def secrets(self, tenant: str, sub_id: int) -> list[Secret]:
        """The secrets that sign now: the current one, then any old one in its grace period."""
        self.store.get_subscription(validate.tenant(tenant), sub_id)
        return self.store.signing_secrets(sub_id, utcnow())

    def rotate_secret(self, tenant: str, sub_id: int, *, grace: timedelta = timedelta(hours=24)) -> RotatedSecret:
        """A new current secret; the old one keeps signing too during `grace`."""
        from alpana_hooks.signing import generate_secret

        now, secret = utcnow(), generate_secret()
        self.store.rotate_secret(validate.tenant(tenant), sub_id, secret, now=now, old_expires=now + grace)
        return RotatedSecret(secret, now + grace)

    # -- events ------------------------------------------------------------------------------

    def emit(self, tenant: str, event_type: str, data: dict, *, event_id: str | None = None,
             send: bool = True) -> EmitResult:
        """Record an event and one attempt per active subscription of its type (an outbox), then send them
        unless send=False (`deliver_due` sends them later). A repeated event_id records and sends nothing."""
        event_type = _event_type(event_type)
        problems = events.validate_data(event_type, data)
        if problems:
            raise UsageError(f"invalid {event_type} data: " + "; ".join(problems))
        if event_id is not None and not EVENT_ID.fullmatch(event_id):
            raise UsageError(f"invalid --event-id {event_id!r}: use 1-128 letters, digits, '_', ':' or '-' (no '.')")
        return self._fire(validate.tenant(tenant), event_type, data, event_id, send=send)

    def ping(self, tenant: str, sub_id: int) -> EmitResult:
        """Send a `ping` test event to one subscription, even a disabled one."""
        self.store.get_subscription(validate.tenant(tenant), sub_id)
        payload = {"subscription_id": sub_id, "message": "ping from alpana-hooks"}
        return self._fire(tenant, events.PING, payload, None, send=True, only_subscription=sub_id)

    def _fire(self, tenant: str, event_type: str, data: dict, event_id: str | None, *, send: bool,
              only_subscription: int | None = None) -> EmitResult:
        from alpana_hooks.dispatch import event_body, new_event_id

        now = utcnow()
        event_id = event_id or new_event_id(now)
        body = event_body(event_type=event_type, event_id=event_id, tenant=tenant, data=data, now=now)
        with self._engine() if send else nullcontext() as dispatcher:
            recorded = self.store.record_event(
                tenant=tenant, event_id=event_id, event_type=event_type, data=data, body=body, now=now,
                resource=_resource(event_type, data), trigger=Trigger.PING if only_subscription else Trigger.EMIT,
                only_subscription=only_subscription, claim=dispatcher.claim_ticket if dispatcher else None,
            )
            if dispatcher and recorded["attempt_ids"]:
                dispatcher.send_claimed(recorded["attempt_ids"])
        return EmitResult(event_id=event_id, event_type=event_type, fired=recorded["fired"],
                          duplicate=recorded["duplicate"],
                          attempts=tuple(self.store.attempts_by_ids(tenant, recorded["attempt_ids"])))

    def events(self, tenant: str, *, event_type: str | None = None, since: datetime | None = None,
               limit: int = 50) -> list[Event]:
        """The tenant's recorded events, newest first."""
        checked_type = _type_filter(event_type)
        return self.store.list_events(validate.tenant(tenant), event_type=checked_type, since=since, limit=limit)

    def event(self, tenant: str, event_id: str) -> tuple[Event, list[Attempt]]:
        """One event and every send attempt it caused (the product's View Webhook Event)."""
        event = self.store.get_event(validate.tenant(tenant), event_id)
        return event, self.store.list_attempts(tenant, event_pk=event.id, limit=None)

    # -- send attempts -----------------------------------------------------------------------

    def attempts(self, tenant: str, *, subscription_id: int | None = None, event_type: str | None = None,
                 status: Status | str | None = None, since: datetime | None = None, after_id: int | None = None,
                 limit: int | None = 50) -> list[Attempt]:
        """The tenant's send attempts, newest first, filtered."""
        checked_type, checked_status = _type_filter(event_type), _status(status)
        return self.store.list_attempts(
            validate.tenant(tenant), subscription_id=subscription_id, event_type=checked_type,
            status=checked_status, since=since, after_id=after_id, limit=limit,
        )

    def watch_attempts(self, tenant: str, *, interval: float = 2.0, limit: int | None = 50,
                       subscription_id: int | None = None, event_type: str | None = None,
                       status: Status | str | None = None, since: datetime | None = None) -> Iterator[list[Attempt]]:
        """Live attempts: first the latest `limit` (oldest first), then after every wake-up the attempts that
        are new or changed (status, code or retry time), possibly none. Attempts seen unfinished are followed
        until they finish, whatever the filters. On PostgreSQL it wakes on LISTEN/NOTIFY (at once, without
        polling the table); on SQLite, or where notifications are not allowed, it polls every `interval`."""
        tenant = validate.tenant(tenant)
        filters: dict[str, Any] = {"subscription_id": subscription_id, "event_type": _type_filter(event_type),
                   "status": _status(status), "since": since}
        seen: dict[int, tuple] = {}

        def changed(rows: list[Attempt]) -> list[Attempt]:
            fresh = []
            for row in rows:
                state = (row.status, row.status_code, row.next_attempt_at)
                if seen.get(row.id) != state:
                    seen[row.id] = state
                    fresh.append(row)
            return fresh

        listener = self.store.attempt_listener()  # listening before the first read: nothing falls in between
        try:
            yield changed(list(reversed(self.store.list_attempts(tenant, limit=limit, **filters))))
            while True:
                woke_at = utcnow()
                ids = listener.wait(interval, tenant) if listener else None
                if ids is None:
                    if listener:  # the connection went: poll from now on
                        listener.close()
                        listener = None
                    time.sleep(interval)
                    rows = self._polled(tenant, seen, filters, woke_at)
                else:
                    known = [i for i in ids if i in seen]
                    rows = self.store.attempts_by_ids(tenant, known)
                    rows += list(reversed(self.store.list_attempts(
                        tenant, ids=[i for i in ids if i not in seen], limit=None, **filters)))
                yield changed(sorted(rows, key=lambda a: a.id))
        finally:
            if listener:
                listener.close()

    def _polled(self, tenant: str, seen: dict[int, tuple], filters: dict, woke_at: datetime) -> list[Attempt]:
        """One poll: the unfinished attempts seen, and those added since. Where ids may commit out of order
        (PostgreSQL), 'since' is a time window rather than the newest id seen."""
        unfinished = [i for i, state in seen.items() if state[0] in (Status.PENDING, Status.SENDING) or state[2]]
        rows = self.store.attempts_by_ids(tenant, unfinished)
        if self.store.commits_in_id_order():
            newer: dict[str, Any] = {"after_id": max(seen, default=0)}
        else:
            window = woke_at - WATCH_LOOKBACK
            newer = {"since": max(filters["since"], window) if filters["since"] else window}
        query: dict[str, Any] = {**filters, **newer}
        return rows + list(reversed(self.store.list_attempts(tenant, limit=None, **query)))

    def attempt(self, tenant: str, attempt_id: int) -> Attempt:
        """One send attempt of the tenant, with its payload and response."""
        return self.store.get_attempt(validate.tenant(tenant), attempt_id)

    def attempts_by_ids(self, tenant: str, attempt_ids: Sequence[int]) -> list[Attempt]:
        """These attempts of the tenant, in id order (for watching unfinished ones)."""
        return self.store.attempts_by_ids(validate.tenant(tenant), list(attempt_ids))

    def latest_attempts(self, tenant: str, sub_id: int, limit: int = 10) -> tuple[Subscription, list[Attempt]]:
        """A subscription and its latest send attempts (`show`)."""
        sub = self.store.get_subscription(validate.tenant(tenant), sub_id)
        return sub, self.store.list_attempts(tenant, subscription_id=sub_id, limit=limit)

    def prune_attempts(self, tenant: str, *, older_than: timedelta) -> int:
        """Delete finished attempts older than a duration (and events left without attempts)."""
        return self.store.prune_attempts(validate.tenant(tenant), before=utcnow() - older_than)

    def resend(self, tenant: str, attempt_id: int, *, force: bool = False) -> Attempt:
        """Send an attempt's event again to its subscription as a new attempt (same webhook-id)."""
        original = self.store.get_attempt(validate.tenant(tenant), attempt_id)
        try:
            sub = self.store.get_subscription(tenant, original.subscription_id)
        except NotFound:
            raise NotFound(f"subscription {original.subscription_id} of attempt {attempt_id} was deleted") from None
        if sub.state != State.ACTIVE and not force:
            raise UsageError(f"subscription {sub.id} is disabled: enable it, or resend with --force")
        (new_id,) = self._resend(tenant, [attempt_id], only_if_latest=False)
        return self.store.get_attempt(tenant, new_id)

    def failed_deliveries(self, tenant: str, *, since: datetime | None = None, subscription_id: int | None = None,
                          event_type: str | None = None, limit: int | None = None,
                          include_disabled: bool = False) -> list[Attempt]:
        """For each delivery whose latest attempt failed, that attempt, oldest first: what resend_failed takes."""
        checked_type = _type_filter(event_type)
        return self.store.failed_not_recovered(
            validate.tenant(tenant), since=since, subscription_id=subscription_id,
            event_type=checked_type, limit=limit, include_disabled=include_disabled,
        )

    def resend_failed(self, tenant: str, failures: Sequence[Attempt]) -> list[Attempt]:
        """Resend these failed deliveries (from failed_deliveries); one another process resent meanwhile is
        skipped. Returns the new attempts."""
        new_ids = self._resend(validate.tenant(tenant), [a.id for a in failures], only_if_latest=True)
        return self.store.attempts_by_ids(tenant, new_ids)

    def _resend(self, tenant: str, attempt_ids: list[int], *, only_if_latest: bool) -> list[int]:
        """New resend attempts, stored already claimed by this process (so a running deliver cannot take
        them first), then sent; returns their ids."""
        with self._engine() as dispatcher:
            owner, lease_for = dispatcher.claim_ticket
            claim = (owner, lease_for(len(attempt_ids)))
            new_ids: list[int] = []
            for attempt_id in attempt_ids:
                made = self.store.add_resend(tenant, attempt_id, now=utcnow(), only_if_latest=only_if_latest,
                                             claim=claim)
                if made is not None:
                    new_ids.append(made)
            dispatcher.send_claimed(new_ids)
        return new_ids

    def deliver_due(self) -> Totals:
        """One round over every tenant: pending attempts, scheduled retries due, claims left by a crash."""
        with self._engine() as dispatcher:
            return self.deliver_round(dispatcher)

    def deliver_round(self, dispatcher: Dispatcher) -> Totals:
        """deliver_due with a dispatcher that lives across rounds (`deliver --loop`)."""
        counts = self.store.count_by_status(dispatcher.deliver_due())
        succeeded, failed = counts.get(Status.SUCCEEDED, 0), counts.get(Status.FAILED, 0)
        return Totals(sent=sum(counts.values()), succeeded=succeeded, failed=failed)

    def dispatcher(self) -> Dispatcher:
        """A delivery engine on this store (close it when done)."""
        from alpana_hooks.dispatch import Dispatcher

        return Dispatcher(self.store, self.settings)

    @contextmanager
    def _engine(self) -> Iterator[Dispatcher]:
        """A delivery engine for one call, closed afterwards; interrupted, every claim it holds goes back to
        pending (attempts stored claimed but not sent yet included), for the next `deliver`."""
        dispatcher = self.dispatcher()
        try:
            yield dispatcher
        except BaseException:
            self.store.release_all(owner=dispatcher.owner)
            raise
        finally:
            dispatcher.close()

    # -- the database --------------------------------------------------------------------------

    def database_status(self) -> DatabaseStatus:
        """The backend, location, schema version and row counts of this store."""
        store = self.store
        with store.snapshot():
            rows = store.table_counts()
        return DatabaseStatus(store.backend, store.describe(), store.schema_version(), rows)

    def copy_to(self, target: str | Path, *, force: bool = False,
                progress: Callable[[str, int, int], None] | None = None) -> CopyResult:
        """Copy every row of this store (subscriptions, headers, secrets, events, remembered resources,
        attempts) into another store, keeping ids, in one transaction on the target. A target that already
        holds data is refused (UsageError) unless force, which replaces it. progress(table, copied, total) is
        called as rows go. The counts per table are compared on both sides afterwards."""
        from alpana_hooks.config import display_database
        from alpana_hooks.errors import HooksError
        from alpana_hooks.store import TABLES, open_store

        source = self.store
        if display_database(target) == source.describe() or str(target) == str(self.settings.database):
            raise UsageError("--to names the database being copied")
        destination = open_store(target)
        try:
            with source.snapshot(), destination.write():
                totals = source.table_counts()
                held = {table: n for table, n in destination.table_counts().items() if n}
                if held and not force:
                    listed = ", ".join(f"{table} {n}" for table, n in held.items())
                    raise UsageError(f"{destination.describe()} already holds data ({listed}): "
                                     "give --force to replace it")
                destination.empty_tables()
                for table in TABLES:
                    copied = 0
                    if progress:
                        progress(table, copied, totals[table])
                    for batch in source.read_table(table):
                        destination.insert_rows(table, batch)
                        copied += len(batch)
                        if progress:
                            progress(table, copied, totals[table])
                destination.after_copy(source.id_counters())
            after = destination.table_counts()
            rows = {table: (totals[table], after[table]) for table in TABLES}
            if any(a != b for a, b in rows.values()):
                raise HooksError(f"copy to {destination.describe()} ended with other counts: {rows}")
            return CopyResult(source.describe(), destination.describe(), rows)
        finally:
            destination.close()

    # -- subscriptions as code ---------------------------------------------------------------

    def export(self, tenant: str, *, reveal: bool = False) -> dict:
        """The tenant's subscriptions as the document `apply` reads (no secrets)."""
        from alpana_hooks import apply as plans

        return plans.export_document(validate.tenant(tenant), self.subscriptions(tenant), reveal=reveal)

    def apply(self, tenant: str, wanted: SubscriptionsFile, *, prune: bool = False,
              dry_run: bool = False) -> tuple[list[Step], list[Subscription]]:
        """Make the tenant's subscriptions match a parsed file in one transaction (all or nothing).
        Returns the steps and the subscriptions the file does not list."""
        from alpana_hooks.apply import carry_out, plan, unlisted

        tenant = validate.tenant(tenant)
        if dry_run:
            current = self.store.list_subscriptions(tenant)
            return plan(wanted.subscriptions, current, prune=prune), unlisted(wanted.subscriptions, current)
        with self.store.write():  # the plan is made and carried out on the same state
            current = self.store.list_subscriptions(tenant)
            steps = [carry_out(self.store, tenant, step, utcnow())
                     for step in plan(wanted.subscriptions, current, prune=prune)]
        return steps, unlisted(wanted.subscriptions, current)


def _event_type(name: str, *, ping: bool = False) -> str:
    """The catalog name of an event type (UsageError when unknown)."""
    try:
        return events.get_event_type(name, include_ping=ping).name
    except events.UnknownEventType as exc:
        raise UsageError(str(exc)) from None


def _type_filter(name: str | None) -> str | None:
    """An optional event-type filter (ping included)."""
    return None if name is None else _event_type(name, ping=True)


def _state(value: State | str | None) -> State | None:
    if value is None:
        return None
    try:
        return State(value)
    except ValueError:
        raise UsageError(f"invalid --state {value!r}: use active or disabled") from None


def _status(value: Status | str | None) -> Status | None:
    if value is None:
        return None
    try:
        return Status(value)
    except ValueError:
        raise UsageError(f"invalid --status {value!r}: use one of {', '.join(Status)}") from None


def _resource(event_type: str, payload: dict) -> tuple | None:
    """(kind, id, name, version, action) for the rename rule of dashboards and widgets."""
    kind_action = events.resource_of(event_type)
    if kind_action is None:
        return None
    kind, action = kind_action
    return kind, payload[f"{kind}_id"], payload.get("name"), payload.get("version"), action
