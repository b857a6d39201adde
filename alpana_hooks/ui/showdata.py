"""Show Data: one send attempt's payload, request headers (as recorded: masked), response headers and body.

Everything a receiver sent back is escaped: no terminal control sequence from it reaches the screen.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from alpana_hooks import output
from alpana_hooks.model import Attempt, Status
from alpana_hooks.ui import cells
from alpana_hooks.ui.widgets import KEYS, KeysBar, RecordScreen, TitleBar


class ShowDataScreen(RecordScreen):
    """An attempt's fields, Data (the payload), request and response; read again while it is unfinished."""

    DEFAULT_CSS = """
    ShowDataScreen VerticalScroll { padding: 0 1; }
    ShowDataScreen .section { text-style: bold; margin: 1 0 0 0; color: $accent; }
    """
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("R", "resend", "Resend"),
        Binding("r", "refresh", "Refresh"),
        Binding("w", "view_event", "Event", tooltip="View Webhook Event: the event and all its attempts"),
        Binding("c", "copy", "Copy payload"),
        KEYS,
    ]

    def __init__(self, tenant: str, attempt_id: int):
        super().__init__()
        self.tenant, self.attempt_id = tenant, attempt_id
        self.attempt: Attempt | None = None

    def compose(self) -> ComposeResult:
        yield TitleBar()
        with VerticalScroll():
            yield Static(id="fields")
            yield Static(Text("Data (payload)"), classes="section")
            yield Static(id="payload")
            yield Static(Text("Request headers"), classes="section")
            yield Static(id="request-headers")
            yield Static(Text("Response headers"), classes="section")
            yield Static(id="response-headers")
            yield Static(id="body-title", classes="section")
            yield Static(id="response-body")
        yield KeysBar()

    def on_mount(self) -> None:
        self.start(f"{self.tenant} · send attempt {self.attempt_id}", self.query_one(VerticalScroll))

    def unfinished(self) -> bool:
        return self.attempt is not None and self.attempt.status in (Status.PENDING, Status.SENDING)

    def refresh_data(self) -> None:
        tenant, attempt_id = self.tenant, self.attempt_id
        self.api(lambda hooks: hooks.attempt(tenant, attempt_id), self.show, self.gone, group="read-attempt",
                 exclusive=True)

    def show(self, attempt: Attempt) -> None:
        self.attempt = attempt
        rows: list[tuple[str, Text]] = [
            ("Send attempt", Text(f"{attempt.id} of subscription {attempt.subscription_id}")),
            ("Webhook Event", Text(attempt.event_type)),
            ("Webhook Event Id", cells.text(attempt.event_id)),
            ("Creation time", cells.when(attempt.created_at, year=True)),
            ("Status", cells.status(attempt)),
            ("Http Status Code", cells.code(attempt)),
            ("Duration", cells.duration(attempt)),
            ("Trigger", Text(f"{attempt.trigger}, attempt {attempt.attempt_number}"
                             + (f", resend of {attempt.resend_of}" if attempt.resend_of else ""))),
            ("URL", cells.text(attempt.url)),
        ]
        if attempt.error:
            rows.append(("Error", cells.text(f"{attempt.error_class}: {attempt.error}", "red")))
        if attempt.next_attempt_at:
            rows.append(("Next retry", cells.when(attempt.next_attempt_at, year=True)))
        self.query_one("#fields", Static).update(cells.fields(rows))
        self.query_one("#payload", Static).update(Text(cells.pretty_json(attempt.payload)))
        self.query_one("#request-headers", Static).update(cells.header_lines(cells.stored_headers(attempt.request_headers)))
        self.query_one("#response-headers", Static).update(
            cells.header_lines(cells.stored_headers(attempt.response_headers)))
        truncated = " (truncated)" if attempt.response_truncated else ""
        self.query_one("#body-title", Static).update(Text(f"Response body{truncated}"))
        body = output.body_text(attempt.response_body)
        self.query_one("#response-body", Static).update(Text(body) if body else Text("(empty)", style="dim"))

    def action_resend(self) -> None:
        from alpana_hooks.ui.attempts import resend_one

        resend_one(self.app, self.tenant, self.attempt_id)

    def action_view_event(self) -> None:
        if self.attempt is not None:
            from alpana_hooks.ui.event import EventScreen

            self.app.push_screen(EventScreen(self.tenant, self.attempt.event_id))

    def action_copy(self) -> None:
        if self.attempt is not None:
            self.app.copy_to_clipboard(self.attempt.payload.decode("utf-8", errors="replace"))
            self.notify("payload copied to the clipboard (OSC 52)")
