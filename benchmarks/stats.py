"""Figure 9 - stats: `stats --json` over the last hour of a store of 1,000,000 attempts vs one of 10,000.

The stores are history.py's (100 subscriptions of tenant t1, events ten seconds apart, 10 attempts each, 95%
succeeded), built the same way. Both have the same traffic rate, so the last hour of each holds the same
~3,600 attempts: the window is `--since` (the newest attempt's time minus one hour, asked of each store),
`--bucket 7d` (the window runs until now). Only the history before the window grows 100-fold; stats must read
the window and, per subscription, the last success, the last failure and the failures since through the index,
never the whole history. Timed as a CLI subprocess, interleaved, median of several runs.
"""

import sqlite3
import time
from datetime import datetime, timedelta

import common
import history
from common import CLI, Row, log

REPEATS = 7
WINDOW = timedelta(hours=1)


def window_start(db) -> str:
    """The newest attempt's time minus the window, as --since takes it."""
    conn = sqlite3.connect(db)
    newest = conn.execute("SELECT max(created_at) FROM attempts").fetchone()[0]
    conn.close()
    start = datetime.fromisoformat(newest.replace("Z", "+00:00")) - WINDOW
    return start.strftime("%Y-%m-%dT%H:%M:%SZ")


def run() -> list[Row]:
    work = common.fresh_dir("stats")
    commands = {}
    for size in (history.SMALL, history.BIG):
        db = work / f"attempts-{size}.db"
        started = time.perf_counter()
        history.build(db, size)
        log(f"stats: built {size:,} attempts in {time.perf_counter() - started:.1f} s")
        argv = [CLI, "stats", "--since", window_start(db), "--bucket", "7d", "--json", "--tenant", "t1"]
        commands[size] = (argv, common.cli_env(work, db))
    log(f"stats: {REPEATS} interleaved runs of 2 commands")
    med = {size: common.median(values) for size, values in common.interleaved(commands, REPEATS).items()}
    note = (f"CLI subprocess, median of {REPEATS} interleaved runs; {history.SUBSCRIPTIONS + 1} subscriptions, "
            "the last hour of each store (~3,600 attempts in both)")
    return [Row(f"9. stats, last hour: {history.BIG:,} vs {history.SMALL:,} attempts", med[history.BIG],
                med[history.SMALL], "s", 1.5, note=note)]


def explain(rows: list[Row]) -> list[str]:
    """The query plans of the statements stats runs, on the big store."""
    from alpana_hooks.store import Store

    store = Store.open(common.WORK / "stats" / f"attempts-{history.BIG}.db")
    plans = {
        "window": ("SELECT subscription_id, count(*) FROM attempts WHERE tenant = 't1' AND created_at >= '2026'"
                   " AND subscription_id IN (1, 2) GROUP BY subscription_id"),
        "last success": ("SELECT created_at FROM attempts WHERE tenant = 't1' AND subscription_id = 1"
                         " AND status = 'succeeded' ORDER BY created_at DESC LIMIT 1"),
    }
    lines = []
    for name, sql in plans.items():
        plan = store.conn.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
        lines.append(f"- {name}: " + "; ".join(row["detail"] for row in plan))
    store.close()
    return lines


def cleanup() -> None:
    common.remove_work("stats")


if __name__ == "__main__":
    common.main_for(run, explain, cleanup)
