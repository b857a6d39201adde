"""The only module that prints: rich tables on stdout, JSON, messages on stderr, escaping and masking."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from alpana_hooks.headers import shown as shown_value

if TYPE_CHECKING:  # the records: only their types here, so --help does not build them
    from rich.console import Group, RenderableType
    from rich.table import Table

    from alpana_hooks.model import Attempt, Event, Secret, Subscription



@cache
def console(stderr: bool = False):
    """One console per stream, markup and highlighting off: text from users and receivers is never interpreted."""
    from rich.console import Console

    return Console(stderr=stderr, markup=False, highlight=False, emoji=False)


def message(text: str) -> None:
    """A message for a person, on stderr."""
    console(stderr=True).print(escape(text), soft_wrap=True)


def error(text: str) -> None:
    """One error line on stderr."""
    console(stderr=True).print(f"error: {escape(text)}", soft_wrap=True, style="red")


def print_json(value) -> None:
    """JSON on stdout; ASCII-only, so no control or bidi character reaches a terminal raw."""
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=True, default=str) + "\n")


def print_json_line(value) -> None:
    """One NDJSON line, flushed at once."""
    sys.stdout.write(json.dumps(value, ensure_ascii=True, separators=(",", ":"), default=str) + "\n")
    sys.stdout.flush()


def escape(text) -> str:
    """Make untrusted text safe for a terminal: control, format and separator characters become escapes."""
    if text is None:
        return ""
    return "".join(ch if ch.isprintable() or ch == " " else _escaped(ch) for ch in str(text))


def _escaped(ch: str) -> str:
    code = ord(ch)
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if ch in named:
        return named[ch]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def body_text(body: bytes | None) -> str:
    """A response body as escaped text; bytes that are not UTF-8 are shown as \\xNN."""
    if not body:
        return ""
    return escape(bytes(body).decode("utf-8", errors="backslashreplace"))


def state_label(sub: Subscription) -> str:
    """Active, or Disabled with the reason when it was not a user's choice."""
    from alpana_hooks.model import DISABLED_BY_USER

    if sub.state == _state().ACTIVE:
        return "Active"
    reason = sub.disabled_reason
    return f"Disabled ({reason})" if reason and reason != DISABLED_BY_USER else "Disabled"


def _state():
    """The State enum, imported when a subscription is shown (not at --help)."""
    from alpana_hooks.model import State

    return State


def table(*columns: str, title: str | None = None):
    """A rich table whose long cells fold instead of being cut."""
    from rich.table import Table

    grid = Table(title=title, title_justify="left", show_lines=False)
    for name in columns:
        grid.add_column(name, overflow="fold")
    return grid


def show(renderable: RenderableType) -> None:
    """Print a table or text on stdout."""
    console().print(renderable)


def render(value: Any, *, json: bool, as_json: Callable[[Any], Any], as_table: Callable[[Any], RenderableType],
           empty: str | None = None, note: str | None = None) -> None:
    """The one place that decides what a command prints: JSON on stdout; or the table on stdout (or the
    `empty` message when value is an empty list) and an optional note on stderr."""
    if json:
        print_json(as_json(value))
        return
    if empty is not None and isinstance(value, Sequence) and not value:
        message(empty)
    else:
        show(as_table(value))
    if note:
        message(note)


# -- subscriptions -------------------------------------------------------------------------

def subscription_json(sub: Subscription, reveal: bool = False) -> dict:
    """The JSON form of a subscription (the same fields as the tables)."""
    return {
        "id": sub.id,
        "tenant": sub.tenant,
        "event": sub.event_type,
        "url": sub.url,
        "description": sub.description,
        "state": str(sub.state),
        "disabled_reason": sub.disabled_reason,
        "disabled_at": sub.disabled_at,
        "headers": headers_json(sub, reveal),
        "filter": sub.filter,
        "rate_limit": sub.rate_limit,
        "created_at": sub.created_at,
        "updated_at": sub.updated_at,
    }


