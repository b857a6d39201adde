"""The `alpana-hooks` console script, and `python -m alpana_hooks`.

It imports nothing heavy itself: `alpana-hooks ui` with plain options (see ui_options) starts the UI without
importing Typer or Click, whose import is a tenth of the UI's start-up (benchmarks/ui_startup.py); every other
command line goes to the Typer app (alpana_hooks.cli)."""

from __future__ import annotations

import sys

# ui's options, as its Typer command (cli/ui.py) declares them; tests/test_startup.py checks they are the same
UI_OPTIONS = {"--tenant": "tenant", "-t": "tenant", "--db": "db", "--config": "config"}


def main() -> None:
    """Entry point of the `alpana-hooks` console script: SIGTERM stops every command as Ctrl-C does."""
    stop_on_sigterm()
    if sys.argv[1:2] == ["ui"]:
        options = ui_options(sys.argv[2:])
        if options is not None:
            raise SystemExit(start_ui(options))
    from alpana_hooks.cli import root

    root().main(prog_name="alpana-hooks")


def stop_on_sigterm() -> None:
    """Let SIGTERM (systemd, kill, a script's cleanup) stop a command like Ctrl-C does."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def ui_options(args: list[str]) -> dict[str, str] | None:
    """ui's options in `args` when each is given at most once as `--name VALUE`, `--name=VALUE` or `-t VALUE`,
    all valid UTF-8; None for anything else (--help, a typo, a missing value), which Typer then parses."""
    found: dict[str, str] = {}
    rest = list(args)
    while rest:
        flag, equals, value = rest.pop(0).partition("=")
        if flag not in UI_OPTIONS or UI_OPTIONS[flag] in found or (equals and not flag.startswith("--")):
            return None
        if not equals:
            if not rest or rest[0].startswith("-"):
                return None
            value = rest.pop(0)
        found[UI_OPTIONS[flag]] = value
    try:
        "".join(found.values()).encode()
    except UnicodeEncodeError:  # bytes that were not UTF-8 (decoded as lone surrogates): Typer's error says so
        return None
    return found


def start_ui(options: dict[str, str]) -> int:
    """Run the UI; a domain error or Ctrl-C is one stderr line and its exit code, as under Typer (cli/groups.py)."""
    from alpana_hooks.errors import failure
    from alpana_hooks.ui import start

    try:
        return start(**options)
    except (Exception, KeyboardInterrupt) as exc:
        known = failure(exc)
        if known is None:
            raise
        from alpana_hooks.output import error

        error(known[0])
        return known[1]


if __name__ == "__main__":
    main()
