"""Start-up: the root group builds a command only when it is used, and what it prints while listing (--help,
shell completion) is what Typer's eager build of the same definitions prints. Times are benchmarks/startup.py's."""

import importlib
import os
import re
import subprocess
import sys

import typer.main
from hypothesis import given, settings
from hypothesis import strategies as st

from alpana_hooks import __version__
from alpana_hooks.cli import groups
from alpana_hooks.cli.app import app, root

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


def parsed_by_typer(command, args: list[str]) -> dict:
    """The values Typer's parse of `args` hands the command's function, less those left at their defaults."""
    params = command.make_context(command.name, list(args)).params
    return {name: value for name, value in params.items() if value is not None and value is not False}


def test_ui_fast_path_reads_the_options_as_typer_does():
    from alpana_hooks.__main__ import UI_OPTIONS, plain_options

    command = root().get_command(None, "ui")
    assert UI_OPTIONS == {flag: param.name for param in command.params for flag in param.opts}
    for args in (["-t", "acme"], ["--tenant=acme", "--db", "x.db"], ["--config", "c.toml", "-t", "a=b", "--db=-"],
                 []):
        assert plain_options(args, UI_OPTIONS) == parsed_by_typer(command, args), args
    for args in (["--help"], ["-t"], ["-t", "a", "-t", "b"], ["-t=acme"], ["-tacme"], ["--tenant", "--db"],
                 ["--nope", "x"], ["acme"], ["-t", "\udcff"]):
        assert plain_options(args, UI_OPTIONS) is None, args


# What an option's declaration can say that changes how its value is read (all unset on emit's options)
READING = ("callback", "parser", "click_type", "clamp", "min", "max", "envvar", "is_eager", "count", "prompt",
           "flag_value", "default_factory", "multiple", "autocompletion", "shell_complete")


def test_emit_fast_path_declares_the_options_typer_does():
    """Every option of emit but the hidden old --url, as cli/events.py declares it, each read as a plain str,
    int or switch: a new option there, or a callback, bound, envvar... on one, fails here (the fast path would not
    know it)."""
    from alpana_hooks.__main__ import EMIT_OPTIONS, EMIT_SWITCHES

    command = root().get_command(None, "emit")
    options = [param for param in command.params if param.param_type_name == "option"]
    assert {**EMIT_OPTIONS, **EMIT_SWITCHES, "--url": "old_url"} == {f: p.name for p in options for f in p.opts}
    assert set(EMIT_SWITCHES) == {flag for param in options if param.is_flag for flag in param.opts}
    assert [param.name for param in command.params if param.param_type_name == "argument"] == ["event_type"]
    types = {param.name: param.type_descriptor.annotation for param in command.params}
    assert types == {**{name: str for name in EMIT_OPTIONS.values()}, "event_type": str, "old_url": str,
                     "version": int, **{name: bool for name in EMIT_SWITCHES.values()}}
    for param in command.params:
        info = param.type_descriptor.parameter_info
        assert [(name, getattr(info, name)) for name in READING if getattr(info, name, None)] == [], param.name
        assert (param.nargs, param.multiple, param.callback, param.envvar, param.min, param.max) == (
            1, False, None, None, None, None), param.name


EMIT_TOKENS = ["dashboard.updated", "x", "", "a=b", "-", "--", "0", "-0", "7", "-7", "007", "1" * 19, "\udcff", "--help",
               "--json", "--json=1", "--no-send", "--dry-run", "-t", "-tacme", "-t=acme", "--tenant=acme", "--url",
               "--version", "--version=2", "--version=x", "--data", '--data={"id": "1"}', "--data=", "--nope",
               "--item-url", "--event-id", "--db", "--config", "--id", "--name=a b", "--comment-url", "--target"]


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(st.sampled_from(EMIT_TOKENS), max_size=7))
def test_emit_fast_path_reads_every_command_line_it_takes_as_typer_does(args):
    """Whatever emit's command line, the fast path either leaves it to Typer (None) or reads what Typer reads."""
    from alpana_hooks.__main__ import emit_options

    fast = emit_options(args)
    if fast is not None:
        assert fast == parsed_by_typer(root().get_command(None, "emit"), args)


def test_emit_fast_path_takes_the_usual_command_lines():
    from alpana_hooks.__main__ import emit_options

    for args in (["dashboard.updated", "--tenant", "t1", "--json", "--data", '{"id": "1"}'],
                 ["-t", "t1", "widget.added", "--id=8", "--name", "W", "--item-url", "https://bi/w/8", "--no-send"],
                 ["dashboard.updated", "--version", "3", "--id", "1", "--name", "D", "--dry-run", "--db", "h.db"]):
        assert emit_options(args) == parsed_by_typer(root().get_command(None, "emit"), args), args
    for args in (["dashboard.updated", "--url", "https://bi/d/1"], ["--help"], ["dashboard.updated", "-t"],
                 ["dashboard.updated", "--version", "x"], ["dashboard.updated", "--", "-t"], ["-t", "t1"]):
        assert emit_options(args) is None, args


