"""View Webhook Event: one event (type, id, tenant, time, payload) and its send attempts across subscriptions.

The same API call as `events show`; the payload is escaped like every other text from outside.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from alpana_hooks.model import Attempt, Event, Status
from alpana_hooks.ui import cells
from alpana_hooks.ui.widgets import KEYS, KeysBar, RecordScreen, Table, TitleBar

COLUMNS = ["ID", "Sub", "Creation time", "Status", "Code", "Duration", "Trigger"]


class EventAttemptsTable(Table):
    BINDINGS = [Binding("enter", "select_cursor", "Show Data")]


class EventScreen(RecordScreen):
    """An event's fields, its payload and every attempt it caused; read again while one is unfinished."""

    DEFAULT_CSS = """
    EventScreen VerticalScroll { padding: 0 1; }
    EventScreen .section { text-style: bold; margin: 1 0 0 0; color: $accent; }
    EventScreen EventAttemptsTable { height: auto; max-height: 12; }
    """
    BINDINGS = [Binding("escape", "back", "Back"), Binding("r", "refresh", "Refresh"), KEYS]

    def __init__(self, tenant: str, event_id: str):
        super().__init__()
        self.tenant, self.event_id = tenant, event_id
        self.attempts: list[Attempt] = []

    def compose(self) -> ComposeResult:
        yield TitleBar()
        with VerticalScroll():
            yield Static(id="fields")
            yield Static(id="attempts-title", classes="section")
            yield EventAttemptsTable(COLUMNS)
            yield Static(Text("Data (payload)"), classes="section")
            yield Static(id="payload")
        yield KeysBar()

    def on_mount(self) -> None:
        self.start(f"{self.tenant} · webhook event {self.event_id}", self.query_one(EventAttemptsTable))

    def unfinished(self) -> bool:
        return any(a.status in (Status.PENDING, Status.SENDING) for a in self.attempts)

    def refresh_data(self) -> None:
        tenant, event_id = self.tenant, self.event_id
        self.api(lambda hooks: hooks.event(tenant, event_id), self.show, self.gone, group="read-event",
                 exclusive=True)

    def show(self, loaded: tuple[Event, list[Attempt]]) -> None:
        event, self.attempts = loaded
        self.query_one("#fields", Static).update(cells.fields([
            ("Webhook Event", cells.text(event.type)),
            ("Webhook Event Id", cells.text(event.event_id)),
            ("Tenant", cells.text(event.tenant)),
            ("Creation time", cells.when(event.created_at, year=True)),
        ]))
        count = len(self.attempts)
        self.query_one("#attempts-title", Static).update(
            Text(f"Send attempts ({count})" if count else "Send attempts: none (no subscription was listening)"))
        self.query_one(EventAttemptsTable).sync([(str(a.id), attempt_cells(a)) for a in self.attempts])
        self.query_one("#payload", Static).update(Text(cells.pretty_json(event.body)))

    def on_data_table_row_selected(self, event: EventAttemptsTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value:
            from alpana_hooks.ui.showdata import ShowDataScreen

            self.app.push_screen(ShowDataScreen(self.tenant, int(event.row_key.value)))


def attempt_cells(attempt: Attempt) -> list[Text]:
    return [Text(str(attempt.id)), Text(str(attempt.subscription_id)), cells.when(attempt.created_at),
            cells.status(attempt), cells.code(attempt), cells.duration(attempt), Text(str(attempt.trigger))]
