"""`alpana-hooks ui`: the product document's admin screens in the terminal (Textual).

Webhooks list, add / edit form, details, Send Attempts (live, Refresh, Resend, resend failed since…)
and Show Data. The screens call the Python API only (alpana_hooks.api.Hooks), each call in a thread
worker with its own Hooks; they render with alpana_hooks.output's escaping and masking.

This module imports neither Textual nor Typer: the console script calls start() directly (alpana_hooks.__main__).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from alpana_hooks.errors import UsageError

if TYPE_CHECKING:
    from alpana_hooks.config import Settings

INSTALL_HINT = "the terminal UI needs Textual: pip install 'alpana-hooks[ui]'"


def start(tenant: str | None = None, db: str | None = None, config: str | None = None) -> int:
    """Check the settings, Textual and the terminal, then run the UI; its exit code."""
    from alpana_hooks import validate
    from alpana_hooks.config import load_settings

    settings = load_settings(db=db, config=config, tenant=tenant)
    chosen = validate.tenant(settings.tenant) if settings.tenant else None  # none: the UI asks
    try:
        import textual  # noqa: F401
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("ui needs a terminal (stdin and stdout)")
    return run(settings, chosen)


def run(settings: Settings, tenant: str | None) -> int:
    """Run the UI on this terminal until q or Ctrl-C; returns the exit code."""
    from alpana_hooks.ui.app import HooksApp

    app = HooksApp(settings, tenant)
    app.run()
    return app.return_code or 0