THROUGH = """
import atexit, sys
path, sys.argv = sys.argv[1], ["alpana-hooks", *sys.argv[2:]]
atexit.register(lambda: print("typer" in sys.modules, file=sys.stderr))
if path == "typer":
    from alpana_hooks.cli.app import root
    root().main(prog_name="alpana-hooks")
else:
    from alpana_hooks.__main__ import main
    main()
"""


def test_emit_without_typer_prints_and_exits_as_through_typer(tmp_path, receiver):
    """The same emit command lines, through the console script (no Typer) and through Typer's root, each on its
    own copy of the store: the same exit code, the same stdout (times normalised), the same stderr; a reader that
    goes away early (`| head`) ends both with exit 1 and nothing on stderr."""
    from alpana_hooks.api import Hooks

    ok, failing = receiver(), receiver(lambda path, headers, body: (500, {}, b"down"))
    for path in ("fast", "typer"):
        with Hooks.open(str(tmp_path / f"{path}.db")) as hooks:
            hooks.add_subscription("t1", "dashboard.updated", ok.url())
            hooks.add_subscription("t1", "dashboard.updated", failing.url())
            for number in range(15):  # a JSON answer larger than stdout's buffer
                hooks.add_subscription("t2", "dashboard.updated", ok.url(f"/hook{number}"))
    lines = [["emit", "dashboard.updated", "-t", "t1", "--id", "1", "--name", "D", "--version", "3",
              "--item-url", "https://bi/d/1", "--event-id", "e1"],
             ["emit", "dashboard.updated", "--tenant=t1", "--json", "--data", '{"dashboard_id": "1", "name": "D", '
              '"url": "https://bi/d/1", "version": 4}', "--event-id", "e2"],
             ["emit", "dashboard.updated", "-t", "t1", "--data", "{nope"],
             ["emit", "dashboard.updated", "-t", "t1", "--id", "1", "--name", "D", "--version", "6", "--item-url",
              "https://bi/d/1", "--dry-run"],
             ["emit", "dashboard.updated", "-t", "t1", "--data", '{"dashboard_id": "1", "name": "D", "url": "https://bi/d/1", '
              '"version": 7}', "--db", str(tmp_path / "garbage.db")],
             ["emit", "dashboard.added", "--json", "--id", "1"],
             ["emit", "dashboard.updated", "-t", "t2", "--json", "--data", '{"dashboard_id": "1", "name": "D", '
              '"url": "https://bi/d/1", "version": 5}']]
    (tmp_path / "garbage.db").write_bytes(b"not a database" * 100)
    seen: dict[str, list] = {"fast": [], "typer": []}
    for args in lines:
        for path in seen:
            env = {**os.environ, "ALPANA_HOOKS_DB": str(tmp_path / f"{path}.db")}
            if args[3] == "t2":  # the reader is gone before emit writes
                read, write = os.pipe()
                os.close(read)
                done = subprocess.run([sys.executable, "-c", THROUGH, path, *args], stdout=write,
                                      stderr=subprocess.PIPE, text=True, timeout=60, env=env)
                os.close(write)
            else:
                done = subprocess.run([sys.executable, "-c", THROUGH, path, *args], capture_output=True,
                                      text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
            seen[path].append((done.returncode, normalised(done.stdout or ""), done.stderr))
    assert [stderr.splitlines()[-1] for *_, stderr in seen["fast"]] == ["False"] * len(lines)
    assert [stderr.splitlines()[-1] for *_, stderr in seen["typer"]] == ["True"] * len(lines)
    assert [(code, out, err.replace("False", "True")) for code, out, err in seen["fast"]] == seen["typer"]
    assert [(code, err.splitlines()[:-1]) for code, _, err in seen["fast"]] == [
        (4, ["event e1: 2 attempt(s)"]), (4, []),
        (2, ["error: invalid --data JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"]),
        (0, ["dry run: would send to 2 of 2 subscription(s); nothing recorded or sent"]),
        (1, ["error: database error: file is not a database"]),
        (2, ["error: no tenant: give --tenant NAME, set ALPANA_HOOKS_TENANT, or set default_tenant in the config file"]),
        (1, [])]
    assert len(ok.requests) == 2 * (2 + 15) and len(failing.requests) == 2 * 2


def normalised(text: str) -> str:
    """stdout with its times and durations replaced, so two runs of the same command compare equal."""
    text = re.sub(r"\d{4}-\d\d-\d\dT[0-9:.]+Z", "<time>", text)
    text = re.sub(r'"duration_ms": \d+', '"duration_ms": 0', text)
    return re.sub(r"\b\d+ ms\b", "0 ms", text)


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
