"""The records the store returns and the API hands out, and the states they can be in; pure."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

if sys.version_info >= (3, 11):
    from enum import StrEnum
else:  # pragma: no cover

    class StrEnum(str, Enum):
        """A str whose members compare, format and bind to SQL as their value."""

        def __str__(self) -> str:
            return str(self.value)


class State(StrEnum):
    """A subscription's state."""

    ACTIVE = "active"
    DISABLED = "disabled"


class Status(StrEnum):
    """A send attempt's status."""

    PENDING = "pending"
    SENDING = "sending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Trigger(StrEnum):
    """What made a send attempt."""

    EMIT = "emit"
    RETRY = "retry"
    RESEND = "resend"
    PING = "ping"


class ErrorClass(StrEnum):
    """Why a send attempt failed without (or besides) an HTTP answer."""

    BLOCKED = "blocked"
    DNS = "dns"
    TLS = "tls"
    CONNECT = "connect"
    TIMEOUT = "timeout"
    RESET = "reset"
    INVALID_RESPONSE = "invalid_response"
    ERROR = "error"
    DISCARDED = "discarded"
    CIRCUIT_OPEN = "circuit_open"


class PlanAction(StrEnum):
    """What `apply` does to one subscription."""

    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    DELETE = "delete"


NOT_RETRIED = (Trigger.RESEND, Trigger.PING)  # asked for by a person: they go out once
NOT_SENT = (ErrorClass.DISCARDED, ErrorClass.CIRCUIT_OPEN)  # failed without going on the wire
DISABLED_BY_USER = "disabled by a user"


@dataclass(frozen=True)
class Subscription:
    """A webhook subscription of one tenant, with its extra headers."""

    id: int
    tenant: str
    event_type: str
    url: str
    description: str
    state: State
    disabled_reason: str | None
    disabled_at: str | None
    failing_since: str | None
    created_at: str
    updated_at: str
    headers: tuple[tuple[str, str], ...] = ()
    filter: str | None = None  # a JMESPath expression on {type, tenant, data}; None: every event goes
    rate_limit: str | None = None  # at most this many sends per second, minute or hour ('10/s'); None: no limit


@dataclass(frozen=True)
class Secret:
    """A signing secret; expires_at is set while an old one is in its grace period."""

    secret: str
    created_at: str
    expires_at: str | None


@dataclass(frozen=True)
class Event:
    """A recorded event; `attempts` counts the send attempts it caused (in lists)."""

    id: int
    tenant: str
    event_id: str
    type: str
    data: dict
    body: bytes
    created_at: str
    attempts: int | None = None


@dataclass(frozen=True)
class Attempt:
    """One send attempt, with its event's id, type and payload."""

    id: int
    tenant: str
    subscription_id: int
    event_pk: int
    attempt_number: int
    trigger: Trigger
    resend_of: int | None
    status: Status
    created_at: str
    started_at: str | None
    finished_at: str | None
    duration_ms: int | None
    url: str
    request_headers: str | None
    status_code: int | None
    response_headers: str | None
    response_body: bytes | None
    response_truncated: bool
    error_class: ErrorClass | None
    error: str | None
    next_attempt_at: str | None
    lease_until: str | None
    claimed_by: str | None
    response_headers_truncated: bool
    event_id: str
    event_type: str
    payload: bytes

    @property
    def failed(self) -> bool:
        """True once the attempt finished without success."""
        return self.status == Status.FAILED

    @property
    def may_change(self) -> bool:
        """True while it is pending or sending, or a retry is scheduled."""
        return self.status in (Status.PENDING, Status.SENDING) or self.next_attempt_at is not None


@dataclass(frozen=True)
class SendingContext:
    """What one send needs: the attempt, its event, and the subscription as it is now (state None: deleted)."""

    id: int
    tenant: str
    subscription_id: int
    trigger: Trigger
    attempt_number: int
    event_id: str
    body: bytes
    url: str | None
    state: State | None
    headers: tuple[tuple[str, str], ...] = ()
    secrets: tuple[str, ...] = ()


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
