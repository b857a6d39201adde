"""The first screens: the tenant picker and a tenant's webhooks list."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, OptionList, Static

from alpana_hooks import output
from alpana_hooks.model import Attempt, State, Subscription
from alpana_hooks.ui import cells
from alpana_hooks.ui.widgets import KEYS, Confirm, KeysBar, Table, TitleBar
from alpana_hooks.ui.work import ApiCalls

STATE_WIDTH = 30  # "Disabled (reason)" is cut there; the details show it whole
MIN_URL_WIDTH = 16
FIXED_WIDTH = 4 + 20 + 22 + 12  # ID, Event, Last delivery, Recent: each with its padding


class TenantScreen(ApiCalls, Screen):
    """Pick one of the store's tenants, or type one."""

    BINDINGS = [Binding("escape", "focus_list", "List", show=False), KEYS]

    def compose(self) -> ComposeResult:
        yield TitleBar()
        yield Static(Text("Tenant: pick one (enter) or type a name"), classes="title")
        yield Input(placeholder="tenant name", id="tenant")
        yield Static(id="error", classes="error")
        yield OptionList(id="tenants")
        yield KeysBar()

    def on_mount(self) -> None:
        self.sub_title = "Tenants"
        self.query_one(OptionList).focus()
        self.api(lambda hooks: hooks.tenants(), self.show)

    def show(self, tenants: list[str]) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options([Text(name) for name in tenants])
        if not tenants:
            self.say(Text("this store has no tenant yet: type one above", style="dim"))
            self.query_one(Input).focus()

    def say(self, message: Text) -> None:
        """A line under the name field (an error class line is hidden while empty)."""
        line = self.query_one("#error", Static)
        line.update(message)
        line.add_class("shown")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.open(str(event.option.prompt))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        name = event.value.strip()
        # the API checks the name (the CLI's message when it is not one)
        self.api(lambda hooks: hooks.subscriptions(name), lambda _: self.open(name),
                 lambda error: self.say(cells.text(str(error))))

    def open(self, tenant: str) -> None:
        self.app.push_screen(WebhooksScreen(tenant))

    def action_focus_list(self) -> None:
        self.query_one(OptionList).focus()


Rows = list[tuple[Subscription, list[Attempt]]]


def read_webhooks(hooks, tenant: str) -> Rows:
    """What the list shows: the tenant's subscriptions (the list command), each with its latest attempts
    (attempts list --subscription N --limit 10)."""
    return [(sub, hooks.attempts(tenant, subscription_id=sub.id, limit=cells.SPARK_LENGTH))
            for sub in hooks.subscriptions(tenant)]


class WebhooksTable(Table):
    BINDINGS = [Binding("enter", "select_cursor", "Details")]


