"""What the on-call engineer asks of `Hooks` beyond the basics: who would receive an event (emit --dry-run), what a
filter makes of an event (filter test). `Hooks` inherits these methods."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alpana_hooks import events, filters, rules, validate
from alpana_hooks.errors import UsageError
from alpana_hooks.model import DryRun, FilterCheck, Recipient, State

if TYPE_CHECKING:
    from alpana_hooks.config import Settings
    from alpana_hooks.model import Subscription
    from alpana_hooks.store import Store


class OperatorMethods:
    """Dry runs and filter checks: they read the store and write nothing."""

    settings: Settings

    if TYPE_CHECKING:
        @property
        def store(self) -> Store: ...

        def _checked_event(self, event_type: str, data: dict, event_id: str | None) -> str: ...

    def emit_dry_run(self, tenant: str, event_type: str, data: dict, *, event_id: str | None = None) -> DryRun:
        """What emit would do with this event, checked like emit: whether it fires and, for every subscription of
        its type, whether it would receive it (state and filter applied). Nothing is recorded or sent."""
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


def _recipient(sub: Subscription, seen: dict) -> Recipient:
    """Whether one subscription of the event's type would receive it, and why."""
    if sub.state != State.ACTIVE:
        return Recipient(sub, False, "disabled")
    if sub.filter is None:
        return Recipient(sub, True, "no filter")
    result = filters.evaluate(sub.filter, seen)
    return Recipient(sub, result.matched, f"filter {'matches' if result.matched else 'does not match'}"
                     + ("" if result.error is None else f": {result.error}"))


def _check(sub: Subscription, seen: dict) -> FilterCheck:
    """A subscription's filter on one envelope."""
    if sub.filter is None:
        return FilterCheck(sub.id, None, True, None, "the subscription has no filter: every event of its type goes")
    result = filters.evaluate(sub.filter, seen)
    reason = result.reason
    if seen["type"] != sub.event_type:
        reason += f"; but the event is {seen['type']} and the subscription takes {sub.event_type} only"
    return FilterCheck(sub.id, sub.filter, result.matched and seen["type"] == sub.event_type, result.value, reason)
