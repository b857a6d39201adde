"""Build a signed webhook request (no network), then send it under the safety rules.

Safety rules: redirects are never followed; no proxies or
~/.netrc from the environment; no cookies kept or sent; every resolved address is checked by
netpolicy at connect time and only an allowed one is dialled; a watchdog enforces one wall-clock
deadline over the whole exchange, and the DNS lookup is waited for within it; the response body is
read raw (never inflated) and capped, and so are the response headers kept. The request headers
reported are those written on the wire.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import SKIP_HEADER
from urllib3.util.connection import allowed_gai_family

from . import netpolicy, signing

_READ_CHUNK = 65536
# Response headers kept per attempt, like the body's cap: the first 64 header lines and 16 KiB of them
# ("name: value\r\n"); the rest is read past, not kept. As http.client does, more than 100 header lines
# or a line over 64 KiB make the response invalid.
MAX_RESPONSE_HEADERS = 64
MAX_RESPONSE_HEADER_BYTES = 16384
_MAX_HEADER_LINES = 100
_FRAMING_RESPONSE_HEADERS = frozenset({b"content-length", b"transfer-encoding", b"connection"})
# DNS lookups running at once. A lookup the deadline gave up on goes on in its thread until the system
# resolver gives up (10-40 s); lookups of the same name share one thread, and past this many a send fails.
MAX_PENDING_LOOKUPS = 64
# Names a subscription header may never set: ours, and those that frame the HTTP message.
_FRAMING_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "te", "upgrade", "expect",
     "keep-alive", "trailer"}
)
_NETWORK_ERRORS = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    netpolicy.BlockedAddress,
    OSError,
    ValueError,
)


@dataclass(frozen=True)
class SendPolicy:
    """How one delivery may behave on the network."""

    timeout_seconds: float = 15.0
    connect_timeout_seconds: float = 5.0
    max_response_bytes: int = 20000
    allowed_networks: tuple[str, ...] = ()
    user_agent: str = "alpana-hooks"

    def __post_init__(self) -> None:
        """Refuse limits that would make a send meaningless."""
        if not self.timeout_seconds > 0 or not self.connect_timeout_seconds > 0:
            raise ValueError("timeouts must be positive")
        if self.max_response_bytes < 0:
            raise ValueError("max_response_bytes must not be negative")


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
    error_class: str | None
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


class Sender:
    """Sends OutgoingRequests under the safety rules; safe to share between threads (one requests.Session per thread, so connections are reused)."""

    def __init__(self, policy: SendPolicy):
        self._policy = policy
        self._guard = _Guard(netpolicy.parse_networks(policy.allowed_networks))
        self._pool_classes = _pool_classes(self._guard)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._sessions: list[requests.Session] = []

    def send(self, request: OutgoingRequest) -> SendResult:
        """POST one request and report the answer; never raises for network problems."""
        started = time.monotonic()
        outcome = _Outcome()
        deadline = _Deadline(self._policy.timeout_seconds)
        self._guard.local.deadline = deadline
        self._guard.local.outcome = outcome
        deadline.start()
        try:
            self._exchange(request, outcome)
        except _NETWORK_ERRORS as exc:
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

    def _exchange(self, request: OutgoingRequest, outcome: _Outcome) -> None:
        """Make the POST and read at most max_response_bytes (+1) of the raw body into outcome."""
        policy = self._policy
        response = self._session().post(
            request.url,
            data=request.body,
            headers=request.headers,
            allow_redirects=False,
            stream=True,
            timeout=(_connect_timeout(policy), policy.timeout_seconds),
        )
        try:
            outcome.status_code = response.status_code
            outcome.response_headers = dict(response.headers)
            outcome.truncated = _read_capped(response.raw, policy.max_response_bytes, outcome.body)
        finally:
            response.close()

    def _session(self) -> requests.Session:
        """Return this thread's session, creating it on first use."""
        session = getattr(self._local, "session", None)
        with self._lock:
            if not any(session is known for known in self._sessions):  # new thread, or closed
                session = _new_session(self._pool_classes)
                self._sessions.append(session)
                self._local.session = session
        return session


