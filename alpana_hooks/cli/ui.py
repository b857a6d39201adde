"""The `ui` command: the terminal UI (alpana_hooks.ui), imported only when it runs."""

from __future__ import annotations

import sys

import typer

from alpana_hooks.cli.app import ConfigOpt, DbOpt, TenantOpt, app
from alpana_hooks.cli.context import settings_for
from alpana_hooks.errors import UsageError

INSTALL_HINT = "the terminal UI needs Textual: pip install 'alpana-hooks[ui]'"


@app.command()
def ui(tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None):
    """Terminal UI: a tenant's webhooks, details, send attempts (live), Show Data and Resend, on the keyboard."""
    from alpana_hooks import validate

    settings = settings_for(db, config, tenant)
    chosen = validate.tenant(settings.tenant) if settings.tenant else None  # none: the UI asks
    try:
        import textual  # noqa: F401
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("ui needs a terminal (stdin and stdout)")
    from alpana_hooks.ui import run

    code = run(settings, chosen)
    if code:
        raise typer.Exit(code)