def headers_json(sub: Subscription, reveal: bool = False) -> list[dict]:
    """A subscription's headers as [{name, value}], sensitive values masked unless revealed."""
    return [{"name": n, "value": shown_value(n, v, reveal)} for n, v in sub.headers]


def subscriptions_table(subs: list[Subscription]) -> Table:
    """The `list` table."""
    # a Filter or Rate limit column only when a subscription has one
    extra = [(title, key) for title, key in (("Filter", "filter"), ("Rate limit", "rate_limit")) if any(getattr(s, key) for s in subs)]
    grid = table("ID", "Event", "URL", "State", "Headers", *(title for title, _ in extra), "Description")
    for sub in subs:
        grid.add_row(str(sub.id), sub.event_type, escape(sub.url), escape(state_label(sub)),
                     escape(", ".join(name for name, _ in sub.headers)),
                     *(escape(getattr(sub, key) or "") for _, key in extra), escape(sub.description))
    return grid


def subscription_detail(sub: Subscription, reveal: bool = False, secret: str | None = None) -> Table:
    """The `show` view: configuration, state and headers."""
    grid = table("Field", "Value", title=f"Subscription {sub.id}")
    rows: list[tuple[str, str | None]] = [
        ("Tenant", sub.tenant), ("Event", sub.event_type), ("URL", sub.url),
        ("Description", sub.description), ("State", state_label(sub)),
    ]
    rows += [(label, value) for label, value in (("Filter", sub.filter), ("Rate limit", sub.rate_limit)) if value]
    if sub.state == _state().DISABLED:
        rows.append(("Disabled at", sub.disabled_at))
    rows += [("Created", sub.created_at), ("Updated", sub.updated_at)]
    if secret is not None:
        rows.append(("Signing secret", secret))
    for name, value in sub.headers:
        rows.append((f"Header {name}", shown_value(name, value, reveal)))
    for label, cell in rows:
        grid.add_row(label, escape(cell))
    return grid


def subscription_with_attempts(sub: Subscription, attempts: list[Attempt], reveal: bool = False) -> RenderableType:
    """`show`: the subscription, then its latest send attempts when there are any."""
    from rich.console import Group

    detail = subscription_detail(sub, reveal)
    return Group(detail, attempts_table(attempts, title="Latest send attempts")) if attempts else detail


def headers_table(sub: Subscription, reveal: bool = False) -> Table:
    """The `headers list` table."""
    grid = table("Name", "Value")
    for name, value in sub.headers:
        grid.add_row(escape(name), escape(shown_value(name, value, reveal)))
    return grid


def secrets_text(secrets: list[Secret]) -> str:
    """`secret show`: one secret a line, the old ones with the time they stop signing."""
    return "\n".join(s.secret + (f"  (old, signs until {s.expires_at})" if s.expires_at else "") for s in secrets)


def settings_table(rows: list[tuple[str, str, str]]) -> Table:
    """The `config show` table: setting, effective value, where it came from."""
    grid = table("Setting", "Value", "Source")
    for row in rows:
        grid.add_row(*(escape(cell) for cell in row))
    return grid


# -- events and attempts -------------------------------------------------------------------

RESPONSE_PREVIEW = 60


