"""The connection and response under a Sender's rules: the only module that reaches into http.client's
private parts.

A guarded connection resolves its host in a bounded thread within the deadline, checks every address
with netpolicy and dials only an allowed one (then shakes hands with TLS for https), puts its socket
under the deadline and notes the header lines it writes. A guarded response keeps a capped part of the
header lines and skips interim 1xx answers.
"""

from __future__ import annotations

import http.client
import io
import re
import socket
import ssl
import sys
from collections.abc import Callable, Sequence

from alpana_hooks import netpolicy
from alpana_hooks.delivery.deadline import Deadline
from alpana_hooks.delivery.errors import ConnectFailed, ConnectTimeout, HandshakeTimeout, NameNotResolved
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
_OBSOLETE_FOLD = re.compile(r"(?:(?<![ \t])[ \t]+)?\r\n[ \t]+")  # a folded value's line break, and the blanks around it
_FAMILY = socket.AF_UNSPEC if socket.has_ipv6 else socket.AF_INET


def allowed(candidates: list[tuple], networks: Sequence[str]) -> list[tuple]:
    """Keep the getaddrinfo results policy allows; raise the first refusal if none is left."""
    kept, refusals = [], []
    for candidate in candidates:
        try:
            netpolicy.check_address(candidate[4][0], networks)
        except netpolicy.BlockedAddress as refusal:
            refusals.append(refusal)
        else:
            kept.append(candidate)
    if not kept:
        raise refusals[0]
    return kept


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


def header_dict(message: http.client.HTTPMessage) -> dict[str, str]:
    """The headers of a response as one dict: the names compared without case (the first spelling kept), the
    values of a repeated header joined with ", " in order, a folded value on one line."""
    merged: dict[str, list[str]] = {}
    for name, value in message.items():
        merged.setdefault(name.lower(), [name]).append(_OBSOLETE_FOLD.sub(" ", value))
    return {spelling[0]: ", ".join(spelling[1:]) for spelling in merged.values()}


class FinalResponse(http.client.HTTPResponse):
    """An http.client response that keeps at most MAX_RESPONSE_HEADERS(_BYTES) of its header lines (noting in
    `headers_truncated` whether any were cut), parses them without the email package and skips interim 1xx
    answers (102 Processing, 103 Early Hints) as http.client skips 100 Continue, to read the final answer.
    101 stays final: it switches protocols."""

    headers_truncated = False

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
        lines, self.headers_truncated = read_header_block(self.fp)
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
        lengths = set(self.headers.get_all("content-length") or ())
        if len(lengths) > 1:  # which one ends the body? Taking either lets the rest pass for the next answer
            raise http.client.HTTPException(f"Content-Length given {len(lengths)} different values")
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


class GuardedConnection(http.client.HTTPConnection):
    """A keep-alive connection to one destination that resolves (waiting within the deadline), checks and
    dials the address itself, shakes hands with TLS when given a context, puts its socket under the deadline
    of the send using it and notes the header lines it writes. The Sender sets `deadline` and `noted` for
    each send."""

    response_class = FinalResponse

    def __init__(self, host: str, port: int, *, networks: Sequence[str], connect_timeout: float,
                 read_timeout: float, tls: ssl.SSLContext | None):
        super().__init__(host.rstrip("."), port)  # a fully qualified name's dot is for DNS only: not in Host, SNI
        self.dns_host = host
        self.default_port = 80 if tls is None else 443  # the Host header names any other port
        self.networks, self.tls = networks, tls
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self.deadline: Deadline | None = None
        self.noted: list[tuple[str, str]] = []

    def connect(self) -> None:
        """Resolve the host, refuse blocked addresses, connect to an allowed one (and for https shake hands
        within the connect timeout), then put the socket under the deadline."""
        candidates = allowed(self._resolve(), self.networks)
        try:
            sock = _dial(candidates, self._connect_wait)
        except TimeoutError as exc:
            raise ConnectTimeout(f"no connection to {self.host} within {self.connect_timeout:g} s") from exc
        except OSError as exc:
            raise ConnectFailed(f"cannot connect to {self.host}: {exc}") from exc
        sys.audit("http.client.connect", self, self.host, self.port)
        if self.tls is not None:
            sock.settimeout(self._connect_wait())  # bounds the handshake
            try:
                sock = self.tls.wrap_socket(sock, server_hostname=self.host)
            except TimeoutError as exc:
                raise HandshakeTimeout(f"TLS handshake with {self.host}:{self.port} timed out") from exc
        sock.settimeout(self.read_timeout)
        self.sock = sock
        self.watch()

    def watch(self) -> None:
        """Put this connection under the deadline of the send using it."""
        if self.deadline is not None:
            self.deadline.watch(self)

    def putrequest(self, method: str, url: str, skip_host: bool = False, skip_accept_encoding: bool = False) -> None:
        """Write the request line; the header lines noted for this send start again."""
        self.noted.clear()
        super().putrequest(method, url, skip_host=skip_host, skip_accept_encoding=skip_accept_encoding)

    def putheader(self, header: str | bytes, *values: object) -> None:
        """Write a header line and note it as sent, as http.client writes it."""
        super().putheader(header, *values)  # type: ignore[arg-type]  # http.client passes bytes (Host) and ints too
        self.noted.append((_wire_text(header), "\r\n\t".join(_wire_text(item) for item in values)))

    def _send_output(self, message_body: object = None, encode_chunked: bool = False) -> None:
        """http.client's, but a bytes body goes in the same write as the header lines (one system call, one
        segment for the receiver to wait for)."""
        if not isinstance(message_body, bytes) or encode_chunked:
            return super()._send_output(message_body, encode_chunked)  # type: ignore[misc]
        self._buffer.extend((b"", message_body))  # type: ignore[attr-defined]
        message = b"\r\n".join(self._buffer)  # type: ignore[attr-defined]
        self._buffer.clear()  # type: ignore[attr-defined]
        self.send(message)

    def _resolve(self) -> list[tuple]:
        """getaddrinfo for the host, waited for at most the connect timeout (or what is left of the deadline)."""
        addresses, error = RESOLVER.resolve(self.dns_host, self.port, _FAMILY, self._connect_wait())
        if error is not None:  # a lookup past the deadline or refused for a busy resolver fails name resolution too
            raise NameNotResolved(f"cannot resolve {self.host}") from error
        return addresses

    def _connect_wait(self) -> float:
        """The connect timeout, shortened to what is left of the deadline."""
        if self.deadline is None:
            return self.connect_timeout
        return min(self.connect_timeout, max(self.deadline.remaining(), 0.001))


def _dial(candidates: list[tuple], timeout: Callable[[], float]) -> socket.socket:
    """Connect to the first candidate sockaddr that answers (without Nagle's delay); raise the last error
    otherwise."""
    error: OSError | None = None
    for family, socktype, proto, _, sockaddr in candidates:
        sock = socket.socket(family, socktype, proto)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(timeout())
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error or OSError("no address to connect to")


def _wire_text(item: object) -> str:
    """A header name or value as http.client puts it on the wire (bytes as they are, str as latin-1)."""
    return item.decode("latin-1") if isinstance(item, bytes) else str(item)
