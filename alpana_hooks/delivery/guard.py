"""The overrides of urllib3 and http.client that make a connection obey a Sender's rules; the only module
that reaches into their private parts.

A guarded connection resolves its host in a bounded thread within the deadline, checks every address
with netpolicy and dials only an allowed one, puts its socket under the deadline and notes the header
lines it writes. A guarded response keeps a capped part of the header lines and skips interim 1xx
answers.
"""

from __future__ import annotations

import http.client
import io
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, cast

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import SKIP_HEADER
from urllib3.util.connection import allowed_gai_family

from alpana_hooks import netpolicy
from alpana_hooks.delivery.deadline import Deadline
from alpana_hooks.delivery.errors import HandshakeTimeout
from alpana_hooks.delivery.outcome import Outcome
from alpana_hooks.delivery.resolver import RESOLVER

# Response headers kept per attempt, like the body's cap: the first 64 header lines and 16 KiB of them
# ("name: value\r\n"); the rest is read past, not kept. As http.client does, more than 100 header lines
# or a line over 64 KiB make the response invalid.
MAX_RESPONSE_HEADERS = 64
MAX_RESPONSE_HEADER_BYTES = 16384
_MAX_HEADER_LINES = 100
_FRAMING_RESPONSE_HEADERS = frozenset({b"content-length", b"transfer-encoding", b"connection"})

_SocketOptions = Sequence[tuple[int, int, int | bytes]]


class Guard:
    """What guarded connections share with their Sender: allowed networks, this thread's deadline and
    outcome (set by Sender.send in `local`)."""

    def __init__(self, allowed_networks: Sequence[str]):
        netpolicy.parse_networks(allowed_networks)  # raise ValueError now, not at the first connect
        self.networks = tuple(allowed_networks)
        self.local = threading.local()

    def deadline(self) -> Deadline | None:
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

    def outcome(self) -> Outcome:
        """What the send running in this thread has produced so far (a throwaway record outside a send)."""
        return getattr(self.local, "outcome", None) or Outcome()

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


def pool_classes(guard: Guard) -> dict[str, type[HTTPConnectionPool]]:
    """Connection-pool classes (by scheme) whose connections and responses obey `guard`."""

    class Response(FinalResponse):
        pass

    class Connection(GuardedHTTPConnection):
        response_class = Response

    class SecureConnection(GuardedHTTPSConnection):
        response_class = Response

    class Pool(HTTPConnectionPool):
        ConnectionCls = Connection

    class SecurePool(HTTPSConnectionPool):
        ConnectionCls = SecureConnection

    Response.guard = Connection.guard = SecureConnection.guard = guard
    return {"http": Pool, "https": SecurePool}


class HeaderBlockReader:
    """Stands for a response's file while http.client reads status lines and header blocks. Of each
    block it returns the first MAX_RESPONSE_HEADERS lines and MAX_RESPONSE_HEADER_BYTES (the line that
    crosses the limit cut short), and the first line of each header that frames the message, wherever
    it comes; it reads past the rest without keeping it, and notes that it cut."""

    def __init__(self, fp: io.BufferedReader):
        self.file = fp
        self.new_block()
        self.in_block = False  # until a status line is read

    def __getattr__(self, name: str) -> object:
        """Everything but readline is the file's own (http.client may close it)."""
        return getattr(self.file, name)

    def new_block(self) -> None:
        """A status line was read: its header block follows."""
        self.in_block, self.cut = True, False
        self.lines, self.room = 0, MAX_RESPONSE_HEADER_BYTES
        self.framing_seen: set[bytes] = set()

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


class FinalResponse(http.client.HTTPResponse):
    """An http.client response that keeps at most MAX_RESPONSE_HEADERS(_BYTES) of its header lines and
    skips interim 1xx answers (102 Processing, 103 Early Hints) as http.client skips 100 Continue, to
    read the final answer. 101 stays final: it switches protocols. Subclasses set `guard`."""

    guard: Guard

    def begin(self) -> None:
        """Read the status line and headers through a HeaderBlockReader; note whether it cut them."""
        reader = HeaderBlockReader(self.fp)
        # http.client only calls readline (and close) on fp while it reads the header blocks; the reader
        # stands in for the buffered file until then (it is no BufferedReader, as typeshed declares fp).
        self.fp = cast(io.BufferedReader, reader)
        try:
            super().begin()
        finally:
            self.guard.outcome().headers_truncated = reader.cut
            if self.fp is reader:  # else http.client closed it
                self.fp = reader.file

    def _read_status(self) -> tuple[str, int, str]:
        version, status, reason = super()._read_status()  # type: ignore[misc]  # private: not in typeshed
        if isinstance(self.fp, HeaderBlockReader):
            self.fp.new_block()
        if 100 < status < 200 and status != 101:
            return version, http.client.CONTINUE, reason  # begin() then skips its headers and reads on
        return version, status, reason


class GuardedHTTPConnection(HTTPConnection):
    """Resolves (waiting within the deadline), checks and dials the address itself, puts its socket
    under the deadline and notes the header lines it writes. Subclasses set `guard`."""

    guard: Guard

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
        addresses, error = RESOLVER.resolve(host, self.port, allowed_gai_family(), wait)
        if error is not None:
            # urllib3 annotates the reason as socket.gaierror; it only keeps it for the message, and a
            # lookup past the deadline or refused for a busy resolver fails name resolution too.
            raise NameResolutionError(self.host, self, error) from error  # type: ignore[arg-type]
        return addresses

    def connect(self) -> None:
        """Connect (and for https shake hands), then put the socket under this thread's deadline."""
        try:
            super().connect()
        except TimeoutError as exc:  # the socket's own timeout in the handshake: _new_conn raises no other
            raise HandshakeTimeout(self, f"TLS handshake with {self.host}:{self.port} timed out") from exc
        self.guard.watch(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        """Put a (possibly reused) connection under the deadline, then send the request."""
        self.guard.watch(self)
        super().request(*args, **kwargs)

    def putrequest(self, *args: Any, **kwargs: Any) -> None:
        """Write the request line; the header lines noted for this send start again."""
        self.guard.outcome().wire_headers.clear()
        super().putrequest(*args, **kwargs)

    def putheader(self, header: str | bytes, *values: object) -> None:
        """Write a header line and note it as sent, as http.client writes it (SKIP_HEADER writes nothing)."""
        # urllib3 annotates str only; http.client passes bytes (the Host value) and ints through here.
        super().putheader(header, *values)  # type: ignore[arg-type]
        if SKIP_HEADER not in values:
            value = "\r\n\t".join(_wire_text(item) for item in values)
            self.guard.outcome().wire_headers.append((_wire_text(header), value))


class GuardedHTTPSConnection(GuardedHTTPConnection, HTTPSConnection):
    """A guarded connection that shakes hands with TLS (HTTPSConnection.connect, within the connect timer)."""


def _dial(
    candidates: list[tuple],
    timeout: Callable[[], float | None],
    source_address: tuple[str, int] | None,
    socket_options: _SocketOptions | None,
) -> socket.socket:
    """Connect to the first candidate sockaddr that answers; raise the last error otherwise."""
    error: OSError | None = None
    for family, socktype, proto, _, sockaddr in candidates:
        sock = socket.socket(family, socktype, proto)
        try:
            for level, option, value in socket_options or ():
                sock.setsockopt(level, option, value)
            sock.settimeout(timeout())
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error or OSError("no address to connect to")


def _wire_text(item: object) -> str:
    """A header name or value as http.client puts it on the wire (bytes as they are, str as latin-1)."""
    return item.decode("latin-1") if isinstance(item, bytes) else str(item)
