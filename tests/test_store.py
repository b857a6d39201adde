"""The store: a SQLite file created private, WAL, durable; on both backends migrated once, safe with several
processes, one transaction per write()."""

import os
import random
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from conftest import applied_migrations, db_rows, run_cli

from alpana_hooks import migrations as migrations_module
from alpana_hooks.store import SCHEMA_VERSION, Store
from alpana_hooks.timeutil import to_iso, utcnow

MIGRATIONS = ["m001_initial", "m002_attempts_by_tenant_subscription", "m003_response_headers_truncated",
              "m004_header_ids", "m005_filters_and_stats",
              "m006_claim_indexes", "m007_rate_limits"]


@pytest.mark.sqlite_only
def test_file_is_0600_wal_and_migrated_once(cli, db_path):
    assert cli("list", "--tenant", "t1").exit_code == 0
    assert stat.S_IMODE(os.stat(db_path).st_mode) == 0o600
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert applied_migrations(db_path) == MIGRATIONS
    assert cli("list", "--tenant", "t1").exit_code == 0
    assert applied_migrations(db_path) == MIGRATIONS


def test_migrated_once_with_the_schema_version(cli, db_path):
    assert not db_path.exists()
    assert cli("list", "--tenant", "t1").exit_code == 0
    assert cli("list", "--tenant", "t1").exit_code == 0
    assert applied_migrations(db_path) == MIGRATIONS
    store = Store.open(db_path)
    assert store.schema_version() == SCHEMA_VERSION
    store.close()


def test_folder_is_created_private(tmp_path):
    path = tmp_path / "new" / "deeper" / "hooks.db"
    Store.open(path).close()
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


@pytest.mark.sqlite_only
def test_every_connection_is_durable_with_a_busy_timeout_and_a_small_cache(db_path):
    store = Store.open(db_path)
    assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert store.conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.conn.execute("PRAGMA cache_size").fetchone()[0] == -512  # KiB: not SQLite's 2 MiB
    store.close()


def test_schema_version_matches_the_migrations(db_path):
    store = Store.open(db_path)
    assert store.schema_version() == SCHEMA_VERSION == int(MIGRATIONS[-1][1:4])  # m005 comes with issue 11's merge
    assert [m.name for m in migrations_module.migrations._migrations] == MIGRATIONS
    assert [name for name, _ in migrations_module.POSTGRES] == MIGRATIONS
    store.close()


@pytest.mark.sqlite_only
def test_m003_upgrades_a_store_with_attempts(db_path):
    from sqlite_utils import Database

    conn = sqlite3.connect(db_path)
    migrations_module.migrations.apply(Database(conn), stop_before="m003_response_headers_truncated")
    conn.execute("INSERT INTO attempts (tenant, subscription_id, event_pk, trigger, status, created_at, url)"
                 " VALUES ('t1', 1, 1, 'emit', 'failed', '2026-01-01T00:00:00Z', 'https://e.com/')")
    conn.commit()
    conn.close()
    store = Store.open(db_path)
    assert store.schema_version() == SCHEMA_VERSION
    assert [tuple(row) for row in store.conn.execute("SELECT response_headers_truncated FROM attempts")] == [(0,)]
    store.close()


@pytest.mark.sqlite_only
def test_indexes_serve_the_attempt_queries(db_path):
    store = Store.open(db_path)
    plans = {
        "by subscription": "SELECT * FROM attempts WHERE tenant = 't1' AND subscription_id = 1"
                           " ORDER BY created_at DESC LIMIT 50",
        "by tenant": "SELECT * FROM attempts WHERE tenant = 't1' ORDER BY created_at DESC LIMIT 50",
        "by event": "SELECT * FROM attempts WHERE event_pk = 1",
    }
    for name, sql in plans.items():
        plan = " ".join(row[3] for row in store.conn.execute("EXPLAIN QUERY PLAN " + sql))
        assert "USING INDEX" in plan and "TEMP B-TREE" not in plan, (name, plan)
    claimable = "SELECT id FROM attempts WHERE status IN ('pending', 'sending') AND (status = 'pending' OR lease_until < '2026') ORDER BY id LIMIT 64"
    plan = " ".join(row[3] for row in store.conn.execute("EXPLAIN QUERY PLAN " + claimable))
    assert "attempts_unfinished" in plan, plan  # only unfinished attempts are read, however long the history
    store.close()


ADD_MANY = """
import sys
from typer.testing import CliRunner
from alpana_hooks.cli.app import app
runner = CliRunner()
for i in range(50):
    r = runner.invoke(app, ["add", "--tenant", "t1", "--event", "widget.added", "--url", f"https://e.com/{sys.argv[1]}/{i}"])
    if r.exit_code != 0:
        print(r.stderr, file=sys.stderr)
        sys.exit(1)
"""


