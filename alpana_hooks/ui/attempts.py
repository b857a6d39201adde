"""Send attempts of a subscription or of the whole tenant: live, filtered, resend, resend failed since…"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Header, Input, Label, ProgressBar, Select, Static

from alpana_hooks import events
from alpana_hooks.errors import UsageError
from alpana_hooks.model import Attempt, State, Status
from alpana_hooks.ui import cells
from alpana_hooks.ui.widgets import KEYS, Confirm, Table
from alpana_hooks.ui.work import ApiCalls

LIMIT = 100  # newest attempts shown (the attempts list command's --limit)


def outcome(attempt: Attempt) -> str:
    """'✓ 200 in 3 ms', '✗ 500 in 12 ms', '✗ connect: …' (escaped)."""
    from alpana_hooks.output import escape

    mark = cells.STATUS_MARK.get(attempt.status, "?")
    if attempt.status_code is not None:
        text = f"{mark} {attempt.status_code}"
    elif attempt.error_class:
        text = f"{mark} {attempt.error_class}: {attempt.error or ''}"
    else:
        text = f"{mark} {attempt.status}"
    if attempt.duration_ms is not None:
        text += f" in {attempt.duration_ms} ms"
    return escape(text)


class AttemptsTable(Table):
    BINDINGS = [Binding("enter", "select_cursor", "Show Data")]


class AttemptsPanel(ApiCalls, Vertical):
    """The Send Attempts list, read again every poll interval while it is shown: new attempts appear and a
    sending one turns succeeded or failed in place."""

    DEFAULT_CSS = """
    AttemptsPanel { height: 1fr; }
    AttemptsPanel #attempts-title { height: 1; padding: 0 1; text-style: bold; background: $boost; }
    """
    BINDINGS = [
        Binding("r", "refresh", "Refresh"),
        Binding("R", "resend", "Resend"),
        Binding("f", "filter", "Filter by status and event", show=False),
        Binding("F", "resend_failed", "Resend all failed since…", show=False),
    ]

    def __init__(self, tenant: str, sub_id: int | None = None, *, title: str = "Send Attempts"):
        super().__init__()
        self.tenant, self.sub_id, self.title = tenant, sub_id, title
        self.status: str | None = None
        self.event_type: str | None = None
        self.attempts: dict[str, Attempt] = {}
        self._loading = False
        self._loaded = False
        columns = ["ID", "Creation time", "Webhook Event", "Status", "Code", "Duration", "Webhook Event Id"]
        if sub_id is None:
            columns.insert(1, "Sub")
        self.columns = columns

    def compose(self) -> ComposeResult:
        yield Static(id="attempts-title")
        yield AttemptsTable(self.columns)

    def on_mount(self) -> None:
        self.render_title()
        self.refresh_data()
        self.set_interval(self.app.poll_interval, self.poll)  # type: ignore[attr-defined]

    def focus_table(self) -> None:
        self.query_one(AttemptsTable).focus()

    def render_title(self) -> None:
        title = Text(self.title)
        title.append(f"  ·  {len(self.attempts)} shown" + (f" (newest {LIMIT})" if len(self.attempts) >= LIMIT else ""),
                     style="not bold")
        title.append(f"  ·  status: {self.status or 'all'}  ·  event: {self.event_type or 'all'}", style="not bold")
        if self._loaded and not self.attempts:
            title.append("  ·  no send attempts yet", style="not bold")
        self.query_one("#attempts-title", Static).update(title)

    def poll(self) -> None:
        if self.screen.is_current:  # under another screen it reads again when it is back on top
            self.refresh_data()

    def refresh_data(self) -> None:
        if self._loading:
            return
        self._loading = True
        tenant, sub_id, status, event_type = self.tenant, self.sub_id, self.status, self.event_type

        def read(hooks) -> list[Attempt]:
            return hooks.attempts(tenant, subscription_id=sub_id, status=status, event_type=event_type, limit=LIMIT)

        self.api(read, self.show, self.failed, group="read-attempts", any_error=True)

    def failed(self, error) -> None:
        self._loading = False
        self.app.report_error(error)  # type: ignore[attr-defined]

    def show(self, rows: list[Attempt]) -> None:
        self._loading, self._loaded = False, True
        self.attempts = {str(a.id): a for a in rows}
        table = self.query_one(AttemptsTable)
        table.sync([(str(a.id), self.cells(a)) for a in rows])
        self.render_title()

    def cells(self, a: Attempt) -> list[Text]:
        row = [Text(str(a.id)), cells.when(a.created_at), Text(a.event_type), cells.status(a), cells.code(a),
               cells.duration(a), cells.text(a.event_id)]
        if self.sub_id is None:
            row.insert(1, Text(str(a.subscription_id)))
        return row

    def selected(self) -> Attempt | None:
        key = self.query_one(AttemptsTable).selected_key
        return self.attempts.get(key) if key else None

    def on_data_table_row_selected(self, event: AttemptsTable.RowSelected) -> None:
        event.stop()
        attempt = self.attempts.get(event.row_key.value or "")
        if attempt is not None:
            from alpana_hooks.ui.showdata import ShowDataScreen

            self.app.push_screen(ShowDataScreen(self.tenant, attempt.id))

    def action_refresh(self) -> None:
        self._loading = False
        self.refresh_data()

    def action_resend(self) -> None:
        attempt = self.selected()
        if attempt is not None:
            resend_one(self.app, self.tenant, attempt.id)

    def action_filter(self) -> None:
        def chosen(filters: tuple[str | None, str | None] | None) -> None:
            if filters is not None:
                self.status, self.event_type = filters
                self.attempts = {}
                self._loaded = False
                self.render_title()
                self.action_refresh()

        self.app.push_screen(FilterScreen(self.status, self.event_type), chosen)

    def action_resend_failed(self) -> None:
        self.app.push_screen(ResendFailedScreen(self.tenant, self.sub_id))


class TenantAttemptsPanel(AttemptsPanel):
    """The panel alone on its screen: room in the footer for its filter and resend-failed keys."""

    BINDINGS = [Binding("f", "filter", "Filter"), Binding("F", "resend_failed", "Resend failed…")]


class AttemptsScreen(Screen):
    """The whole tenant's send attempts."""

    BINDINGS = [Binding("escape", "back", "Back", show=False), KEYS]

    def __init__(self, tenant: str):
        super().__init__()
        self.tenant = tenant

    def compose(self) -> ComposeResult:
        yield Header()
        yield TenantAttemptsPanel(self.tenant, title=f"Send Attempts of {self.tenant} (all subscriptions)")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = f"{self.tenant} · send attempts"
        self.query_one(AttemptsPanel).focus_table()

    def on_screen_resume(self) -> None:
        self.refresh_data()  # back from Show Data or a dialog: read again at once

    def refresh_data(self) -> None:
        self.query_one(AttemptsPanel).refresh_data()

    def action_back(self) -> None:
        self.dismiss()


# -- resend --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DisabledTarget:
    """resend refused because the subscription is disabled (the CLI's message; --force would send)."""

    message: str


def resend_one(app, tenant: str, attempt_id: int, *, force: bool = False, done=None) -> None:
    """Resend one attempt (the resend command) in a send worker; a disabled subscription asks first."""

    def call(hooks):
        try:
            return hooks.resend(tenant, attempt_id, force=force)
        except UsageError as error:
            original = hooks.attempt(tenant, attempt_id)
            if not force and hooks.subscription(tenant, original.subscription_id).state == State.DISABLED:
                return DisabledTarget(str(error))
            raise

    def finished(result) -> None:
        if isinstance(result, DisabledTarget):
            app.push_screen(Confirm(result.message, "Resend to the disabled subscription anyway (resend --force)?"),
                            lambda yes: resend_one(app, tenant, attempt_id, force=True, done=done) if yes else None)
            return
        app.notify(f"Attempt {attempt_id} resent as attempt {result.id}: {outcome(result)}", markup=False,
                   severity="error" if result.failed else "information")
        if done is not None:
            done(result)

    app.notify(f"Resending attempt {attempt_id}…", markup=False, timeout=3)
    app.send(call, finished)


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
