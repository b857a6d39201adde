"""The Textual app: screens on a stack, API calls in thread workers, sends tracked so leaving is clean."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.app import App
from textual.binding import Binding

from alpana_hooks.ui.work import ApiCalls

if TYPE_CHECKING:
    from alpana_hooks.api import Hooks
    from alpana_hooks.config import Settings
    from alpana_hooks.errors import HooksError

CSS = """
Screen { layout: vertical; }
DataTable { height: 1fr; }
.hint { color: $text-muted; padding: 0 1; height: auto; }
.error { color: $error; padding: 0 1; height: auto; display: none; }
.error.shown { display: block; }
.title { text-style: bold; padding: 0 1; height: 1; }
"""


class HooksApp(ApiCalls, App[int]):
    """alpana-hooks ui: a tenant's webhooks, their details, send attempts and Show Data."""

    TITLE = "alpana-hooks"
    CSS = CSS
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("question_mark", "keys", "Keys"),
    ]

    def __init__(self, settings: Settings, tenant: str | None = None, *, poll_interval: float = 1.0):
        super().__init__()
        self.settings = settings
        self.tenant = tenant
        self.poll_interval = poll_interval
        self.sends_in_flight = 0
        self.stop_sending = threading.Event()  # a bulk resend starts no new batch once this is set
        self.leaving = False

    def on_mount(self) -> None:
        from alpana_hooks.ui.webhooks import TenantScreen, WebhooksScreen, read_webhooks

        tenant = self.tenant
        if tenant is None:
            self.push_screen(TenantScreen())
            return

        def read(rows) -> None:
            self.push_screen(WebhooksScreen(tenant, rows))

        def failed(error) -> None:
            self.push_screen(WebhooksScreen(tenant))
            self.report_error(error)

        # the first screen's data is read while Textual starts, so that its first frame already shows it
        self.api(lambda hooks: read_webhooks(hooks, tenant), read, failed, any_error=True)

    # -- sends -------------------------------------------------------------------------------

    def send(self, call: Callable[[Hooks], Any], done: Callable[[Any], None] | None = None,
             failed: Callable[[HooksError], None] | None = None) -> None:
        """A call that sends (resend, ping, resend failed) in a worker of the app, so that it outlives the
        screen that started it; counted, so that leaving waits until what went out is recorded."""
        from alpana_hooks.errors import HooksError

        if self.leaving:
            self.notify("leaving: no new sends", severity="warning")
            return
        self.sends_in_flight += 1

        def settle() -> None:
            self.sends_in_flight -= 1
            self.refresh_screen()
            if self.leaving and not self.sends_in_flight:
                self.exit(0)

        def succeeded(value: Any) -> None:
            settle()
            if done is not None:
                done(value)

        def errored(error: BaseException) -> None:
            settle()
            if failed is not None and isinstance(error, HooksError):
                failed(error)
            else:
                self.report_error(error)

        self.api(call, succeeded, errored, group="send", any_error=True)

    def refresh_screen(self) -> None:
        """Ask the current screen to read its data again (after a change made here)."""
        refresh = getattr(self.screen, "refresh_data", None)
        if refresh is not None:
            refresh()

    def action_keys(self) -> None:
        """Show (or hide) every key of the screen, the footer's and the others."""
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    async def action_quit(self) -> None:
        """Leave; with sends in flight, start no new one and leave when they are recorded (q again: now)."""
        if self.sends_in_flight and not self.leaving:
            self.leaving = True
            self.stop_sending.set()
            self.notify(f"Leaving once {self.sends_in_flight} send(s) in flight are recorded (each at most "
                        f"{self.settings.timeout_seconds:g} s). Press q again to leave now.", markup=False,
                        timeout=30)
            return
        message = None
        if self.sends_in_flight:
            message = (f"{self.sends_in_flight} send(s) still in flight: they are recorded before this process "
                       "ends; nothing else was sent.")
        self.exit(0, message=message)

    def report_error(self, error: BaseException | None) -> None:
        """An error as one line, never read as markup."""
        from alpana_hooks.output import escape
        from alpana_hooks.ui.cells import error_line

        self.notify(escape(error_line(error)), severity="error", markup=False, timeout=10)
