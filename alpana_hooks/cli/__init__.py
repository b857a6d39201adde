"""The command-line interface: parse, call the domain, render. No SQL, no HTTP here."""

from __future__ import annotations

from alpana_hooks.cli import apply, attempts, db, events, operator, settings, subscriptions, tools, ui  # noqa: F401 - registers the commands
from alpana_hooks.cli.app import app, stop_on_sigterm


def main() -> None:
    """Entry point of the `alpana-hooks` console script: SIGTERM stops every command as Ctrl-C does."""
    stop_on_sigterm()
    app(prog_name="alpana-hooks")
