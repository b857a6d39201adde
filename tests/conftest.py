"""Each test gets its own database and config, through the environment (like llm's autouse fixture).

The store's tests run on both backends: in the modules of BOTH_BACKENDS, every test that touches the store is
parametrised over `backend` ("sqlite", "postgres"). The postgres variant gets a fresh database on one PostgreSQL
server per test session: pgserver's (started here, no root or system package needed), or the server at
ALPANA_HOOKS_TEST_POSTGRES=URL (a role that may CREATE DATABASE). With CI=true a PostgreSQL that cannot start
fails those tests; elsewhere they are skipped with the reason."""

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from typer.testing import CliRunner

from alpana_hooks.cli.app import app

ALLOW_LOOPBACK = '[security]\nallowed_networks = ["127.0.0.0/8", "::1/128"]\n'
BOTH_BACKENDS = {"test_store", "test_emit", "test_oncall", "test_apply", "test_load", "test_db", "test_filters",
                 "test_stats", "test_replay", "test_alerts", "test_rate_limit"}
STORE_FIXTURES = {"cli", "db_path", "add_sub", "engine"}  # a test that uses none of these never opens the store


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only: a test of SQLite itself (the file, WAL, PRAGMAs)")
    config.addinivalue_line("markers", "postgres_only: a test of PostgreSQL itself (several hosts, LISTEN)")


