"""The attempts screens' dialogs: Filter, and Resend failed since… (the count first, a confirmation, then progress)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, ProgressBar, Select, Static

from alpana_hooks import events
from alpana_hooks.errors import UsageError
from alpana_hooks.model import Attempt, Status
from alpana_hooks.ui import cells
from alpana_hooks.ui.widgets import Confirm
from alpana_hooks.ui.work import ApiCalls


@dataclass
class Progress:
    """How far a resend of failed deliveries went; written by its worker, read by the screen."""

    total: int
    handled: int = 0
    sent: int = 0
    failed: int = 0
    finished: bool = False
    stop: threading.Event = field(default_factory=threading.Event)


def resend_failed(app, tenant: str, failures: list[Attempt]) -> Progress:
    """`resend --failed` in batches of `concurrency`, so that progress shows and leaving (or s) stops
    between batches: what went out is recorded, the rest stays failed and can be resent later."""
    progress = Progress(len(failures))
    batch = max(1, app.settings.concurrency)

    def call(hooks) -> Progress:
        for start in range(0, len(failures), batch):
            if progress.stop.is_set() or app.stop_sending.is_set():
                break
            chunk = failures[start:start + batch]
            made = hooks.resend_failed(tenant, chunk)
            progress.sent += len(made)
            progress.failed += sum(a.failed for a in made)
            progress.handled += len(chunk)
        return progress

    def finished(done: Progress) -> None:
        done.finished = True
        note = f"resent {done.sent}: {done.sent - done.failed} succeeded, {done.failed} failed"
        if done.handled < done.total:
            note += f"; stopped, {done.total - done.handled} not resent"
        app.notify(note, markup=False, severity="error" if done.failed else "information")

    def errored(error) -> None:
        progress.finished = True
        app.report_error(error)

    app.send(call, finished, errored)
    return progress


class ResendFailedScreen(ApiCalls, ModalScreen[None]):
    """Resend all failed since…: how many first, a confirmation, then progress without freezing."""

    DEFAULT_CSS = """
    ResendFailedScreen { align: center middle; }
    ResendFailedScreen > Vertical { width: 76; height: auto; border: thick $warning; background: $surface; padding: 1 2; }
    ResendFailedScreen Horizontal { height: 3; }
    ResendFailedScreen Label { padding: 1 1 0 0; }
    ResendFailedScreen Input { width: 1fr; }
    ResendFailedScreen ProgressBar { display: none; }
    ResendFailedScreen.sending ProgressBar { display: block; }
    """
    BINDINGS = [Binding("escape", "close", "Close"), Binding("s", "stop", "Stop")]

    def __init__(self, tenant: str, sub_id: int | None):
        super().__init__()
        self.tenant, self.sub_id = tenant, sub_id
        self.progress: Progress | None = None

    def compose(self) -> ComposeResult:
        scope = f"subscription {self.sub_id}" if self.sub_id else f"all of {self.tenant}"
        with Vertical():
            yield Static(Text(f"Resend failed deliveries ({scope})", style="bold"))
            yield Static(Text("Each delivery whose latest attempt failed is sent again once (resend --failed)."),
                         classes="hint")
            with Horizontal():
                yield Label("Since")
                yield Input("1h", placeholder="a duration (2h, 1d) or a time (2026-11-28T09:00:00Z)", id="since")
            yield Static(id="info", classes="hint")
            yield ProgressBar(show_eta=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.progress is not None:
            return
        tenant, sub_id, text = self.tenant, self.sub_id, event.value

        def count(hooks):
            return hooks.failed_deliveries(tenant, since=since_value(text), subscription_id=sub_id)

        self.api(count, self.counted, self.show_error)

    def show_error(self, error) -> None:
        self.query_one("#info", Static).update(cells.text(str(error), "red"))

    def counted(self, failures: list[Attempt]) -> None:
        if not failures:
            self.query_one("#info", Static).update(Text("nothing to resend"))
            return
        self.query_one("#info", Static).update(Text(f"{len(failures)} failed deliveries would be resent."))

        def answered(yes: bool | None) -> None:
            if yes:
                self.start(failures)

        self.app.push_screen(Confirm(f"Resend {len(failures)} failed deliveries?",
                                     "Each one goes out once more, as a new attempt."), answered)

    def start(self, failures: list[Attempt]) -> None:
        self.progress = resend_failed(self.app, self.tenant, failures)
        self.add_class("sending")
        self.query_one(ProgressBar).update(total=len(failures), progress=0)
        self.query_one("#since", Input).disabled = True
        self.set_interval(0.1, self.show_progress)

    def show_progress(self) -> None:
        progress = self.progress
        if progress is None:
            return
        self.query_one(ProgressBar).update(progress=progress.handled)
        text = f"sent {progress.sent} of {progress.total}: {progress.sent - progress.failed} succeeded, " \
               f"{progress.failed} failed"
        if progress.finished:
            text += "  (done: escape closes)"
        self.query_one("#info", Static).update(Text(text))

    def action_stop(self) -> None:
        if self.progress is not None and not self.progress.finished:
            self.progress.stop.set()
            self.notify("stopping after the batch in flight", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)


def since_value(text: str):
    """A --since value as the CLI reads it (UsageError with its message otherwise)."""
    from alpana_hooks.timeutil import parse_since, utcnow

    try:
        return parse_since(text, utcnow())
    except ValueError as exc:
        raise UsageError(str(exc)) from None


class FilterScreen(ModalScreen[tuple]):
    """Filter the attempts by status and event type."""

    DEFAULT_CSS = """
    FilterScreen { align: center middle; }
    FilterScreen > Vertical { width: 64; height: auto; border: thick $accent; background: $surface; padding: 1 2; }
    FilterScreen Horizontal { height: auto; }
    FilterScreen Label { width: 10; padding: 1 1 0 0; }
    FilterScreen Select { width: 1fr; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "apply", "Apply", priority=True)]

    def __init__(self, status: str | None, event_type: str | None):
        super().__init__()
        self.status, self.event_type = status, event_type

    def compose(self) -> ComposeResult:
        statuses = [(Text("all"), "")] + [(Text(str(s)), str(s)) for s in Status]
        types = [(Text("all"), "")] + [(Text(name), name) for name in (*events.EVENT_TYPES, events.PING)]
        with Vertical():
            yield Static(Text("Filter send attempts", style="bold"))
            with Horizontal():
                yield Label("Status")
                yield Select(statuses, value=self.status or "", allow_blank=False, id="status")
            with Horizontal():
                yield Label("Event")
                yield Select(types, value=self.event_type or "", allow_blank=False, id="event")
            yield Static(Text("ctrl+s: apply    escape: cancel"), classes="hint")

    def on_mount(self) -> None:
        self.query_one("#status", Select).focus()

    def action_apply(self) -> None:
        status, event = self.query_one("#status", Select).value, self.query_one("#event", Select).value
        self.dismiss((status or None, event or None))

    def action_cancel(self) -> None:
        self.dismiss(None)
