"""The command-line interface: parse, call the domain, render. No SQL, no HTTP here.

Each command's module is imported when the command is used (cli/groups.py), so `--help` and `list` import
only what they need. The console script is alpana_hooks.__main__:main, which starts `ui` without this package."""

from __future__ import annotations

from alpana_hooks.cli.app import app, root

__all__ = ["app", "root"]
