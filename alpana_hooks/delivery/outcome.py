"""What one exchange produced so far, filled in by the sender, the connection and the response."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from alpana_hooks.delivery.errors import classify, names_its_timer
from alpana_hooks.delivery.request import OutgoingRequest, SendPolicy, SendResult
from alpana_hooks.model import ErrorClass


@dataclass
class Outcome:
    """What one exchange produced so far (filled in as it progresses)."""

    status_code: int | None = None
    wire_headers: list[tuple[str, str]] = field(default_factory=list)  # noted by the connection
    response_headers: dict[str, str] = field(default_factory=dict)
    headers_truncated: bool = False  # noted by the response
    body: bytearray = field(default_factory=bytearray)
    truncated: bool = False
    exc: BaseException | None = None

    def result(self, policy: SendPolicy, request: OutgoingRequest, timed_out: bool, started: float) -> SendResult:
        """Freeze into a SendResult, naming the error class if the exchange failed."""
        error_class: ErrorClass | None = None
        error: str | None = None
        if timed_out and not names_its_timer(self.exc):
            error_class, error = ErrorClass.TIMEOUT, f"deadline of {policy.timeout_seconds:g} s exceeded"
        elif self.exc is not None:
            error_class, error = classify(self.exc, request.url, policy)
        return self._frozen(policy, request, error_class, error, started)

    def refused(self, policy: SendPolicy, request: OutgoingRequest, error: str, started: float) -> SendResult:
        """A send refused by policy before any connection (nothing went on the wire)."""
        return self._frozen(policy, request, ErrorClass.BLOCKED, error, started)

    def _frozen(self, policy: SendPolicy, request: OutgoingRequest, error_class: ErrorClass | None,
                error: str | None, started: float) -> SendResult:
        limit = policy.max_response_bytes
        return SendResult(
            status_code=self.status_code,
            request_headers=list(self.wire_headers or request.headers.items()),
            response_headers=self.response_headers,
            headers_truncated=self.headers_truncated,
            response_body=bytes(self.body[:limit]),
            truncated=self.truncated or len(self.body) > limit,
            error_class=error_class,
            error=error,
            duration_ms=round((time.monotonic() - started) * 1000),
        )
