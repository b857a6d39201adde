"""Figure 3 - fan-out latency: `emit` to 50 subscriptions on 50 hosts whose receivers take 200 ms per request,
vs one request to one of them (a fresh requests.Session, so it pays its connect like emit does).

The 50 hosts are 50 loopback addresses, 127.0.0.2 ... 127.0.0.51, served by one receiver process (receiver.py
--hosts 50): each is its own destination for `[delivery] per_host_concurrency`, as 50 real hosts would be.
Ours runs in-process (throughput.emit_once: Store.record_event, then send_claimed) with the package's default
settings; concurrency 8 is also shown. Information rows: the same 50 subscriptions on one host:port (the
per-host limit, 8 by default, lets 8 go at once: about 50/8 rounds of 200 ms), and the real CLI
(`alpana-hooks emit` as a subprocess, default settings) against the same one-request baseline.
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


def subscribe(db, urls: list[str]):
    from alpana_hooks.signing import generate_secret
    from alpana_hooks.store import Store
    from alpana_hooks.timeutil import utcnow

    store = Store.open(db)
    for url in urls:
        store.add_subscription(tenant="t1", event_type="dashboard.updated", url=url, description="", state="active",
                               headers=[], secret=generate_secret(), now=utcnow())
    return store


def run() -> list[Row]:
    from alpana_hooks.config import Settings

    default = Settings.__dataclass_fields__["concurrency"].default
    work = common.fresh_dir("fanout")
    rows = []
    with common.receiver(delay=DELAY, hosts=SUBSCRIPTIONS) as url:
        hosts = [url.replace("127.0.0.1", f"127.0.0.{2 + i}") for i in range(SUBSCRIPTIONS)]
        many = subscribe(work / "hosts.db", hosts)
        one = subscribe(work / "one.db", [f"{url}?s={i}" for i in range(SUBSCRIPTIONS)])
        for _ in range(2):                                      # warm-up, not counted
            one_request(hosts[0])
        base_times, results = [], {}

        def measure(label, store, settings):
            ours = []
            for rep in range(REPEATS):
                started = time.perf_counter()
                sent, ok = emit_once(store, settings)
                ours.append(time.perf_counter() - started)
                assert sent == ok == SUBSCRIPTIONS, (sent, ok)
                base_times.append(one_request(hosts[rep]))
            results[label] = ours
            log(f"fan-out {label}: {[round(t * 1000) for t in ours]} ms")

        measure(f"50 hosts, default (concurrency {default})", many, common.settings(work / "hosts.db"))
        measure("50 hosts, concurrency 8", many, common.settings(work / "hosts.db", concurrency=8))
        measure("(info) one host:port, default", one, common.settings(work / "one.db"))
        many.close()
        one.close()

        config = common.write_config(work / "config.toml")
        env = common.cli_env(work, work / "hosts.db", config)
        argv = [CLI, "emit", "dashboard.updated", "--id", "d1", "--name", "Sales", "--item-url", "https://bi.example.com/d/d1",
                "--tenant", "t1", "--json"]
        cli_times = []
        for rep in range(3):
            cli_times.append(common.timed_run([*argv, "--version", str(1000 + rep)], env))
            base_times.append(one_request(hosts[rep]))
        log(f"fan-out CLI: {[round(t * 1000) for t in cli_times]} ms")

    base = common.median(base_times)
    for label, ours in results.items():
        target = 2.0 if "default" in label and "(info)" not in label else None
        rows.append(Row(f"3. emit fan-out, 50 subs x 200 ms, {label}", common.median(ours), base, "s", target,
                        note=f"in-process, median of {REPEATS}; baseline = one request, median of {len(base_times)}"))
    rows.append(Row("3. (info) same, real CLI subprocess, default settings", common.median(cli_times), base, "s", None,
                    note="includes start-up and printing the JSON; median of 3"))
    return rows


def cleanup() -> None:
    common.remove_work("fanout")


if __name__ == "__main__":
    common.main_for(run, cleanup=cleanup)
