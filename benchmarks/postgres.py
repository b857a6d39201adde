"""Figure 7 - PostgreSQL (issue 10): the shared store against the SQLite file, and several deliverers.

- 7a. emit throughput (record an event and its 2 attempts, `send=False`, through the Python API), PostgreSQL
  vs SQLite, interleaved rounds: information (no target).
- 7b. `deliver` on a 20,000-attempt backlog, PostgreSQL, 4 processes vs 1, against a receiver that waits
  50 ms per request: target >= 2.5x. 7c gives 1 process on PostgreSQL vs on SQLite, for information.
- 7d. `attempts list --subscription X --limit 50 --json` on PostgreSQL, 1,000,000 attempts vs 10,000
  (built with generate_series like history.py's stores): target <= 1.5x.

PostgreSQL is a pgserver 16 in a temporary folder with its default (durable) settings.
"""

from __future__ import annotations

import subprocess
import tempfile
import time

import common
from common import CLI, Row, log

EMITS, EMIT_ROUNDS = 300, 3
BACKLOG, BACKLOG_SUBS = 20_000, 10
HISTORY_BIG, HISTORY_SMALL, HISTORY_REPEATS = 1_000_000, 10_000, 7
SUBSCRIPTIONS, PER_EVENT, BUSY = 100, 10, 42

_server = None


def _postgres() -> str:
    """The admin URL of this run's PostgreSQL (started on first use)."""
    global _server
    if _server is None:
        import pgserver

        _server = pgserver.get_server(tempfile.mkdtemp(prefix="alpana-bench-pg-"), cleanup_mode="delete")
    return _server.get_uri()


def _database(name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    admin = _postgres()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(admin)._replace(path="/" + name))


def _emit_rate(hooks, round_no: int) -> float:
    started = time.perf_counter()
    for n in range(EMITS):
        hooks.emit("t1", "dashboard.updated", common.event_payload(round_no * EMITS + n), send=False)
    return EMITS / (time.perf_counter() - started)


def emit_throughput(work) -> Row:
    from alpana_hooks.api import Hooks

    hooks = {"postgres": Hooks(common.settings(_database("bench_emit"))),
             "sqlite": Hooks(common.settings(work / "emit.db"))}
    for h in hooks.values():
        common.add_subscriptions(h.store, 2, "https://hooks.example.com/in")
    rates: dict[str, list[float]] = {name: [] for name in hooks}
    for round_no in range(EMIT_ROUNDS):
        for name, h in hooks.items():
            rates[name].append(_emit_rate(h, round_no))
    for h in hooks.values():
        h.close()
    pg, lite = common.median(rates["postgres"]), common.median(rates["sqlite"])
    return Row("7a. emit --no-send throughput: PostgreSQL vs SQLite", pg, lite, "/s", None, higher_is_better=True,
               note=f"in-process Hooks.emit(send=False), {EMITS} events x 2 attempts, median of {EMIT_ROUNDS} "
                    "interleaved rounds; each event is one transaction (the outbox)")


