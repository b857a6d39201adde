"""Receiver-side tools: listen (a local receiver that checks signatures) and verify (one recorded delivery)."""

import json as jsonlib
import re
import socket
import socketserver
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated, Optional

import typer

from alpana_hooks import output, signing
from alpana_hooks.cli.app import JsonOpt, app, stop_on_sigterm
from alpana_hooks.errors import UsageError, VerifyFailed
from alpana_hooks.timeutil import parse_duration, to_iso, utcnow

MAX_BODY = 1024 * 1024
LISTEN_TOLERANCE_SECONDS = 300
ANSWER = b'{"ok": true}'
NO_BODY_STATUSES = (204, 304)
CONTENT_LENGTH = re.compile(r"[0-9]{1,15}")
REQUEST_LINE = re.compile(r"[A-Z]+ \S+ HTTP/[0-9.]+")


def _checked_secret(secret: str) -> str:
    """The secret, or exit 2 with the reason it is not a whsec_ secret."""
    try:
        signing.parse_secret(secret)
    except signing.SignatureError as exc:
        raise UsageError(f"invalid --secret: {exc}") from None
    return secret


# -- listen --------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Options:
    """What the receiver does with each request."""

    secret: str | None
    status: int
    json: bool
    verbose: bool


class _Server(ThreadingHTTPServer):
    """A thread per connection, IPv4 or IPv6, without HTTPServer's reverse DNS lookup at bind time."""

    def __init__(self, address: tuple[str, int], options: _Options):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.options = options
        self.print_lock = threading.Lock()
        super().__init__(address, _Receiver)

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def report(self, record: dict) -> None:
        """Print one delivery, never interleaved with another."""
        with self.print_lock:
            if self.options.json:
                output.print_json_line(record)
            else:
                output.received_block(record, verbose=self.options.verbose)


