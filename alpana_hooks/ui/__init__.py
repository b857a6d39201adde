"""`alpana-hooks ui`: the product document's admin screens in the terminal (Textual).

Webhooks list, add / edit form, details, Send Attempts (live, Refresh, Resend, resend failed since…)
and Show Data. The screens call the Python API only (alpana_hooks.api.Hooks), each call in a thread
worker with its own Hooks; they render with alpana_hooks.output's escaping and masking.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alpana_hooks.config import Settings


def run(settings: Settings, tenant: str | None) -> int:
    """Run the UI on this terminal until q or Ctrl-C; returns the exit code."""
    from alpana_hooks.ui.app import HooksApp

    app = HooksApp(settings, tenant)
    app.run()
    return app.return_code or 0
