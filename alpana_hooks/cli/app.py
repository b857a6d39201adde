"""The Typer app, its command groups, --version and the shared options (the groups' classes: cli/groups.py)."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from alpana_hooks.cli.groups import ErrorBoundary, LazyGroup
from alpana_hooks.errors import ExitCode, UsageError


def _group(help_text: str) -> typer.Typer:
    return typer.Typer(cls=ErrorBoundary, help=help_text, no_args_is_help=True, add_completion=False,
                       pretty_exceptions_show_locals=False, rich_markup_mode=None)


app = typer.Typer(
    cls=LazyGroup,
    help="Manage Alpana Server webhook subscriptions per tenant, fire events and inspect send attempts.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)
headers_app = _group("Add, remove and list a subscription's extra headers.")
secret_app = _group("Show or rotate a subscription's signing secret.")
config_app = _group("Inspect the effective settings.")
events_app = _group("The event catalog and the events recorded.")
attempts_app = _group("Send attempts: list (live with --watch), show, prune.")
filter_app = _group("Check a subscription's payload filter against an event.")
# Each group is added to `app` by the module that defines its commands, so a group is never built empty.


def _print_version(value: bool) -> None:
    if value:
        from alpana_hooks import __version__

        typer.echo(f"alpana-hooks {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_print_version,
                                          help="Print the version and exit.")] = False,
) -> None:
    """The options of alpana-hooks itself (the help text is the app's)."""


def root() -> LazyGroup:
    """The root group as Typer's get_command(app) makes it, but with no command built yet: each is built on use."""
    import copy

    bare = copy.copy(app)
    bare.registered_commands, bare.registered_groups = [], []
    group = typer.main.get_command(bare)
    assert isinstance(group, LazyGroup)
    return group


MAX_ID = 2**63 - 1  # SQLite's largest integer: a larger id or limit is exit 2, not an OverflowError
DbOpt = Annotated[Optional[str], typer.Option("--db", help="Database file or postgresql:// URL [env ALPANA_HOOKS_DB].", show_default=False)]
ConfigOpt = Annotated[
    Optional[str], typer.Option("--config", help="Config file [env ALPANA_HOOKS_CONFIG].", show_default=False)
]
TenantOpt = Annotated[
    Optional[str], typer.Option("--tenant", "-t", help="Tenant [env ALPANA_HOOKS_TENANT].", show_default=False)
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
WideOpt = Annotated[bool, typer.Option("--wide", help="Every column, whole values, however wide the terminal.")]
RevealOpt = Annotated[bool, typer.Option("--reveal", help="Show secret values instead of masking them.")]


class lazy:
    """A module imported on first attribute access, so --help and list do not pay for what they never use."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str):
        import importlib

        return getattr(importlib.import_module(self._name), attr)


def confirm(question: str, *, command: str, cancelled: str) -> None:
    """Ask a person on a terminal; without one the command needs --yes (exit 2); a 'no' exits 2 too."""
    if sys.stdin is None or not sys.stdin.isatty():
        raise UsageError(f"{command} needs --yes when not run from a terminal")
    if not typer.confirm(question):
        from alpana_hooks import output

        output.message(f"cancelled: {cancelled}")
        raise typer.Exit(int(ExitCode.USAGE))


def report_sent(attempts: list, *, json: bool, json_head: dict | None = None) -> None:
    """The attempts a command just sent: their table with "sent N: … succeeded, … failed" (JSON: json_head, the
    counts and the attempts); exit 4 if any failed."""
    from alpana_hooks import output

    failed = sum(a.failed for a in attempts)
    counts = {"sent": len(attempts), "succeeded": len(attempts) - failed, "failed": failed}
    output.render(attempts, json=json, as_table=output.emit_table,
                  as_json=lambda rows: {**(json_head or {}), **counts, "attempts": [output.attempt_json(a) for a in rows]},
                  note=f"sent {counts['sent']}: {counts['succeeded']} succeeded, {counts['failed']} failed")
    if failed:
        raise typer.Exit(int(ExitCode.DELIVERY_FAILED))
