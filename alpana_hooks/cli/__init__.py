"""The command-line interface: parse, call the domain, render. No SQL, no HTTP here.

Each command's module is imported when the command is used (cli/groups.py), so `--help` and `list` import
only what they need."""

from __future__ import annotations

import sys

from alpana_hooks.cli.app import app, root, stop_on_sigterm

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the `alpana-hooks` console script: SIGTERM stops every command as Ctrl-C does."""
    stop_on_sigterm()
    if sys.argv[1:2] == ["ui"]:  # the UI's own start-up is slow enough; spare it Typer's parsing (cli/ui.py)
        from alpana_hooks.cli.ui import fast_path

        fast_path(sys.argv[2:])
    root().main(prog_name="alpana-hooks")
