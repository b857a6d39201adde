"""Help that reads like a tool's (issue 13 point 7): values named for what they hold, choices listed and
completed by TAB, no internal words."""

import re

from conftest import run_cli
from typer.main import get_command

from alpana_hooks.cli.app import app


def every_command_path():
    """(path, click command) of every leaf command, walking the groups."""
    import click

    root = get_command(app)
    pending = [((), root)]
    while pending:
        path, command = pending.pop()
        if hasattr(command, "list_commands"):  # a group
            ctx = click.Context(command)
            pending += [((*path, name), command.get_command(ctx, name)) for name in command.list_commands(ctx)]
        else:
            yield path


def test_no_type_metavars_huge_ranges_or_internal_words_in_any_help(cli):
    paths = list(every_command_path())
    assert len(paths) > 25
    for path in paths:
        text = cli(*path, "--help").stdout
        assert not re.search(r"<[a-z][a-z ,\[\]]*>", text), (path, text)
        assert "9223372036854775807" not in text and "seed" not in text.lower(), (path, text)


def test_choices_are_listed_in_help(cli):
    assert "  --status pending|sending|succeeded|failed\n" in cli("attempts", "list", "--help").stdout
    assert "  --state active|disabled " in cli("list", "--help").stdout
    assert "  --status CODE " in cli("listen", "--help").stdout  # listen's --status is an HTTP code


def complete(words: str) -> str:
    done = run_cli(env={"_ALPANA_HOOKS_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": words})
    assert done.returncode == 0, done.stderr
    return done.stdout.rstrip("\n")


def test_tab_completes_states_statuses_and_event_types():
    assert complete("alpana-hooks list --state ") == "_arguments '*: :((\"active\"\n\"disabled\"))'"
    assert complete("alpana-hooks attempts list --status s") == "_arguments '*: :((\"sending\"\n\"succeeded\"))'"
    assert complete("alpana-hooks emit widget.") == (
        "_arguments '*: :((\"widget.added\"\n\"widget.deleted\"\n\"widget.updated\"))'")
