"""The only module that prints: rich tables on stdout, JSON, messages on stderr, escaping and masking."""

import json
import sys
from functools import lru_cache

MASK = "********"
SENSITIVE_WORDS = ("authorization", "cookie", "token", "secret", "key", "password", "auth", "session", "credential")


@lru_cache(maxsize=None)
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


def is_sensitive(header_name: str) -> bool:
    """Whether a header's value is a credential to be masked."""
    lower = header_name.lower()
    return any(word in lower for word in SENSITIVE_WORDS)


def header_value(name: str, value: str, reveal: bool = False) -> str:
    """A header value, masked when sensitive unless revealed."""
    return value if reveal or not is_sensitive(name) else MASK


def state_label(sub: dict) -> str:
    """Active, or Disabled with the reason when it was not a user's choice."""
    if sub["state"] == "active":
        return "Active"
    reason = sub.get("disabled_reason")
    return f"Disabled ({reason})" if reason and reason != "disabled by a user" else "Disabled"


def table(*columns: str, title: str | None = None):
    """A rich table whose long cells fold instead of being cut."""
    from rich.table import Table

    grid = Table(title=title, title_justify="left", show_lines=False)
    for name in columns:
        grid.add_column(name, overflow="fold")
    return grid


def show(renderable) -> None:
    """Print a table or text on stdout."""
    console().print(renderable)


# -- subscriptions -------------------------------------------------------------------------

def subscription_json(sub: dict, reveal: bool = False) -> dict:
    """The JSON form of a subscription (the same fields as the tables)."""
    return {
        "id": sub["id"],
        "tenant": sub["tenant"],
        "event": sub["event_type"],
        "url": sub["url"],
        "description": sub["description"],
        "state": sub["state"],
        "disabled_reason": sub["disabled_reason"],
        "disabled_at": sub["disabled_at"],
        "headers": [{"name": n, "value": header_value(n, v, reveal)} for n, v in sub["headers"]],
        "created_at": sub["created_at"],
        "updated_at": sub["updated_at"],
    }


def subscriptions_table(subs: list[dict]) -> None:
    """The `list` table."""
    grid = table("ID", "Event", "URL", "State", "Headers", "Description")
    for sub in subs:
        grid.add_row(
            str(sub["id"]), sub["event_type"], escape(sub["url"]), escape(state_label(sub)),
            escape(", ".join(name for name, _ in sub["headers"])), escape(sub["description"]),
        )
    show(grid)


def subscription_detail(sub: dict, reveal: bool = False, secret: str | None = None) -> None:
    """The `show` view: configuration, state and headers."""
    grid = table("Field", "Value", title=f"Subscription {sub['id']}")
    rows = [
        ("Tenant", sub["tenant"]), ("Event", sub["event_type"]), ("URL", sub["url"]),
        ("Description", sub["description"]), ("State", state_label(sub)),
    ]
    if sub["state"] == "disabled":
        rows.append(("Disabled at", sub["disabled_at"]))
    rows += [("Created", sub["created_at"]), ("Updated", sub["updated_at"])]
    if secret is not None:
        rows.append(("Signing secret", secret))
    for name, value in sub["headers"]:
        rows.append((f"Header {name}", header_value(name, value, reveal)))
    for field, value in rows:
        grid.add_row(field, escape(value))
    show(grid)


def headers_table(sub: dict, reveal: bool = False) -> None:
    """The `headers list` table."""
    grid = table("Name", "Value")
    for name, value in sub["headers"]:
        grid.add_row(escape(name), escape(header_value(name, value, reveal)))
    show(grid)


def settings_table(rows: list[tuple[str, str, str]]) -> None:
    """The `config show` table: setting, effective value, where it came from."""
    grid = table("Setting", "Value", "Source")
    for row in rows:
        grid.add_row(*(escape(cell) for cell in row))
    show(grid)


# -- events and attempts -------------------------------------------------------------------

RESPONSE_PREVIEW = 60


def attempt_json(attempt: dict, full: bool = False) -> dict:
    """The JSON form of a send attempt; full adds payload, headers and the whole response."""
    result = {
        "id": attempt["id"],
        "subscription_id": attempt["subscription_id"],
        "event": attempt["event_type"],
        "event_id": attempt["event_id"],
        "created_at": attempt["created_at"],
        "status": attempt["status"],
        "status_code": attempt["status_code"],
        "duration_ms": attempt["duration_ms"],
        "response": _preview(attempt),
        "url": attempt["url"],
        "trigger": attempt["trigger"],
        "attempt_number": attempt["attempt_number"],
        "resend_of": attempt["resend_of"],
        "error_class": attempt["error_class"],
        "error": attempt["error"],
        "next_attempt_at": attempt["next_attempt_at"],
    }
    if full:
        result.update({
            "payload": bytes(attempt["payload"]).decode("utf-8", errors="backslashreplace"),
            "request_headers": json.loads(attempt["request_headers"] or "[]"),
            "response_headers": json.loads(attempt["response_headers"] or "[]"),
            "response_headers_truncated": bool(attempt["response_headers_truncated"]),
            "response_body": bytes(attempt["response_body"] or b"").decode("utf-8", errors="backslashreplace"),
            "response_truncated": bool(attempt["response_truncated"]),
            "started_at": attempt["started_at"],
            "finished_at": attempt["finished_at"],
        })
    return result


def _preview(attempt: dict) -> str:
    """The response, or the error when there was none, shortened to one escaped line."""
    raw = bytes(attempt["response_body"]).decode("utf-8", errors="backslashreplace") if attempt["response_body"] \
        else (attempt["error"] or "")
    text = escape(" ".join(raw.split()))
    return text if len(text) <= RESPONSE_PREVIEW else text[: RESPONSE_PREVIEW - 1] + "…"