@dataclass
class _Outcome:
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
        error_class, error = None, None
        if timed_out and not _names_its_timer(self.exc):
            error_class, error = "timeout", f"deadline of {policy.timeout_seconds:g} s exceeded"
        elif self.exc is not None:
            error_class, error = _classify(self.exc, request.url, policy)
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


def _connect_timeout(policy: SendPolicy) -> float:
    """The connect timeout, never longer than the whole deadline."""
    return min(policy.connect_timeout_seconds, policy.timeout_seconds)


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


def _new_session(pool_classes: dict[str, type]) -> requests.Session:
    """A session with no ambient configuration and no cookies, whose connections go through the guard."""
    session = requests.Session()
    session.trust_env = False
    session.headers.clear()
    session.cookies = _NoCookies()
    adapter = _GuardedAdapter(pool_classes, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class _GuardedAdapter(HTTPAdapter):
    """An HTTPAdapter whose pools build guarded connections."""

    def __init__(self, pool_classes: dict[str, type], **kwargs: object):
        self._pool_classes = pool_classes
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        """Create the pool manager, then point it at the guarded pool classes."""
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(self._pool_classes)


class _Deadline:
    """A wall-clock limit on one exchange: when it passes, the sockets it uses are shut down."""

    def __init__(self, seconds: float):
        self._ends = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._connections: list[HTTPConnection] = []
        self._sockets: list[socket.socket] = []
        self._state = "running"

    def start(self) -> None:
        """Put this deadline under the process's watchdog."""
        _WATCHDOG.add(self)

    def finish(self) -> bool:
        """End the watch; True if the deadline passed before the exchange ended."""
        _WATCHDOG.remove(self)
        with self._lock:
            expired, self._state = self._state == "expired", "finished"
            self._connections.clear()
            self._sockets.clear()
        return expired

    def remaining(self) -> float:
        """Seconds left before the deadline (negative once passed)."""
        return self._ends - time.monotonic()

    def watch(self, connection: HTTPConnection) -> None:
        """Put a connection and its socket under the watchdog; TimeoutError if already expired.

        The socket is kept too: http.client drops `connection.sock` when the answer says
        `Connection: close`, while the response goes on reading from it.
        """
        with self._lock:
            if self._state == "expired":
                raise TimeoutError("deadline exceeded")
            _add_once(self._connections, connection)
            if connection.sock is not None:
                _add_once(self._sockets, connection.sock)

    @property
    def ends(self) -> float:
        """The monotonic time at which the deadline passes."""
        return self._ends

    def expire(self) -> None:
        """Watchdog callback: mark the deadline passed and shut down every watched socket."""
        with self._lock:
            if self._state != "running":
                return
            self._state = "expired"
            for sock in [*self._sockets, *(conn.sock for conn in self._connections)]:
                _shutdown(sock)


def _add_once(items: list, item: object) -> None:
    """Append item unless that very object is already there."""
    if not any(item is known for known in items):
        items.append(item)


class _Watchdog:
    """One thread for all deadlines of the process. It looks at the exchanges running now (at most
    `concurrency`) every TICK seconds, and sleeps while there are none. (A threading.Timer per send
    started and cancelled a thread for every request; a heap kept every finished deadline until
    its time came.)"""

    TICK = 0.05

    def __init__(self):
        self._cond = threading.Condition()
        self._running: set[_Deadline] = set()
        self._thread: threading.Thread | None = None

    def add(self, deadline: _Deadline) -> None:
        """Watch a deadline until it is removed or passes."""
        with self._cond:
            self._running.add(deadline)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="alpana-hooks-watchdog", daemon=True)
                self._thread.start()
            self._cond.notify()

    def remove(self, deadline: _Deadline) -> None:
        """Stop watching a deadline (its exchange ended)."""
        with self._cond:
            self._running.discard(deadline)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._running:
                    self._cond.wait()
                now = time.monotonic()
                passed = [d for d in self._running if d.ends <= now]
                self._running.difference_update(passed)
            for deadline in passed:
                deadline.expire()
            time.sleep(self.TICK)


