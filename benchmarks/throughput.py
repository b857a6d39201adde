"""Figure 2 - throughput: `emit` to 200 subscriptions vs a bare requests.Session loop, same receiver.

Ours runs in-process, as `emit` does after parsing: a new Dispatcher, Store.record_event (the outbox
transaction, storing the attempts already claimed by that dispatcher), then its send_claimed (sign, send
`concurrency` at a time, record results), then close. The CLI's start-up and the final table are left
out (figure 1 covers start-up). Baseline: bare_loop.post_all with the same body and headers to the same
200 URLs. Both are timed in this process, interleaved.

Figure 2b is the same through the real CLI: `alpana-hooks emit --json` as a subprocess against bare_loop.py as a
subprocess posting as many requests (both pay their interpreter's start-up and imports). As information, the
in-process figure is also set against a bare http.client loop: the ceiling of a Python client on this machine.
"""

import itertools
import json
import resource
import subprocess
import sys
import time

import common
from common import CLI, HERE, PYTHON, Row, log

SUBSCRIPTIONS = 200
REPEATS = 7
CLI_REPEATS = 9
_events = itertools.count(1)  # each emit is a new version of a dashboard, so the rename rule lets it fire


def emit_once(store, settings) -> tuple[int, int]:
    """One in-process emit: record the event and its attempts, send them. Returns (sent, succeeded)."""
    from alpana_hooks.dispatch import Dispatcher
    from alpana_hooks.events import event_body, new_event_id
    from alpana_hooks.timeutil import utcnow

    now = utcnow()
    payload = common.event_payload(next(_events))
    event_id = new_event_id(now)
    body = event_body(event_type="dashboard.updated", event_id=event_id, tenant="t1", data=payload, now=now)
    dispatcher = Dispatcher(store, settings)
    try:
        recorded = store.record_event(tenant="t1", event_id=event_id, event_type="dashboard.updated", data=payload,
                                      body=body, now=now, resource=("dashboard", payload["dashboard_id"],
                                                                    payload["name"], payload["version"], "updated"),
                                      claim=dispatcher.claim_ticket())
        sent = dispatcher.send_claimed(recorded["attempt_ids"])
    finally:
        dispatcher.close()
    ok = store.conn.execute("SELECT count(*) FROM attempts WHERE event_pk = ? AND status = 'succeeded'",
                            (recorded["event_pk"],)).fetchone()[0]
    return len(sent), ok


def signed_body_and_headers(store, url: str):
    """The body and headers one real delivery carries, for the baseline to send verbatim."""
    from alpana_hooks.delivery import build_request
    from alpana_hooks.events import event_body, new_event_id
    from alpana_hooks.timeutil import utcnow

    now = utcnow()
    event_id = new_event_id(now)
    body = event_body(event_type="dashboard.updated", event_id=event_id, tenant="t1", data=common.event_payload(),
                      now=now)
    secret = store.conn.execute("SELECT secret FROM subscription_secrets LIMIT 1").fetchone()[0]
    request = build_request(url=url, body=body, msg_id=event_id, secrets=[secret], custom_headers=[],
                            timestamp=int(now.timestamp()), user_agent="alpana-hooks/0.1.0")
    return body, request.headers


def run() -> list[Row]:
    from alpana_hooks.store import Store

    from bare_loop import post_all, post_all_http_client

    work = common.fresh_dir("throughput")
    db = work / "hooks.db"
    with common.receiver() as url:
        log(f"throughput: receiver capacity ({url})")
        capacity = common.receiver_capacity(url)
        store = Store.open(db)
        common.add_subscriptions(store, SUBSCRIPTIONS, url)
        settings = common.settings(db)
        urls = [f"{url}?s={i}" for i in range(SUBSCRIPTIONS)]
        body, headers = signed_body_and_headers(store, urls[0])
        ours, base, ours_cpu, base_cpu, ceiling = [], [], [], [], []
        for rep in range(REPEATS + 1):          # round 0 warms both up and is not counted
            cpu, started = _cpu(), time.perf_counter()
            sent, ok = emit_once(store, settings)
            ours_s, ours_c = time.perf_counter() - started, _cpu() - cpu
            assert sent == ok == SUBSCRIPTIONS, (sent, ok)
            cpu, started = _cpu(), time.perf_counter()
            ok = post_all(urls, body, headers)
            base_s, base_c = time.perf_counter() - started, _cpu() - cpu
            assert ok == SUBSCRIPTIONS
            started = time.perf_counter()
            assert post_all_http_client(urls, body, headers) == SUBSCRIPTIONS
            ceiling_s = time.perf_counter() - started
            if rep:
                ceiling.append(SUBSCRIPTIONS / ceiling_s)
                ours.append(SUBSCRIPTIONS / ours_s)
                base.append(SUBSCRIPTIONS / base_s)
                ours_cpu.append(ours_c / SUBSCRIPTIONS)
                base_cpu.append(base_c / SUBSCRIPTIONS)
        store.close()
        cli_ours, cli_base = through_the_cli(work, db, url, body)
    log(f"throughput: emit {[round(x) for x in ours]} /s, bare loop {[round(x) for x in base]} /s, "
        f"http.client loop {[round(x) for x in ceiling]} /s")
    ours_m, base_m = common.median(ours), common.median(base)
    cpu_note = (f"; CPU per delivery (this process, all threads): emit {common.median(ours_cpu) * 1000:.2f} ms, "
                f"bare loop {common.median(base_cpu) * 1000:.2f} ms; concurrency {settings.concurrency}")
    return [
        Row("2. emit throughput, 200 subs (in-process)", ours_m, base_m, "/s", 1.0, higher_is_better=True,
            note=f"median of {REPEATS} interleaved rounds of 200 deliveries; receiver capacity >= {capacity:,.0f} req/s "
                 f"(2 processes x 4 keep-alive http.client connections), {capacity / base_m:.1f}x the bare loop's rate"
                 + cpu_note,
            detail={"ours": ours, "baseline": base, "receiver_capacity": capacity,
                    "cpu_ms": (common.median(ours_cpu) * 1000, common.median(base_cpu) * 1000)}),
        Row("2. (info) the same emit vs a bare http.client loop (the ceiling)", ours_m, common.median(ceiling), "/s",
            None, higher_is_better=True, note="one keep-alive http.client.HTTPConnection, same body and headers"),
        Row("2b. emit throughput, 200 subs, real CLI subprocess", common.median(cli_ours), common.median(cli_base), "/s",
            1.0, higher_is_better=True,
            note=f"median of {CLI_REPEATS} interleaved runs of `alpana-hooks emit --json` vs `bare_loop.py URL 200 --requests-only`, "
                 "each a new process (start-up and imports included)"),
    ]


