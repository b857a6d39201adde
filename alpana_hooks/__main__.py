"""The `alpana-hooks` console script, and `python -m alpana_hooks`.

It imports nothing heavy itself. `ui` and `emit` given plain options (see plain_options) run without importing
Typer or Click, whose import and building of the command were a tenth of the UI's start-up
(benchmarks/ui_startup.py) and ~55 ms of a ~400 ms emit (benchmarks/throughput.py, figure 2b); every other
command line, --help and any option written another way go to the Typer app (cli/app.py), which parses the same
definitions."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from alpana_hooks.cli.inputs import is_utf8

# The options of the commands that run without Typer, as their Typer commands (cli/ui.py, cli/events.py) declare
# them; tests/test_startup.py checks they are the same. emit's hidden --url (the old --item-url) goes to Typer.
UI_OPTIONS = {"--tenant": "tenant", "-t": "tenant", "--db": "db", "--config": "config"}
EMIT_OPTIONS = {"--tenant": "tenant", "-t": "tenant", "--db": "db", "--config": "config", "--id": "id",
                "--name": "name", "--item-url": "url", "--version": "version", "--copied-from": "copied_from",
                "--target": "target", "--target-id": "target_id", "--target-name": "target_name",
                "--comment-id": "comment_id", "--comment-url": "comment_url", "--data": "data",
                "--event-id": "event_id"}
EMIT_SWITCHES = {"--no-send": "no_send", "--dry-run": "dry_run", "--json": "json"}


def main() -> None:
    """Entry point of the `alpana-hooks` console script: SIGTERM stops every command as Ctrl-C does."""
    stop_on_sigterm()
    command, args = sys.argv[1:2], sys.argv[2:]
    if "_ALPANA_HOOKS_COMPLETE" in os.environ:  # a shell-completion request: Click answers it, whatever the argv
        command = []
    if command == ["ui"]:
        ui_options = plain_options(args, UI_OPTIONS)
        if ui_options is not None:
            raise SystemExit(plainly(lambda: start_ui(ui_options)))
    if command == ["emit"]:
        options = emit_options(args)
        if options is not None:
            raise SystemExit(plainly(lambda: emit(options)))
    from alpana_hooks.cli.app import root

    root().main(prog_name="alpana-hooks")


def stop_on_sigterm() -> None:
    """Let SIGTERM (systemd, kill, a script's cleanup) stop a command like Ctrl-C does."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def plain_options(args: list[str], options: dict[str, str], switches: dict[str, str] | None = None,
                  argument: str | None = None) -> dict[str, str | bool] | None:
    """The options in `args` when each is given at most once, as `--name VALUE`, `--name=VALUE`, `-t VALUE` or a
    bare switch, with the command's one argument (if it takes one) given once, no `--name VALUE` whose value
    starts with "-" and all valid UTF-8; None for anything else (--help, a typo, a missing value, `--`), which
    Typer then parses."""
    switches = switches or {}
    found: dict[str, str | bool] = {}
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        flag, equals, text = arg.partition("=")
        value: str | bool = text
        if argument is not None and not arg.startswith("-"):
            name, value = argument, arg
        elif flag in switches and not equals:
            name, value = switches[flag], True
        elif flag in options and not (equals and not flag.startswith("--")):
            name = options[flag]
            if not equals:
                if not rest or rest[0].startswith("-"):
                    return None
                value = rest.pop(0)
        else:
            return None
        if name in found:
            return None
        found[name] = value
    if argument is not None and argument not in found:
        return None
    if not all(is_utf8(value) for value in found.values() if isinstance(value, str)):
        return None  # Typer's error says so
    return found


def emit_options(args: list[str]) -> dict | None:
    """emit's options as cli/firing.py's emit takes them, or None (see plain_options); --version must be 1 to 18
    ASCII digits, as cli/values.py reads an int."""
    options = plain_options(args, EMIT_OPTIONS, EMIT_SWITCHES, argument="event_type")
    if options is None or "version" not in options:
        return options
    version = str(options["version"])
    if not (version.isascii() and version.isdigit() and len(version) <= 18):
        return None
    return {**options, "version": int(version)}


def plainly(command: Callable[[], int]) -> int:
    """Run a command parsed without Typer, with Typer's error boundary (cli/groups.py): a domain error or Ctrl-C
    is one stderr line and its exit code; a reader that went away (`| head`) ends it with exit 1, as Click does."""
    try:
        return command()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # what is still buffered goes nowhere
        return 1
    except (Exception, KeyboardInterrupt) as exc:
        from alpana_hooks.output import reported

        code = reported(exc)
        if code is None:
            raise
        return code


def start_ui(options: dict) -> int:
    """Run the UI with its options."""
    from alpana_hooks.ui import start

    return start(**options)


def emit(options: dict) -> int:
    """Run emit with its options."""
    from alpana_hooks.cli import firing

    return firing.emit(**options)


if __name__ == "__main__":
    main()
