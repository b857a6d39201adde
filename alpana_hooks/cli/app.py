"""The Typer app, its command groups, the shared options and the one error boundary."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from alpana_hooks import output
from alpana_hooks.errors import ExitCode, HooksError, UsageError


class ErrorBoundary(TyperGroup):
    """Turns every domain error into one stderr line and its exit code, for all commands."""

    def parse_args(self, ctx, args):
        """Refuse arguments that are not valid UTF-8 (decoded as lone surrogates) before any command runs."""
        for arg in args:
            if any("\ud800" <= ch <= "\udfff" for ch in arg):
                output.error(f"argument {arg!r} is not valid UTF-8")
                raise typer.Exit(int(ExitCode.USAGE))
        return super().parse_args(ctx, args)

    def get_command(self, ctx, cmd_name):
        """The command, its options' help and completion tidied (see helptext)."""
        from alpana_hooks.cli.helptext import tidy

        command = super().get_command(ctx, cmd_name)
        if command is not None:
            tidy(command)
        return command

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except HooksError as exc:
            output.error(str(exc))
            raise typer.Exit(int(exc.exit_code)) from None
        except Exception as exc:
            # only a command that opened the database can fail in it
            errors = tuple(m.DatabaseError if m.__name__ == "sqlite3" else m.Error
                           for m in (sys.modules.get("sqlite3"), sys.modules.get("psycopg")) if m is not None)
            if not errors or not isinstance(exc, errors):
                raise
            output.error("database error: " + " ".join(str(exc).split()))
            raise typer.Exit(int(ExitCode.UNEXPECTED)) from None
        except KeyboardInterrupt:
            output.error("interrupted")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None


def _group(help_text: str) -> typer.Typer:
    return typer.Typer(cls=ErrorBoundary, help=help_text, no_args_is_help=True, add_completion=False,
                       pretty_exceptions_show_locals=False, rich_markup_mode=None)


app = typer.Typer(
    cls=ErrorBoundary,
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
app.add_typer(headers_app, name="headers")
app.add_typer(secret_app, name="secret")
app.add_typer(config_app, name="config")
app.add_typer(events_app, name="events")
app.add_typer(attempts_app, name="attempts")

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


def stop_on_sigterm() -> None:
    """Let SIGTERM (systemd, kill, a script's cleanup) stop a command like Ctrl-C does (main() installs it)."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def confirm(question: str, *, command: str, cancelled: str) -> None:
    """Ask a person on a terminal; without one the command needs --yes (exit 2); a 'no' exits 2 too."""
    if sys.stdin is None or not sys.stdin.isatty():
        raise UsageError(f"{command} needs --yes when not run from a terminal")
    if not typer.confirm(question):
        output.message(f"cancelled: {cancelled}")
        raise typer.Exit(int(ExitCode.USAGE))
