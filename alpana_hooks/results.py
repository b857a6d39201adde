"""What the API's methods return besides the stored records (model.py): emit's result, dry runs, filter
checks, stats, totals, a new subscription or secret, database status and copy; pure.

Apart from model.py because the store and the UI's first screen never need them (each dataclass costs ~0.7 ms
to create): the API imports each where it makes it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

    from alpana_hooks.model import Attempt, Subscription


@dataclass(frozen=True)
class EmitResult:
    """What `emit` (or `ping`) did: the event's id and the attempts it made."""

    event_id: str
    event_type: str
    fired: bool
    duplicate: bool
    attempts: tuple[Attempt, ...] = ()
    skipped_by_filter: int = 0  # active subscriptions of the type whose filter said no

    @property
    def any_failed(self) -> bool:
        """True when at least one attempt failed."""
        return any(attempt.failed for attempt in self.attempts)


@dataclass(frozen=True)
class Recipient:
    """One subscription of an event's type in `emit --dry-run`: whether it would receive the event, and why."""

    subscription: Subscription
    receives: bool
    reason: str


@dataclass(frozen=True)
class DryRun:
    """What `emit` would do: whether the event fires (the rename rule, a repeated id) and who would receive it."""

    event_type: str
    fires: bool
    note: str | None
    recipients: tuple[Recipient, ...] = ()


@dataclass(frozen=True)
class FilterCheck:
    """`filter test`: a subscription's filter on one event, whether it matched, the value it gave and why."""

    subscription_id: int
    filter: str | None
    matched: bool
    value: object
    reason: str


@dataclass(frozen=True)
class SubscriptionStats:
    """`stats` for one subscription: its attempts in the window, their durations, its health, its activity."""

    subscription: Subscription
    attempts: int
    succeeded: int
    failed: int
    pending: int  # pending or sending
    success_rate: float | None  # succeeded / finished, None when none finished
    p50_ms: int | None
    p95_ms: int | None
    last_success: str | None  # any age, not only in the window
    last_failure: str | None
    consecutive_failures: int  # failed attempts since the last success
    buckets: tuple[tuple[int, int], ...]  # (succeeded, failed) per bucket, oldest first


@dataclass(frozen=True)
class Stats:
    """`stats`: the window (since .. until, in buckets of bucket_seconds) and one entry per subscription."""

    tenant: str
    since: datetime
    until: datetime
    bucket_seconds: int
    subscriptions: tuple[SubscriptionStats, ...]


@dataclass(frozen=True)
class Totals:
    """How many sends a run made and how they ended."""

    sent: int = 0
    succeeded: int = 0
    failed: int = 0
    waiting: int = 0  # attempts a one-shot run left pending for their subscription's rate limit
    next_send_at: str | None = None  # when the first of those may go


@dataclass(frozen=True)
class NewSubscription:
    """A subscription just added, with its signing secret (the only time it is handed out)."""

    subscription: Subscription
    secret: str


@dataclass(frozen=True)
class RotatedSecret:
    """The new signing secret, and until when the old one keeps signing."""

    secret: str
    old_expires_at: datetime


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
