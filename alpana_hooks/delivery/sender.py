"""Sender: POSTs OutgoingRequests over kept-alive guarded connections; no cookies, no redirects, no proxies."""

from __future__ import annotations

import http.client
import re
import ssl
import threading
import time
from typing import cast
from urllib.parse import quote, urlsplit

from alpana_hooks import netpolicy
from alpana_hooks.delivery.deadline import Deadline
from alpana_hooks.delivery.errors import NETWORK_ERRORS
from alpana_hooks.delivery.guard import FinalResponse, GuardedConnection, header_dict
from alpana_hooks.delivery.outcome import Outcome
from alpana_hooks.delivery.pool import Destination, Pool
from alpana_hooks.delivery.request import OutgoingRequest, SendPolicy, SendResult

_READ_CHUNK = 65536
REQUIRE_HTTPS_REFUSAL = "plain http is refused ([security] require_https = true); not sent"
_POOLS = 256  # destinations whose idle connections are kept (the least recently used beyond it are closed)
_DEFAULT_PORTS = {"http": 80, "https": 443}
# What a request target keeps as it is (RFC 3986 pchar, "/", "?" and percent-encodings); the rest, such as
# spaces or non-ASCII letters, is percent-encoded (as UTF-8).
_TARGET_SAFE = "/?:@!$&'()*+,;=%~"
_STRAY_PERCENT = re.compile("%(?![0-9A-Fa-f]{2})")  # a "%" that starts no percent-encoding is one itself


class Sender:
    """Sends OutgoingRequests under the safety rules; safe to share between threads, which share its idle
    connections (at most `connections_per_host` kept per destination).

    It speaks http.client directly: requests' Session added a third of the CPU of a send (merging settings,
    cookies, hooks) and urllib3's pool and response layers a fifth more, and importing them ~45 ms to every
    emit, for nothing a webhook needs. Nothing here keeps cookies, follows a redirect, or reads a proxy or
    ~/.netrc from the environment. Certificates are checked against certifi's CAs, not the system's store
    nor SSL_CERT_FILE/SSL_CERT_DIR."""

    def __init__(self, policy: SendPolicy):
        netpolicy.parse_networks(policy.allowed_networks)  # raise ValueError now, not at the first connect
        self._policy = policy
        self._pool = Pool(keep=policy.connections_per_host, destinations=_POOLS)
        self._tls_lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None  # made at the first https send: loading the CAs takes ~15 ms

    def send(self, request: OutgoingRequest) -> SendResult:
        """POST one request and report the answer; never raises for network problems. A plain-http URL under
        `[security] require_https` is refused before any connection (error class `blocked`), as at add time."""
        started = time.monotonic()
        outcome = Outcome()
        if self._policy.require_https and not request.url[:8].lower() == "https://":
            return outcome.refused(self._policy, request, REQUIRE_HTTPS_REFUSAL, started)
        deadline = Deadline(self._policy.timeout_seconds)
        deadline.start()
        kept = None
        try:
            kept = self._exchange(request, outcome, deadline)
        except NETWORK_ERRORS as exc:
            outcome.exc = exc
        finally:
            timed_out = deadline.finish()
        if kept is not None:
            destination, connection = kept
            if timed_out:  # the watchdog may have shut it
                connection.close()
            else:
                self._pool.give(destination, connection)
        return outcome.result(self._policy, request, timed_out, started)

    def tls_context(self) -> ssl.SSLContext:
        """The TLS settings of https sends: certifi's CAs, the host name checked against the certificate's
        subjectAltName, TLS 1.2 at least."""
        with self._tls_lock:
            if self._tls is None:
                import certifi

                self._tls = ssl.create_default_context(cafile=certifi.where())
                self._tls.minimum_version = ssl.TLSVersion.TLSv1_2
                self._tls.hostname_checks_common_name = False  # a name only in the subject's CN is no name
            return self._tls

    def close(self) -> None:
        """Close every idle connection."""
        self._pool.close()

    def __enter__(self) -> Sender:
        """Use as a context manager that closes the sender."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the sender."""
        self.close()

    def _exchange(self, request: OutgoingRequest, outcome: Outcome,
                  deadline: Deadline) -> tuple[Destination, GuardedConnection] | None:
        """Make the POST and read at most max_response_bytes (+1) of the raw body into outcome. The connection
        (with its destination) when it may serve the next send: its answer was read to its end and the receiver
        keeps it open. Any other is closed: one that failed or was cut short is in an unknown state."""
        destination, target = _destination_and_target(request.url)
        connection = self._pool.take(destination) or self._connection(destination)
        connection.deadline, connection.noted = deadline, outcome.wire_headers
        reusable = False
        try:
            connection.watch()
            connection.putrequest("POST", target, skip_accept_encoding=True)  # ours carries Accept-Encoding
            for name, value in request.headers.items():
                connection.putheader(name, value)
            connection.putheader("Content-Length", str(len(request.body)))  # last, as requests put it
            connection.endheaders(request.body)  # connects if needed; headers and body in one write
            response = cast(FinalResponse, connection.getresponse())
            outcome.status_code = response.status
            outcome.response_headers = header_dict(response.headers)
            outcome.headers_truncated = response.headers_truncated
            outcome.truncated = _read_capped(response, self._policy.max_response_bytes, outcome.body)
            reusable = response.isclosed() and not response.will_close and response.status != 101
        finally:
            connection.deadline, connection.noted = None, []
            if not reusable:
                connection.close()
        return (destination, connection) if reusable else None

    def _connection(self, destination: Destination) -> GuardedConnection:
        scheme, host, port = destination
        return GuardedConnection(host, port, networks=self._policy.allowed_networks,
                                 connect_timeout=self._policy.connect_timeout,
                                 read_timeout=self._policy.timeout_seconds,
                                 tls=self.tls_context() if scheme == "https" else None)


def _destination_and_target(url: str) -> tuple[Destination, str]:
    """(scheme, host, port) of a URL and its request target (path and query); ValueError if it is not http(s)
    or its host is no valid internationalised name. A non-ASCII host is sent as IDNA 2008 A-labels, as
    urllib3 sent it (Python's own codec is IDNA 2003: it makes strasse.de of straße.de)."""
    parts = urlsplit(url)
    scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
    if scheme not in _DEFAULT_PORTS or not host:
        raise ValueError(f"not an http(s) URL: {url!r}")
    if not host.isascii():
        import idna

        try:
            host = idna.encode(host, strict=True, std3_rules=True).decode("ascii")
        except idna.IDNAError as exc:
            raise ValueError(f"{host!r} is not a valid internationalised host name: {exc}") from None
    target = _STRAY_PERCENT.sub("%25", quote(parts.path or "/", safe=_TARGET_SAFE))
    if parts.query:
        target += "?" + _STRAY_PERCENT.sub("%25", quote(parts.query, safe=_TARGET_SAFE))
    return (scheme, host, _DEFAULT_PORTS[scheme] if port is None else port), target


def _read_capped(response: FinalResponse, limit: int, into: bytearray) -> bool:
    """Read the body into `into`, stopping after limit+1 bytes; True if it was longer. A body that ends before
    its Content-Length is an http.client.IncompleteRead (http.client itself returns it short)."""
    while len(into) <= limit:
        chunk = response.read(min(_READ_CHUNK, limit + 1 - len(into)))
        if not chunk:
            if response.length:  # what Content-Length promised and never came
                raise http.client.IncompleteRead(bytes(into), response.length)
            return False
        into += chunk
    return True
