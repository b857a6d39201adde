"""The only module that prints: rich tables on stdout, JSON, messages on stderr, escaping and masking."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from alpana_hooks.headers import shown as shown_value
from alpana_hooks.output.grid import Grid, When, natural_width, tab_separated, terminal_table

if TYPE_CHECKING:  # the records: only their types here, so --help does not build them
    from alpana_hooks.model import Attempt, Secret, Subscription


Shown = Grid | str | list  # what a command prints: a table, a text, or several of them in order


@cache
def console(stderr: bool = False):
    """One console per stream, markup and highlighting off: text from users and receivers is never interpreted."""
    from rich.console import Console

    return Console(stderr=stderr, markup=False, highlight=False, emoji=False)


def message(text: str) -> None:
    """A message for a person, on stderr."""
    console(stderr=True).print(escape(text), soft_wrap=True)


def log(line: str) -> None:
    """A log line on stderr, flushed at once; its cells are escaped already (tabs stay tabs)."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def error(text: str) -> None:
    """One error line on stderr; a long value it quotes is shortened (see shortened)."""
    console(stderr=True).print(f"error: {escape(shortened(text))}", soft_wrap=True, style="red")


def reported(exc: BaseException) -> int | None:
    """For a domain error, a database error or Ctrl-C: its one error line written, its exit code; None for
    anything else (a bug: the caller lets it raise). The error boundary of every command line."""
    from alpana_hooks.errors import failure

    known = failure(exc)
    if known is None:
        return None
    error(known[0])
    return known[1]


LONG_QUOTED = re.compile(r"'[^']{256,}'|\"[^\"]{256,}\"")  # a quoted value of 256 characters or more (a file
# path of the usual length stays whole: it is what the reader needs)


def shortened(text: str) -> str:
    """`text` with each quoted value of 256 characters or more cut in the middle and its length said, so that
    an error never echoes a 5,000-character value whole."""
    def cut(match: re.Match) -> str:
        quoted = match.group()
        return f"{quoted[:41]}…{quoted[-20:]} ({len(quoted) - 2:,} characters)"

    return LONG_QUOTED.sub(cut, text)


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


def escape_block(text: str) -> str:
    """Escape a multi-line text line by line, keeping its line breaks."""
    return "\n".join(escape(line) for line in text.split("\n"))


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


def table(*columns: str, title: str | None = None, **layout) -> Grid:
    """A table to fill with add_row; `layout` says which columns fold, shorten or go first (see Grid)."""
    return Grid(columns, title=title, **layout)


def detail(title: str) -> Grid:
    """A detail view: one field and its value a line, no header."""
    return Grid(("Field", "Value"), title=title, fold=("Value",), header=False)


def is_terminal() -> bool:
    """Whether stdout is a terminal (rich's answer, so FORCE_COLOR and TTY_COMPATIBLE count too)."""
    return console().is_terminal


def show(shown: Shown, wide: bool = False) -> None:
    """Print tables and texts on stdout: fitted to a terminal, or plain tab-separated rows into a pipe."""
    for part in shown if isinstance(shown, list) else [shown]:
        if not isinstance(part, Grid):
            console().print(part, soft_wrap=True) if is_terminal() else sys.stdout.write(part + "\n")
        elif is_terminal():
            _wide_console(part) if wide else console().print(terminal_table(part, console().width, False))
        else:
            sys.stdout.write(tab_separated(part))
    sys.stdout.flush()


def _wide_console(grid: Grid) -> None:
    """--wide: the whole table, as wide as it is; the terminal wraps what it cannot show (as kubectl -o wide)."""
    from rich.console import Console

    width = max(console().width, natural_width(grid))
    Console(width=width, markup=False, highlight=False, emoji=False).print(terminal_table(grid, width, True))


def live_table(grid: Grid, wide: bool = False):
    """The rich table for `attempts list --watch`'s live view on a terminal."""
    return terminal_table(grid, console().width, wide)