_WATCHDOG = _Watchdog()


def _shutdown(sock: socket.socket | None) -> None:
    """Shut a socket down so a blocked read in another thread returns at once."""
    if sock is None:
        return
    try:
        # The plain-socket method: on a TLS socket it leaves the TLS state for its owner.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except (OSError, TypeError):
        pass


class _Guard:
    """What guarded connections share with their Sender: allowed networks, this thread's deadline."""

    def __init__(self, networks: tuple[netpolicy.IPNetwork, ...]):
        self.networks = networks
        self.local = threading.local()

    def deadline(self) -> _Deadline | None:
        """The deadline of the send running in this thread, if any."""
        return getattr(self.local, "deadline", None)

    def watch(self, connection: HTTPConnection) -> None:
        """Put a connection under this thread's deadline."""
        deadline = self.deadline()
        if deadline is not None:
            deadline.watch(connection)

    def timeout(self, base: object) -> float | None:
        """The connect timeout, shortened to what is left of the deadline."""
        deadline = self.deadline()
        left = None if deadline is None else max(deadline.remaining(), 0.001)
        if not isinstance(base, (int, float)):
            return left
        return base if left is None else min(base, left)

    def outcome(self) -> _Outcome:
        """What the send running in this thread has produced so far (a throwaway record outside a send)."""
        return getattr(self.local, "outcome", None) or _Outcome()

    def allowed(self, candidates: list[tuple]) -> list[tuple]:
        """Keep the getaddrinfo results policy allows; raise the first refusal if none is left."""
        allowed, refusals = [], []
        for candidate in candidates:
            try:
                netpolicy.check_address(candidate[4][0], self.networks)
            except netpolicy.BlockedAddress as refusal:
                refusals.append(refusal)
            else:
                allowed.append(candidate)
        if not allowed:
            raise refusals[0]
        return allowed


def _wire_text(item: object) -> str:
    """A header name or value as http.client puts it on the wire (bytes as they are, str as latin-1)."""
    return item.decode("latin-1") if isinstance(item, bytes) else str(item)


class _DNSTimeout(Exception):
    """The DNS lookup did not finish within the connect timeout (it goes on in its resolver thread)."""


class _ResolverBusy(Exception):
    """Too many DNS lookups are still pending to start another."""


class _HandshakeTimeout(ConnectTimeoutError):
    """The TLS handshake did not complete within the connect timeout."""


class _Lookup:
    """One getaddrinfo call running in a resolver thread, and its outcome once `done` is set."""

    def __init__(self):
        self.done = threading.Event()
        self.addresses: list[tuple] = []
        self.error: Exception | None = None


class _Resolver:
    """getaddrinfo in daemon threads, so that a send waits for it no longer than it may: the system
    resolver cannot be interrupted and retries a silent name server for 10-40 s. Lookups of the same
    name share one thread; at most `max_pending` run at once."""

    def __init__(self, max_pending: int):
        self._lock = threading.Lock()
        self._pending: dict[tuple, _Lookup] = {}
        self._max_pending = max_pending

    def resolve(self, host: str, port: int, family: int, wait: float | None) -> tuple[list[tuple], Exception | None]:
        """(addresses, None) of getaddrinfo(host, port, family, SOCK_STREAM), or ([], the error) if it
        failed or did not finish within `wait` seconds."""
        key = (host, port, family)
        with self._lock:
            lookup = self._pending.get(key)
            if lookup is None:
                if len(self._pending) >= self._max_pending:
                    return [], _ResolverBusy(f"{len(self._pending)} DNS lookups are still pending")
                lookup = self._pending[key] = _Lookup()
                threading.Thread(target=self._run, args=(key, lookup), name="alpana-hooks-resolver",
                                 daemon=True).start()
        if not lookup.done.wait(wait):
            return [], _DNSTimeout(f"DNS lookup of {host} did not finish within {wait:.3g} s")
        return lookup.addresses, lookup.error

    def _run(self, key: tuple, lookup: _Lookup) -> None:
        host, port, family = key
        try:
            lookup.addresses = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
        except Exception as exc:  # noqa: BLE001 - handed to every send waiting for this lookup
            lookup.error = exc
        finally:
            with self._lock:
                del self._pending[key]
            lookup.done.set()


