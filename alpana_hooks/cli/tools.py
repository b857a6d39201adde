"""Receiver-side tools: listen (a local receiver that checks signatures) and verify (one recorded delivery)."""

from __future__ import annotations

import re
import time
from typing import Annotated, Optional

import typer

from alpana_hooks.cli import inputs
from alpana_hooks.cli.app import MAX_ID, ConfigOpt, DbOpt, JsonOpt, TenantOpt, app, lazy
from alpana_hooks.errors import UsageError, VerifyFailed

signing = lazy("alpana_hooks.signing")
output = lazy("alpana_hooks.output")
timeutil = lazy("alpana_hooks.timeutil")

REQUEST_LINE = re.compile(r"[A-Z]+ \S+ HTTP/[0-9.]+")
MAX_HEADERS_FILE_BYTES = 64 * 1024
SecretOpt = Annotated[Optional[str], typer.Option(
    "--secret", show_default=False,
    help="The signing secret (whsec_…) [env ALPANA_HOOKS_SECRET]. Other users see a --secret in `ps`: "
         "prefer the variable or --secret-file.")]
SecretFileOpt = Annotated[Optional[str], typer.Option(
    "--secret-file", metavar="FILE", show_default=False,
    help="Read the signing secret from FILE; - reads stdin.")]


def _checked_secret(secret: str | None, file: str | None) -> str | None:
    """The secret from --secret, --secret-file or ALPANA_HOOKS_SECRET, or exit 2 when it is not a whsec_ secret."""
    value, source = inputs.secret(secret, file)
    if value is None:
        return None
    try:
        signing.parse_secret(value)
    except signing.SignatureError as exc:
        raise UsageError(f"invalid {source}: {exc}") from None
    return value


@app.command()
def listen(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on (0: any free port).")] = 8787,
    secret: SecretOpt = None, secret_file: SecretFileOpt = None,
    status: Annotated[int, typer.Option("--status", min=200, max=599, help="HTTP status to answer every delivery with.")] = 200,
    status_sequence: Annotated[Optional[str], typer.Option("--status-sequence", metavar="CODES", show_default=False, help="Answer the deliveries with these statuses in turn, the last one repeating (500,500,200: fail twice, then recover).")] = None,
    forward_to: Annotated[Optional[str], typer.Option("--forward-to", metavar="URL", show_default=False, help="POST each delivery on to URL (your app) and answer with its status.")] = None,
    idle_timeout: Annotated[float, typer.Option("--idle-timeout", min=0.1, max=3600, help="Close a connection that sends nothing for this many seconds.")] = 10.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also print the request headers.")] = False,
    json: JsonOpt = False,
):
    """Run a local receiver that prints each delivery, whether its signature verifies and whether its
    webhook-id came before (a replay, retry or resend: still answered with --status); Ctrl-C stops it."""
    from alpana_hooks.receiver import Options, bound, url

    secret = _checked_secret(secret, secret_file)
    sequence = _statuses(status_sequence, status)
    if forward_to is not None:
        if sequence or status != 200:
            raise UsageError("--forward-to answers with the status of URL: give it without --status or --status-sequence")
        from alpana_hooks import validate

        forward_to = validate.url(forward_to, require_https=False)

    def report(record: dict) -> None:
        if json:
            output.print_json_line(record)
        else:
            output.received_block(record, verbose=verbose)

    server = bound(host, port, Options(secret=secret, status=status, report=report, note=output.message,
                                      idle_timeout=idle_timeout, sequence=sequence, forward_to=forward_to))
    checking = "checking signatures" if secret else "not checking signatures (no secret given)"
    answering = f"{', '.join(map(str, sequence[:-1]))}, then {sequence[-1]}" if len(sequence) > 1 else str(status)
    answering = f"forwarding to {forward_to}, answering with its status" if forward_to else f"answering {answering}"
    output.message(f"listening on {url(*server.host_port)} ({checking}; {answering}; Ctrl-C to stop)")
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        output.message("stopped")
    finally:
        server.server_close()