def test_two_processes_adding_at_once_on_a_fresh_file(db_path):
    procs = [subprocess.Popen([sys.executable, "-c", ADD_MANY, str(n)], stderr=subprocess.PIPE, text=True)
             for n in range(2)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    assert not any("locked" in e for e in errors)
    assert db_rows(db_path, "SELECT count(*) AS n FROM subscriptions")[0]["n"] == 100


def test_eight_processes_start_on_a_missing_file(db_path):
    procs = [subprocess.Popen([sys.executable, "-m", "alpana_hooks", "list", "--tenant", "t1"],
                              stderr=subprocess.PIPE, text=True) for _ in range(8)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, errors
    assert applied_migrations(db_path) == MIGRATIONS


def imported_modules(*args):
    result = run_cli(*args, env={"PYTHONPROFILEIMPORTTIME": "1"})
    return {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}


@pytest.mark.sqlite_only
def test_help_and_list_do_not_import_requests(cli):
    cli("add", "--tenant", "t1", "--event", "widget.added", "--url", "https://e.com/")
    for args in (["--help"], ["list", "--tenant", "t1"]):
        modules = imported_modules(*args)
        assert "typer" in modules  # the probe works
        assert not {"requests", "urllib3", "sqlite_utils"} & modules, args


def _add(store, url):
    from alpana_hooks.signing import generate_secret
    from alpana_hooks.timeutil import utcnow

    return store.add_subscription(tenant="t1", event_type="widget.added", url=url, description="", state="active",
                                  headers=[], secret=generate_secret(), now=utcnow())


def test_domain_writes_inside_one_write_commit_or_fail_together(db_path):
    store = Store.open(db_path)
    with pytest.raises(RuntimeError):
        with store.write():
            _add(store, "https://e.com/a")
            _add(store, "https://e.com/b")
            raise RuntimeError("a later step failed")
    assert store.list_subscriptions("t1") == []
    with store.write():
        _add(store, "https://e.com/a")
        with pytest.raises(Exception):
            _add(store, "https://e.com/a")  # the duplicate fails alone (a savepoint)
        _add(store, "https://e.com/b")
    assert [s.url for s in store.list_subscriptions("t1")] == ["https://e.com/a", "https://e.com/b"]
    store.close()


@pytest.mark.postgres_only
def test_an_interrupt_at_any_point_of_a_query_leaves_the_store_usable(db_path):
    """Ctrl-C or SIGTERM can land anywhere inside a PostgreSQL exchange; what the engine then writes (results,
    hand-back) must still go through, not fail with 'another command is already in progress'."""
    armed = [False]

    def interrupt(*_):
        if armed[0]:
            raise KeyboardInterrupt

    store = Store.open(db_path)
    previous = signal.signal(signal.SIGALRM, interrupt)
    rng = random.Random(7)
    interrupted = 0
    try:
        for _ in range(300):
            armed[0] = True
            try:
                signal.setitimer(signal.ITIMER_REAL, rng.uniform(0.00005, 0.001))
                store.tenants()
                armed[0] = False  # an alarm after the query interrupts nothing
            except KeyboardInterrupt:
                armed[0] = False
                interrupted += 1
            assert store.tenants() == []
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        store.close()
    assert interrupted >= 10  # the interrupts did land mid-query


@pytest.mark.postgres_only
def test_a_claim_walks_the_unfinished_attempts_in_id_order_before_any_statistics(db_path, monkeypatch):
    """Without statistics (a new store, a big emit since autovacuum's last ANALYZE) PostgreSQL planned the claim as
    a bitmap scan of every unfinished attempt and a sort of them all, for each claim of a few (SQLite did the same:
    tests/test_claim_plan.py). The claim's transaction turns sorting off, so it walks the index in id order."""
    store = Store.open(db_path)
    _add(store, "https://e.com/1")
    now = utcnow()
    for n in range(300):
        store.record_event(tenant="t1", event_id=f"evt_{n}", event_type="widget.added", data={}, body=b"{}", now=now)
    plans, execute = [], store.conn.execute

    def explained(sql, params=()):  # the claim's SELECT, explained on its own transaction just before it runs
        if sql.startswith("SELECT a.id, a.subscription_id FROM attempts a"):
            plans.append([row[0] for row in execute(f"EXPLAIN {sql}", params)])
        return execute(sql, params)

    monkeypatch.setattr(store.conn, "execute", explained)
    claimed = store.claim(None, now=now, lease_until=now + timedelta(minutes=1), owner="me", limit=10)
    store.close()
    assert len(claimed) == 10 and claimed == sorted(claimed)
    (plan,) = plans
    assert any("Index Scan using attempts_unfinished_by_id on attempts a" in line for line in plan), plan
    assert not any("Sort" in line for line in plan), plan


@pytest.mark.postgres_only
def test_renewing_leases_never_deadlocks_with_the_owner_writing_its_results(db_path):
    """The lease keeper (its own connection) renews the owner's claims while the main connection writes results
    row by row in another order: the renewal skips the rows being written instead of waiting for them, so
    PostgreSQL never has to kill one side as a deadlock (it killed `deliver --loop` in the load test)."""
    writer, keeper = Store.open(db_path), Store.open(db_path)
    for n in range(2):
        _add(writer, f"https://e.com/{n}")
    now = utcnow()
    writer.record_event(tenant="t1", event_id="evt_1", event_type="widget.added", data={}, body=b"{}", now=now)
    first, second = writer.claim(None, now=now, lease_until=now + timedelta(minutes=1), owner="me")
    later = now + timedelta(minutes=5)
    failures: list[BaseException] = []

    def renew():
        try:
            keeper.extend_leases("me", later)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    with writer.write() as conn:
        conn.execute("UPDATE attempts SET error = 'writing' WHERE id = ?", (second,))
        renewal = threading.Thread(target=renew)
        renewal.start()
        renewal.join(3)  # before: it locked the first row and waited for the second
        conn.execute("UPDATE attempts SET error = 'writing' WHERE id = ?", (first,))
    renewal.join(10)
    assert failures == []
    leases = {r["id"]: r["lease_until"] for r in db_rows(db_path, "SELECT id, lease_until FROM attempts")}
    assert leases[first] == to_iso(later) and leases[second] != to_iso(later)
    writer.close()
    keeper.close()


def refuse_header_value(db_path, value: str) -> None:
    """A trigger that makes the store itself refuse a header with this value (the checks before it accept it)."""
    if isinstance(db_path, str):
        import psycopg

        with psycopg.connect(db_path, autocommit=True) as conn:
            conn.execute("CREATE FUNCTION refuse_header() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                         f" IF NEW.value = '{value}' THEN RAISE EXCEPTION 'header refused by the store'; END IF;"
                         " RETURN NEW; END $$")
            conn.execute("CREATE TRIGGER refuse_header BEFORE INSERT ON subscription_headers"
                         " FOR EACH ROW EXECUTE FUNCTION refuse_header()")
        return
    with sqlite3.connect(db_path) as conn:
        conn.execute(f"CREATE TRIGGER refuse_header BEFORE INSERT ON subscription_headers WHEN NEW.value = '{value}'"
                     " BEGIN SELECT RAISE(ABORT, 'header refused by the store'); END")


def subscription_rows(db_path) -> list[dict]:
    return (db_rows(db_path, "SELECT * FROM subscriptions ORDER BY id")
            + db_rows(db_path, "SELECT * FROM subscription_headers ORDER BY id"))


def test_an_edit_refused_half_way_leaves_the_subscription_exactly_as_it_was(db_path):
    """URL, description, headers and state in one edit: one transaction, so a refusal by the store after the
    URL was written (a header), or a URL that collides with another subscription, writes nothing."""
    from alpana_hooks.api import Hooks
    from alpana_hooks.errors import Conflict
    from alpana_hooks.model import State

    with Hooks.open() as api:
        sub = api.add_subscription("acme", "widget.added", "http://127.0.0.1:9/old", description="old",
                                   headers=[("X-Team", "bi")]).subscription
        api.add_subscription("acme", "widget.added", "http://127.0.0.1:9/taken")
    refuse_header_value(db_path, "refused")
    before = subscription_rows(db_path)
    change = {"description": "new", "headers": [("X-Team", "bi"), ("X-Env", "refused")], "state": State.DISABLED}
    with Hooks.open() as api:
        with pytest.raises(Exception, match="header refused by the store"):
            api.edit_subscription("acme", sub.id, url="http://127.0.0.1:9/new", **change)
        assert subscription_rows(db_path) == before
        with pytest.raises(Conflict) as refused:
            api.edit_subscription("acme", sub.id, url="http://127.0.0.1:9/taken",
                                  **{**change, "headers": [("X-Env", "prod")]})
        assert str(refused.value) == "subscription 2 in acme already sends widget.added to http://127.0.0.1:9/taken"
        assert subscription_rows(db_path) == before
        edited = api.edit_subscription("acme", sub.id, url="http://127.0.0.1:9/new",
                                       **{**change, "headers": [("X-Env", "prod")]})
    assert (edited.url, edited.description, edited.headers, edited.state) == (
        "http://127.0.0.1:9/new", "new", (("X-Env", "prod"),), State.DISABLED)
