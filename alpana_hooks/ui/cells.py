"""What the screens show of a record, as rich Text: escaped, never read as markup. No I/O, no rule.

Every string that came from a user, a payload or a receiver goes through `output.escape` (control,
format and separator characters become visible escapes) and into a `Text`, which Textual never
parses as markup, so neither a terminal sequence nor a `[bold]` in the data reaches the screen.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from rich.table import Table
from rich.text import Text

from alpana_hooks import headers as header_rules
from alpana_hooks import output
from alpana_hooks.model import Attempt, State, Status, Subscription

MASK = header_rules.MASK
SPARK_LENGTH = 10
STATUS_STYLE = {Status.SUCCEEDED: "green", Status.FAILED: "red", Status.SENDING: "yellow", Status.PENDING: "dim"}
STATUS_MARK = {Status.SUCCEEDED: "✓", Status.FAILED: "✗", Status.SENDING: "↻", Status.PENDING: "·"}


def text(value: object, style: str = "") -> Text:
    """Untrusted text, escaped, as a Text (never markup)."""
    return Text(output.escape(value), style=style)


def error_line(error: BaseException | None) -> str:
    """An error as one line (not escaped yet): a HooksError's own message, anything else named as unexpected."""
    from alpana_hooks.errors import HooksError

    return str(error) if isinstance(error, HooksError) else f"unexpected error: {type(error).__name__}: {error}"


def ellipsis(value: str, width: int) -> str:
    """At most `width` characters, the last one an ellipsis when cut."""
    return value if len(value) <= width else value[: width - 1] + "…"


def when(stamp: str | None, *, year: bool = False) -> Text:
    """A stored UTC time (2026-11-28T17:48:17.123456Z) as '11-28 17:48:17' (with year: the whole date)."""
    if not stamp:
        return Text("")
    shown = stamp[:19].replace("T", " ")
    return Text(shown if year else shown[5:], style="dim" if not year else "")


def state(sub: Subscription, label: str | None = None) -> Text:
    """Active, or Disabled with the reason when it was not a user's choice (the CLI's label, or a cut one)."""
    return text(output.state_label(sub) if label is None else label, "green" if sub.state == State.ACTIVE else "red")


def status(attempt: Attempt) -> Text:
    """✓ succeeded / ✗ failed / ↻ sending / · pending, coloured."""
    return Text(f"{STATUS_MARK.get(attempt.status, '?')} {attempt.status}", style=STATUS_STYLE.get(attempt.status, ""))


def code(attempt: Attempt) -> Text:
    """The HTTP status code, or the error class when there was no answer."""
    if attempt.status_code is not None:
        return Text(str(attempt.status_code), style="green" if 200 <= attempt.status_code < 300 else "red")
    return text(attempt.error_class or "", "red")


def duration(attempt: Attempt) -> Text:
    return Text("" if attempt.duration_ms is None else f"{attempt.duration_ms} ms")


def last_delivery(attempts: list[Attempt]) -> Text:
    """The newest attempt's outcome: mark, code (or error class) and time."""
    if not attempts:
        return Text("never", style="dim")
    latest = attempts[0]
    outcome = Text(STATUS_MARK.get(latest.status, "?") + " ", style=STATUS_STYLE.get(latest.status, ""))
    outcome.append_text(code(latest) if latest.status_code is not None or latest.error_class else Text(str(latest.status)))
    outcome.append(" ")
    outcome.append_text(when(latest.created_at))
    return outcome


def sparkline(attempts: list[Attempt]) -> Text:
    """The latest attempts, oldest left: a tall green bar per success, a low red one per failure, a dot
    for one not finished; padded to SPARK_LENGTH."""
    line = Text(" " * (SPARK_LENGTH - min(len(attempts), SPARK_LENGTH)))
    for attempt in reversed(attempts[:SPARK_LENGTH]):
        if attempt.status == Status.SUCCEEDED:
            line.append("█", style="green")
        elif attempt.status == Status.FAILED:
            line.append("▁", style="red")
        else:
            line.append("·", style="yellow")
    return line


def header_value(name: str, value: str, reveal: bool) -> Text:
    """A header's value, masked when sensitive unless revealed (the CLI's rule)."""
    return text(header_rules.shown(name, value, reveal))


def secret(value: str, reveal: bool) -> Text:
    """A signing secret: its prefix and a mask unless revealed."""
    if reveal:
        return text(value)
    prefix = value.split("_", 1)[0] + "_" if "_" in value else ""
    return Text(prefix + MASK, style="dim")


def pretty_json(payload: bytes | str) -> str:
    """A payload as indented JSON (as it is when it is not JSON), escaped line by line."""
    raw = payload.decode("utf-8", errors="backslashreplace") if isinstance(payload, bytes) else payload
    try:
        raw = json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
    except ValueError:
        pass
    return output.escape_block(raw)


def header_lines(pairs: Iterable[tuple[str, str]] | None) -> Text:
    """'Name: value' lines, escaped (names bold)."""
    block = Text()
    for name, value in pairs or ():
        if block:
            block.append("\n")
        block.append(output.escape(name), style="bold")
        block.append(": " + output.escape(value))
    return block or Text("(none)", style="dim")


def stored_headers(value: str | None) -> list[tuple[str, str]]:
    """Headers the engine stored as a JSON list of [name, value] pairs."""
    try:
        return [(str(name), str(val)) for name, val in json.loads(value or "[]")]
    except (ValueError, TypeError):
        return [("(unreadable)", value or "")]


def fields(rows: Iterable[tuple[str, Text]]) -> Table:
    """Label/value rows as a two-column grid: labels bold, values folded to the width."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in rows:
        grid.add_row(Text(label), value)
    return grid