def attempt_json(attempt: Attempt, full: bool = False) -> dict:
    """The JSON form of a send attempt; full adds payload, headers and the whole response."""
    result = {
        "id": attempt.id,
        "subscription_id": attempt.subscription_id,
        "event": attempt.event_type,
        "event_id": attempt.event_id,
        "created_at": attempt.created_at,
        "status": str(attempt.status),
        "status_code": attempt.status_code,
        "duration_ms": attempt.duration_ms,
        "response": _preview(attempt),
        "url": attempt.url,
        "trigger": str(attempt.trigger),
        "attempt_number": attempt.attempt_number,
        "resend_of": attempt.resend_of,
        "error_class": None if attempt.error_class is None else str(attempt.error_class),
        "error": attempt.error,
        "next_attempt_at": attempt.next_attempt_at,
    }
    if full:
        result.update({
            "payload": attempt.payload.decode("utf-8", errors="backslashreplace"),
            "request_headers": json.loads(attempt.request_headers or "[]"),
            "response_headers": json.loads(attempt.response_headers or "[]"),
            "response_headers_truncated": attempt.response_headers_truncated,
            "response_body": (attempt.response_body or b"").decode("utf-8", errors="backslashreplace"),
            "response_truncated": attempt.response_truncated,
            "started_at": attempt.started_at,
            "finished_at": attempt.finished_at,
        })
    return result


def _preview(attempt: Attempt) -> str:
    """The response, or the error when there was none, shortened to one escaped line."""
    raw = attempt.response_body.decode("utf-8", errors="backslashreplace") if attempt.response_body \
        else (attempt.error or "")
    text = escape(" ".join(raw.split()))
    return text if len(text) <= RESPONSE_PREVIEW else text[: RESPONSE_PREVIEW - 1] + "…"


def _optional(value: object, suffix: str = "") -> str:
    """A cell for a value that may be missing."""
    return "" if value is None else f"{value}{suffix}"


def attempts_table(attempts: list[Attempt], title: str | None = None) -> Table:
    """The attempts table: Alpana Server's send-attempt columns (event, event id, creation time, HTTP status code,
    response) plus id, subscription, status and duration."""
    grid = table("ID", "Sub", "Webhook Event", "Webhook Event Id", "Creation time", "Status",
                 "Http Status Code", "Duration", "Response", title=title)
    for a in attempts:
        grid.add_row(
            str(a.id), str(a.subscription_id), a.event_type, a.event_id, a.created_at, str(a.status),
            _optional(a.status_code), _optional(a.duration_ms, " ms"), _preview(a),
        )
    return grid


_DETAIL_FIELDS = ("subscription_id", "event", "event_id", "trigger", "attempt_number", "resend_of", "created_at",
                  "started_at", "finished_at", "url", "status", "status_code", "duration_ms", "error_class", "error",
                  "next_attempt_at", "response_headers_truncated", "response_truncated")


def attempt_detail(attempt: Attempt) -> Group:
    """The `attempts show` view: every recorded field, the payload, headers and the response."""
    from rich.console import Group

    data = attempt_json(attempt, full=True)
    grid = table("Field", "Value", title=f"Send attempt {attempt.id}")
    for key in _DETAIL_FIELDS:
        if data[key] is not None:
            grid.add_row(key.replace("_", " ").capitalize(), escape(data[key]))
    lines = ["Data (payload):", escape_block(_pretty(data["payload"])), "Request headers:"]
    lines += [f"  {escape(name)}: {escape(value)}" for name, value in data["request_headers"]]
    if data["response_headers"]:
        lines.append("Response headers" + (" (truncated):" if data["response_headers_truncated"] else ":"))
        lines += [f"  {escape(name)}: {escape(value)}" for name, value in data["response_headers"]]
    lines.append("Response body:" + (" (truncated)" if data["response_truncated"] else ""))
    lines.append(escape_block(body_text(attempt.response_body)))
    return Group(grid, *lines)


def escape_block(text: str) -> str:
    """Escape a multi-line text line by line, keeping its line breaks."""
    return "\n".join(escape(line) for line in text.split("\n"))


def _pretty(payload: str) -> str:
    try:
        return json.dumps(json.loads(payload), indent=2, ensure_ascii=False)
    except ValueError:
        return payload


def emit_table(attempts: list[Attempt] | tuple[Attempt, ...]) -> Table:
    """emit's rows: one per attempt."""
    grid = table("Attempt", "Sub", "URL", "Http Status Code", "Duration", "Result")
    for a in attempts:
        result = str(a.status) if not a.failed else f"failed: {a.error or 'HTTP ' + str(a.status_code)}"
        grid.add_row(str(a.id), str(a.subscription_id), escape(a.url), _optional(a.status_code),
                     _optional(a.duration_ms, " ms"), escape(result))
    return grid


