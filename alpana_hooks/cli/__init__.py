"""The command-line interface: parse, call the domain, render. No SQL, no HTTP here.

The Typer app and its root group are in cli/app.py. Each command's module is imported when the command is used
(cli/groups.py), so `--help` and `list` import only what they need. The console script is
alpana_hooks.__main__:main, which runs `ui` and `emit` with plain options without Typer (cli/firing.py for emit);
this package imports nothing itself, so those two never load it."""
