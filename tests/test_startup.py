"""Start-up: the root group builds a command only when it is used, and what it prints while listing (--help,
shell completion) is what Typer's eager build of the same definitions prints. Times are benchmarks/startup.py's."""

import importlib
import os
import subprocess
import sys

import typer.main

from alpana_hooks import __version__
from alpana_hooks.cli import app, groups, root

# The deliberate order of `alpana-hooks --help`: set up subscriptions, fire and send, configuration as code,
# receiver-side tools, operations.
ORDER = ["add", "list", "show", "edit", "enable", "disable", "delete", "headers", "secret",
         "emit", "ping", "deliver", "resend", "attempts", "events", "stats", "replay-missing", "filter",
         "export", "apply", "listen", "verify", "tenants", "ui", "config", "db"]


def eager():
    """Typer's own build of every definition (all command modules imported first)."""
    for module in set(groups.COMMANDS.values()):
        importlib.import_module(f"alpana_hooks.cli.{module}")
    return typer.main.get_command(app)


def help_of(group, *path: str) -> str:
    """The whole --help text of `group` or of a command under it, as the console script prints it."""
    ctx = group.make_context("alpana-hooks", [], resilient_parsing=True)
    command = group
    for name in path:
        command = command.get_command(ctx, name)
        ctx = command.make_context(name, [], parent=ctx, resilient_parsing=True)
    return command.get_help(ctx)


def completions(group, incomplete: str) -> list[tuple[str, str | None]]:
    ctx = group.make_context("alpana-hooks", [], resilient_parsing=True)
    return [(item.value, item.help) for item in group.shell_complete(ctx, incomplete)]