def event_json(event: Event) -> dict:
    """The JSON form of a recorded event."""
    result: dict[str, Any] = {"event_id": event.event_id, "type": event.type, "created_at": event.created_at,
                              "data": event.data}
    if event.attempts is not None:
        result["attempts"] = event.attempts
    return result


def event_with_attempts_json(event: Event, attempts: list[Attempt]) -> dict:
    """`events show --json`: the event, its exact payload and every attempt it caused."""
    return {**event_json(event), "payload": event.body.decode("utf-8"),
            "attempts": [attempt_json(a) for a in attempts]}


def events_table(rows: list[Event]) -> Table:
    """The `events list` table."""
    grid = table("Webhook Event Id", "Webhook Event", "Creation time", "Attempts", "Data")
    for e in rows:
        grid.add_row(e.event_id, e.type, e.created_at, _optional(e.attempts),
                     escape(json.dumps(e.data, ensure_ascii=False)))
    return grid


def event_detail(event: Event, attempts: list[Attempt]) -> Group:
    """`events show`: the event, its payload, and the attempts it caused."""
    from rich.console import Group

    grid = table("Field", "Value", title=f"Event {event.event_id}")
    for label, value in (("Webhook Event", event.type), ("Webhook Event Id", event.event_id),
                         ("Tenant", event.tenant), ("Creation time", event.created_at)):
        grid.add_row(label, escape(value))
    payload = escape_block(_pretty(event.body.decode("utf-8", errors="backslashreplace")))
    caused = attempts_table(attempts, title="Send attempts") if attempts else "this event caused no send attempt"
    return Group(grid, "Payload:", payload, caused)


def event_types_table(catalog) -> Table:
    """The `events types` table."""
    grid = table("Type", "Group", "Fires when", "Payload fields")
    for et in catalog:
        fields = ", ".join(f.name + ("" if f.required else "?") for f in et.fields)
        grid.add_row(et.name, et.group, et.fires_when, fields)
    return grid


# -- listen --------------------------------------------------------------------------------

def received_block(record: dict, verbose: bool = False) -> None:
    """listen's view of one delivery: time, event type, webhook-id, signature, headers (verbose) and body."""
    signature = record["signature"]
    if record["signature_error"]:
        signature = f"{signature}: {record['signature_error']}"
    lines = [
        f"--- {escape(record['received_at'])}  {escape(record['method'])} {escape(record['path'])}",
        f"event type:  {escape(record['event_type'] or '-')}",
        f"webhook-id:  {escape(record['webhook_id'] or '-')}"
        + ("  (seen before: a replay, retry or resend)" if record["replay"] else ""),
        f"signature:   {escape(signature)}",
    ]
    if verbose:
        lines.append("headers:")
        lines += [f"  {escape(name)}: {escape(value)}" for name, value in record["headers"].items()]
    body = record["body"]
    text = body if isinstance(body, str) else json.dumps(body, indent=2, ensure_ascii=False)
    lines += ["body:", escape_block(text), ""]
    console().print("\n".join(lines), soft_wrap=True)


# -- subscriptions as code -----------------------------------------------------------------

def print_text(text: str) -> None:
    """Plain text on stdout as is (no wrapping, no markup): for files such as `export`'s TOML."""
    sys.stdout.write(text)


def plan_table(entries: list[dict], title: str) -> Table:
    """The `apply` plan: one row per subscription, from the plan entries' JSON form."""
    grid = table("Action", "ID", "Event", "URL", "Changes", title=title)
    for entry in entries:
        grid.add_row(entry["action"], "" if entry["id"] is None else str(entry["id"]), entry["event"],
                     escape(entry["url"]), escape("; ".join(entry["changes"])))
    return grid
