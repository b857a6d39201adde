"""The request side with no network: how a send may behave, the signed request, and what came of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from alpana_hooks import signing
from alpana_hooks.model import ErrorClass

if TYPE_CHECKING:
    from alpana_hooks.config import Settings

# Names a subscription header may never set: ours, and those that frame the HTTP message.
_FRAMING_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "te", "upgrade", "expect",
     "keep-alive", "trailer"}
)


@dataclass(frozen=True)
class SendPolicy:
    """How one delivery may behave on the network. The values come from Settings (see from_settings),
    which holds their defaults."""

    timeout_seconds: float
    connect_timeout_seconds: float
    max_response_bytes: int
    allowed_networks: tuple[str, ...]
    require_https: bool
    connections_per_host: int = 10  # kept open for reuse, per destination

    def __post_init__(self) -> None:
        """Refuse limits that would make a send meaningless."""
        if not self.timeout_seconds > 0 or not self.connect_timeout_seconds > 0:
            raise ValueError("timeouts must be positive")
        if self.max_response_bytes < 0:
            raise ValueError("max_response_bytes must not be negative")

    @classmethod
    def from_settings(cls, settings: Settings) -> SendPolicy:
        """The policy the effective settings of this run describe."""
        return cls(
            timeout_seconds=settings.timeout_seconds,
            connect_timeout_seconds=settings.connect_timeout_seconds,
            max_response_bytes=settings.max_response_bytes,
            allowed_networks=settings.allowed_networks,
            require_https=settings.require_https,
            connections_per_host=min(settings.concurrency, settings.per_host_concurrency),
        )

    @property
    def connect_timeout(self) -> float:
        """The connect timeout, never longer than the whole deadline."""
        return min(self.connect_timeout_seconds, self.timeout_seconds)


@dataclass(frozen=True)
class OutgoingRequest:
    """One webhook POST exactly as it will be sent."""

    url: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class SendResult:
    """What happened to one OutgoingRequest."""

    status_code: int | None
    request_headers: list[tuple[str, str]]  # as written on the wire; if nothing was written, those to be sent
    response_headers: dict[str, str]  # from at most MAX_RESPONSE_HEADERS lines and MAX_RESPONSE_HEADER_BYTES
    headers_truncated: bool  # response header lines were cut or dropped
    response_body: bytes
    truncated: bool  # the response body was cut
    error_class: ErrorClass | None
    error: str | None
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        """True for a complete 2xx answer."""
        return self.error_class is None and self.status_code is not None and (
            200 <= self.status_code < 300
        )


def build_request(
    *,
    url: str,
    body: bytes,
    msg_id: str,
    secrets: list[str],
    custom_headers: list[tuple[str, str]],
    timestamp: int,
    user_agent: str,
) -> OutgoingRequest:
    """Sign body and return the request: the subscription's headers first, ours winning."""
    ours = {
        "Content-Type": "application/json",
        "User-Agent": user_agent,
        "Accept-Encoding": "identity",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": signing.signature_header(secrets, msg_id, timestamp, body),
    }
    refused = _FRAMING_HEADERS | {name.lower() for name in ours}
    custom = {name.lower(): (name, value) for name, value in custom_headers}
    headers = {name: value for key, (name, value) in custom.items() if key not in refused}
    return OutgoingRequest(url=url, headers=headers | ours, body=bytes(body))