def _statuses(text: str | None, status: int) -> tuple[int, ...]:
    """--status-sequence as statuses (200-599); exit 2 for anything else, or with --status too."""
    if text is None:
        return ()
    if status != 200:
        raise UsageError("give --status or --status-sequence, not both")
    codes = tuple(part.strip() for part in text.split(","))
    if not all(re.fullmatch(r"[2-5][0-9][0-9]", code) for code in codes):
        raise UsageError(f"invalid --status-sequence {text[:100]!r}: use HTTP statuses 200-599 separated by commas,"
                         " e.g. 500,500,200")
    return tuple(int(code) for code in codes)


# -- verify --------------------------------------------------------------------------------

def _tolerance(text: str) -> int:
    try:
        return int(timeutil.parse_duration(text).total_seconds())
    except ValueError:
        raise UsageError(f"invalid --tolerance {text!r}: use a number and a unit (s, m, h, d, w), e.g. 5m") from None


def parse_headers(text: str, source: str) -> dict[str, str]:
    """A JSON object {name: value} (detected by a leading '{') or 'Name: value' lines."""
    if text.lstrip().startswith("{"):
        return _json_headers(text, source)
    return _line_headers(text, source)


def _json_headers(text: str, source: str) -> dict[str, str]:
    import json  # here, not at the top: --help imports this module

    try:
        value = json.loads(text)
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
    headers: Annotated[Optional[str], typer.Option("--headers", metavar="FILE", help="The request headers: a JSON object or 'Name: value' lines (- reads stdin).", show_default=False)] = None,
    body: Annotated[Optional[str], typer.Option("--body", metavar="FILE", help="The request body, exactly as received (- reads stdin; at most 1 MiB).", show_default=False)] = None,
    attempt: Annotated[Optional[int], typer.Option("--attempt", metavar="ID", min=1, max=MAX_ID, show_default=False, help="Instead of --headers and --body: the delivery recorded as this send attempt (needs -t).")] = None,
    tolerance: Annotated[str, typer.Option("--tolerance", help="How far webhook-timestamp may be from now (not with --attempt).")] = "5m",
    secret: SecretOpt = None, secret_file: SecretFileOpt = None,
    tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False,
):
    """Check one delivery's signature and timestamp with the receiver's secret; exit 5 when they do not
    verify. With --attempt, the delivery alpana-hooks recorded, checked as of when it was sent."""
    if (attempt is None) == (headers is None or body is None) or (attempt is not None and (headers or body)):
        raise UsageError("give --headers FILE and --body FILE, or --attempt ID")
    if [secret_file, headers, body].count("-") > 1:
        raise UsageError("only one of --secret-file, --headers and --body can read stdin (-)")
    secret = _checked_secret(secret, secret_file)
    if secret is None:
        raise UsageError("no signing secret: give --secret-file FILE (- for stdin), set ALPANA_HOOKS_SECRET, or --secret")
    seconds = _tolerance(tolerance)
    header_map, payload = _recorded(attempt, tenant, db, config) if attempt is not None else _received(headers, body)
    now = int(header_map["webhook-timestamp"]) if attempt is not None else int(time.time())
    try:
        signing.verify(secret, header_map, payload, now=now, tolerance_seconds=seconds)
    except signing.SignatureError as exc:
        if json:
            output.print_json({"valid": False, "error": str(exc)})
        raise VerifyFailed(f"signature does not verify: {exc}") from None
    if json:
        output.print_json({"valid": True, "error": None})
    else:
        output.show("signature valid")


def _received(headers: str | None, body: str | None) -> tuple[dict[str, str], bytes]:
    """The headers and body files of a delivery as received."""
    from alpana_hooks.receiver import MAX_BODY

    assert headers is not None and body is not None
    header_text = inputs.read_text(headers, MAX_HEADERS_FILE_BYTES, "--headers file", encoding="utf-8-sig")
    return parse_headers(header_text, headers), inputs.read_capped(body, MAX_BODY, "--body file")


def _recorded(attempt_id: int, tenant: str | None, db: str | None, config: str | None) -> tuple[dict[str, str], bytes]:
    """The headers and body of a recorded send attempt as they went out."""
    from alpana_hooks.cli.context import opened, run_for

    run = run_for(db, config, tenant)
    with opened(run.settings) as hooks:
        return hooks.sent_request(run.tenant, attempt_id)
