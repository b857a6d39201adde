"""`Hooks`: what the commands do, as methods that return records and raise HooksError (README: Python API).

One `Hooks` holds one database connection: use it from one thread at a time (in a web server, one
`Hooks` per request thread, or per request). Sends inside one call run on the engine's own threads.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from alpana_hooks import events, filters, rules, validate
from alpana_hooks import headers as header_rules
from alpana_hooks.api import sent
from alpana_hooks.api.admin import AdminMethods
from alpana_hooks.api.operator import OperatorMethods
from alpana_hooks.errors import NotFound, UsageError
from alpana_hooks.model import Attempt, Event, Secret, State, Status, Subscription, Trigger
from alpana_hooks.timeutil import to_iso, utcnow

if TYPE_CHECKING:
    from alpana_hooks.config import Settings
    from alpana_hooks.dispatch import Dispatcher
    from alpana_hooks.results import EmitResult, NewSubscription, RotatedSecret, Totals
    from alpana_hooks.store import Store

EVENT_ID = re.compile(events.EVENT_ID_PATTERN)  # the same rule as the payload schemas


class Hooks(OperatorMethods, AdminMethods):
    """Webhook subscriptions, events and send attempts of one store (stats, filters, replays: api.operator;
    the database and subscriptions as code: api.admin)."""

    def __init__(self, settings: Settings, store: Store | None = None):
        self.settings = settings
        self._store = store

    @property
    def store(self) -> Store:
        """The store, opened (created and migrated) on first use, so bad input creates no file."""
        if self._store is None:
            from alpana_hooks.config import check_database_folder
            from alpana_hooks.store import open_store

            check_database_folder(self.settings.database)
            self._store = open_store(self.settings.database)
            if self.settings.alerts_url and self.settings.alerts_secret:
                self._store.alert_target = (self.settings.alerts_url, self.settings.alerts_secret)
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

    def tenants(self) -> list[str]:
        """The tenants this store knows (those with a subscription or a recorded event), sorted."""
        return self.store.tenants()

    def add_subscription(self, tenant: str, event_type: str, url: str, *, headers: Iterable[tuple[str, str]] = (),
                         description: str = "", disabled: bool = False, filter: str | None = None,
                         rate_limit: str | None = None) -> NewSubscription:
        """Add a subscription (checked like the CLI's input) with a new signing secret; with a filter (JMESPath on
        {type, tenant, data}) it receives only the events that make it true; with a rate limit ('10/s', '600/m',
        '5000/h'; 'none' or None: no limit) its deliveries are spaced so, across every deliver process."""
        from alpana_hooks.signing import generate_secret

        tenant = validate.tenant(tenant)
        checked_filter = filters.check(filter) if filter is not None else None
        checked_rate = validate.rate_limit(rate_limit) if rate_limit is not None else None
        event_type = validate.event_type(event_type)
        url = validate.url(url, require_https=self.settings.require_https)
        checked = header_rules.unique_headers([header_rules.header(name, value) for name, value in headers])
        secret = generate_secret()
        sub_id = self.store.add_subscription(
            tenant=tenant, event_type=event_type, url=url, description=description,
            state=State.DISABLED if disabled else State.ACTIVE, headers=checked, secret=secret, now=utcnow(),
            filter=checked_filter, rate_limit=checked_rate,
        )
        from alpana_hooks.results import NewSubscription

        return NewSubscription(self.store.get_subscription(tenant, sub_id), secret)

    def subscription(self, tenant: str, sub_id: int) -> Subscription:
        """One subscription of the tenant (NotFound otherwise)."""
        return self.store.get_subscription(validate.tenant(tenant), sub_id)

    def subscriptions(self, tenant: str, *, event_type: str | None = None,
                      state: State | str | None = None) -> list[Subscription]:
        """The tenant's subscriptions, oldest first."""
        filters = (validate.tenant(tenant), validate.event_type(event_type) if event_type else None, validate.state(state))
        return self.store.list_subscriptions(*filters)

    def edit_subscription(self, tenant: str, sub_id: int, *, url: str | None = None, event_type: str | None = None,
                          description: str | None = None, filter: str | None = None,
                          rate_limit: str | None = None, headers: Iterable[tuple[str, str]] | None = None,
                          state: State | str | None = None) -> Subscription:
        """Change the URL, event type, description, filter ("" removes it), rate limit ('none' removes it), the
        extra headers (the whole set, replaced) or the state (None keeps each), in one store transaction:
        everything is checked first, and a refusal anywhere writes nothing."""
        if all(value is None for value in (url, event_type, description, filter, rate_limit, headers, state)):
            raise UsageError("nothing to change: give --url, --event, --description, --filter, --no-filter or"
                             " --rate-limit")
        tenant = validate.tenant(tenant)
        checked_url = validate.url(url, require_https=self.settings.require_https) if url is not None else None
        checked_type = validate.event_type(event_type) if event_type is not None else None
        checked_filter = filters.check(filter) if filter else filter
        checked_rate = None if rate_limit is None else validate.rate_limit(rate_limit) or ""
        checked_headers = None if headers is None else \
            header_rules.unique_headers([header_rules.header(name, value) for name, value in headers])
        checked_state = validate.state(state)
        now = utcnow()
        with self.store.write():
            if any(value is not None for value in (url, event_type, description, filter, rate_limit)):
                self.store.edit_subscription(tenant, sub_id, now=now, url=checked_url, event_type=checked_type,
                                             description=description, filter=checked_filter, rate_limit=checked_rate)
            if checked_headers is not None:
                self.store.replace_headers(tenant, sub_id, checked_headers, now=now)
            if checked_state is not None:
                self.store.set_state(tenant, sub_id, checked_state, now=now)
        return self.store.get_subscription(tenant, sub_id)

    def set_state(self, tenant: str, sub_id: int, state: State | str) -> Subscription:
        """Enable (State.ACTIVE) or disable (State.DISABLED) a subscription."""
        self.store.set_state(validate.tenant(tenant), sub_id, validate.state(state) or State.ACTIVE, now=utcnow())
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
        name, value = header_rules.header(name, value)
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
        from alpana_hooks.results import RotatedSecret

        return RotatedSecret(secret, now + grace)

    # -- events ------------------------------------------------------------------------------

    def emit(self, tenant: str, event_type: str, data: dict, *, event_id: str | None = None,
             send: bool = True) -> EmitResult:
        """Record an event and one attempt per active subscription of its type whose filter matches (an outbox),
        then send them unless send=False (`deliver_due` sends them later). A repeated event_id records and sends
        nothing; reused with another type or other data it is a Conflict (exit 2)."""
        event_type = self._checked_event(event_type, data, event_id)
        return self._fire(validate.tenant(tenant), event_type, data, event_id, send=send)

    def _checked_event(self, event_type: str, data: dict, event_id: str | None) -> str:
        """The event type, once the type, the data and the event id passed every check emit makes."""
        event_type = validate.event_type(event_type)
        problems = events.validate_data(event_type, data)
        if problems:
            raise UsageError(f"invalid {event_type} data: " + "; ".join(problems))
        size, cap = events.data_bytes(data), self.settings.max_payload_bytes
        if size > cap:
            raise UsageError(f"the {event_type} data is {size} bytes as JSON, over the limit of {cap} bytes"
                             " ([delivery] max_payload_bytes)")
        if event_id is not None and not EVENT_ID.fullmatch(event_id):
            raise UsageError(f"invalid --event-id {event_id!r}: use 1-128 ASCII letters, digits, '_', ':' or '-' (no '.')")
        return event_type

    def ping(self, tenant: str, sub_id: int) -> EmitResult:
        """Send a `ping` test event to one subscription, even a disabled one."""
        self.store.get_subscription(validate.tenant(tenant), sub_id)
        payload = {"subscription_id": sub_id, "message": "ping from alpana-hooks"}
        return self._fire(tenant, events.PING, payload, None, send=True, only_subscription=sub_id)

    def _fire(self, tenant: str, event_type: str, data: dict, event_id: str | None, *, send: bool,
              only_subscription: int | None = None) -> EmitResult:
        now = utcnow()
        event_id = event_id or events.new_event_id(now)
        body = events.event_body(event_type=event_type, event_id=event_id, tenant=tenant, data=data, now=now)
        with self._engine() if send else nullcontext() as dispatcher:
            recorded = self.store.record_event(
                tenant=tenant, event_id=event_id, event_type=event_type, data=data, body=body, now=now,
                resource=rules.resource(event_type, data), trigger=Trigger.PING if only_subscription else Trigger.EMIT,
                only_subscription=only_subscription, claim=dispatcher.claim_ticket() if dispatcher else None,
            )
            if dispatcher and recorded.get("claimed_ids"):  # the others wait for their rate limit: `deliver` sends them
                dispatcher.send_claimed(recorded["claimed_ids"])
        from alpana_hooks.results import EmitResult

        return EmitResult(event_id=event_id, event_type=event_type, fired=recorded["fired"],
                          duplicate=recorded["duplicate"], skipped_by_filter=recorded.get("skipped", 0),
                          attempts=tuple(self.store.attempts_by_ids(tenant, recorded["attempt_ids"])))

    def events(self, tenant: str, *, event_type: str | None = None, since: datetime | None = None,
               limit: int = 50) -> list[Event]:
        """The tenant's recorded events, newest first."""
        checked_type = validate.event_type_filter(event_type)
        return self.store.list_events(validate.tenant(tenant), event_type=checked_type, since=since, limit=limit)

    def event(self, tenant: str, event_id: str) -> tuple[Event, list[Attempt]]:
        """One event and every send attempt it caused (the product's View Webhook Event)."""
        event = self.store.get_event(validate.tenant(tenant), event_id)
        return event, self.store.list_attempts(tenant, event_pk=event.id, limit=None)

    # -- send attempts -----------------------------------------------------------------------

    def attempts(self, tenant: str, *, subscription_id: int | None = None, event_type: str | None = None,
                 status: Status | str | None = None, since: datetime | None = None, after_id: int | None = None,
                 limit: int | None = 50, event_id: str | None = None) -> list[Attempt]:
        """The tenant's send attempts, newest first, filtered (event_id: those of one event)."""
        checked_type, checked_status = validate.event_type_filter(event_type), validate.status(status)
        return self.store.list_attempts(
            validate.tenant(tenant), subscription_id=subscription_id, event_type=checked_type,
            status=checked_status, since=since, after_id=after_id, limit=limit, event_id=event_id,
        )

    def watch_attempts(self, tenant: str, *, interval: float = 2.0, limit: int | None = 50,
                       **filters: Any) -> Iterator[list[Attempt]]:
        """Live attempts: the latest first, then after every wake-up the new or changed ones (see api.watch)."""
        from alpana_hooks.api.watch import watch_attempts

        return watch_attempts(self, tenant, interval=interval, limit=limit, **filters)

    def attempt(self, tenant: str, attempt_id: int) -> Attempt:
        """One send attempt of the tenant, with its payload and response."""
        return self.store.get_attempt(validate.tenant(tenant), attempt_id)

    def sent_request(self, tenant: str, attempt_id: int) -> tuple[dict[str, str], bytes]:
        """An attempt's signed headers and body as they went out (see api.sent)."""
        return sent.sent_request(self, validate.tenant(tenant), attempt_id)

    def attempts_by_ids(self, tenant: str, attempt_ids: Sequence[int]) -> list[Attempt]:
        """These attempts of the tenant, in id order (for watching unfinished ones)."""
        return self.store.attempts_by_ids(validate.tenant(tenant), list(attempt_ids))

    def latest_attempts(self, tenant: str, sub_id: int, limit: int = 10) -> tuple[Subscription, list[Attempt]]:
        """A subscription and its latest send attempts (`show`)."""
        sub = self.store.get_subscription(validate.tenant(tenant), sub_id)
        return sub, self.store.list_attempts(tenant, subscription_id=sub_id, limit=limit)

    def prune_attempts(self, tenant: str, *, older_than: timedelta, dry_run: bool = False) -> tuple[int, int]:
        """Delete finished attempts older than a duration, and the events left without attempts (an `emit
        --event-id` repeat of a deleted event records it again); (attempts, events) deleted, or that would be."""
        return self.store.prune_attempts(validate.tenant(tenant), before=utcnow() - older_than, dry_run=dry_run)

    def resend(self, tenant: str, attempt_id: int, *, force: bool = False) -> Attempt:
        """Send an attempt's event again to its subscription as a new attempt (same webhook-id)."""
        self.resendable(tenant, attempt_id, force=force)
        (new_id,) = self.resend_now(tenant, [attempt_id])
        return self.store.get_attempt(tenant, new_id)

    def resend_event(self, tenant: str, event_id: str, *, subscription_id: int | None = None,
                     force: bool = False) -> list[Attempt]:
        """Send an event again to each subscription it went to, or to one (see api.replay)."""
        from alpana_hooks.api.replay import resend_event

        return resend_event(self, validate.tenant(tenant), event_id, subscription_id=subscription_id, force=force)

    def resendable(self, tenant: str, attempt_id: int, *, force: bool) -> None:
        """NotFound when the attempt or its subscription is gone; UsageError when that is disabled, unless force."""
        original = self.store.get_attempt(validate.tenant(tenant), attempt_id)
        try:
            sub = self.store.get_subscription(tenant, original.subscription_id)
        except NotFound:
            raise NotFound(f"subscription {original.subscription_id} of attempt {attempt_id} was deleted") from None
        if sub.state != State.ACTIVE and not force:
            raise UsageError(f"subscription {sub.id} is disabled: enable it, or resend with --force")

    def resend_now(self, tenant: str, attempt_ids: list[int]) -> list[int]:
        """Replay these attempts as new ones, sent at once (checked by the caller); the new ids."""
        return self._resend(tenant, attempt_ids, only_if_latest=False)

    def failed_deliveries(self, tenant: str, *, since: datetime | None = None, subscription_id: int | None = None,
                          event_type: str | None = None, limit: int | None = None,
                          include_disabled: bool = False) -> list[Attempt]:
        """For each delivery whose latest attempt failed, that attempt, oldest first: what resend_failed takes."""
        checked_type = validate.event_type_filter(event_type)
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
            new_ids: list[int] = []
            for attempt_id in attempt_ids:
                made = self.store.add_resend(tenant, attempt_id, now=utcnow(), only_if_latest=only_if_latest,
                                             claim=dispatcher.claim_ticket())
                if made is not None:
                    new_ids.append(made)
            dispatcher.send_claimed(new_ids)
        return new_ids

    def deliver_due(self) -> Totals:
        """One round over every tenant: pending attempts, scheduled retries due, claims left by a crash."""
        return self.deliver()

    def deliver(self, *, loop: bool = False, interval: float = 1.0,
                on_failed_round: Callable[[str], None] = lambda line: None,
                on_delivered: Callable[[list[Attempt]], None] | None = None,
                delivered_at_most: int | None = None) -> Totals:
        """Send what is due, once, or with loop every interval until interrupted (then it returns: what was sent
        is recorded). Once, it waits for rate limits whose next send is at most a minute away; Totals.waiting counts
        the attempts it left pending for a later one. A looping round that finds the store locked or full is
        reported to on_failed_round and the next waits twice as long (at most LONGEST_WAIT). on_delivered is given
        the attempts sent (of every tenant) as their results are recorded, the first delivered_at_most if set."""
        left = delivered_at_most

        def report(ids: list[int]) -> None:
            nonlocal left
            ids, left = (ids, None) if left is None else (ids[:left], max(left - len(ids), 0))
            if ids and on_delivered:
                on_delivered(self.store.attempts_by_ids(None, ids))

        with self._engine() as dispatcher:
            dispatcher.on_recorded = report if on_delivered else None
            try:
                dispatcher.rounds(loop, interval, on_failed_round)
            except KeyboardInterrupt:
                if not loop:
                    raise  # a one-shot run that was cut short
                dispatcher.record_held()
            succeeded, failed = dispatcher.recorded[Status.SUCCEEDED], dispatcher.recorded[Status.FAILED]
        waiting, allowed_at = (0, None) if loop else self.store.rate_limited_backlog(utcnow())
        from alpana_hooks.results import Totals

        return Totals(sent=succeeded + failed, succeeded=succeeded, failed=failed, waiting=waiting,
                      next_send_at=to_iso(allowed_at) if allowed_at else None)

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
            dispatcher.hand_back()
            raise
        finally:
            dispatcher.close()