_RESOLVER = _Resolver(MAX_PENDING_LOOKUPS)


class _HeaderBlockReader:
    """Stands for a response's file while http.client reads status lines and header blocks. Of each
    block it returns the first MAX_RESPONSE_HEADERS lines and MAX_RESPONSE_HEADER_BYTES (the line that
    crosses the limit cut short), and the first line of each header that frames the message, wherever
    it comes; it reads past the rest without keeping it, and notes that it cut."""

    def __init__(self, fp: BinaryIO):
        self.file = fp
        self.new_block()
        self.in_block = False  # until a status line is read

    def __getattr__(self, name: str) -> object:
        """Everything but readline is the file's own (http.client may close it)."""
        return getattr(self.file, name)

    def new_block(self) -> None:
        """A status line was read: its header block follows."""
        self.in_block, self.cut = True, False
        self.lines, self.room, self.framing_seen = 0, MAX_RESPONSE_HEADER_BYTES, set()

    def readline(self, limit: int = -1) -> bytes:
        """A status line, the next header line kept, the blank line ending a block, or a line too long
        (that http.client refuses)."""
        while True:
            line = self.file.readline(limit)
            if not self.in_block or len(line) >= limit > 0:
                return line
            if line in (b"\r\n", b"\n", b""):
                self.in_block = False
                return line
            self.lines += 1
            if self.lines > _MAX_HEADER_LINES:
                raise http.client.HTTPException(f"got more than {_MAX_HEADER_LINES} headers")
            kept = self._keep(line)
            if kept:
                self.room -= len(kept)
                return kept

    def _keep(self, line: bytes) -> bytes:
        """The line, as much of it as the limits leave room for, or b"" to drop it."""
        name = line.split(b":", 1)[0].strip().lower()
        if name in _FRAMING_RESPONSE_HEADERS and name not in self.framing_seen:
            self.framing_seen.add(name)  # http.client reads the first: the body cannot be found without it
            return line
        if not self.cut and self.lines <= MAX_RESPONSE_HEADERS and len(line) <= self.room:
            return line
        piece = b"" if self.cut else line[: max(self.room - 2, 0)].rstrip(b"\r\n")
        self.cut = True
        if self.lines > MAX_RESPONSE_HEADERS or not (b":" in piece or piece[:1] in (b" ", b"\t")):
            return b""  # no whole name fits: drop the line rather than keep one http.client cannot parse
        return piece + b"\r\n"


class _FinalResponse(http.client.HTTPResponse):
    """An http.client response that keeps at most MAX_RESPONSE_HEADERS(_BYTES) of its header lines and
    skips interim 1xx answers (102 Processing, 103 Early Hints) as http.client skips 100 Continue, to
    read the final answer. 101 stays final: it switches protocols. Subclasses set `guard`."""

    guard: _Guard

    def begin(self) -> None:
        """Read the status line and headers through a _HeaderBlockReader; note whether it cut them."""
        reader = self.fp = _HeaderBlockReader(self.fp)
        try:
            super().begin()
        finally:
            self.guard.outcome().headers_truncated = reader.cut
            if self.fp is reader:  # else http.client closed it
                self.fp = reader.file

    def _read_status(self) -> tuple[str, int, str]:
        version, status, reason = super()._read_status()
        if isinstance(self.fp, _HeaderBlockReader):
            self.fp.new_block()
        if 100 < status < 200 and status != 101:
            return version, http.client.CONTINUE, reason  # begin() then skips its headers and reads on
        return version, status, reason


