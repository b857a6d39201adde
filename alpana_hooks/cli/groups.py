"""The command groups: the error boundary every group has, and Click's lazily loaded group for the root.

The root (LazyGroup) imports and builds a command only when it is used: `alpana-hooks list` imports the module
that defines `list` and converts only that function's parameters. `--help` and a shell-completion request list
every command with a parameterless stand-in that has the same help, taken from the same Typer registration
(docstring or help=). tests/test_startup.py checks that the lazy root prints what Typer's eager build prints.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import TypeVar

import typer
import typer.main
from typer._click import Command
from typer.core import TyperCommand, TyperGroup
from typer.models import CommandInfo, TyperInfo

from alpana_hooks.cli.inputs import is_utf8
from alpana_hooks.cli.values import read_plainly
from alpana_hooks.errors import ExitCode

T = TypeVar("T")
read_plainly()  # option values without pydantic where they are plain (cli/values.py)

# Every top-level command, in the order --help lists it, and the module under cli/ that defines it: subscriptions
# first (what a person sets up), then firing and sending, configuration as code, receiver-side tools, operations.
COMMANDS = {
    "add": "subscriptions", "list": "subscriptions", "show": "subscriptions", "edit": "subscriptions",
    "enable": "subscriptions", "disable": "subscriptions", "delete": "subscriptions",
    "headers": "subscriptions", "secret": "subscriptions",
    "emit": "events", "ping": "events", "deliver": "attempts", "resend": "attempts", "attempts": "attempts",
    "events": "events", "stats": "operator", "replay-missing": "operator", "filter": "operator",
    "export": "apply", "apply": "apply",
    "listen": "tools", "verify": "tools",
    "tenants": "subscriptions", "ui": "ui", "config": "settings", "db": "db",
}


def _error(text: str) -> None:
    from alpana_hooks import output

    output.error(text)


def guarded(call: Callable[[], T]) -> T:
    """call(), with a domain error, a database error or Ctrl-C turned into one stderr line and typer.Exit(code)."""
    try:
        return call()
    except (Exception, KeyboardInterrupt) as exc:
        from alpana_hooks import output

        code = output.reported(exc)
        if code is None:
            raise
        raise typer.Exit(code) from None


class ErrorBoundary(TyperGroup):
    """Turns every domain error into one stderr line and its exit code, for all commands."""

    def parse_args(self, ctx, args):
        """Refuse arguments that are not valid UTF-8 before any command runs."""
        for arg in args:
            if not is_utf8(arg):
                _error(f"argument {arg!r} is not valid UTF-8")
                raise typer.Exit(int(ExitCode.USAGE))
        return super().parse_args(ctx, args)

    def invoke(self, ctx):
        return guarded(lambda: super(ErrorBoundary, self).invoke(ctx))

    def get_command(self, ctx, cmd_name):
        """The command, its options' help and completion tidied (see helptext)."""
        return tidied(super().get_command(ctx, cmd_name))


def tidied(command: T) -> T:
    """A command with its options' metavars, choices and completion as helptext makes them (None stays None)."""
    if command is not None:
        from alpana_hooks.cli.helptext import tidy

        tidy(command)
    return command


def registration(name: str) -> CommandInfo | TyperInfo:
    """The Typer registration of top-level command `name`, importing the module that defines it."""
    from alpana_hooks.cli.app import app

    importlib.import_module(f"alpana_hooks.cli.{COMMANDS[name]}")
    for info in app.registered_commands:
        if (info.name or typer.main.get_command_name(info.callback.__name__)) == name:  # type: ignore[union-attr]
            return info
    return next(group for group in app.registered_groups if group.name == name)


def build(name: str) -> Command:
    """The Click command of `name`, made as Typer's eager build of the whole app makes it."""
    from alpana_hooks.cli.app import app

    info = registration(name)
    if isinstance(info, CommandInfo):
        return typer.main.get_command_from_info(info, pretty_exceptions_short=app.pretty_exceptions_short,
                                                rich_markup_mode=app.rich_markup_mode)
    return typer.main.get_group_from_info(info, pretty_exceptions_short=app.pretty_exceptions_short,
                                          rich_markup_mode=app.rich_markup_mode, suggest_commands=app.suggest_commands)


def stand_in(name: str) -> TyperCommand:
    """A parameterless command with the help, short help and flags of `name`: all that a listing shows."""
    info = registration(name)
    if isinstance(info, CommandInfo):
        text = inspect.cleandoc(info.help) if info.help is not None else inspect.getdoc(info.callback)
        return TyperCommand(name=name, help=text, short_help=info.short_help, hidden=info.hidden,
                            deprecated=info.deprecated)
    solved = typer.main.solve_typer_info_defaults(info)
    return TyperCommand(name=name, help=solved.help, short_help=solved.short_help, hidden=solved.hidden,
                        deprecated=solved.deprecated)


class Commands(MutableMapping[str, Command]):
    """The root's commands: every name in COMMANDS order; a command is built the first time it is looked up."""

    def __init__(self, built: Mapping[str, Command] | None = None):
        self._built = dict(built or {})

    def __getitem__(self, name: str) -> Command:
        if name not in self._built:
            if name not in COMMANDS:
                raise KeyError(name)
            self._built[name] = build(name)
        return self._built[name]

    def __setitem__(self, name: str, command: Command) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._built[name]

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (name for name in self._built if name not in COMMANDS)

    def __contains__(self, name) -> bool:
        return name in COMMANDS or name in self._built

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def listed(self, name: str) -> Command:
        """The command if it is built already, else its stand-in."""
        return self._built[name] if name in self._built else stand_in(name)


class LazyGroup(ErrorBoundary):
    """The root group: commands in COMMANDS order, each built on first use; listings use stand-ins."""

    def __init__(self, *, commands: Mapping[str, Command] | None = None, **attrs):
        super().__init__(**attrs)
        self.commands = Commands(commands)
        self._listing = False

    def list_commands(self, ctx) -> list[str]:
        return list(self.commands)

    def get_command(self, ctx, cmd_name):
        if self._listing:
            assert isinstance(self.commands, Commands)
            return self.commands.listed(cmd_name) if cmd_name in self.commands else None
        return tidied(self.commands.get(cmd_name))

    @contextmanager
    def listing(self):
        """While the group lists its commands (help, completion), get_command answers with stand-ins."""
        self._listing = True
        try:
            yield
        finally:
            self._listing = False

    def format_commands(self, ctx, formatter) -> None:
        with self.listing():
            super().format_commands(ctx, formatter)

    def shell_complete(self, ctx, incomplete):
        with self.listing():
            return super().shell_complete(ctx, incomplete)
