"""The start-up baseline: a minimal Typer app with the same `--help` shape as alpana-hooks, and a
`list` that opens the SQLite file with sqlite3 and prints a rich table of the tenant's subscriptions.

It does no configuration, no migrations, no validation: what is left is the floor that Typer, rich
and sqlite3 set for any CLI built on them. Database: --db or ALPANA_HOOKS_DB.
"""

import os
from typing import Annotated, Optional

import typer

SETTINGS = dict(no_args_is_help=True, pretty_exceptions_show_locals=False, rich_markup_mode=None)
app = typer.Typer(help="Manage Alpana Server webhook subscriptions per tenant, fire events and inspect send "
                       "attempts.", **SETTINGS)

# The same top-level commands and help lines as alpana-hooks (stubs: only `list` does anything).
COMMANDS = {
    "export": "Print the tenant's subscriptions as a TOML file for `apply` (never the signing secrets).",
    "apply": "Make the tenant's subscriptions match a TOML file: create, update and (with --prune) delete.",
    "emit": "Fire an event to every active subscription of the tenant for its type; one row per attempt.",
    "ping": "Send a `ping` test event to one subscription (even a disabled one); exit 4 if it fails.",
    "resend": "Send an attempt's payload again as a new attempt (same webhook-id, fresh signature), or with "
              "--failed every delivery that failed and was not followed by a success.",
    "deliver": "Send what is due in every tenant: pending attempts, scheduled retries, claims left by a crash.",
    "add": "Add a webhook subscription; prints its id and its signing secret (shown once).",
    "list": None,
    "show": "Show one subscription: configuration, state, headers and its latest send attempts.",
    "edit": "Change a subscription's URL, event type or description.",
    "delete": "Delete a subscription (its send attempts stay in the history).",
    "enable": "Enable a subscription: its event triggers the webhook again.",
    "disable": "Disable a subscription: its event no longer triggers the webhook.",
    "listen": "Run a local receiver that prints each delivery and whether its signature verifies.",
    "verify": "Check one recorded delivery's signature and timestamp; exit 5 if they do not verify.",
}
GROUPS = {
    "headers": "Add, remove and list a subscription's extra headers.",
    "secret": "Show or rotate a subscription's signing secret.",
    "config": "Inspect the effective settings.",
    "events": "The event catalog and the events recorded.",
    "attempts": "Send attempts: list (live with --watch), show, prune.",
}


def _stub() -> None:
    """A command of the same name and help; does nothing."""


def list_(
    event: Annotated[Optional[str], typer.Option("--event", "-e", help="Only this event type.", show_default=False)] = None,
    state: Annotated[Optional[str], typer.Option("--state", help="active or disabled.", show_default=False)] = None,
    tenant: Annotated[Optional[str], typer.Option("--tenant", "-t", help="Tenant.", show_default=False)] = None,
    db: Annotated[Optional[str], typer.Option("--db", help="Database file.", show_default=False)] = None,
    config: Annotated[Optional[str], typer.Option("--config", help="Config file.", show_default=False)] = None,
    json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
):
    """List the tenant's webhook subscriptions."""
    import sqlite3

    from rich.console import Console
    from rich.table import Table

    conn = sqlite3.connect(db or os.environ["ALPANA_HOOKS_DB"])
    rows = conn.execute(
        "SELECT s.id, s.event_type, s.url, s.state, coalesce(group_concat(h.name, ', '), ''), s.description"
        " FROM subscriptions s LEFT JOIN subscription_headers h ON h.subscription_id = s.id"
        " WHERE s.tenant = ? AND (? IS NULL OR s.event_type = ?) AND (? IS NULL OR s.state = ?)"
        " GROUP BY s.id ORDER BY s.id",
        (tenant, event, event, state, state),
    ).fetchall()
    conn.close()
    grid = Table(title_justify="left")
    for name in ("ID", "Event", "URL", "State", "Headers", "Description"):
        grid.add_column(name, overflow="fold")
    for sub_id, event_type, url, sub_state, headers, description in rows:
        grid.add_row(str(sub_id), event_type, url, sub_state.capitalize(), headers, description)
    Console(markup=False, highlight=False, emoji=False).print(grid)


for _name, _help in COMMANDS.items():
    app.command(_name, help=_help)(_stub if _help else list_)
for _name, _help in GROUPS.items():
    _group = typer.Typer(help=_help, **SETTINGS)
    _group.command("list")(_stub)
    app.add_typer(_group, name=_name)

if __name__ == "__main__":
    app()