class _GuardedConnectionMixin:
    """Resolves (waiting within the deadline), checks and dials the address itself, puts its socket
    under the deadline and notes the header lines it writes."""

    guard: _Guard

    def _new_conn(self) -> socket.socket:
        """Resolve the host, refuse blocked addresses, and connect to an allowed one."""
        candidates = self.guard.allowed(self._resolve())
        try:
            sock = _dial(candidates, lambda: self.guard.timeout(self.timeout),
                         self.source_address, self.socket_options)
        except TimeoutError as exc:
            raise ConnectTimeoutError(
                self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
            ) from exc
        except OSError as exc:
            raise NewConnectionError(self, f"Failed to establish a new connection: {exc}") from exc
        sock.settimeout(self.guard.timeout(self.timeout))  # bounds the TLS handshake too
        sys.audit("http.client.connect", self, self.host, self.port)
        return sock

    def _resolve(self) -> list[tuple]:
        """getaddrinfo for the connection's host, as urllib3 would call it, waited for at most the
        connect timeout (or what is left of the deadline)."""
        host = self._dns_host.strip("[]")
        wait = self.guard.timeout(self.timeout)
        addresses, error = _RESOLVER.resolve(host, self.port, allowed_gai_family(), wait)
        if error is not None:
            raise NameResolutionError(self.host, self, error) from error
        return addresses

    def connect(self) -> None:
        """Connect (and for https shake hands), then put the socket under this thread's deadline."""
        try:
            super().connect()
        except TimeoutError as exc:  # the socket's own timeout in the handshake: _new_conn raises no other
            raise _HandshakeTimeout(self, f"TLS handshake with {self.host}:{self.port} timed out") from exc
        self.guard.watch(self)

    def request(self, *args: object, **kwargs: object) -> None:
        """Put a (possibly reused) connection under the deadline, then send the request."""
        self.guard.watch(self)
        super().request(*args, **kwargs)

    def putrequest(self, *args: object, **kwargs: object) -> None:
        """Write the request line; the header lines noted for this send start again."""
        self.guard.outcome().wire_headers.clear()
        super().putrequest(*args, **kwargs)

    def putheader(self, header: str | bytes, *values: object) -> None:
        """Write a header line and note it as sent, as http.client writes it (SKIP_HEADER writes nothing)."""
        super().putheader(header, *values)
        if SKIP_HEADER not in values:
            value = "\r\n\t".join(_wire_text(item) for item in values)
            self.guard.outcome().wire_headers.append((_wire_text(header), value))


def _dial(
    candidates: list[tuple],
    timeout: Callable[[], float | None],
    source_address: tuple[str, int] | None,
    socket_options: list[tuple] | None,
) -> socket.socket:
    """Connect to the first candidate sockaddr that answers; raise the last error otherwise."""
    error: OSError | None = None
    for family, socktype, proto, _, sockaddr in candidates:
        sock = socket.socket(family, socktype, proto)
        try:
            for option in socket_options or ():
                sock.setsockopt(*option)
            sock.settimeout(timeout())
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error or OSError("no address to connect to")


def _pool_classes(guard: _Guard) -> dict[str, type]:
    """Connection-pool classes (by scheme) whose connections obey `guard`."""

    class GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
        pass

    class GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
        pass

    class GuardedResponse(_FinalResponse):
        pass

    class GuardedHTTPConnectionPool(HTTPConnectionPool):
        ConnectionCls = GuardedHTTPConnection

    class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPSConnection

    GuardedHTTPConnection.guard = GuardedHTTPSConnection.guard = GuardedResponse.guard = guard
    GuardedHTTPConnection.response_class = GuardedHTTPSConnection.response_class = GuardedResponse
    return {"http": GuardedHTTPConnectionPool, "https": GuardedHTTPSConnectionPool}