class WebhooksScreen(ApiCalls, Screen):
    """A tenant's webhook subscriptions: event, state, last delivery, the recent outcomes and URL."""

    BINDINGS = [
        Binding("a", "add", "Add"),
        Binding("e", "edit", "Edit"),
        Binding("x", "toggle_state", "On/Off", tooltip="Enable or disable the subscription"),
        Binding("D", "delete", "Delete"),
        Binding("delete", "delete", "Delete", show=False),
        Binding("t", "attempts", "Attempts"),
        Binding("r", "refresh", "Refresh"),
        Binding("T", "tenants", "Tenants", show=False),
        Binding("escape", "back", "Back to tenants", show=False),
        KEYS,
    ]
    COLUMNS = ("ID", "Event", "State", "Last delivery", "Recent", "URL")

    def __init__(self, tenant: str, rows: Rows | None = None):
        super().__init__()
        self.tenant = tenant
        self.subscriptions: dict[str, Subscription] = {}
        self.rows: Rows = []
        self.first_rows = rows  # read already (the app's first screen): shown in its first frame
        self._loading = False

    def compose(self) -> ComposeResult:
        yield TitleBar()
        yield Static(Text(f"Webhook Subscriptions of {self.tenant}"), id="heading", classes="title")
        yield WebhooksTable(self.COLUMNS, id="webhooks")
        yield Static(id="empty", classes="hint")
        yield KeysBar()

    def on_mount(self) -> None:
        self.sub_title = self.tenant
        self.query_one(WebhooksTable).focus()
        if self.first_rows is not None:
            self.show(self.first_rows)
        else:
            self.refresh_data()
        self.set_interval(self.app.poll_interval * 2, self.poll)  # type: ignore[attr-defined]

    def on_screen_resume(self) -> None:
        if self.first_rows is None:
            self.refresh_data()
        self.first_rows = None

    def poll(self) -> None:
        if self.is_current:  # a screen under another one reads again when it is back on top
            self.refresh_data()

    def refresh_data(self) -> None:
        if self._loading:
            return
        self._loading = True
        tenant = self.tenant
        self.api(lambda hooks: read_webhooks(hooks, tenant), self.show, self.failed, group="read-webhooks",
                 any_error=True)

    def failed(self, error) -> None:
        self._loading = False
        self.app.report_error(error)  # type: ignore[attr-defined]

    def show(self, rows: Rows) -> None:
        self._loading = False
        self.rows = rows
        self.subscriptions = {str(sub.id): sub for sub, _ in rows}
        self.render_rows()
        active = sum(sub.state == State.ACTIVE for sub, _ in rows)
        hint = (f"{len(rows)} webhook(s), {active} active" if rows
                else f"no subscriptions in {self.tenant}: press a to add one")
        self.query_one("#empty", Static).update(Text(hint))

    def render_rows(self) -> None:
        """The rows, the URL cut to what the screen has left (the details show it whole)."""
        states = {sub.id: cells.ellipsis(output.state_label(sub), STATE_WIDTH) for sub, _ in self.rows}
        fixed = FIXED_WIDTH + max((len(label) for label in states.values()), default=6) + 2
        url_width = max(MIN_URL_WIDTH, self.size.width - fixed - 2)
        self.query_one(WebhooksTable).sync([
            (str(sub.id), (Text(str(sub.id)), Text(sub.event_type), cells.state(sub, states[sub.id]),
                           cells.last_delivery(attempts), cells.sparkline(attempts),
                           cells.text(cells.ellipsis(sub.url, url_width))))
            for sub, attempts in self.rows
        ])

    def on_resize(self) -> None:
        if self.rows:
            self.render_rows()

    def selected(self) -> Subscription | None:
        key = self.query_one(WebhooksTable).selected_key
        return self.subscriptions.get(key) if key else None

    def on_data_table_row_selected(self, event: WebhooksTable.RowSelected) -> None:
        sub = self.subscriptions.get(event.row_key.value or "")
        if sub is not None:
            from alpana_hooks.ui.details import DetailsScreen

            self.app.push_screen(DetailsScreen(self.tenant, sub.id))

    def action_refresh(self) -> None:
        self.refresh_data()

    def action_add(self) -> None:
        from alpana_hooks.ui.form import SubscriptionForm

        self.app.push_screen(SubscriptionForm(self.tenant))

    def action_edit(self) -> None:
        sub = self.selected()
        if sub is not None:
            from alpana_hooks.ui.form import SubscriptionForm

            self.app.push_screen(SubscriptionForm(self.tenant, sub))

    def action_toggle_state(self) -> None:
        sub = self.selected()
        if sub is not None:
            toggle_state(self, self.tenant, sub)

    def action_delete(self) -> None:
        sub = self.selected()
        if sub is not None:
            confirm_delete(self, self.tenant, sub)

    def action_attempts(self) -> None:
        from alpana_hooks.ui.attempts import AttemptsScreen

        self.app.push_screen(AttemptsScreen(self.tenant))

    def action_tenants(self) -> None:
        stack = self.app.screen_stack
        if len(stack) > 1 and isinstance(stack[-2], TenantScreen):
            self.app.pop_screen()
        else:
            self.app.switch_screen(TenantScreen())

    def action_back(self) -> None:
        stack = self.app.screen_stack
        if len(stack) > 1 and isinstance(stack[-2], TenantScreen):
            self.app.pop_screen()


def toggle_state(caller: ApiCalls, tenant: str, sub: Subscription) -> None:
    """Enable a disabled subscription, disable an active one (the enable / disable commands)."""
    enable = sub.state != State.ACTIVE

    def done(changed: Subscription) -> None:
        caller.notify(f"Subscription {changed.id} is {'Active' if enable else 'Disabled'}.", markup=False)  # type: ignore[attr-defined]
        caller.refresh_data()  # type: ignore[attr-defined]

    caller.api(lambda hooks: hooks.enable(tenant, sub.id) if enable else hooks.disable(tenant, sub.id), done,
               caller.app.report_error, group="write")  # type: ignore[attr-defined]


def confirm_delete(caller: ApiCalls, tenant: str, sub: Subscription, after=None, started=None) -> None:
    """Ask, then delete (the delete command): its unsent attempts are discarded, its history stays."""

    def answered(yes: bool | None) -> None:
        if not yes:
            return
        if started is not None:
            started()

        def done(_) -> None:
            caller.notify(f"Deleted subscription {sub.id}.", markup=False)  # type: ignore[attr-defined]
            if after is not None:
                after()
            else:
                caller.refresh_data()  # type: ignore[attr-defined]

        caller.app.api(lambda hooks: hooks.delete_subscription(tenant, sub.id), done,  # type: ignore[attr-defined]
                       caller.app.report_error, group="write")  # type: ignore[attr-defined]

    caller.app.push_screen(  # type: ignore[attr-defined]
        Confirm(f"Delete subscription {sub.id}?", f"{sub.event_type} -> {sub.url}\n"
                "Its unsent attempts are discarded; its send attempts stay in the history."),
        answered)
