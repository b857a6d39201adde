"""Figure 3 - fan-out latency: `emit` to 50 subscriptions on a receiver that takes 200 ms per request,
vs one request to that receiver (a fresh requests.Session, so it pays its connect like emit does).

Ours runs in-process (throughput.emit_once: Store.record_event, then send_claimed), first with the
package's default settings, then - if that misses and the default is not already 64 - with
concurrency = 64; concurrency 8, the default before it became 64, is also shown. An information row times the
real CLI (`alpana-hooks emit` as a subprocess, default settings) against the same one-request baseline.
"""

import time

import requests

import common
from common import CLI, Row, log
from throughput import emit_once

SUBSCRIPTIONS = 50
DELAY = 0.2
REPEATS = 5


def one_request(url: str) -> float:
    started = time.perf_counter()
    with requests.Session() as session:
        session.post(url, data=b'{"type":"dashboard.updated"}', headers={"Content-Type": "application/json"},
                     timeout=(5, 15)).content
    return time.perf_counter() - started


def run() -> list[Row]:
    from alpana_hooks.config import Settings
    from alpana_hooks.store import Store

    default = Settings.__dataclass_fields__["concurrency"].default
    work = common.fresh_dir("fanout")
    db = work / "hooks.db"
    rows = []
    with common.receiver(delay=DELAY) as url:
        store = Store.open(db)
        common.add_subscriptions(store, SUBSCRIPTIONS, url)
        for _ in range(2):                                      # warm-up, not counted
            one_request(url)
        base_times, results = [], {}

        def measure(label, settings):
            ours = []
            for rep in range(REPEATS):
                started = time.perf_counter()
                sent, ok = emit_once(store, settings)
                ours.append(time.perf_counter() - started)
                assert sent == ok == SUBSCRIPTIONS, (sent, ok)
                base_times.append(one_request(url))
            results[label] = ours
            log(f"fan-out {label}: {[round(t * 1000) for t in ours]} ms")

        measure(f"default (concurrency {default})", common.settings(db))
        if common.median(results[f"default (concurrency {default})"]) / common.median(base_times) > 2 and default != 64:
            measure("concurrency 64", common.settings(db, concurrency=64))
        if default != 8:
            measure("concurrency 8 (the default before 64)", common.settings(db, concurrency=8))
        store.close()

        config = common.write_config(work / "config.toml")
        env = common.cli_env(work, db, config)
        argv = [CLI, "emit", "dashboard.updated", "--id", "d1", "--name", "Sales", "--item-url", "https://bi.example.com/d/d1",
                "--tenant", "t1", "--json"]
        cli_times = []
        for rep in range(3):
            cli_times.append(common.timed_run([*argv, "--version", str(1000 + rep)], env))
            base_times.append(one_request(url))
        log(f"fan-out CLI: {[round(t * 1000) for t in cli_times]} ms")

    base = common.median(base_times)
    for label, ours in results.items():
        target = 2.0 if label.startswith(("default", "concurrency 64")) else None
        rows.append(Row(f"3. emit fan-out, 50 subs x 200 ms, {label}", common.median(ours), base, "s", target,
                        note=f"in-process, median of {REPEATS}; baseline = one request, median of {len(base_times)}"))
    rows.append(Row("3. (info) same, real CLI subprocess, default settings", common.median(cli_times), base, "s", None,
                    note="includes start-up and printing the JSON; median of 3"))
    return rows


def cleanup() -> None:
    common.remove_work("fanout")


if __name__ == "__main__":
    common.main_for(run, cleanup=cleanup)