class _Receiver(BaseHTTPRequestHandler):
    """Answers every POST with --status and {"ok": true}, keeping the connection alive, and reports it."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def do_POST(self) -> None:
        body = self._read_body()
        if body is not None:
            self.server.report(_record(self, body, self.server.options.secret))
            self._answer(self.server.options.status, ANSWER)

    def _read_body(self) -> bytes | None:
        """The body per Content-Length, at most 1 MiB; None once a 400, 411 or 413 has been answered."""
        length = self.headers.get("Content-Length")
        if length is None:
            if self.headers.get("Transfer-Encoding"):
                return self._refuse(411, "a Content-Length is required")
            return b""
        if not CONTENT_LENGTH.fullmatch(length.strip()):
            return self._refuse(400, "invalid Content-Length")
        if int(length) > MAX_BODY:
            return self._refuse(413, f"body of {int(length)} bytes is over the {MAX_BODY} bytes limit")
        return self.rfile.read(int(length))

    def _refuse(self, status: int, why: str) -> None:
        self.close_connection = True
        with self.server.print_lock:
            output.message(f"refused {self.command} {self.path}: {why}")
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


def _record(request: BaseHTTPRequestHandler, body: bytes, secret: str | None) -> dict:
    """Everything listen reports about one request."""
    headers = _header_dict(request.headers.items())
    parsed = _parsed_body(body)
    signature, error = _signature(secret, headers, body)
    event_type = parsed.get("type") if isinstance(parsed, dict) else None
    return {
        "received_at": to_iso(utcnow()), "method": request.command, "path": request.path,
        "event_type": event_type if isinstance(event_type, str) else None,
        "webhook_id": request.headers.get("webhook-id"), "signature": signature, "signature_error": error,
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


def _bound(host: str, port: int, options: _Options) -> _Server:
    """The server, bound and listening; exit 2 when the address cannot be used."""
    try:
        return _Server((host, port), options)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


@app.command()
def listen(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on (0: any free port).")] = 8787,
    secret: Annotated[Optional[str], typer.Option("--secret", help="Check signatures with this secret (whsec_…).", show_default=False)] = None,
    status: Annotated[int, typer.Option("--status", min=200, max=599, help="HTTP status to answer every delivery with.")] = 200,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also print the request headers.")] = False,
    json: JsonOpt = False,
):
    """Run a local receiver that prints each delivery and whether its signature verifies; Ctrl-C stops it."""
    if secret is not None:
        _checked_secret(secret)
    server = _bound(host, port, _Options(secret=secret, status=status, json=json, verbose=verbose))
    checking = "checking signatures" if secret else "not checking signatures (no --secret)"
    output.message(f"listening on {_url(*server.server_address[:2])} ({checking}; answering {status}; Ctrl-C to stop)")
    stop_on_sigterm()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        output.message("stopped")
    finally:
        server.server_close()


# -- verify --------------------------------------------------------------------------------

def _read(path: str, flag: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {flag} file {path!r}: {exc.strerror or exc}") from None


def _tolerance(text: str) -> int:
    try:
        return int(parse_duration(text).total_seconds())
    except ValueError:
        raise UsageError(f"invalid --tolerance {text!r}: use a number and a unit (s, m, h, d, w), e.g. 5m") from None


def parse_headers(text: str, source: str) -> dict[str, str]:
    """A JSON object {name: value} (detected by a leading '{') or 'Name: value' lines."""
    if text.lstrip().startswith("{"):
        return _json_headers(text, source)
    return _line_headers(text, source)


def _json_headers(text: str, source: str) -> dict[str, str]:
    try:
        value = jsonlib.loads(text)
    except ValueError as exc:
        raise UsageError(f"invalid JSON in --headers file {source!r}: {exc}") from None
    if not isinstance(value, dict):
        raise UsageError(f"--headers file {source!r} must hold a JSON object {{name: value}}")
    headers = {}
    for name, item in value.items():
        if isinstance(item, bool) or not isinstance(item, (str, int)):
            raise UsageError(f"--headers file {source!r}: the value of {name!r} must be a string")
        headers[name] = str(item)
    return headers


def _line_headers(text: str, source: str) -> dict[str, str]:
    """'Name: value' lines; a leading request line is skipped and a blank line ends the headers."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    if start < len(lines) and REQUEST_LINE.fullmatch(lines[start].strip()):
        start += 1
    headers = {}
    for number, line in enumerate(lines[start:], start + 1):
        if not line.strip():
            break
        name, colon, value = line.partition(":")
        if not colon or not name.strip() or name != name.strip():
            raise UsageError(f"--headers file {source!r} line {number}: expected 'Name: value', got {line!r}")
        headers[name] = value.strip()
    return headers


@app.command()
def verify(
    secret: Annotated[str, typer.Option("--secret", help="The subscription's signing secret (whsec_…).", show_default=False)],
    headers: Annotated[str, typer.Option("--headers", metavar="FILE", help="The request headers: a JSON object or 'Name: value' lines.", show_default=False)],
    body: Annotated[str, typer.Option("--body", metavar="FILE", help="The request body, exactly as received.", show_default=False)],
    tolerance: Annotated[str, typer.Option("--tolerance", help="How far webhook-timestamp may be from now.")] = "5m",
    json: JsonOpt = False,
):
    """Check one recorded delivery's signature and timestamp; exit 5 when they do not verify."""
    _checked_secret(secret)
    seconds = _tolerance(tolerance)
    try:
        header_text = _read(headers, "--headers").decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"cannot read --headers file {headers!r}: not UTF-8 ({exc.reason})") from None
    header_map = parse_headers(header_text, headers)
    payload = _read(body, "--body")
    try:
        signing.verify(secret, header_map, payload, now=int(time.time()), tolerance_seconds=seconds)
    except signing.SignatureError as exc:
        if json:
            output.print_json({"valid": False, "error": str(exc)})
        raise VerifyFailed(f"signature does not verify: {exc}") from None
    if json:
        output.print_json({"valid": True, "error": None})
    else:
        output.show("signature valid")
