"""What the on-call engineer asks of `Hooks` beyond the basics: who would receive an event (emit --dry-run), what a
filter makes of an event (filter test), stats per subscription, the replay of missed events. `Hooks` inherits
these methods."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from alpana_hooks import events, filters, rules, validate
from alpana_hooks.errors import UsageError
from alpana_hooks.model import State
from alpana_hooks.timeutil import utcnow

MAX_BUCKETS = 240

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from contextlib import AbstractContextManager

    from alpana_hooks.config import Settings
    from alpana_hooks.dispatch import Dispatcher
    from alpana_hooks.model import Attempt, Event, Subscription
    from alpana_hooks.results import DryRun, FilterCheck, Recipient, Stats, SubscriptionStats
    from alpana_hooks.store import Store


class OperatorMethods:
    """Dry runs, filter checks, stats and replays of missed events."""

    settings: Settings

    if TYPE_CHECKING:
        @property
        def store(self) -> Store: ...

        def _checked_event(self, event_type: str, data: dict, event_id: str | None) -> str: ...

        def _engine(self) -> AbstractContextManager[Dispatcher]: ...

        def subscriptions(self, tenant: str, *, event_type: str | None = None) -> list[Subscription]: ...

    def emit_dry_run(self, tenant: str, event_type: str, data: dict, *, event_id: str | None = None) -> DryRun:
        """What emit would do with this event, checked like emit: whether it fires and, for every subscription of
        its type, whether it would receive it (state and filter applied). Nothing is recorded or sent."""
        from alpana_hooks.results import DryRun

        event_type = self._checked_event(event_type, data, event_id)
        tenant = validate.tenant(tenant)
        note = self.store.would_fire(tenant, event_id, rules.resource(event_type, data))
        if note is not None:
            return DryRun(event_type=event_type, fires=False, note=note)
        seen = filters.envelope(tenant, event_type, data)
        recipients = tuple(_recipient(sub, seen) for sub in self.store.list_subscriptions(tenant, event_type))
        return DryRun(event_type=event_type, fires=True, note=None, recipients=recipients)

    def filter_test(self, tenant: str, sub_id: int, *, data: dict | None = None,
                    event_id: str | None = None) -> FilterCheck:
        """Whether a subscription's filter matches an event: given data (taken as an event of the subscription's
        type) or a recorded event (by its id), and why."""
        if (data is None) == (event_id is None):
            raise UsageError("give the event to test as --data or --event (one of them)")
        sub = self.store.get_subscription(validate.tenant(tenant), sub_id)
        if event_id is not None:
            event = self.store.get_event(tenant, event_id)
            event_type, payload = event.type, event.data
        else:
            assert data is not None
            event_type, payload = sub.event_type, data
            problems = events.validate_data(event_type, payload)
            if problems:
                raise UsageError(f"invalid {event_type} data: " + "; ".join(problems))
        return _check(sub, filters.envelope(tenant, event_type, payload))


    def missed_events(self, tenant: str, sub_id: int, *, since: datetime) -> list[Event]:
        """The events a subscription missed since `since`: of its tenant and type, never attempted to it (fired while
        it was disabled, or discarded), its filter applied; oldest first. What replay_missing takes."""
        tenant = validate.tenant(tenant)
        if since > utcnow():
            raise UsageError(f"--since {since.isoformat()} is in the future")
        sub = self.store.get_subscription(tenant, sub_id)
        return [event for event in self.store.missed_events(tenant, sub_id, sub.event_type, since)
                if filters.matches(sub.filter, filters.envelope(tenant, event.type, event.data))]

    def replay_missing(self, tenant: str, sub_id: int, missed: Sequence[Event], *,
                       progress: Callable[[int, int], None] | None = None) -> list[Attempt]:
        """Send each missed event to the active subscription once, oldest first, one after the other (an event
        attempted meanwhile, by another replay, is skipped); progress(done, total) after each."""
        sub = self.store.get_subscription(validate.tenant(tenant), sub_id)
        if sub.state != State.ACTIVE:
            raise UsageError(f"subscription {sub_id} is disabled: enable it first")
        made: list[int] = []
        with self._engine() as dispatcher:
            for done, event in enumerate(missed, 1):
                attempt_id = self.store.add_replay(tenant, sub_id, event.id, now=utcnow(),
                                                   claim=dispatcher.claim_ticket())
                if attempt_id is not None:
                    dispatcher.send_claimed([attempt_id])
                    made.append(attempt_id)
                if progress is not None:
                    progress(done, len(missed))
        return self.store.attempts_by_ids(tenant, made)

    def alert_attempts(self, *, limit: int | None = 50) -> list[Attempt]:
        """The send attempts of operational alerts ([alerts] url), newest first: kept apart from every tenant's."""
        from alpana_hooks.store.alerts import ALERTS_TENANT

        return self.store.list_attempts(ALERTS_TENANT, limit=limit)

    def stats(self, tenant: str, *, subscription_id: int | None = None, event_type: str | None = None,
              since: datetime | None = None, bucket: timedelta = timedelta(hours=1)) -> Stats:
        """Per subscription: attempts since `since` (default: the last 24 hours) by status, success rate, p50 and
        p95 duration, last success and failure, failures since the last success, and activity per bucket."""
        from alpana_hooks.results import Stats

        tenant, now = validate.tenant(tenant), utcnow()
        since = now - timedelta(hours=24) if since is None else since
        if since > now:
            raise UsageError(f"--since {since.isoformat()} is in the future")
        seconds = int(bucket.total_seconds())
        count = -(-int((now - since).total_seconds()) // max(seconds, 1)) or 1
        if seconds < 1 or count > MAX_BUCKETS:
            raise UsageError(f"--bucket: between 1s and {MAX_BUCKETS} buckets in the window (this makes {count})")
        if subscription_id is not None:
            subs = [self.store.get_subscription(tenant, subscription_id)]
        else:
            subs = self.subscriptions(tenant, event_type=event_type)
        rows_of: dict[int, list] = {sub.id: [] for sub in subs}
        for row in self.store.window_counts(tenant, list(rows_of), since, seconds):
            rows_of[row["subscription_id"]].append(row)
        return Stats(tenant, since, now, seconds,
                     tuple(self._one_stats(sub, rows_of[sub.id], since, count) for sub in subs))

    def _one_stats(self, sub: Subscription, mine: list, since: datetime, count: int) -> SubscriptionStats:
        """One subscription's figures, from its rows of Store.window_counts."""
        from alpana_hooks.results import SubscriptionStats

        total = {key: sum(row[key] for row in mine) for key in ("attempts", "succeeded", "failed", "pending", "timed")}
        buckets = [(0, 0)] * count
        for row in mine:
            place = min(max(int(row["bucket"]), 0), count - 1)
            buckets[place] = (buckets[place][0] + row["succeeded"], buckets[place][1] + row["failed"])
        finished = total["succeeded"] + total["failed"]
        p50, p95 = self.store.duration_percentiles(sub.tenant, sub.id, since, total["timed"])
        return SubscriptionStats(
            subscription=sub, attempts=total["attempts"], succeeded=total["succeeded"], failed=total["failed"],
            pending=total["pending"], success_rate=total["succeeded"] / finished if finished else None,
            p50_ms=p50, p95_ms=p95, buckets=tuple(buckets), **self.store.health(sub.tenant, sub.id),
        )


def _recipient(sub: Subscription, seen: dict) -> Recipient:
    """Whether one subscription of the event's type would receive it, and why."""
    from alpana_hooks.results import Recipient

    if sub.state != State.ACTIVE:
        return Recipient(sub, False, "disabled")
    if sub.filter is None:
        return Recipient(sub, True, "no filter")
    result = filters.evaluate(sub.filter, seen)
    return Recipient(sub, result.matched, f"filter {'matches' if result.matched else 'does not match'}"
                     + ("" if result.error is None else f": {result.error}"))


def _check(sub: Subscription, seen: dict) -> FilterCheck:
    """A subscription's filter on one envelope."""
    from alpana_hooks.results import FilterCheck

    if sub.filter is None:
        return FilterCheck(sub.id, None, True, None, "the subscription has no filter: every event of its type goes")
    result = filters.evaluate(sub.filter, seen)
    reason = result.reason
    if seen["type"] != sub.event_type:
        reason += f"; but the event is {seen['type']} and the subscription takes {sub.event_type} only"
    return FilterCheck(sub.id, sub.filter, result.matched and seen["type"] == sub.event_type, result.value, reason)
