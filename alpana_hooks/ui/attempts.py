"""Send attempts of a subscription or of the whole tenant: live, filtered, resend, resend failed since…"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Static

from alpana_hooks.errors import UsageError
from alpana_hooks.model import Attempt, State
from alpana_hooks.ui import cells
from alpana_hooks.ui.widgets import KEYS, Confirm, KeysBar, Table, TitleBar
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
        Binding("w", "view_event", "Event", tooltip="View Webhook Event: the event and all its attempts"),
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

    def action_view_event(self) -> None:
        attempt = self.selected()
        if attempt is not None:
            from alpana_hooks.ui.event import EventScreen

            self.app.push_screen(EventScreen(self.tenant, attempt.event_id))

    def action_filter(self) -> None:
        def chosen(filters: tuple[str | None, str | None] | None) -> None:
            if filters is not None:
                self.status, self.event_type = filters
                self.attempts = {}
                self._loaded = False
                self.render_title()
                self.action_refresh()

        from alpana_hooks.ui.dialogs import FilterScreen

        self.app.push_screen(FilterScreen(self.status, self.event_type), chosen)

    def action_resend_failed(self) -> None:
        from alpana_hooks.ui.dialogs import ResendFailedScreen

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
        yield TitleBar()
        yield TenantAttemptsPanel(self.tenant, title=f"Send Attempts of {self.tenant} (all subscriptions)")
        yield KeysBar()

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