def attempts_table(attempts: list[dict], title: str | None = None):
    """The attempts table (the product document's columns plus id, subscription, status, duration)."""
    grid = table("ID", "Sub", "Webhook Event", "Webhook Event Id", "Creation time", "Status",
                 "Http Status Code", "Duration", "Response", title=title)
    for a in attempts:
        grid.add_row(
            str(a["id"]), str(a["subscription_id"]), a["event_type"], a["event_id"], a["created_at"],
            a["status"], "" if a["status_code"] is None else str(a["status_code"]),
            "" if a["duration_ms"] is None else f"{a['duration_ms']} ms", _preview(a),
        )
    return grid


def attempt_detail(attempt: dict) -> None:
    """The `attempts show` view: every recorded field, the payload, headers and the response."""
    data = attempt_json(attempt, full=True)
    grid = table("Field", "Value", title=f"Send attempt {attempt['id']}")
    for key in ("subscription_id", "event", "event_id", "trigger", "attempt_number", "resend_of", "created_at",
                "started_at", "finished_at", "url", "status", "status_code", "duration_ms", "error_class", "error",
                "next_attempt_at", "response_headers_truncated", "response_truncated"):
        if data[key] is not None:
            grid.add_row(key.replace("_", " ").capitalize(), escape(data[key]))
    show(grid)
    show("Data (payload):")
    show(escape_block(_pretty(data["payload"])))
    show("Request headers:")
    for name, value in data["request_headers"]:
        show(f"  {escape(name)}: {escape(value)}")
    if data["response_headers"]:
        show("Response headers" + (" (truncated):" if data["response_headers_truncated"] else ":"))
        for name, value in data["response_headers"]:
            show(f"  {escape(name)}: {escape(value)}")
    show("Response body:" + (" (truncated)" if data["response_truncated"] else ""))
    show(escape_block(body_text(attempt["response_body"]) if attempt["response_body"] else ""))


def escape_block(text: str) -> str:
    """Escape a multi-line text line by line, keeping its line breaks."""
    return "\n".join(escape(line) for line in text.split("\n"))


def _pretty(payload: str) -> str:
    try:
        return json.dumps(json.loads(payload), indent=2, ensure_ascii=False)
    except ValueError:
        return payload


def emit_table(attempts: list[dict]):
    """emit's rows: one per attempt."""
    grid = table("Attempt", "Sub", "URL", "Http Status Code", "Duration", "Result")
    for a in attempts:
        result = a["status"] if a["status"] != "failed" else f"failed: {a['error'] or 'HTTP ' + str(a['status_code'])}"
        grid.add_row(str(a["id"]), str(a["subscription_id"]), escape(a["url"]),
                     "" if a["status_code"] is None else str(a["status_code"]),
                     "" if a["duration_ms"] is None else f"{a['duration_ms']} ms", escape(result))
    return grid


def event_json(event: dict) -> dict:
    """The JSON form of a recorded event."""
    result = {"event_id": event["event_id"], "type": event["type"], "created_at": event["created_at"],
              "data": event["data"]}
    if "attempts" in event:
        result["attempts"] = event["attempts"]
    return result


def events_table(rows: list[dict]):
    """The `events list` table."""
    grid = table("Webhook Event Id", "Webhook Event", "Creation time", "Attempts", "Data")
    for e in rows:
        grid.add_row(e["event_id"], e["type"], e["created_at"], str(e["attempts"]),
                     escape(json.dumps(e["data"], ensure_ascii=False)))
    return grid


def event_detail(event: dict) -> None:
    """The `events show` header: the event and its payload."""
    grid = table("Field", "Value", title=f"Event {event['event_id']}")
    for label, value in (("Webhook Event", event["type"]), ("Webhook Event Id", event["event_id"]),
                         ("Tenant", event["tenant"]), ("Creation time", event["created_at"])):
        grid.add_row(label, escape(value))
    show(grid)
    show("Payload:")
    show(escape_block(_pretty(bytes(event["body"]).decode("utf-8", errors="backslashreplace"))))


def event_types_table(catalog) -> None:
    """The `events types` table."""
    grid = table("Type", "Group", "Fires when", "Payload fields")
    for et in catalog:
        fields = ", ".join(f.name + ("" if f.required else "?") for f in et.fields)
        grid.add_row(et.name, et.group, et.fires_when, fields)
    show(grid)


# -- listen --------------------------------------------------------------------------------

def received_block(record: dict, verbose: bool = False) -> None:
    """listen's view of one delivery: time, event type, webhook-id, signature, headers (verbose) and body."""
    signature = record["signature"]
    if record["signature_error"]:
        signature = f"{signature}: {record['signature_error']}"
    lines = [
        f"--- {escape(record['received_at'])}  {escape(record['method'])} {escape(record['path'])}",
        f"event type:  {escape(record['event_type'] or '-')}",
        f"webhook-id:  {escape(record['webhook_id'] or '-')}",
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


def plan_table(entries: list[dict], title: str) -> None:
    """The `apply` plan: one row per subscription, from the plan entries' JSON form."""
    grid = table("Action", "ID", "Event", "URL", "Changes", title=title)
    for entry in entries:
        grid.add_row(entry["action"], "" if entry["id"] is None else str(entry["id"]), entry["event"],
                     escape(entry["url"]), escape("; ".join(entry["changes"])))
    show(grid)
