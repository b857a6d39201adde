"""The records the store returns and the API hands out, and the states they can be in; pure.

What only an API method makes (EmitResult, Stats, …) is in results.py: each dataclass costs ~0.7 ms to
create, and the UI's first screen imports this module but needs none of those."""

from __future__ import annotations

import sys
from dataclasses import dataclass
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
