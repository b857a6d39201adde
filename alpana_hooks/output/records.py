"""The views of send attempts and events: their JSON forms, tables and detail views."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from alpana_hooks.output import body_text, detail, escape, escape_block, table
from alpana_hooks.output.grid import Due, Grid, When

if TYPE_CHECKING:
    from alpana_hooks.model import Attempt, Event

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
        "response": _response_text(attempt),
        "url": attempt.url,
        "trigger": str(attempt.trigger),
        "attempt_number": attempt.attempt_number,
        "resend_of": attempt.resend_of,
        **_error_fields(attempt),
        "next_attempt_at": attempt.next_attempt_at,
    }
    if full:
        result.update({
            "payload": attempt.payload.decode("utf-8", errors="backslashreplace"),
            "request_headers": _headers(attempt.request_headers),
            "response_headers": _headers(attempt.response_headers),
            "response_headers_truncated": attempt.response_headers_truncated,
            "response_body": (attempt.response_body or b"").decode("utf-8", errors="backslashreplace"),
            "response_truncated": attempt.response_truncated,
            "started_at": attempt.started_at,
            "finished_at": attempt.finished_at,
        })
    return result


def _error_fields(attempt: Attempt) -> dict:
    """error_class and error; an HTTP answer that failed (not 2xx) is error_class "http_status", "HTTP 500"."""
    if attempt.error_class is None and attempt.failed and attempt.status_code is not None:
        return {"error_class": "http_status", "error": f"HTTP {attempt.status_code}"}
    return {"error_class": None if attempt.error_class is None else str(attempt.error_class), "error": attempt.error}


def _headers(recorded: str | None) -> list[dict]:
    """Recorded headers as [{name, value}], the shape of a subscription's headers."""
    return [{"name": name, "value": value} for name, value in json.loads(recorded or "[]")]


def _response_text(attempt: Attempt) -> str:
    """The response body as text, or the error when there was none (whole: JSON values are never cut)."""
    if attempt.response_body:
        return attempt.response_body.decode("utf-8", errors="backslashreplace")
    return attempt.error or ""


def _preview(attempt: Attempt) -> str:
    """The response or error on one line, cut to RESPONSE_PREVIEW characters of the text itself (before
    escaping, so an escape such as \\x1b is never cut in two) and then escaped."""
    text = " ".join(_response_text(attempt).split())
    return escape(text) if len(text) <= RESPONSE_PREVIEW else escape(text[: RESPONSE_PREVIEW - 1]) + "…"


def _optional(value: object, suffix: str = "") -> str:
    """A cell for a value that may be missing."""
    return "" if value is None else f"{value}{suffix}"


ATTEMPT_COLUMNS = ("ID", "Sub", "Event", "Event ID", "Created", "Status", "HTTP", "Duration", "Next retry", "Response")


def attempts_table(attempts: list[Attempt], title: str | None = None, with_sub: bool = True) -> Grid:
    """The attempts table: Alpana Server's send-attempt columns (event, event id, creation time, HTTP status code,
    response) plus id, subscription, status, duration and the next retry. On a narrow terminal the duration,
    subscription, response, next retry and event type go first (--wide keeps all)."""
    columns = tuple(c for c in ATTEMPT_COLUMNS if with_sub or c != "Sub")
    grid = table(*columns, title=title, cut=("Response",),
                 drop=tuple(c for c in ("Duration", "Sub", "Response", "Next retry", "Event") if c in columns))
    for a in attempts:
        cells = attempt_cells(a)
        grid.add_row(*(cells[c] for c in columns))
    return grid


def attempt_cells(a: Attempt) -> dict[str, str]:
    """One attempt's table cells by column title."""
    return {"ID": str(a.id), "Sub": str(a.subscription_id), "Event": a.event_type, "Event ID": a.event_id,
            "Created": When(a.created_at), "Status": str(a.status), "HTTP": _optional(a.status_code),
            "Duration": _optional(a.duration_ms, " ms"),
            "Next retry": Due(a.next_attempt_at) if a.next_attempt_at else "", "Response": _preview(a)}


_DETAIL_FIELDS = ("subscription_id", "event", "event_id", "trigger", "attempt_number", "resend_of", "created_at",
                  "started_at", "finished_at", "url", "status", "status_code", "duration_ms", "error_class", "error",
                  "next_attempt_at", "response_headers_truncated", "response_truncated")


_LABELS = {"subscription_id": "Subscription ID", "event_id": "Event ID", "url": "URL", "status_code": "HTTP status",
           "error_class": "Error class", "next_attempt_at": "Next retry at",
           "duration_ms": "Duration"}