def _backlog(database, url: str) -> None:
    """BACKLOG pending attempts: BACKLOG / BACKLOG_SUBS events, each to BACKLOG_SUBS subscriptions."""
    from alpana_hooks.api import Hooks

    hooks = Hooks(common.settings(database))
    store = hooks.store
    if not store.list_subscriptions("t1"):
        common.add_subscriptions(store, BACKLOG_SUBS, url)
    for n in range(BACKLOG // BACKLOG_SUBS):
        hooks.emit("t1", "dashboard.updated", common.event_payload(n), send=False)
    hooks.close()


def _deliver(database, work, processes: int) -> float:
    """Seconds for `processes` concurrent one-shot `deliver` runs to send the whole backlog."""
    config = common.write_config(work / "deliver.toml")
    env = common.cli_env(work, database, config)
    started = time.perf_counter()
    procs = [subprocess.Popen([CLI, "deliver", "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(processes)]
    for proc in procs:
        _, err = proc.communicate(timeout=1800)
        if proc.returncode != 0:
            raise RuntimeError(f"deliver exited {proc.returncode}: {err.decode()[-2000:]}")
    return time.perf_counter() - started


def deliver_throughput(work) -> list[Row]:
    times = {}
    with common.receiver(delay=0.05) as url:
        for name, processes, database in (("pg1", 1, _database("bench_deliver1")),
                                          ("pg4", 4, _database("bench_deliver4")),
                                          ("lite1", 1, work / "deliver1.db")):
            _backlog(database, url)
            log(f"postgres: backlog of {BACKLOG:,} ready ({name}); delivering with {processes} process(es)")
            times[name] = _deliver(database, work, processes)
            log(f"postgres: {name} took {times[name]:.1f} s")
    rate = {name: BACKLOG / seconds for name, seconds in times.items()}
    note = (f"{BACKLOG:,} pending attempts ({BACKLOG_SUBS} subscriptions), one-shot `deliver` processes started "
            "together, wall time until all exit; receiver waits 50 ms per request; default concurrency")
    return [
        Row("7b. deliver throughput on PostgreSQL: 4 processes vs 1", rate["pg4"], rate["pg1"], "/s", 2.5,
            higher_is_better=True, note=note),
        Row("7c. deliver throughput, 1 process: PostgreSQL vs SQLite", rate["pg1"], rate["lite1"], "/s", None,
            higher_is_better=True, note=note),
    ]


def _history(database: str, attempts: int) -> None:
    from alpana_hooks.store import Store

    store = Store.open(database)
    events = attempts // PER_EVENT
    with store.write() as conn:
        conn.execute(
            "INSERT INTO subscriptions (id, tenant, event_type, url, description, state, created_at, updated_at)"
            " OVERRIDING SYSTEM VALUE SELECT i, 't1', 'dashboard.updated', 'https://hooks' || i || '.example.com/in',"
            " '', 'active', '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z' FROM generate_series(1, ?) i",
            (SUBSCRIPTIONS,))
        conn.execute(
            "INSERT INTO events (id, tenant, event_id, type, data, body, created_at) OVERRIDING SYSTEM VALUE"
            " SELECT k, 't1', 'evt_' || lpad(k::text, 26, '0'), 'dashboard.updated',"
            " jsonb_build_object('dashboard_id', 'd' || k % 500, 'name', 'Sales dashboard ' || k % 500, 'version', k),"
            " convert_to('{\"type\":\"dashboard.updated\",\"id\":\"evt_' || k || '\",\"data\":{}}', 'UTF8'),"
            " timestamptz '2025-01-01' + k * interval '10 seconds' FROM generate_series(1, ?) k",
            (events,))
        conn.execute(
            "INSERT INTO attempts (tenant, subscription_id, event_pk, trigger, status, created_at, started_at,"
            " finished_at, duration_ms, url, request_headers, status_code, response_headers, response_body)"
            " SELECT 't1', ((k / ?) * 7 + (k % ?) * 10) % ? + 1, k / ? + 1, 'emit',"
            " CASE WHEN k % 20 = 7 THEN 'failed' ELSE 'succeeded' END, at, at, at, 3 + k % 40,"
            " 'https://hooks.example.com/in', ?, CASE WHEN k % 20 = 7 THEN 500 ELSE 200 END, ?,"
            " convert_to('{\"ok\":true}', 'UTF8')"
            " FROM (SELECT k, timestamptz '2025-01-01' + (k / ? * 10 + (k % ?) * 0.1) * interval '1 second' AS at"
            " FROM generate_series(0, ? - 1) k) n",
            (PER_EVENT, PER_EVENT, SUBSCRIPTIONS, PER_EVENT, "[]", "[]", PER_EVENT, PER_EVENT, attempts))
    store.conn.execute("ANALYZE")
    store.close()


def history(work) -> Row:
    urls = {}
    for size in (HISTORY_SMALL, HISTORY_BIG):
        urls[size] = _database(f"bench_history_{size}")
        started = time.perf_counter()
        _history(urls[size], size)
        log(f"postgres: built {size:,} attempts in {time.perf_counter() - started:.1f} s")
    argv = [CLI, "attempts", "list", "--subscription", str(BUSY), "--limit", "50", "--json", "--tenant", "t1"]
    commands = {size: (argv, common.cli_env(work, url)) for size, url in urls.items()}
    times = common.interleaved(commands, HISTORY_REPEATS)
    big, small = common.median(times[HISTORY_BIG]), common.median(times[HISTORY_SMALL])
    return Row(f"7d. attempts list on PostgreSQL: {HISTORY_BIG:,} vs {HISTORY_SMALL:,}", big, small, "s", 1.5,
               note=f"CLI subprocess, busy subscription, median of {HISTORY_REPEATS} interleaved runs")


def run() -> list[Row]:
    work = common.fresh_dir("postgres")
    rows = [emit_throughput(work)]
    log(f"postgres: {rows[-1].figure}: {rows[-1].ratio:.2f}x")
    rows += deliver_throughput(work)
    rows.append(history(work))
    return rows


def cleanup() -> None:
    global _server
    if _server is not None:
        _server.cleanup()
        _server = None
    common.remove_work("postgres")


if __name__ == "__main__":
    common.main_for(run, None, cleanup)
