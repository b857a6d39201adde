"""Each test gets its own database file and config, through the environment (like llm's autouse fixture)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alpana_hooks.cli import app

ALLOW_LOOPBACK = '[security]\nallowed_networks = ["127.0.0.0/8", "::1/128"]\n'


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """A private database path, no inherited settings, and a config that lets tests reach 127.0.0.1."""
    for name in ("ALPANA_HOOKS_DB", "ALPANA_HOOKS_CONFIG", "ALPANA_HOOKS_TENANT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    db = tmp_path / "hooks.db"
    config = tmp_path / "config.toml"
    config.write_text(ALLOW_LOOPBACK)
    monkeypatch.setenv("ALPANA_HOOKS_DB", str(db))
    monkeypatch.setenv("ALPANA_HOOKS_CONFIG", str(config))
    return tmp_path


@pytest.fixture
def db_path(isolated_env) -> Path:
    return isolated_env / "hooks.db"


@pytest.fixture
def config_path(isolated_env) -> Path:
    return isolated_env / "config.toml"


class Cli:
    """Runs the app in-process and returns the click Result (stdout and stderr apart)."""

    def __init__(self):
        self.runner = CliRunner()

    def __call__(self, *args, input=None):
        return self.runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)

    def json(self, *args):
        result = self(*args, "--json")
        assert result.exit_code == 0, result.output + result.stderr
        return json.loads(result.stdout)


@pytest.fixture
def cli() -> Cli:
    return Cli()


def run_cli(*args, env=None, timeout=60, **kwargs) -> subprocess.CompletedProcess:
    """Run `python -m alpana_hooks` in a real process with the test's environment."""
    return subprocess.run(
        [sys.executable, "-m", "alpana_hooks", *[str(a) for a in args]],
        env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        **kwargs,
    )


@pytest.fixture
def add_sub(cli):
    """Add a subscription and return its JSON."""

    def add(url, event="dashboard.updated", tenant="t1", *extra):
        return cli.json("add", "--tenant", tenant, "--event", event, "--url", url, *extra)

    return add
