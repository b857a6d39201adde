"""Option values are read without pydantic (cli/values.py): what the plain reading accepts is exactly what Typer's
pydantic coercion makes of it, everything else still goes through Typer, and commands run without importing
pydantic. If a Typer release moves the internals this relies on, these tests fail (Typer is pinned to 0.29.x)."""

import importlib
import subprocess
import sys

import pytest
import typer.main
from hypothesis import given, settings
from hypothesis import strategies as st
from typer._click.exceptions import BadParameter
from typer._coercion import build_runtime_param
from typer.core import _TyperParameter

from alpana_hooks.cli import groups
from alpana_hooks.cli.app import app
from alpana_hooks.cli.values import NOT_PLAIN, PlainRuntimeParam, plain_value, runtime_param

PROBE = ("import atexit, runpy, sys\n"
         "atexit.register(lambda: print('pydantic', 'pydantic' in sys.modules, file=sys.stderr))\n"
         "sys.argv = ['alpana-hooks', *sys.argv[1:]]\nrunpy.run_module('alpana_hooks', run_name='__main__')")


def every_parameter():
    """(command path, parameter) for every Typer parameter of every command, groups' commands included."""
    for module in set(groups.COMMANDS.values()):
        importlib.import_module(f"alpana_hooks.cli.{module}")

    def walk(command, path):
        for param in command.params:
            yield f"{path} {param.name}", param
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, f"{path} {name}".strip())

    return [(path, param) for path, param in walk(typer.main.get_command(app), "")
            if isinstance(param, _TyperParameter)]


def typer_reads(descriptor, value):
    """What Typer's own (pydantic) coercion makes of `value`: ("ok", value) or ("error", message)."""
    try:
        return "ok", build_runtime_param(descriptor)._coerce_value(value, param=None, ctx=None)
    except BadParameter as exc:
        return "error", exc.message


KINDS = {}  # one parameter per distinct annotation and bounds: str, bool, list[str], int/float within bounds
for _path, _param in every_parameter():
    _info = _param.type_descriptor.parameter_info
    KINDS.setdefault((repr(_param.type_descriptor.annotation), _info.min, _info.max), _param.type_descriptor)
NUMBERISH = st.text(alphabet="0123456789.+-_ e\t\u0663xn", max_size=24)


@settings(max_examples=400, deadline=None, database=None)
@given(kind=st.sampled_from(sorted(KINDS, key=repr)),
       value=st.one_of(NUMBERISH, st.text(max_size=8), st.integers().map(str), st.floats().map(str),
                       st.integers(), st.floats(), st.booleans(), st.lists(st.text(max_size=4), max_size=3)))
def test_a_plain_value_is_what_typer_reads(kind, value):
    descriptor = KINDS[kind]
    plain = plain_value(descriptor.annotation, descriptor.parameter_info, value)
    if plain is not NOT_PLAIN:
        expected = typer_reads(descriptor, value)
        assert expected == ("ok", plain) and type(expected[1]) is type(plain), (kind, value)


@pytest.mark.parametrize("path,param", every_parameter(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_default_and_a_typical_value_are_read_plainly(path, param):
    descriptor = param.type_descriptor
    typical = {int: "7" if descriptor.parameter_info.min is None else str(max(7, descriptor.parameter_info.min)),
               float: "2.5", str: "acme", bool: True}.get(descriptor.annotation, ("a", "b"))
    for value in ({param.default} - {None}) | {typical}:
        plain = plain_value(descriptor.annotation, descriptor.parameter_info, value)
        assert plain is not NOT_PLAIN and typer_reads(descriptor, value) == ("ok", plain), (path, value)


def test_typer_asks_our_runtime_param_when_it_parses():
    command = groups.build("list")
    context = command.make_context("list", ["--tenant", "acme"])
    assert context.params["tenant"] == "acme"
    assert _TyperParameter.get_runtime_param is runtime_param
    built = {p.name: type(p._runtime_param) for p in command.get_params(context) if isinstance(p, _TyperParameter)}
    assert built["tenant"] is built["help"] is PlainRuntimeParam  # flags given a bool are not coerced at all
    assert set(built.values()) == {PlainRuntimeParam, type(None)}


def run(*args) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `python -m alpana_hooks` (what the console script runs); stderr ends with
    whether pydantic was imported."""
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    return done.returncode, done.stdout, done.stderr


def test_commands_run_without_pydantic_and_bad_values_keep_typers_message(add_sub, receiver):
    rx = receiver()
    sub = add_sub(rx.url())
    for args in (["emit", "dashboard.updated", "-t", "t1", "--no-send", "--id", "7", "--name", "Sales",
                  "--version", "2", "--item-url", "https://bi.example.com/d/7"],
                 ["deliver", "--json"], ["list", "-t", "t1"], ["show", str(sub["id"]), "-t", "t1", "--json"]):
        code, _, stderr = run(*args)
        assert (code, stderr.splitlines()[-1]) == (0, "pydantic False"), (args, stderr)
    assert [body["data"] for body in rx.bodies()] == [
        {"dashboard_id": "7", "name": "Sales", "url": "https://bi.example.com/d/7", "version": 2}]
    assert run("attempts", "list", "--limit", "-1") == (2, "", (
        "Usage: alpana-hooks attempts list [OPTIONS]\nTry 'alpana-hooks attempts list --help' for help.\n\n"
        "Error: Invalid value for '--limit': Input should be greater than or equal to 1\npydantic True\n"))
