"""Figure 4 - history: `attempts list --subscription X --limit 50 --json` on 1,000,000 attempts vs 10,000.

Both stores are made the same way: a Store opened once (so the schema is the package's own), then one
transaction of bulk INSERT ... SELECT from recursive CTEs: events ten seconds apart, each sent to 10 of
100 subscriptions of tenant t1 (so 10,000 attempts per subscription in the big store), created_at
increasing, 95% succeeded / 5% failed, with request and response headers and bodies of realistic size.
The command is timed as a CLI subprocess, interleaved between the two stores, median of several runs.

Two subscriptions are asked for: a busy one (attempts spread over the whole history), and a quiet one:
50 attempts at the very beginning of the history, then nothing (e.g. disabled long ago) - the same
50 rows in both stores, so only the size of everything else changes.
"""

import time

import common
from common import CLI, Row, log

BIG = 1_000_000
SMALL = 10_000
REPEATS = 9
SUBSCRIPTIONS = 100
PER_EVENT = 10
BUSY, QUIET = 42, SUBSCRIPTIONS + 1

REQUEST_HEADERS = ('[["Content-Type","application/json"],["User-Agent","alpana-hooks/0.1.0"],'
                   '["Accept-Encoding","identity"],["webhook-id","evt_01KBZ4Q0M3V8J6R1T9X2Y5W7C"],'
                   '["webhook-timestamp","1764350897"],["webhook-signature","v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="]]')
RESPONSE_HEADERS = '[["Server","nginx"],["Date","Sat, 28 Nov 2026 17:48:17 GMT"],["Content-Type","application/json"],["Content-Length","11"]]'


def build(db, attempts: int) -> None:
    """A store with `attempts` attempts (plus the quiet subscription's 50), in one transaction."""
    from alpana_hooks.signing import generate_secret
    from alpana_hooks.store import Store

    store = Store.open(db)
    events = attempts // PER_EVENT
    with store.write() as conn:
        conn.executemany(
            "INSERT INTO subscriptions (id, tenant, event_type, url, description, state, created_at, updated_at)"
            " VALUES (?, 't1', 'dashboard.updated', ?, '', ?, '2025-01-01T00:00:00.000000Z', '2025-01-01T00:00:00.000000Z')",
            [(i, f"https://hooks{i}.example.com/in", "disabled" if i == QUIET else "active")
             for i in range(1, SUBSCRIPTIONS + 2)])
        conn.executemany("INSERT INTO subscription_secrets (subscription_id, secret, created_at)"
                         " VALUES (?, ?, '2025-01-01T00:00:00.000000Z')",
                         [(i, generate_secret()) for i in range(1, SUBSCRIPTIONS + 2)])
        # Events 10 s apart from 2025-01-01; julianday arithmetic keeps created_at increasing.
        conn.execute(
            "WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < ?)"
            " INSERT INTO events (id, tenant, event_id, type, data, body, created_at)"
            " SELECT k, 't1', printf('evt_%026d', k), 'dashboard.updated',"
            " printf('{\"dashboard_id\":\"d%d\",\"name\":\"Sales dashboard %d\",\"url\":\"https://bi.example.com/t1/dashboards/d%d\",\"version\":%d}', k % 500, k % 500, k % 500, k),"
            " CAST(printf('{\"type\":\"dashboard.updated\",\"id\":\"evt_%026d\",\"timestamp\":\"%s\",\"tenant\":\"t1\",\"data\":{\"dashboard_id\":\"d%d\",\"name\":\"Sales dashboard %d\",\"url\":\"https://bi.example.com/t1/dashboards/d%d\",\"version\":%d}}', k, strftime('%Y-%m-%dT%H:%M:%f000Z', 2460676.5 + k * 10 / 86400.0), k % 500, k % 500, k % 500, k) AS BLOB),"
            " strftime('%Y-%m-%dT%H:%M:%f000Z', 2460676.5 + k * 10 / 86400.0) FROM n",
            (events,))
        # Each event goes to 10 distinct subscriptions (a rotating stride), 100 ms apart.
        conn.execute(
            "WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n WHERE k < ? - 1)"
            " INSERT INTO attempts (tenant, subscription_id, event_pk, trigger, status, created_at, started_at,"
            " finished_at, duration_ms, url, request_headers, status_code, response_headers, response_body, error_class, error)"
            " SELECT 't1', sub, ev, 'emit', CASE WHEN k % 20 = 7 THEN 'failed' ELSE 'succeeded' END, at, at, at, 3 + k % 40,"
            " printf('https://hooks%d.example.com/in', sub), ?, CASE WHEN k % 20 = 7 THEN 500 ELSE 200 END, ?,"
            " CAST(CASE WHEN k % 20 = 7 THEN '{\"error\":\"internal\"}' ELSE '{\"ok\":true}' END AS BLOB),"
            " CASE WHEN k % 20 = 7 THEN 'http' END, CASE WHEN k % 20 = 7 THEN 'HTTP 500' END"
            " FROM (SELECT k, k / ? + 1 AS ev, ((k / ?) * 7 + (k % ?) * 10) % ? + 1 AS sub,"
            " strftime('%Y-%m-%dT%H:%M:%f000Z', 2460676.5 + (k / ? * 10 + (k % ?) * 0.1) / 86400.0) AS at FROM n)",
            (attempts, REQUEST_HEADERS, RESPONSE_HEADERS, PER_EVENT, PER_EVENT, PER_EVENT, SUBSCRIPTIONS,
             PER_EVENT, PER_EVENT))
        # The quiet subscription: 50 attempts on the first 50 events, at the start of the history.
        conn.execute(
            "INSERT INTO attempts (tenant, subscription_id, event_pk, trigger, status, created_at, url, status_code)"
            " SELECT 't1', ?, id, 'emit', 'succeeded', created_at, 'https://quiet.example.com/in', 200"
            " FROM events ORDER BY id LIMIT 50", (QUIET,))
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()