def _classify(exc: BaseException, url: str, policy: SendPolicy) -> tuple[str, str]:
    """Map an exception from an exchange to (error_class, one line of text)."""
    chain = _chain(exc)
    leaf = _text(chain[-1])
    target = _target(url)

    def has(*types: type) -> bool:
        return any(isinstance(item, types) for item in chain)

    blocked = next((item for item in chain if isinstance(item, netpolicy.BlockedAddress)), None)
    if blocked is not None:
        host = _host(url)
        prefix = "" if host == blocked.address else f"{host} resolves to {blocked.address}: "
        return "blocked", _one_line(prefix + str(blocked))
    if has(_DNSTimeout):
        return "dns", f"DNS lookup of {_host(url)} did not finish within {_connect_timeout(policy):g} s"
    if has(_HandshakeTimeout):
        return "timeout", f"TLS handshake with {target} did not complete within {_connect_timeout(policy):g} s"
    if has(NameResolutionError, socket.gaierror):
        return "dns", _one_line(f"cannot resolve {target}: {leaf}")
    if has(ssl.SSLError, ssl.CertificateError, urllib3.exceptions.SSLError,
           requests.exceptions.SSLError):
        return "tls", _one_line(f"TLS failure with {target}: {leaf}")
    if has(NewConnectionError, ConnectionRefusedError):
        return "connect", _one_line(f"cannot connect to {target}: {leaf}")
    if has(requests.ConnectTimeout, ConnectTimeoutError):
        return "timeout", f"no connection to {target} within {_connect_timeout(policy):g} s"
    if has(requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError):
        return "timeout", f"no data from {target} for {policy.timeout_seconds:g} s"
    if has(ConnectionError, http.client.IncompleteRead, requests.exceptions.ChunkedEncodingError):
        return "reset", _one_line(f"connection to {target} broken: {leaf}")
    if has(http.client.HTTPException):
        return "invalid_response", _one_line(f"invalid HTTP response from {target}: {leaf}")
    if has(urllib3.exceptions.ProtocolError):
        return "reset", _one_line(f"connection to {target} broken: {leaf}")
    return "error", _one_line(f"{type(chain[-1]).__name__}: {leaf}")


def _names_its_timer(exc: BaseException | None) -> bool:
    """True if the exchange failed on a connect-phase timer whose message says which (DNS, TLS handshake)."""
    return exc is not None and any(isinstance(item, (_DNSTimeout, _HandshakeTimeout)) for item in _chain(exc))


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and the causes it wraps, outermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and not any(current is seen for seen in chain):
        chain.append(current)
        current = _wrapped(current)
    return chain


def _wrapped(exc: BaseException) -> BaseException | None:
    """The exception that `exc` wraps (urllib3 reason, cause, argument or context)."""
    reason = getattr(exc, "reason", None)
    if isinstance(reason, BaseException):
        return reason
    if exc.__cause__ is not None:
        return exc.__cause__
    inner = next((arg for arg in exc.args if isinstance(arg, BaseException)), None)
    if inner is not None:
        return inner
    return None if exc.__suppress_context__ else exc.__context__


def _text(exc: BaseException) -> str:
    """The human part of an exception's message."""
    strerror = getattr(exc, "strerror", None)
    return str(strerror) if strerror else (str(exc) or type(exc).__name__)


def _target(url: str) -> str:
    """host:port of a URL, for messages."""
    try:
        parsed = urllib3.util.parse_url(url)
    except ValueError:
        return url
    return f"{parsed.host}:{parsed.port}" if parsed.port else str(parsed.host)


def _host(url: str) -> str:
    """The host of a URL without IPv6 brackets, for messages."""
    try:
        return str(urllib3.util.parse_url(url).host).strip("[]")
    except ValueError:
        return url


def _one_line(text: str, limit: int = 500) -> str:
    """Collapse whitespace so the text fits on one line, and cap its length."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
