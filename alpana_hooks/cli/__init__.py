"""The command-line interface: parse, call the domain, render. No SQL, no HTTP here.

Each command's module is imported when the command is used (cli/groups.py), so `--help` and `list` import
only what they need."""

from __future__ import annotations

from alpana_hooks.cli.app import app, root, stop_on_sigterm

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the `alpana-hooks` console script: SIGTERM stops every command as Ctrl-C does."""
    stop_on_sigterm()
    root().main(prog_name="alpana-hooks")
