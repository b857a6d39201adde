"""The local receiver behind `listen`: a threaded HTTP server that reports each delivery."""

import hashlib
import json as jsonlib
import re
import socket
import socketserver
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from alpana_hooks import signing
from alpana_hooks.errors import UsageError
from alpana_hooks.timeutil import to_iso, utcnow

MAX_BODY = 1024 * 1024
LISTEN_TOLERANCE_SECONDS = 300
ANSWER = b'{"ok": true}'
NO_BODY_STATUSES = (204, 304)
CONTENT_LENGTH = re.compile(r"[0-9]{1,15}")
IDLE_TIMEOUT_SECONDS = 10.0
MAX_CONNECTIONS = 128  # one thread each; one more is answered 503 and closed
BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
REMEMBERED_IDS = 100_000


# -- the server --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Options:
    """What the receiver does with each request."""

    secret: str | None
    status: int
    report: Callable[[dict], None]  # shows one delivery
    note: Callable[[str], None]  # shows one line about a refused connection or request
    idle_timeout: float = IDLE_TIMEOUT_SECONDS
    sequence: tuple[int, ...] = ()  # answers in turn instead of `status`; the last one repeats
    forward_to: str | None = None  # POST each delivery on to this URL and answer with its status


FORWARD_TIMEOUT_SECONDS = 15.0
NOT_FORWARDED = frozenset({"host", "content-length", "connection", "keep-alive", "transfer-encoding", "te",
                           "upgrade", "proxy-connection"})


def forward(url: str, headers: dict[str, str], body: bytes) -> tuple[int, str]:
    """POST a delivery on, its headers as received (but those of this hop), no redirect followed, nothing from
    the environment; (the status to answer, one line saying how it went): 502 when the target did not answer."""
    import requests

    kept = {name: value for name, value in headers.items() if name.lower() not in NOT_FORWARDED}
    with requests.Session() as session:
        session.trust_env = False
        try:
            response = session.post(url, data=body, headers=kept, allow_redirects=False,
                                    timeout=FORWARD_TIMEOUT_SECONDS)
        except requests.RequestException as exc:
            return 502, f"forwarding to {url} failed: {type(exc).__name__}; answered 502"
        with response:
            return response.status_code, f"forwarded to {url}: {response.status_code}"


class Answers:
    """The status for each delivery in turn: `status` every time, or the sequence with its last one repeating."""

    def __init__(self, status: int, sequence: tuple[int, ...]):
        self.statuses = sequence or (status,)
        self.count = 0
        self.lock = threading.Lock()

    def next(self) -> int:
        with self.lock:
            status = self.statuses[min(self.count, len(self.statuses) - 1)]
            self.count += 1
        return status


class SeenIds:
    """The webhook-ids received lately (their hashes, at most `limit`): a repeat is a replay, retry or resend."""

    def __init__(self, limit: int = REMEMBERED_IDS):
        self.limit = limit
        self.ids: OrderedDict[bytes, None] = OrderedDict()  # oldest first
        self.lock = threading.Lock()

    def seen_before(self, webhook_id: str, remember: bool) -> bool:
        """Whether this id came before; remember it unless told not to (a forged request must not mark an id)."""
        key = hashlib.sha256(webhook_id.encode("utf-8", errors="surrogatepass")).digest()
        with self.lock:
            seen = key in self.ids
            if remember:
                self.ids[key] = None
                self.ids.move_to_end(key)
                if len(self.ids) > self.limit:
                    self.ids.popitem(last=False)
        return seen


class _Server(ThreadingHTTPServer):
    """A thread per connection (at most MAX_CONNECTIONS), IPv4 or IPv6, no reverse DNS lookup at bind time."""

    request_queue_size = 256  # a burst of connections waits to be accepted (or turned away) instead of retrying SYNs

    def __init__(self, address: tuple[str, int], options: Options):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.options = options
        self.print_lock = threading.Lock()
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.seen = SeenIds()
        self.answers = Answers(options.status, options.sequence)
        super().__init__(address, _Receiver)

    def process_request(self, request, client_address) -> None:
        """Start the connection's thread, or answer 503 and close when MAX_CONNECTIONS are open."""
        if not self.slots.acquire(blocking=False):
            self._turn_away(request, client_address)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def _turn_away(self, request, client_address) -> None:
        try:
            request.setblocking(False)  # a fresh socket's buffer takes these bytes at once; never wait on a peer
            request.send(BUSY)
        except OSError:
            pass
        self.shutdown_request(request)
        with self.print_lock:
            self.options.note(f"refused a connection from {client_address[0]}: {MAX_CONNECTIONS} connections are open")

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.host_port

    @property
    def host_port(self) -> tuple[str, int]:
        """The address bound: its host (an IPv4 or IPv6 address) and port, without an IPv6 flow info and scope id."""
        host, port = self.server_address[:2]
        # getsockname() gives AF_INET and AF_INET6 hosts as str; the stubs also allow the bytes an address may be given as
        return (host if isinstance(host, str) else bytes(host).decode("ascii")), port

    def report(self, record: dict) -> None:
        """Show one delivery, never interleaved with another."""
        with self.print_lock:
            self.options.report(record)


