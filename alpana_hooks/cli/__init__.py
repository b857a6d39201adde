"""The command-line interface: parse, call the domain, render. No SQL, no HTTP here."""

from __future__ import annotations

from alpana_hooks.cli import apply, attempts, db, events, settings, subscriptions, tools  # noqa: F401 - registers the commands
from alpana_hooks.cli.app import app


def main() -> None:
    """Entry point of the `alpana-hooks` console script."""
    app(prog_name="alpana-hooks")
