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
import re
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

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
_MAX_LINE = 65536
_FRAMING_RESPONSE_HEADERS = frozenset({b"content-length", b"transfer-encoding", b"connection"})
_LINE_ENDS = re.compile(r"(?<=\n)|(?<=\r)(?!\n)")  # after LF, or after a CR that no LF follows
_HEADER_LINE = re.compile(r"From |[\041-\071\073-\176]*:|[\t ]")  # the email parser's test for a header line

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


def read_header_block(fp: io.BufferedReader) -> tuple[list[bytes], bool]:
    """The header lines of one block (up to its blank line), within the caps, and whether any were cut.

    Of each block it keeps the first MAX_RESPONSE_HEADERS lines and MAX_RESPONSE_HEADER_BYTES (the line that
    crosses the limit cut short), and the first line of each header that frames the message, wherever it
    comes; it reads past the rest without keeping it. As http.client does, more than 100 header lines or a
    line over 64 KiB make the response invalid."""
    kept: list[bytes] = []
    cut, room, framing_seen = False, MAX_RESPONSE_HEADER_BYTES, set()
    count = 0
    while True:
        line = fp.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise http.client.LineTooLong("header line")
        if line in (b"\r\n", b"\n", b""):
            return kept, cut
        count += 1
        if count > _MAX_HEADER_LINES:
            raise http.client.HTTPException(f"got more than {_MAX_HEADER_LINES} headers")
        # a continuation line has no name (" Content-Length: 0" only continues the header before it)
        name = b"" if line[:1] in (b" ", b"\t") else line.split(b":", 1)[0].lower()
        if name in _FRAMING_RESPONSE_HEADERS and name not in framing_seen:
            framing_seen.add(name)  # the body cannot be found without it
        elif cut or count > MAX_RESPONSE_HEADERS or len(line) > room:
            piece = b"" if cut else line[: max(room - 2, 0)].rstrip(b"\r\n")
            cut = True
            # keep a cut line only if its name is whole: the rest could not be parsed
            if count > MAX_RESPONSE_HEADERS or not (b":" in piece or piece[:1] in (b" ", b"\t")):
                continue
            line = piece + b"\r\n"
        kept.append(line)
        room -= len(line)


def header_message(lines: list[bytes]) -> http.client.HTTPMessage:
    """The message http.client.parse_headers makes of these header lines, without the email package's parser
    (a sixth of a send's CPU went to it). Its rules (compat32), which tests/test_delivery.py checks against
    parse_headers itself: lines end at CR, LF or CRLF; a line starting with a space or tab continues the
    previous value (dropped if there is none); the first line that is no header ends them; "From " lines and
    lines without a name are skipped; a value loses the blanks before it and the line end after it."""
    message = http.client.HTTPMessage()
    field: list[str] = []
    for line in _LINE_ENDS.split(b"".join(lines).decode("iso-8859-1")):
        if not line:
            continue
        if line[0] in " \t":
            if field:
                field.append(line)
            continue
        if not _HEADER_LINE.match(line):
            break
        if field:
            message.set_raw(*_name_and_value(field))
            field = []
        if not line.startswith("From ") and not line.startswith(":"):
            field = [line]
    if field:
        message.set_raw(*_name_and_value(field))
    return message


def _name_and_value(field: list[str]) -> tuple[str, str]:
    """A header's name and value from its line and continuation lines, as the compat32 policy joins them."""
    name, value = field[0].split(":", 1)
    return name, (value.lstrip(" \t") + "".join(field[1:])).rstrip("\r\n")


class FinalResponse(http.client.HTTPResponse):
    """An http.client response that keeps at most MAX_RESPONSE_HEADERS(_BYTES) of its header lines, parses
    them without the email package and skips interim 1xx answers (102 Processing, 103 Early Hints) as
    http.client skips 100 Continue, to read the final answer. 101 stays final: it switches protocols.
    Subclasses set `guard`."""

    guard: Guard

    def begin(self) -> None:
        """http.client's begin with read_header_block and header_message for its parse_headers."""
        if self.headers is not None:
            return
        while True:
            version, status, reason = self._read_status()
            if not 100 <= status < 200 or status == 101:
                break
            read_header_block(self.fp)  # an interim answer's headers, read past
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:  # before reading headers, as http.client: a receiver that speaks no HTTP/1 is refused at once
            raise http.client.UnknownProtocol(version)
        lines, self.guard.outcome().headers_truncated = read_header_block(self.fp)
        self.headers = self.msg = header_message(lines)
        self._frame(status)

    def _frame(self, status: int) -> None:
        """Where the body ends and whether the connection closes after it: the rest of http.client's begin."""
        transfer_encoding = self.headers.get("transfer-encoding")
        self.chunked = bool(transfer_encoding and transfer_encoding.lower() == "chunked")
        if self.chunked:
            self.chunk_left = None
        self.will_close = self._check_close()  # type: ignore[attr-defined]
        self.length = None
        length = self.headers.get("content-length")
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                pass
            if self.length is not None and self.length < 0:
                self.length = None
        if status in (http.client.NO_CONTENT, http.client.NOT_MODIFIED) or 100 <= status < 200 \
                or self._method == "HEAD":  # type: ignore[attr-defined]
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True


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
