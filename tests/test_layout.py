"""The shape of the code: imports follow the layers, nothing below cli/ prints, small functions and modules,
every command has help text, and ruff and mypy are clean."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from alpana_hooks.cli.app import app

PACKAGE = Path(__file__).resolve().parent.parent / "alpana_hooks"
MAX_FUNCTION_LINES = 50
MAX_MODULE_LINES = 400

# Who may import whom (module names relative to the package; a package's modules count as the package).
# cli and ui -> api -> engine and store -> pure modules; output is for the commands and screens only.
PURE = {"model", "results", "errors", "events", "validate", "headers", "rules", "signing", "netpolicy", "timeutil",
        "filters", "pacing", "__init__"}
LOWER = PURE | {"config", "store", "dispatch", "leases", "signals", "workers", "delivery", "migrations", "apply", "receiver"}
ALLOWED = {
    "cli": LOWER | {"cli", "ui", "api", "output"} - {"store", "dispatch", "leases", "signals", "workers", "delivery", "migrations"},
    "ui": LOWER | {"ui", "api", "output"} - {"store", "dispatch", "leases", "signals", "workers", "delivery", "migrations"},
    "api": LOWER,
    "output": PURE,
    **{name: LOWER - {"api"} for name in LOWER - PURE},
    **{name: PURE for name in PURE},
    "__init__": {"api", "errors"},
    "__main__": {"cli", "ui", "errors", "output"},
}


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, path.relative_to(PACKAGE).parts


def layer(parts: tuple[str, ...]) -> str:
    return parts[0].removesuffix(".py")


def imported(tree: ast.AST) -> set[str]:
    """The first component under alpana_hooks of every module this tree imports."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("alpana_hooks"):
            rest = node.module.split(".")[1:]
            names.add(rest[0] if rest else "__init__")
            if not rest:  # from alpana_hooks import output, validate
                names.update(alias.name for alias in node.names if alias.name != "__version__")
        elif isinstance(node, ast.ImportFrom) and node.level:
            names.add(node.module.split(".")[0] if node.module else "__init__")
        elif isinstance(node, ast.Import):
            names.update(a.name.split(".")[1] for a in node.names if a.name.startswith("alpana_hooks."))
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "lazy":
            names.add(node.args[0].value.split(".")[1])
    return names


@pytest.mark.parametrize("path,parts", list(modules()), ids=lambda v: "/".join(v) if isinstance(v, tuple) else "")
def test_imports_follow_the_layers(path, parts):
    own = layer(parts)
    wrong = {name for name in imported(ast.parse(path.read_text())) if name != own} - ALLOWED[own]
    assert not wrong, f"{'/'.join(parts)} ({own}) imports {sorted(wrong)} against the layers"


@pytest.mark.parametrize("path,parts", [m for m in modules() if layer(m[1]) not in ("cli", "ui", "output")],
                         ids=lambda v: "/".join(v) if isinstance(v, tuple) else "")
def test_nothing_below_the_commands_prints(path, parts):
    tree = ast.parse(path.read_text())
    calls = [node.lineno for node in ast.walk(tree)
             if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print"]
    assert not calls, f"{'/'.join(parts)} calls print() at lines {calls}"


def test_functions_and_modules_are_small():
    too_long = []
    for path, parts in modules():
        text = path.read_text()
        if text.count("\n") > MAX_MODULE_LINES:
            too_long.append(f"{'/'.join(parts)}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{'/'.join(parts)}:{node.lineno} {node.name}(): {length} lines")
    assert not too_long, "\n".join(too_long)


def every_command():
    def walk(group, prefix):
        for name, command in group.commands.items():
            if hasattr(command, "commands"):
                yield from walk(command, (*prefix, name))
            else:
                yield " ".join((*prefix, name)), command

    return list(walk(typer.main.get_command(app), ()))


@pytest.mark.parametrize("name,command", every_command(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_command_and_option_has_help(name, command):
    assert command.help and command.help.strip(), f"`{name}` has no help text"
    missing = [p.name for p in command.params if getattr(p, "help", "x") in (None, "")
               and not getattr(p, "hidden", False)]
    assert not missing, f"`{name}`: no help for {missing}"


@pytest.mark.parametrize("tool", [["ruff", "check", "alpana_hooks"], ["mypy"]])
def test_static_checks_are_clean(tool):
    executable = shutil.which(tool[0], path=str(Path(sys.executable).parent))
    assert executable, f"{tool[0]} is not installed (make test installs it)"
    done = subprocess.run([executable, *tool[1:]], cwd=PACKAGE.parent, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