def pytest_generate_tests(metafunc):
    if "backend" not in metafunc.fixturenames or metafunc.module.__name__.rsplit(".", 1)[-1] not in BOTH_BACKENDS:
        return
    if metafunc.definition.get_closest_marker("postgres_only"):
        metafunc.parametrize("backend", ["postgres"], indirect=True)
    elif STORE_FIXTURES & set(metafunc.fixturenames) and not metafunc.definition.get_closest_marker("sqlite_only"):
        metafunc.parametrize("backend", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
def backend(request) -> str:
    """The store's backend for this test: "sqlite" unless parametrised (see BOTH_BACKENDS)."""
    return getattr(request, "param", "sqlite")


class PgDatabase(str):
    """A PostgreSQL database URL that answers exists() like a Path: whether the store created its schema."""

    def exists(self) -> bool:
        import psycopg

        with psycopg.connect(self, autocommit=True) as conn:
            return conn.execute("SELECT to_regclass('alpana_hooks_schema') IS NOT NULL").fetchone()[0]


class PostgresServer:
    """One PostgreSQL for the session; each test gets a fresh, empty database of its own on it. CREATE DATABASE
    takes ~0.2 s, so a thread keeps the next two made while tests run."""

    AHEAD = 2

    def __init__(self, admin_url: str, server=None):
        import queue
        import threading

        import psycopg

        self.admin_url, self.server = admin_url, server
        self.admin = psycopg.connect(admin_url, autocommit=True)
        self.names = itertools.count()
        self.ready: queue.Queue = queue.Queue(maxsize=self.AHEAD)
        self.stopping = threading.Event()
        self.maker = threading.Thread(target=self._make_ahead, args=(psycopg.connect(admin_url, autocommit=True),),
                                      daemon=True)
        self.maker.start()

    def _make_ahead(self, conn) -> None:
        import queue

        with conn:
            while not self.stopping.is_set():
                name = f"alpana_test_{os.getpid()}_{next(self.names)}"
                try:
                    conn.execute(f'CREATE DATABASE "{name}"')
                except Exception as exc:  # noqa: BLE001 - handed to the test that takes it
                    self.ready.put(exc)
                    return
                while not self.stopping.is_set():
                    try:
                        self.ready.put(name, timeout=0.2)
                        break
                    except queue.Full:
                        continue

    def create(self) -> PgDatabase:
        name = self.ready.get(timeout=60)
        if isinstance(name, Exception):
            raise name
        return PgDatabase(urlunsplit(urlsplit(self.admin_url)._replace(path="/" + name)))

    def drop(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        self.stopping.set()
        self.maker.join(10)
        self.admin.close()
        if self.server is not None:
            self.server.cleanup()


def _start_postgres(tmp_path_factory) -> PostgresServer:
    given = os.environ.get("ALPANA_HOOKS_TEST_POSTGRES")
    if given:
        return PostgresServer(given)
    import tempfile

    import pgserver

    # not under pytest's tmp folder: as root, pgserver runs postgres as its own user, who must reach the folder
    server = pgserver.get_server(tempfile.mkdtemp(prefix="alpana-pg-"), cleanup_mode="delete")
    started = PostgresServer(server.get_uri(), server)
    for setting in ("fsync", "synchronous_commit", "full_page_writes"):  # throwaway data: no need to hit the disk
        started.admin.execute(f"ALTER SYSTEM SET {setting} = off")
    started.admin.execute("SELECT pg_reload_conf()")
    return started


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory):
    """The session's PostgreSQL (started once, on first use)."""
    try:
        server = _start_postgres(tmp_path_factory)
    except Exception as exc:  # noqa: BLE001 - reported as the skip or failure reason
        message = f"PostgreSQL could not start: {type(exc).__name__}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: a failure, never a skip)")
        pytest.skip(message)
    yield server
    server.close()


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch, request, backend):
    """A private database (a file, or a fresh PostgreSQL database), no inherited settings, and a config that
    lets tests reach 127.0.0.1."""
    for name in ("ALPANA_HOOKS_DB", "ALPANA_HOOKS_CONFIG", "ALPANA_HOOKS_TENANT", "ALPANA_HOOKS_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    config = tmp_path / "config.toml"
    config.write_text(ALLOW_LOOPBACK)
    monkeypatch.setenv("ALPANA_HOOKS_CONFIG", str(config))
    if backend == "postgres":
        server = request.getfixturevalue("postgres_server")
        database = server.create()
        request.addfinalizer(lambda: server.drop(database))
        monkeypatch.setenv("ALPANA_HOOKS_DB", database)
        tmp_path.joinpath("database").write_text(database)
    else:
        monkeypatch.setenv("ALPANA_HOOKS_DB", str(tmp_path / "hooks.db"))
    return tmp_path


@pytest.fixture
def db_path(isolated_env, backend):
    """The test's database: a Path to the SQLite file, or a PgDatabase (a URL) on PostgreSQL."""
    if backend == "postgres":
        return PgDatabase((isolated_env / "database").read_text())
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
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
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
    """Rows of a query on the test database, as dicts (`?` placeholders; times as ISO text on both backends)."""
    if isinstance(db_path, str):
        from alpana_hooks.store.postgres import PgConnection

        conn = PgConnection(db_path)
        try:
            return [dict(r) for r in conn.execute(sql, params)]
        finally:
            conn.close()
    import sqlite3

    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def db_exec(db_path, sql, params=()) -> None:
    """Run one write on the test database (to set up what a test needs, such as old timestamps)."""
    if isinstance(db_path, str):
        from alpana_hooks.store.postgres import PgConnection

        conn = PgConnection(db_path)
        conn.execute(sql, params)
        conn.close()
        return
    import sqlite3

    conn = sqlite3.connect(db_path)
    conn.execute(sql, params)
    conn.commit()
    conn.close()


def applied_migrations(db_path) -> list[str]:
    """The names of the migrations applied, in order."""
    if isinstance(db_path, str):
        return [r["name"] for r in db_rows(db_path, "SELECT name FROM alpana_hooks_schema ORDER BY version")]
    return [r["name"] for r in db_rows(db_path, "SELECT name FROM _sqlite_migrations ORDER BY rowid")]


@pytest.fixture
def sigint_stops_children():
    """Children started while SIGINT is ignored (pytest run as a background job) would ignore it too, and Python
    then installs no KeyboardInterrupt: handle it here, as a terminal's Ctrl-C would, so exec resets it."""
    import signal

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def table_rows(db_path):
    """Every row of every table (None when the store was never created): to prove a command wrote nothing."""
    if not db_path.exists():
        return None
    if isinstance(db_path, str):
        from alpana_hooks.store.postgres import PgConnection

        conn = PgConnection(db_path)
        names = [r["table_name"] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1")]
        rows = {}
        for name in names:
            width = len(conn.execute(f"SELECT * FROM {name} LIMIT 0").description)
            order = ", ".join(str(n) for n in range(1, width + 1))
            rows[name] = [tuple(r) for r in conn.execute(f"SELECT * FROM {name} ORDER BY {order}")]
        conn.close()
        return rows
    import sqlite3

    conn = sqlite3.connect(db_path)
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    rows = {name: conn.execute(f"SELECT * FROM [{name}]").fetchall() for name in names}
    conn.close()
    return rows