def run() -> list[Row]:
    work = common.fresh_dir("history")
    stores = {}
    for size in (SMALL, BIG):
        db = work / f"attempts-{size}.db"
        started = time.perf_counter()
        build(db, size)
        log(f"history: built {size:,} attempts in {time.perf_counter() - started:.1f} s ({db.stat().st_size / 2**20:.0f} MiB)")
        stores[size] = db
    commands = {}
    for label, sub in (("busy", BUSY), ("quiet", QUIET)):
        for size, db in stores.items():
            argv = [CLI, "attempts", "list", "--subscription", str(sub), "--limit", "50", "--json", "--tenant", "t1"]
            commands[(label, size)] = (argv, common.cli_env(work, db))
    log(f"history: {REPEATS} interleaved runs of 4 commands")
    times = common.interleaved(commands, REPEATS)
    med = {key: common.median(values) for key, values in times.items()}
    note = (f"CLI subprocess, median of {REPEATS} interleaved runs; {SUBSCRIPTIONS} subscriptions, "
            f"{PER_EVENT} attempts per event")
    return [
        Row(f"4a. attempts list, busy subscription: {BIG:,} vs {SMALL:,}", med[("busy", BIG)], med[("busy", SMALL)],
            "s", 1.5, note=note),
        Row(f"4b. attempts list, quiet subscription: {BIG:,} vs {SMALL:,}", med[("quiet", BIG)],
            med[("quiet", SMALL)], "s", 1.5, note=note + "; quiet = 50 attempts at the start of the history"),
    ]


def explain(rows: list[Row]) -> list[str]:
    """The query plan of Store.list_attempts, and its time in-process with the plan SQLite picks and with the
    subscription index forced."""
    from pathlib import Path

    from alpana_hooks.store import Store

    work = common.WORK / "history"
    sql = (Store._ATTEMPT_SELECT + " WHERE a.tenant = ? AND a.subscription_id = ?"
           " ORDER BY a.created_at DESC, a.id DESC LIMIT ?")
    forced = sql.replace("FROM attempts a", "FROM attempts a INDEXED BY attempts_by_subscription_time")
    lines = []
    for size in (SMALL, BIG):
        store = Store.open(Path(work / f"attempts-{size}.db"))
        if size == SMALL:
            plan = "; ".join(r[3] for r in store.conn.execute("EXPLAIN QUERY PLAN " + sql, ("t1", QUIET, 50)))
            lines.append(f"`Store.list_attempts(subscription_id=X)` plan: {plan}.")
            if "attempts_by_tenant_time" in plan:
                lines.append("The index attempts_by_subscription_time (subscription_id, created_at) is not used: "
                             "SQLite walks the tenant's attempts newest first and filters on subscription_id, so the "
                             "cost is the number of the tenant's attempts newer than X's 50th newest.")
        for label, sub in (("busy", BUSY), ("quiet", QUIET)):
            timings = {}
            for name, query in (("as is", sql), ("INDEXED BY attempts_by_subscription_time", forced)):
                runs = []
                for _ in range(5):
                    started = time.perf_counter()
                    store.conn.execute(query, ("t1", sub, 50)).fetchall()
                    runs.append(time.perf_counter() - started)
                timings[name] = common.median(runs) * 1000
            lines.append(f"  - {size:>9,} attempts, {label} subscription: {timings['as is']:.2f} ms as is, "
                         f"{timings['INDEXED BY attempts_by_subscription_time']:.2f} ms with the subscription index")
        store.close()
    return lines


def cleanup() -> None:
    import shutil

    shutil.rmtree(common.WORK / "history", ignore_errors=True)


if __name__ == "__main__":
    common.main_for(run, explain, cleanup)
