"""A webhook subscription's details: configuration, headers, secret, and its Webhook Send Attempts."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from alpana_hooks.model import Secret, State, Subscription
from alpana_hooks.output import escape
from alpana_hooks.ui import cells
from alpana_hooks.ui.attempts import AttemptsPanel
from alpana_hooks.ui.widgets import KEYS, Confirm, KeysBar, SecretShown, TitleBar
from alpana_hooks.ui.work import ApiCalls


class DetailsScreen(ApiCalls, Screen):
    """Configuration, headers (masked until v), signing secret (masked until s, c copies), actions."""

    DEFAULT_CSS = """
    DetailsScreen #config { height: auto; max-height: 12; padding: 0 1; }
    DetailsScreen AttemptsPanel { height: 1fr; min-height: 6; }
    """
    BINDINGS = [
        Binding("escape", "back", "Back", show=False),
        Binding("e", "edit", "Edit"),
        Binding("x", "toggle_state", "On/Off", tooltip="Enable or disable the subscription"),
        Binding("p", "ping", "Ping"),
        Binding("D", "delete", "Delete"),
        Binding("delete", "delete", "Delete", show=False),
        Binding("s", "reveal_secret", "Show/hide the signing secret", show=False),
        Binding("c", "copy_secret", "Copy the signing secret (OSC 52)", show=False),
        Binding("v", "reveal_headers", "Show/hide sensitive header values", show=False),
        Binding("k", "rotate", "Rotate the signing secret", show=False),
        KEYS,
    ]

    def __init__(self, tenant: str, sub_id: int):
        super().__init__()
        self.tenant, self.sub_id = tenant, sub_id
        self.sub: Subscription | None = None
        self.secrets: list[Secret] = []
        self.show_secret = self.show_headers = False
        self.being_deleted = False

    def compose(self) -> ComposeResult:
        yield TitleBar()
        with VerticalScroll(id="config"):
            yield Static(id="fields")
        yield AttemptsPanel(self.tenant, self.sub_id, title="Webhook Send Attempts")
        yield KeysBar()

    def on_mount(self) -> None:
        self.sub_title = f"{self.tenant} · subscription {self.sub_id}"
        self.query_one(AttemptsPanel).focus_table()
        self.refresh_data()

    def on_screen_resume(self) -> None:
        self.refresh_data()

    def refresh_data(self) -> None:
        tenant, sub_id = self.tenant, self.sub_id
        self.api(lambda hooks: (hooks.subscription(tenant, sub_id), hooks.secrets(tenant, sub_id)), self.show,
                 self.gone, group="read-details", exclusive=True)
        self.query_one(AttemptsPanel).refresh_data()

    def gone(self, error) -> None:
        if not self.being_deleted:
            self.app.report_error(error)  # type: ignore[attr-defined]
        self.leave()

    def deleting(self) -> None:
        self.being_deleted = True

    def leave(self) -> None:
        """Back to the screen below, once: a read that finds the record gone and the action that removed it
        may both ask."""
        if self.app.screen is self:
            self.dismiss()

    def show(self, loaded: tuple[Subscription, list[Secret]]) -> None:
        self.sub, self.secrets = loaded
        self.render_fields()

    def render_fields(self) -> None:
        sub = self.sub
        if sub is None:
            return
        rows: list[tuple[str, Text]] = [
            ("Subscription", Text(f"{sub.id} in {sub.tenant}")),
            ("Event", Text(sub.event_type)),
            ("URL", cells.text(sub.url)),
            ("Description", cells.text(sub.description)),
            ("State", cells.state(sub)),
            ("Rate limit", Text(sub.rate_limit) if sub.rate_limit else Text("none", style="dim")),
        ]
        if sub.state == State.DISABLED:
            rows.append(("Disabled at", cells.when(sub.disabled_at, year=True)))
        rows += [("Created", cells.when(sub.created_at, year=True)), ("Updated", cells.when(sub.updated_at, year=True))]
        for position, secret in enumerate(self.secrets):
            label = "Signing secret" if position == 0 else "Old secret"
            shown = cells.secret(secret.secret, self.show_secret)
            if secret.expires_at:
                shown.append(f"  (signs until {secret.expires_at[:19].replace('T', ' ')})", style="dim")
            rows.append((label, shown))
        if sub.headers:
            for name, value in sub.headers:
                rows.append((f"Header {escape(name)}", cells.header_value(name, value, self.show_headers)))
        else:
            rows.append(("Headers", Text("(none)", style="dim")))
        self.query_one("#fields", Static).update(cells.fields(rows))

    # -- actions -------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.leave()

    def action_edit(self) -> None:
        if self.sub is not None:
            from alpana_hooks.ui.form import SubscriptionForm

            self.app.push_screen(SubscriptionForm(self.tenant, self.sub))

    def action_toggle_state(self) -> None:
        if self.sub is not None:
            from alpana_hooks.ui.webhooks import toggle_state

            toggle_state(self, self.tenant, self.sub)

    def action_delete(self) -> None:
        if self.sub is not None:
            from alpana_hooks.ui.webhooks import confirm_delete

            confirm_delete(self, self.tenant, self.sub, after=self.leave, started=self.deleting)

    def action_reveal_secret(self) -> None:
        self.show_secret = not self.show_secret
        self.render_fields()

    def action_reveal_headers(self) -> None:
        self.show_headers = not self.show_headers
        self.render_fields()

    def action_copy_secret(self) -> None:
        if self.secrets:
            self.app.copy_to_clipboard(self.secrets[0].secret)
            self.notify("signing secret copied to the clipboard (OSC 52)")

    def action_rotate(self) -> None:
        tenant, sub_id = self.tenant, self.sub_id

        def answered(yes: bool | None) -> None:
            if yes:
                self.api(lambda hooks: hooks.rotate_secret(tenant, sub_id), self.rotated, self.app.report_error,  # type: ignore[attr-defined]
                         group="write")

        self.app.push_screen(Confirm(f"Rotate the signing secret of subscription {sub_id}?",
                                     "The old secret keeps signing too for 24h (secret rotate --grace 24h)."), answered)

    def rotated(self, rotated) -> None:
        self.refresh_data()
        self.app.push_screen(SecretShown(
            f"New signing secret of subscription {self.sub_id}", rotated.secret,
            f"The old one keeps signing until {rotated.old_expires_at:%Y-%m-%d %H:%M} UTC."))

    def action_ping(self) -> None:
        tenant, sub_id = self.tenant, self.sub_id
        self.notify(f"Pinging subscription {sub_id}…", markup=False, timeout=3)

        def done(result) -> None:
            from alpana_hooks.ui.attempts import outcome

            for attempt in result.attempts:
                self.app.notify(f"ping: {outcome(attempt)}", markup=False,
                                severity="error" if attempt.failed else "information")

        self.app.send(lambda hooks: hooks.ping(tenant, sub_id), done)  # type: ignore[attr-defined]

