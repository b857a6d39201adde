"""Add / edit a webhook subscription: URL, event type, description, headers as key/value rows, enabled.

The API checks everything and its HooksError (the CLI's one-line message) is shown under the field it
is about; nothing is saved until the whole form is valid.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Input, Label, Select, Static, Switch

from alpana_hooks import events, output
from alpana_hooks import headers as header_rules
from alpana_hooks.model import State, Subscription
from alpana_hooks.ui import cells
from alpana_hooks.ui.widgets import KeysBar, TitleBar
from alpana_hooks.ui.work import ApiCalls

FIELD_OF_MESSAGE = (  # where a message of the API's checks is shown, by how it starts
    ("invalid URL", "url"), ("subscription ", "url"), ("unknown event type", "event"), ("event type", "event"),
    ("invalid header name", "headers"), ("header ", "headers"), ("invalid value for header", "headers"),
    ("invalid rate limit", "rate-limit"),
)


def shown(value: str) -> str:
    """A stored value as a field shows it: control and format characters as escapes, never raw to the
    terminal. A field left as shown keeps the stored value (see `kept`)."""
    return output.escape(value)


def kept(field: str, stored: str | None) -> str:
    """What a field means: the stored value when the field still shows it, else what was typed."""
    return stored if stored is not None and field == shown(stored) else field


def field_of(message: str) -> str:
    """The form field a validation message is about ('form' when none)."""
    return next((field for prefix, field in FIELD_OF_MESSAGE if message.startswith(prefix)), "form")


class HeaderRow(Horizontal):
    """One extra header: key, value (masked while the key looks sensitive), remove."""

    DEFAULT_CSS = """
    HeaderRow { height: 3; }
    HeaderRow .key { width: 30; }
    HeaderRow .value { width: 1fr; }
    HeaderRow Button { min-width: 5; width: 5; }
    """

    def __init__(self, name: str | None = None, value: str | None = None, reveal: bool = False):
        super().__init__()
        self.stored, self.reveal = (name, value), reveal

    def compose(self) -> ComposeResult:
        name, value = (shown(part or "") for part in self.stored)
        yield Input(name, placeholder="Header key", classes="key")
        yield Input(value, placeholder="Header value", classes="value", password=self.masked(name))
        yield Button("✕", classes="remove", tooltip="Remove this header (ctrl+d)")

    def masked(self, name: str) -> bool:
        return header_rules.is_sensitive(name) and not self.reveal

    @property
    def pair(self) -> tuple[str, str]:
        key, value = self.query(Input)
        name, stored_value = self.stored
        # stripped as the CLI reads 'Key: Value'
        return kept(key.value.strip(), name), kept(value.value.strip(" "), stored_value)

    def set_reveal(self, reveal: bool) -> None:
        self.reveal = reveal
        key, value = self.query(Input)
        value.password = self.masked(key.value)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.has_class("key"):
            self.query_one(".value", Input).password = self.masked(event.value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.remove()


class SubscriptionForm(ApiCalls, Screen):
    """Add a subscription, or edit one (sub given)."""

    DEFAULT_CSS = """
    SubscriptionForm VerticalScroll { padding: 0 1; }
    SubscriptionForm .row { height: auto; }
    SubscriptionForm .label { width: 14; padding: 1 1 0 0; }
    SubscriptionForm .field { width: 1fr; }
    SubscriptionForm Switch { width: auto; }
    SubscriptionForm #headers { height: auto; }
    SubscriptionForm .error { padding: 0 0 0 14; }
    SubscriptionForm #buttons { height: 3; padding: 0 0 0 14; }
    SubscriptionForm #buttons Button { margin: 0 2 0 0; }
    """
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+n", "add_header", "Add header", priority=True),
        Binding("ctrl+d", "remove_header", "Remove header", priority=True),
        Binding("ctrl+r", "reveal", "Reveal values", priority=True),
    ]

    def __init__(self, tenant: str, sub: Subscription | None = None):
        super().__init__()
        self.tenant, self.sub = tenant, sub
        self.reveal = False
        self.saving = False

    def compose(self) -> ComposeResult:
        sub = self.sub
        choices = [(Text(f"{name}  ({events.CATALOG[name].title})"), name) for name in events.EVENT_TYPES]
        yield TitleBar()
        with VerticalScroll():
            yield Static(Text(f"Edit Webhook Subscription {sub.id}" if sub else "Add New Webhook Subscription"),
                         classes="title")
            with Horizontal(classes="row"):
                yield Label("URL", classes="label")
                yield Input(shown(sub.url) if sub else "", placeholder="https://…", id="url", classes="field")
            yield Static(id="url-error", classes="error")
            with Horizontal(classes="row"):
                yield Label("Event", classes="label")
                yield Select(choices, prompt="Select the event that triggers the webhook", id="event", classes="field",
                             value=sub.event_type if sub else Select.NULL)
            yield Static(id="event-error", classes="error")
            with Horizontal(classes="row"):
                yield Label("Description", classes="label")
                yield Input(shown(sub.description) if sub else "", id="description", classes="field")
            with Horizontal(classes="row"):
                yield Label("Rate limit", classes="label")
                yield Input((sub.rate_limit if sub else None) or "", placeholder="none, or 10/s, 600/m, 5000/h",
                            id="rate-limit", classes="field")
            yield Static(id="rate-limit-error", classes="error")
            with Horizontal(classes="row"):
                yield Label("Enabled", classes="label")
                yield Switch(sub.state == State.ACTIVE if sub else True, id="enabled")
            with Horizontal(classes="row"):
                yield Label("Headers", classes="label")
                with Vertical(id="headers"):
                    for name, value in sub.headers if sub else ():
                        yield HeaderRow(name, value)
            yield Static(id="headers-error", classes="error")
            yield Static(id="form-error", classes="error")
            with Horizontal(id="buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Add header", id="add-header")
                yield Button("Cancel", id="cancel")
        yield KeysBar()

    def on_mount(self) -> None:
        self.sub_title = f"{self.tenant} · {'edit' if self.sub else 'add'}"
        self.query_one("#url", Input).focus()

    # -- reading the form ----------------------------------------------------------------------

    def values(self) -> dict:
        event, sub = self.query_one("#event", Select).value, self.sub
        return {
            "url": kept(self.query_one("#url", Input).value.strip(), sub.url if sub else None),
            "event_type": "" if event is Select.NULL else str(event),
            "description": kept(self.query_one("#description", Input).value, sub.description if sub else None),
            "rate_limit": self.query_one("#rate-limit", Input).value.strip(),  # "": no limit
            "enabled": self.query_one("#enabled", Switch).value,
            "headers": [row.pair for row in self.query(HeaderRow) if any(row.pair)],
        }

    def show_errors(self, message: str | None) -> None:
        """One message under the field it is about; the others cleared."""
        where = field_of(message) if message else None
        for field in ("url", "event", "rate-limit", "headers", "form"):
            line = self.query_one(f"#{field}-error", Static)
            line.update(cells.text(message) if field == where and message else "")
            line.set_class(field == where, "shown")

    # -- actions -------------------------------------------------------------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {"save": self.action_save, "cancel": self.action_cancel, "add-header": self.action_add_header}
        if event.button.id in actions:
            actions[event.button.id]()

    def action_cancel(self) -> None:
        self.dismiss(None)

    async def action_add_header(self) -> None:
        row = HeaderRow(reveal=self.reveal)
        await self.query_one("#headers", Vertical).mount(row)
        row.query_one(".key", Input).focus()

    def action_remove_header(self) -> None:
        focused = self.focused
        row = next((node for node in focused.ancestors_with_self if isinstance(node, HeaderRow)), None) \
            if focused else None
        if row is not None:
            row.remove()
            self.query_one("#url", Input).focus()

    def action_reveal(self) -> None:
        self.reveal = not self.reveal
        for row in self.query(HeaderRow):
            row.set_reveal(self.reveal)

    def action_save(self) -> None:
        if self.saving:
            return
        self.saving = True
        values, tenant, sub = self.values(), self.tenant, self.sub
        if sub is None:
            def call(hooks):
                return hooks.add_subscription(tenant, values["event_type"], values["url"], headers=values["headers"],
                                              description=values["description"], disabled=not values["enabled"],
                                              rate_limit=values["rate_limit"] or None)
        else:
            def call(hooks):
                return save_edit(hooks, tenant, sub, values)
        self.api(call, self.saved, self.rejected, group="write", any_error=True)

    def rejected(self, error) -> None:
        """Any refusal, a rule's or the store's, shows in the form (nothing was saved) and the form stays open."""
        self.saving = False
        self.show_errors(cells.error_line(error))

    def saved(self, result) -> None:
        self.saving = False
        self.dismiss(result)
        if self.sub is None:
            from alpana_hooks.ui.widgets import SecretShown

            added = result.subscription
            self.app.push_screen(SecretShown(
                f"Added subscription {added.id}: its signing secret", result.secret,
                "Details shows it again (s) and copies it (c); so does `alpana-hooks secret show`."))
        else:
            self.app.notify(f"Updated subscription {self.sub.id}.", markup=False)


def save_edit(hooks, tenant: str, sub: Subscription, values: dict) -> Subscription:
    """The edit form's changes as one API call (`edit`): the fields that changed (an emptied rate limit is
    `--rate-limit none`), the headers when they did (the whole set), the state when it did; the store applies them in one transaction or not at all."""
    changes = {field: values[field] for field in ("url", "event_type", "description")
               if values[field] != getattr(sub, field)}
    if values["rate_limit"] != (sub.rate_limit or ""):
        changes["rate_limit"] = values["rate_limit"] or "none"
    if list(values["headers"]) != list(sub.headers):
        changes["headers"] = values["headers"]
    if values["enabled"] != (sub.state == State.ACTIVE):
        changes["state"] = State.ACTIVE if values["enabled"] else State.DISABLED
    return hooks.edit_subscription(tenant, sub.id, **changes) if changes else hooks.subscription(tenant, sub.id)
