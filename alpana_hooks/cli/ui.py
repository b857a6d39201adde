"""The `ui` command: the terminal UI (alpana_hooks.ui), imported only when it runs.

`alpana-hooks ui` with plain options never gets here: the console script (alpana_hooks.__main__) starts the UI
without importing Typer. This definition gives it --help and parses any other way of writing the options."""

from __future__ import annotations

import typer

from alpana_hooks.cli.app import ConfigOpt, DbOpt, TenantOpt, app


@app.command()
def ui(tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None):
    """Terminal UI: a tenant's webhooks, details, send attempts (live), Show Data and Resend, on the keyboard."""
    from alpana_hooks.ui import start

    code = start(tenant=tenant, db=db, config=config)
    if code:
        raise typer.Exit(code)