class _Receiver(BaseHTTPRequestHandler):
    """Answers every POST with --status (or the next of --status-sequence) and {"ok": true}, keeping the
    connection alive, and reports it."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        """Every read and write on the connection waits at most the idle timeout; then it is closed."""
        self.request.settimeout(self.server.options.idle_timeout)  # what setup() does with a class-wide `timeout`
        super().setup()

    def do_POST(self) -> None:
        body = self._read_body()
        if body is not None:
            self.server.report(_record(self, body, self.server.options.secret, self.server.seen))
            target = self.server.options.forward_to
            if target is None:
                self._answer(self.server.answers.next(), ANSWER)
                return
            status, line = forward(target, _header_dict(self.headers.items()), body)
            with self.server.print_lock:
                self.server.options.note(line)
            self._answer(status, ANSWER)

    def _read_body(self) -> bytes | None:
        """The body per Content-Length, at most 1 MiB; None once a 400, 411 or 413 has been answered."""
        length = self.headers.get("Content-Length")
        if length is None:
            if self.headers.get("Transfer-Encoding"):
                self._refuse(411, "a Content-Length is required")
                return None
            return b""
        if not CONTENT_LENGTH.fullmatch(length.strip()):
            self._refuse(400, "invalid Content-Length")
            return None
        if int(length) > MAX_BODY:
            self._refuse(413, f"body of {int(length)} bytes is over the {MAX_BODY} bytes limit")
            return None
        return self.rfile.read(int(length))

    def _refuse(self, status: int, why: str) -> None:
        self.close_connection = True
        with self.server.print_lock:
            self.server.options.note(f"refused {self.command} {self.path}: {why}")
        self._answer(status, jsonlib.dumps({"ok": False, "error": why}).encode())

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        if status in NO_BODY_STATUSES:
            self.end_headers()
            return
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args) -> None:  # noqa: A002 - the stdlib's signature
        """Quiet: listen reports each delivery itself."""


def _record(request: BaseHTTPRequestHandler, body: bytes, secret: str | None, seen: SeenIds) -> dict:
    """Everything listen reports about one request; `replay` when its webhook-id came before."""
    headers = _header_dict(request.headers.items())
    parsed = _parsed_body(body)
    signature, error = _signature(secret, headers, body)
    event_type = parsed.get("type") if isinstance(parsed, dict) else None
    webhook_id = request.headers.get("webhook-id")
    replay = webhook_id is not None and seen.seen_before(webhook_id, remember=signature != "invalid")
    return {
        "received_at": to_iso(utcnow()), "method": request.command, "path": request.path,
        "event_type": event_type if isinstance(event_type, str) else None,
        "webhook_id": webhook_id, "replay": replay, "signature": signature, "signature_error": error,
        "headers": headers, "body": parsed,
    }


def _header_dict(items) -> dict[str, str]:
    """Request headers by name; a repeated header's values joined with ', '."""
    headers: dict[str, str] = {}
    for name, value in items:
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def _parsed_body(body: bytes):
    """The body as parsed JSON, or as text when it is not JSON."""
    try:
        return jsonlib.loads(body)
    except ValueError:
        return body.decode("utf-8", errors="backslashreplace")


def _signature(secret: str | None, headers: dict[str, str], body: bytes) -> tuple[str, str | None]:
    """("valid", None), ("invalid", reason) or ("not checked", None) without a secret."""
    if secret is None:
        return "not checked", None
    try:
        signing.verify(secret, headers, body, now=int(time.time()), tolerance_seconds=LISTEN_TOLERANCE_SECONDS)
    except signing.SignatureError as exc:
        return "invalid", str(exc)
    return "valid", None


def bound(host: str, port: int, options: Options) -> _Server:
    """The server, bound and listening; exit 2 when the address cannot be used."""
    try:
        return _Server((host, port), options)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