def test_lazy_help_and_completion_are_the_eager_builds(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    full, lazy = eager(), root()
    assert help_of(lazy) == help_of(full)
    assert completions(lazy, "") == completions(full, "")
    assert completions(lazy, "a") == completions(full, "a") == [
        (name, full.get_command(None, name).get_short_help_str()) for name in ("add", "attempts", "apply")]
    assert not lazy.commands._built, "listing built commands"
    for name in ORDER:
        assert help_of(lazy, name) == help_of(full, name), name


def test_only_the_command_used_is_built():
    lazy = root()
    assert lazy.main(["list", "--help"], standalone_mode=False) == 0
    assert list(lazy.commands._built) == ["list"]


def test_help_lists_the_commands_in_the_deliberate_order():
    text = help_of(root())
    listed = [line.split()[0] for line in text.split("Commands:\n", 1)[1].splitlines() if line.strip()]
    assert listed == ORDER


def test_every_command_is_in_the_registry_under_its_module():
    full = eager()
    assert sorted(full.commands._built) == sorted(ORDER) == sorted(groups.COMMANDS)
    for name, module in groups.COMMANDS.items():
        info = groups.registration(name)
        callback = info.callback if isinstance(info, typer.models.CommandInfo) else \
            info.typer_instance.registered_commands[0].callback
        assert callback.__module__ == f"alpana_hooks.cli.{module}", name


def test_version(cli):
    result = cli("--version")
    assert (result.exit_code, result.stdout, result.stderr) == (0, f"alpana-hooks {__version__}\n", "")


def test_help_and_list_import_no_more_than_they_need(tmp_path):
    """--help: Typer and the command modules only; list: no other command's machinery, no Textual, and no TOML
    parser when there is no config file."""
    probe = ("import sys; from alpana_hooks.__main__ import main\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "print(' '.join(sorted(m for m in sys.modules if m.startswith(('alpana_hooks', 'rich', 'pydantic', "
             "'textual', 'requests', 'tomllib')))), file=sys.stderr)")
    loaded = {}
    env = {name: value for name, value in os.environ.items() if name != "ALPANA_HOOKS_CONFIG"}
    for args in (["--help"], ["list", "--tenant", "acme", "--db", str(tmp_path / "h.db")]):
        done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL, env=env)
        assert done.returncode == 0, done.stderr[-2000:]
        loaded[args[0]] = set(done.stderr.split())
    assert not {m for m in loaded["--help"] if not m.startswith("alpana_hooks.cli")} - {
        "alpana_hooks", "alpana_hooks.__main__", "alpana_hooks.errors"}
    assert not {m for m in loaded["list"] if m.startswith(("textual", "alpana_hooks.ui", "requests", "tomllib",
                                                           "alpana_hooks.dispatch", "alpana_hooks.delivery"))}


def test_group_help_and_completion_parse_no_option_through_pydantic():
    """Typer 0.29 coerces an option that was not given (None) through a pydantic TypeAdapter; cli/values.py reads
    plain values itself, so `attempts --help` and a TAB (the shell waits for it) never import pydantic."""
    probe = ("import atexit, sys; atexit.register(lambda: print('pydantic' in sys.modules, file=sys.stderr))\n"
             "sys.argv = ['alpana-hooks', *sys.argv[1:]]\nfrom alpana_hooks.__main__ import main\nmain()")
    tab = {**os.environ, "_ALPANA_HOOKS_COMPLETE": "complete_bash", "COMP_WORDS": "alpana-hooks a", "COMP_CWORD": "1"}
    seen = []
    for args, env in ((["attempts", "--help"], os.environ), ([], tab)):
        done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL, env=env)
        seen.append((done.returncode, done.stdout.splitlines()[-1], done.stderr))
    assert seen == [(0, "  prune  Delete finished attempts older than a duration, and the events...", "False\n"),
                    (0, "apply", "False\n")]


def test_ui_fast_path_reads_the_options_as_typer_does():
    from alpana_hooks.__main__ import UI_OPTIONS, ui_options

    command = root().get_command(None, "ui")
    assert UI_OPTIONS == {flag: param.name for param in command.params for flag in param.opts}
    for args in (["-t", "acme"], ["--tenant=acme", "--db", "x.db"], ["--config", "c.toml", "-t", "a=b", "--db=-"],
                 []):
        parsed = {k: v for k, v in command.make_context("ui", list(args)).params.items() if v is not None}
        assert ui_options(args) == parsed, args
    for args in (["--help"], ["-t"], ["-t", "a", "-t", "b"], ["-t=acme"], ["-tacme"], ["--tenant", "--db"],
                 ["--nope", "x"], ["acme"], ["-t", "\udcff"]):
        assert ui_options(args) is None, args


FIRST_SCREEN = """
import sys
from alpana_hooks.ui.app import HooksApp
run = HooksApp.run

def summary(app):  # the list's summary line, written once its rows are shown
    found = app.screen.query("#empty")
    return str(found.first().content) if found else ""

async def first_screen(pilot):
    while "webhook(s)" not in summary(pilot.app):
        await pilot.pause(0.02)
    print(" ".join(sorted({m.split(".")[0] for m in sys.modules} & {"typer", "click", "pydantic"})),
          summary(pilot.app), sep="|", file=sys.stderr)
    pilot.app.exit()

HooksApp.run = lambda self: run(self, headless=True, size=(100, 30), auto_pilot=first_screen)
sys.argv = ["alpana-hooks", *sys.argv[1:]]
from alpana_hooks.__main__ import main
main()
"""


def test_ui_imports_neither_typer_nor_click_before_its_first_screen():
    """`alpana-hooks ui -t acme`, as the console script runs it on a terminal, shows the webhooks list (run
    headless) without having imported Typer, Click or pydantic: a tenth of the UI's start-up."""
    import pty

    from alpana_hooks.api import Hooks

    with Hooks.open() as hooks:
        hooks.add_subscription("acme", "dashboard.updated", "https://example.com/hook")
    leader, follower = pty.openpty()  # ui checks for a terminal
    try:
        done = subprocess.run([sys.executable, "-c", FIRST_SCREEN, "ui", "-t", "acme"],
                              stdin=follower, stdout=follower, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(leader)
        os.close(follower)
    assert (done.returncode, done.stderr.splitlines()[-1:]) == (0, ["|1 webhook(s), 1 active"]), done.stderr[-2000:]


def test_ui_fast_path_keeps_the_error_boundary():
    """`ui` with plain options errors exactly as through Typer, which parses any other way of writing them."""
    probe = ("import sys; sys.modules['textual'] = None\n"
             "sys.argv = ['alpana-hooks', *sys.argv[1:]]\nfrom alpana_hooks.__main__ import main\nmain()")
    seen = []
    for args in (["ui", "-t", "acme"], ["ui", "--tenant", "acme", "--db"]):
        done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
        seen.append((done.returncode, done.stderr.splitlines()[-1:]))
    fast, through_typer = seen
    assert fast == (2, ["error: the terminal UI needs Textual: pip install 'alpana-hooks[ui]'"])
    assert through_typer == (2, ["Error: Option '--db' requires an argument."])  # Click's own message
