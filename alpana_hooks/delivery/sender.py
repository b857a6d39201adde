"""Sender: POSTs OutgoingRequests through sessions that keep no cookies and whose connections are guarded."""

from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

import requests
import urllib3

from alpana_hooks.delivery.deadline import Deadline
from alpana_hooks.delivery.errors import NETWORK_ERRORS
from alpana_hooks.delivery.guard import Guard, GuardedAdapter, pool_classes
from alpana_hooks.delivery.outcome import Outcome
from alpana_hooks.delivery.request import OutgoingRequest, SendPolicy, SendResult

_READ_CHUNK = 65536
REQUIRE_HTTPS_REFUSAL = "plain http is refused ([security] require_https = true); not sent"


class Sender:
    """Sends OutgoingRequests under the safety rules; safe to share between threads (one requests.Session per thread, so connections are reused)."""

    def __init__(self, policy: SendPolicy):
        self._policy = policy
        self._guard = Guard(policy.allowed_networks)
        self._pool_classes = pool_classes(self._guard)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._sessions: list[requests.Session] = []

    def send(self, request: OutgoingRequest) -> SendResult:
        """POST one request and report the answer; never raises for network problems. A plain-http URL under
        `[security] require_https` is refused before any connection (error class `blocked`), as at add time."""
        started = time.monotonic()
        outcome = Outcome()
        if self._policy.require_https and urlsplit(request.url).scheme.lower() != "https":
            return outcome.refused(self._policy, request, REQUIRE_HTTPS_REFUSAL, started)
        deadline = Deadline(self._policy.timeout_seconds)
        self._guard.local.deadline = deadline
        self._guard.local.outcome = outcome
        deadline.start()
        try:
            self._exchange(request, outcome)
        except NETWORK_ERRORS as exc:
            outcome.exc = exc
        finally:
            timed_out = deadline.finish()
            self._guard.local.deadline = self._guard.local.outcome = None
        return outcome.result(self._policy, request, timed_out, started)

    def close(self) -> None:
        """Close every pooled connection of every thread."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

    def __enter__(self) -> Sender:
        """Use as a context manager that closes the sender."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the sender."""
        self.close()

    def _exchange(self, request: OutgoingRequest, outcome: Outcome) -> None:
        """Make the POST and read at most max_response_bytes (+1) of the raw body into outcome."""
        policy = self._policy
        response = self._session().post(
            request.url,
            data=request.body,
            headers=request.headers,
            allow_redirects=False,
            stream=True,
            timeout=(policy.connect_timeout, policy.timeout_seconds),
        )
        try:
            outcome.status_code = response.status_code
            outcome.response_headers = dict(response.headers)
            outcome.truncated = _read_capped(response.raw, policy.max_response_bytes, outcome.body)
        finally:
            response.close()

    def _session(self) -> requests.Session:
        """Return this thread's session, creating it on first use."""
        session: requests.Session | None = getattr(self._local, "session", None)
        with self._lock:
            if session is None or not any(session is known for known in self._sessions):  # new thread, or closed
                session = _new_session(self._pool_classes)
                self._sessions.append(session)
                self._local.session = session
        return session


def _read_capped(raw: urllib3.HTTPResponse, limit: int, into: bytearray) -> bool:
    """Read the raw body into `into`, stopping after limit+1 bytes; True if it was longer."""
    while len(into) <= limit:
        chunk = raw.read(min(_READ_CHUNK, limit + 1 - len(into)), decode_content=False)
        if not chunk:
            return False
        into += chunk
    return True


class _NoCookies(requests.cookies.RequestsCookieJar):
    """A cookie jar that keeps nothing. A session's jar would send a cookie set by one endpoint on every
    later delivery to the same host, another tenant's included (and with no public-suffix list,
    `Domain=.herokuapp.com` reaches every tenant on that domain)."""

    def set_cookie(self, cookie: object, *args: object, **kwargs: object) -> None:
        """Drop the cookie."""

    def extract_cookies(self, response: object, request: object) -> None:
        """Take no cookie from a response."""


def _new_session(pool_classes: dict[str, type[urllib3.HTTPConnectionPool]]) -> requests.Session:
    """A session with no ambient configuration and no cookies, whose connections go through the guard."""
    session = requests.Session()
    session.trust_env = False
    session.headers.clear()
    session.cookies = _NoCookies()
    adapter = GuardedAdapter(pool_classes, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
