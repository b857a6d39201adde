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
    for name in ("ALPANA_HOOKS_DB", "ALPANA_HOOKS_CONFIG", "ALPANA_HOOKS_TENANT", "ALPANA_HOOKS_SECRET"):
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


def limit_memory(gigabytes: float = 1.0):
    """A preexec_fn for subprocess: cap the child's address space, so a test of unbounded input cannot take the
    machine down (the child gets MemoryError instead)."""
    import resource

    def limit():
        size = int(gigabytes * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (size, size))

    return limit


@pytest.fixture
def add_sub(cli):
    """Add a subscription and return its JSON."""

    def add(url, event="dashboard.updated", tenant="t1", *extra):
        return cli.json("add", "--tenant", tenant, "--event", event, "--url", url, *extra)

    return add


class Receiver:
    """A real threaded HTTP receiver on 127.0.0.1 that records every request.

    `respond(path, headers, body)` returns (status, headers dict, body bytes) or None for 200 '{}'.
    """

    def __init__(self, respond=None):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.respond = respond
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.in_flight += 1
                    receiver.max_in_flight = max(receiver.max_in_flight, receiver.in_flight)
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
                try:
                    answer = receiver.respond(self.path, self.headers, body) if receiver.respond else None
                finally:
                    with receiver.lock:
                        receiver.in_flight -= 1
                status, headers, payload = answer or (200, {}, b"{}")
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST

        class Server(ThreadingHTTPServer):
            request_queue_size = 512  # the default backlog of 5 refuses bursts of concurrent senders

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def bodies(self, path: str | None = None) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests if path is None or r["path"] == path]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(respond=None):
        made.append(Receiver(respond))
        return made[-1]

    yield make
    for r in made:
        r.close()


def db_rows(db_path, sql, params=()):
    """Rows of a query on the test database, as dicts."""
    import sqlite3

    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


@pytest.fixture
def sigint_stops_children():
    """Children started while SIGINT is ignored (pytest run as a background job) would ignore it too, and Python
    then installs no KeyboardInterrupt: handle it here, as a terminal's Ctrl-C would, so exec resets it."""
    import signal

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def table_rows(db_path):
    """Every row of every table (None when there is no file): to prove a command wrote nothing."""
    import sqlite3

    if not db_path.exists():
        return None
    conn = sqlite3.connect(db_path)
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    rows = {name: conn.execute(f"SELECT * FROM [{name}]").fetchall() for name in names}
    conn.close()
    return rows