def through_the_cli(work, db, url: str, body: bytes) -> tuple[list[float], list[float]]:
    """Deliveries per second of `alpana-hooks emit` (a new process each time) and of bare_loop.py as a process."""
    env = common.cli_env(work, db, common.write_config(work / "config.toml"))
    body_file = work / "body.json"
    body_file.write_bytes(body)
    ours, base = [], []
    for rep in range(CLI_REPEATS + 1):       # round 0 warms both up and is not counted
        payload = json.dumps(common.event_payload(next(_events)))
        started = time.perf_counter()
        done = subprocess.run([CLI, "emit", "dashboard.updated", "--tenant", "t1", "--json", "--data", payload],
                              env=env, capture_output=True, text=True, check=True)
        ours_s = time.perf_counter() - started
        assert sum(a["status"] == "succeeded" for a in json.loads(done.stdout)["attempts"]) == SUBSCRIPTIONS
        started = time.perf_counter()
        done = subprocess.run([PYTHON, str(HERE / "bare_loop.py"), url, str(SUBSCRIPTIONS), str(body_file),
                               "--requests-only"],
                              capture_output=True, text=True, check=True)
        base_s = time.perf_counter() - started
        if rep:
            ours.append(SUBSCRIPTIONS / ours_s)
            base.append(SUBSCRIPTIONS / base_s)
    return ours, base


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


CATEGORIES = [
    ("connections: TCP connect of the dispatcher's pool, closed at the end", ("GuardedConnection.connect",
                                                                               "Sender.close", "Pool.close")),
    ("HTTP exchange in http.client (the bare loop: requests and urllib3 over http.client)",
     ("Sender._exchange", "Session.post", "Session.request")),
    ("per-send deadline (the watchdog's bookkeeping)", ("Deadline.start", "Deadline.finish", "Deadline.__init__")),
    ("SQLite: claim", ("Store.claim",)),
    ("SQLite: sending_contexts (3 queries per claimed batch)", ("Store.sending_contexts",)),
    ("SQLite: record_results (batched, + _track_health)", ("Store.record_results",)),
    ("SQLite: record_event", ("Store.record_event",)),
    ("result rows: Dispatcher._outcome (to_iso, json.dumps of headers, masking)", ("Dispatcher._outcome",)),
    ("signing + build_request", ("build_request",)),
    ("hand-off to the send threads (Workers.put/take, thread start)", ("Workers.put", "Workers.take", "Thread.start")),
]


def profile_loop(emits: int) -> None:
    """The process py-spy samples: set up, warm up, then `emits` emits of 200."""
    from alpana_hooks.store import Store

    db = common.fresh_dir("throughput-profile") / "hooks.db"
    with common.receiver() as url:
        store = Store.open(db)
        common.add_subscriptions(store, SUBSCRIPTIONS, url)
        settings = common.settings(db)
        emit_once(store, settings)
        for _ in range(emits):
            emit_once(store, settings)
        store.close()


def explain(rows: list[Row]) -> list[str]:
    """Where emit's CPU goes (py-spy --gil over 15 emits of 200), against the bare loop's CPU per delivery."""
    import profiling

    row = rows[0]
    ours_cpu, base_cpu = row.detail["cpu_ms"]
    lines = [f"The emit process is CPU-bound under the GIL: {ours_cpu:.2f} ms of CPU per delivery against "
             f"{base_cpu:.2f} ms for the bare loop ({ours_cpu / base_cpu:.2f}x); the receiver is not the limit "
             f"(>= {row.detail['receiver_capacity']:,.0f} req/s)."]
    stacks = profiling.record([common.PYTHON, __file__, "--profile-loop", "15"])
    if stacks is None:
        return lines + ["(py-spy not found: no CPU profile.)"]
    shares = profiling.categorize(stacks, CATEGORIES, exclude=("add_subscriptions", "_find_and_load", "Store.open",
                                                               "receiver_capacity", "fresh_dir"))
    lines.append("py-spy --gil (samples of whichever thread holds the GIL, so shares of CPU), steady state, "
                 f"ms per delivery = share x {ours_cpu:.2f} ms:")
    lines += [f"  - {share * 100:4.1f}%  ~{share * ours_cpu:.2f} ms  {name}" for name, share in shares]
    return lines


def cleanup() -> None:
    common.remove_work("throughput", "throughput-profile")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--profile-loop"]:
        profile_loop(int(sys.argv[2]))
    else:
        common.main_for(run, explain, cleanup)