def attempt_detail(attempt: Attempt) -> list:
    """The `attempts show` view: every recorded field, the payload, headers and the response."""
    data = attempt_json(attempt, full=True)
    grid = detail(f"Send attempt {attempt.id}")
    for key in _DETAIL_FIELDS:
        if data[key] is not None and data[key] is not False:
            grid.add_row(_LABELS.get(key) or key.replace("_", " ").capitalize(), escape(_field_text(key, data[key])))
    lines = ["Data (payload):", escape_block(_pretty(data["payload"])), "Request headers:"]
    lines += [f"  {escape(h['name'])}: {escape(h['value'])}" for h in data["request_headers"]]
    if data["response_headers"]:
        lines.append("Response headers" + (" (truncated):" if data["response_headers_truncated"] else ":"))
        lines += [f"  {escape(h['name'])}: {escape(h['value'])}" for h in data["response_headers"]]
    lines.append("Response body:" + (" (truncated)" if data["response_truncated"] else ""))
    lines.append(escape_block(body_text(attempt.response_body)))
    return [grid, "\n".join(lines)]


def _field_text(key: str, value: object) -> str:
    """A detail field's value as words: a flag that is set reads "yes", a duration has its unit."""
    if value is True:
        return "yes"
    return f"{value} ms" if key == "duration_ms" else str(value)


def _pretty(payload: str) -> str:
    try:
        return json.dumps(json.loads(payload), indent=2, ensure_ascii=False)
    except ValueError:
        return payload


def emit_table(attempts: list[Attempt] | tuple[Attempt, ...]) -> Grid:
    """emit's, resend's and deliver's rows: one per attempt."""
    grid = table("Attempt", "Sub", "URL", "HTTP", "Duration", "Result", middle=("URL",), cut=("Result",),
                 drop=("Duration", "Sub"))
    for a in attempts:
        grid.add_row(*emit_cells(a))
    return grid


def emit_cells(a: Attempt) -> tuple[str, ...]:
    """One attempt's emit row: attempt, subscription, URL, HTTP status, duration, result."""
    result = str(a.status) if not a.failed else f"failed: {a.error or 'HTTP ' + str(a.status_code)}"
    return (str(a.id), str(a.subscription_id), escape(a.url), _optional(a.status_code),
            _optional(a.duration_ms, " ms"), escape(result))


def delivery_line(a: Attempt) -> str:
    """`deliver --loop`'s log line for one attempt sent: its emit row, tab-separated."""
    return "\t".join(emit_cells(a))


def event_json(event: Event) -> dict:
    """The JSON form of a recorded event."""
    result: dict[str, Any] = {"event_id": event.event_id, "event": event.type, "created_at": event.created_at,
                              "data": event.data}
    if event.attempts is not None:
        result["attempts"] = event.attempts
    return result


def event_with_attempts_json(event: Event, attempts: list[Attempt]) -> dict:
    """`events show --json`: the event, its exact payload and every attempt it caused."""
    return {**event_json(event), "payload": event.body.decode("utf-8"),
            "attempts": [attempt_json(a) for a in attempts]}


def events_table(rows: list[Event]) -> Grid:
    """The `events list` table."""
    grid = table("Event ID", "Event", "Created", "Attempts", "Data", cut=("Data",), drop=("Data", "Attempts"))
    for e in rows:
        grid.add_row(e.event_id, e.type, When(e.created_at), _optional(e.attempts),
                     escape(json.dumps(e.data, ensure_ascii=False)))
    return grid


def event_detail(event: Event, attempts: list[Attempt]) -> list:
    """`events show`: the event, its payload, and the attempts it caused."""
    grid = detail(f"Event {event.event_id}")
    for label, value in (("Event", event.type), ("Event ID", event.event_id),
                         ("Tenant", event.tenant), ("Created", event.created_at)):
        grid.add_row(label, escape(value))
    payload = escape_block(_pretty(event.body.decode("utf-8", errors="backslashreplace")))
    caused = attempts_table(attempts, title="Send attempts") if attempts else "this event caused no send attempt"
    return [grid, "Payload:\n" + payload, caused]


def event_types_table(catalog) -> Grid:
    """The `events types` table."""
    grid = table("Event", "Group", "Fires when", "Payload fields", fold=("Fires when", "Payload fields"),
                 drop=("Group",))
    for et in catalog:
        fields = ", ".join(f.name + ("" if f.required else "?") for f in et.fields)
        grid.add_row(et.name, et.group, et.fires_when, fields)
    return grid


