"""Sender: POSTs OutgoingRequests through one pool of guarded connections that keeps no cookies."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import certifi
import urllib3

from alpana_hooks.delivery.deadline import Deadline
from alpana_hooks.delivery.errors import NETWORK_ERRORS
from alpana_hooks.delivery.guard import Guard, pool_classes
from alpana_hooks.delivery.outcome import Outcome
from alpana_hooks.delivery.request import OutgoingRequest, SendPolicy, SendResult

_READ_CHUNK = 65536
REQUIRE_HTTPS_REFUSAL = "plain http is refused ([security] require_https = true); not sent"
_POOLS = 256  # destinations whose idle connections are kept (the least recently used beyond it are closed)


class Sender:
    """Sends OutgoingRequests under the safety rules; safe to share between threads, which share its connections
    (one pool per destination, of `connections_per_host`).

    It speaks urllib3 directly, under requests: requests' Session added a third of the CPU of a send (merging
    settings, cookies, hooks) for nothing a webhook needs; urllib3 has no cookie jar, follows no redirect when told
    not to, and reads no proxy or ~/.netrc from the environment. Certificates are checked against certifi's CAs."""

    def __init__(self, policy: SendPolicy):
        self._policy = policy
        self._guard = Guard(policy.allowed_networks)
        # certifi's CAs, as requests used: not the system's store, nor SSL_CERT_FILE/SSL_CERT_DIR from the environment
        self._pools = urllib3.PoolManager(num_pools=_POOLS, maxsize=policy.connections_per_host, block=False,
                                          ca_certs=certifi.where())
        self._pools.pool_classes_by_scheme = pool_classes(self._guard)
        self._timeout = urllib3.Timeout(connect=policy.connect_timeout, read=policy.timeout_seconds)

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
        """Close every pooled connection."""
        self._pools.clear()

    def __enter__(self) -> Sender:
        """Use as a context manager that closes the sender."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the sender."""
        self.close()

    def _exchange(self, request: OutgoingRequest, outcome: Outcome) -> None:
        """Make the POST and read at most max_response_bytes (+1) of the raw body into outcome."""
        response = self._pools.urlopen(
            "POST", request.url, body=request.body,
            headers={**request.headers, "Content-Length": str(len(request.body))},  # last, as requests put it
            redirect=False, retries=False, timeout=self._timeout, preload_content=False, decode_content=False,
        )
        try:
            outcome.status_code = response.status
            outcome.response_headers = dict(response.headers)
            outcome.truncated = _read_capped(response, self._policy.max_response_bytes, outcome.body)
        finally:
            response.close()  # a connection whose answer was not read to its end is closed, not reused
            response.release_conn()


def _read_capped(raw: urllib3.BaseHTTPResponse, limit: int, into: bytearray) -> bool:
    """Read the raw body into `into`, stopping after limit+1 bytes; True if it was longer."""
    while len(into) <= limit:
        chunk = raw.read(min(_READ_CHUNK, limit + 1 - len(into)), decode_content=False)
        if not chunk:
            return False
        into += chunk
    return True