def render(value: Any, *, json: bool, as_json: Callable[[Any], Any], as_table: Callable[[Any], Shown],
           empty: str | None = None, note: str | None = None, wide: bool = False) -> None:
    """The one place that decides what a command prints: JSON on stdout; or the table on stdout (or the
    `empty` message when value is an empty list) and an optional note on stderr."""
    if json:
        print_json(as_json(value))
        return
    if empty is not None and isinstance(value, Sequence) and not value:
        message(empty)
    else:
        show(as_table(value), wide)
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


def subscriptions_table(subs: list[Subscription]) -> Grid:
    """The `list` table."""
    # a Filter or Rate limit column only when a subscription has one
    extra = [(title, key) for title, key in (("Filter", "filter"), ("Rate limit", "rate_limit"))
             if any(getattr(sub, key) for sub in subs)]
    titles = tuple(title for title, _ in extra)
    grid = table("ID", "Event", "URL", "State", "Headers", *titles, "Description", middle=("URL",),
                 cut=("Headers", *titles, "Description"), drop=("Headers", "Description", *titles))
    for sub in subs:
        grid.add_row(str(sub.id), sub.event_type, escape(sub.url), escape(state_label(sub)),
                     escape(", ".join(name for name, _ in sub.headers)),
                     *(escape(getattr(sub, key) or "") for _, key in extra), escape(sub.description))
    return grid


def subscription_detail(sub: Subscription, reveal: bool = False, secret: str | None = None) -> Grid:
    """The `show` view: configuration, state and headers."""
    grid = detail(f"Subscription {sub.id}")
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


def subscription_with_attempts(sub: Subscription, attempts: list[Attempt], reveal: bool = False) -> Shown:
    """`show`: the subscription, then its latest send attempts (without the Sub column) when there are any."""
    view = subscription_detail(sub, reveal)
    return [view, attempts_table(attempts, title="Latest send attempts", with_sub=False)] if attempts else view


def headers_table(sub: Subscription, reveal: bool = False) -> Grid:
    """The `headers list` table."""
    grid = table("Name", "Value", fold=("Value",))
    for name, value in sub.headers:
        grid.add_row(escape(name), escape(shown_value(name, value, reveal)))
    return grid


def secrets_text(secrets: list[Secret]) -> str:
    """`secret show`: one secret a line, the old ones with the time they stop signing."""
    return "\n".join(s.secret + (f"  (old, signs until {s.expires_at})" if s.expires_at else "") for s in secrets)


def settings_table(rows: list[tuple[str, str, str]]) -> Grid:
    """The `config show` table: setting, effective value, where it came from."""
    grid = table("Setting", "Value", "Source", fold=("Value", "Source"))
    for row in rows:
        grid.add_row(*(escape(cell) for cell in row))
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


def plan_table(entries: list[dict], title: str) -> Grid:
    """The `apply` plan: one row per subscription, from the plan entries' JSON form."""
    grid = table("Action", "ID", "Event", "URL", "Changes", title=title, middle=("URL",), fold=("Changes",))
    for entry in entries:
        grid.add_row(entry["action"], "" if entry["id"] is None else str(entry["id"]), entry["event"],
                     escape(entry["url"]), escape("; ".join(entry["changes"])))
    return grid


from alpana_hooks.output.records import (  # noqa: E402  the attempt and event views, re-exported
    RESPONSE_PREVIEW,
    attempt_detail,
    attempt_json,
    attempts_table,
    delivery_line,
    emit_table,
    event_detail,
    event_json,
    event_types_table,
    event_with_attempts_json,
    events_table,
)

__all__ = ["RESPONSE_PREVIEW", "When", "attempt_detail", "attempt_json", "attempts_table", "delivery_line", "emit_table",
           "event_detail", "event_json", "event_types_table", "event_with_attempts_json", "events_table"]
