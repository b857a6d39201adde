"""Figure 5 - memory: `alpana-hooks deliver` sending a backlog of pending attempts vs the bare
requests loop sending as many requests, each in a fresh subprocess, to the same fast receiver. The bare
loop's process first imports the stack ours is built on (typer, rich, requests, sqlite-utils; see
bare_loop.py): issue 14 sets the target at 1.15x such a process.

Peak RSS is each child's ru_maxrss, taken by the tiny launcher peakrss.py (see there why not os.wait4 from
here); the receiver is another process and is not counted.
Growth: while `deliver` runs, this process samples the child's VmRSS from /proc/PID/status and the
share of attempts finished (a read of the attempts_unfinished index); RSS at 25/50/75/100% of the run
is reported, and growth = RSS at 100% over RSS at 25% (warm-up done). The bare loop reports its own
RSS at the same points. The backlog: events of 100 subscriptions, all attempts pending.
Figure 2c (deliver's throughput through the real CLI, issue 14's point 3) is read off the same two runs: attempts
over each process's wall time, start to exit.
"""

import json
import linecache
import os
import sqlite3
import subprocess
import sys
import threading
import time

import common
from common import CLI, HERE, PYTHON, Row, log

# The figure's size: 100,000 attempts (issue 14 put it back; `python benchmarks/memory.py 50000` runs another).
ATTEMPTS = 100_000
RESULTS_NOTES = """
Memory figure size: 100,000 attempts. Earlier runs used 50,000 because `deliver` of 100,000 slowed quarter by
quarter (37, 46, 48, 51 s): `Store.claim` scanned the finished attempts in rowid order. Since migration m006 the
claim walks the partial index attempts_unfinished_by_id (unfinished attempts only, in id order, stopping at its
LIMIT), and figure 5c checks that the last quarter takes at most 1.2x the first.
"""
PEAK_LIMIT = 1.15        # deliver's peak RSS at most 1.15x the bare loop's (with the same stack imported)
QUARTER_LIMIT = 1.2      # "flat claim cost": the last quarter of deliver takes at most 1.2x the first
SUBSCRIPTIONS = 100
GROWTH_LIMIT = 1.05      # "does not grow after warm-up": RSS at 100% within 5% of RSS at 25%


def build(db, url: str, attempts: int) -> bytes:
    """A store with `attempts` pending attempts (attempts/100 events x 100 subscriptions); returns one body."""
    from alpana_hooks.events import event_body
    from alpana_hooks.store import Store
    from alpana_hooks.timeutil import utcnow

    store = Store.open(db)
    common.add_subscriptions(store, SUBSCRIPTIONS, url)
    now = utcnow()
    bodies = []
    with store.write() as conn:
        for k in range(attempts // SUBSCRIPTIONS):
            payload = common.event_payload(k)
            event_id = f"evt_{k:026d}"
            body = event_body(event_type="dashboard.updated", event_id=event_id, tenant="t1", data=payload, now=now)
            bodies.append(body)
            conn.execute("INSERT INTO events (id, tenant, event_id, type, data, body, created_at)"
                         " VALUES (?, 't1', ?, 'dashboard.updated', ?, ?, ?)",
                         (k + 1, event_id, json.dumps(payload), body, now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")))
        conn.execute(
            "INSERT INTO attempts (tenant, subscription_id, event_pk, trigger, status, created_at, url)"
            " SELECT 't1', s.id, e.id, 'emit', 'pending', e.created_at, s.url FROM events e CROSS JOIN subscriptions s"
            " ORDER BY e.id, s.id")
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return bodies[0]


def _vm(pid: int) -> dict:
    values = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    name, kib = line.split()[:2]
                    values[name.rstrip(":")] = int(kib) / 1024
    except OSError:
        pass
    return values


class Measured:
    """A command run under peakrss.py: its pid (for /proc sampling), then its exit code and peak RSS (MiB)."""

    def __init__(self, argv: list[str], env: dict | None = None):
        self.out = common.WORK / "memory" / f"peak-{time.monotonic_ns()}.txt"
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([PYTHON, str(HERE / "peakrss.py"), str(self.out), *argv], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.pid = None
        for _ in range(400):
            if self.out.exists() and self.out.read_text().startswith("pid "):
                self.pid = int(self.out.read_text().split()[1])
                break
            time.sleep(0.005)

    def finish(self) -> tuple[int, float, bytes, bytes]:
        """Wait; (exit code, peak RSS MiB, stdout, stderr)."""
        stdout, stderr = self.proc.communicate()
        values = dict(line.split() for line in self.out.read_text().splitlines())
        return int(values.get("exit", self.proc.returncode)), int(values.get("peak_kib", 0)) / 1024, stdout, stderr


def run_deliver(db, config, work, attempts: int) -> dict:
    """`alpana-hooks deliver --json` on the backlog, sampling RSS against progress."""
    env = common.cli_env(work, db, config)
    reader = sqlite3.connect(f"file:{db}?mode=ro", uri=True, check_same_thread=False)
    started = time.perf_counter()
    child = Measured([CLI, "deliver", "--json"], env)
    samples = []      # (seconds, finished share, RSS MiB)
    done = threading.Event()

    def sample():
        while not done.is_set():
            rss = _vm(child.pid).get("VmRSS") if child.pid else None
            left = reader.execute("SELECT count(*) FROM attempts WHERE status IN ('pending', 'sending')").fetchone()[0]
            if rss:
                samples.append((time.perf_counter() - started, 1 - left / attempts, rss))
            done.wait(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code, peak, stdout, stderr = child.finish()
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    reader.close()
    if code != 0:
        raise RuntimeError(f"deliver exited {code}: {stderr.decode()[-2000:]}")
    totals = json.loads(stdout)
    marks = []
    for share in (0.25, 0.5, 0.75, 1.0):
        at = next((s for s in samples if s[1] >= share - 1e-9), samples[-1] if samples else (elapsed, 1.0, 0.0))
        marks.append((f"{int(share * 100)}%", round(at[0], 1), round(at[2], 1)))
    return {"peak_mib": peak, "seconds": elapsed, "marks": marks, "totals": totals,
            "samples": [(round(t, 2), round(p, 3), round(r, 1)) for t, p, r in samples]}


def run_bare(url: str, attempts: int, body_file) -> dict:
    """bare_loop.py posting as many requests, in a fresh subprocess."""
    started = time.perf_counter()
    code, peak, stdout, _ = Measured([PYTHON, str(HERE / "bare_loop.py"), url, str(attempts), str(body_file)]).finish()
    if code != 0:
        raise RuntimeError(f"bare loop exited {code}")
    report = json.loads(stdout)
    return {"peak_mib": peak, "seconds": time.perf_counter() - started, "marks": report["marks"][1:],
            "ok": report["ok"]}


def growth(marks) -> float:
    return marks[-1][2] / marks[0][2]


def run(attempts: int = ATTEMPTS) -> list[Row]:
    work = common.fresh_dir("memory")
    db = work / "hooks.db"
    config = common.write_config(work / "config.toml")
    with common.receiver() as url:
        started = time.perf_counter()
        body = build(db, url, attempts)
        (work / "body.json").write_bytes(body)
        log(f"memory: built {attempts:,} pending attempts in {time.perf_counter() - started:.1f} s")
        base = run_bare(url, attempts, work / "body.json")
        log(f"memory: bare loop {base['seconds']:.1f} s, peak {base['peak_mib']:.1f} MiB, marks {base['marks']}")
        ours = run_deliver(db, config, work, attempts)
        log(f"memory: deliver {ours['seconds']:.1f} s, peak {ours['peak_mib']:.1f} MiB, marks {ours['marks']}, "
            f"totals {({k: v for k, v in ours['totals'].items() if k != 'attempts'})}")
    marks = " ".join(f"{label} {rss:.0f}" for label, _, rss in ours["marks"])
    spans = quarters(ours["marks"])
    return [
        Row(f"5a. deliver {attempts:,}: peak RSS", ours["peak_mib"], base["peak_mib"], "MiB", PEAK_LIMIT,
            note=f"ru_maxrss of each child (via peakrss.py), the bare loop's after importing typer, rich, requests "
                 f"and sqlite-utils; deliver took {ours['seconds']:.0f} s "
                 f"({attempts / ours['seconds']:,.0f}/s), the bare loop {base['seconds']:.0f} s "
                 f"({attempts / base['seconds']:,.0f}/s)",
            detail={"ours": ours, "baseline": base}),
        Row(f"5b. deliver {attempts:,}: growth, RSS at 100% / at 25%", growth(ours["marks"]), growth(base["marks"]), "x",
            GROWTH_LIMIT, note=f"deliver RSS MiB at {marks}; must stay <= {GROWTH_LIMIT:.2f}x (bare loop: "
                       + " ".join(f"{label} {rss:.0f}" for label, _, rss in base["marks"]) + ")"),
        Row(f"5c. deliver {attempts:,}: last quarter / first quarter", spans[-1], spans[0], "s", QUARTER_LIMIT,
            note="seconds per quarter of the backlog: " + ", ".join(f"{x:.1f}" for x in spans)
                 + f"; must stay <= {QUARTER_LIMIT:.1f}x (flat claim cost)"),
        Row(f"2c. deliver throughput, {attempts:,} backlog, real CLI subprocess", attempts / ours["seconds"],
            attempts / base["seconds"], "/s", 1.0, higher_is_better=True,
            note="the same runs as 5a: one-shot `alpana-hooks deliver` vs the bare loop as a process, start to exit"),
    ]


def quarters(marks) -> list[float]:
    """Seconds each quarter of the run took, from the times at 25/50/75/100%."""
    times = [m[1] for m in marks]
    return [b - a for a, b in zip([0.0, *times], times, strict=False)]



IMPORT_LADDER = (
    ("python + requests", "import requests"),
    ("+ typer", "import requests, typer"),
    ("+ rich console and table", "import requests, typer, rich.console, rich.table"),
    ("+ sqlite_utils (the bare loop's stack)", "import requests, typer, rich.console, rich.table, sqlite_utils"),
    ("+ alpana_hooks cli, dispatch, delivery, store",
     "import requests, typer, rich.console, rich.table, sqlite_utils, alpana_hooks.cli.app, alpana_hooks.dispatch, "
     "alpana_hooks.delivery, alpana_hooks.store"),
)
STACK = 3  # the ladder's step the bare loop stops at


def explain(rows: list[Row]) -> list[str]:
    """Split the peak: what the imports cost (peak RSS of processes that only import), what the worker threads
    cost (a small backlog at the default concurrency and at 8), where the run's growth is (tracemalloc); plus the
    cost of one claim at the end (speed)."""
    from datetime import timedelta

    from alpana_hooks.config import Settings
    from alpana_hooks.store import Store
    from alpana_hooks.timeutil import utcnow

    ours = rows[0].detail["ours"]
    work = common.WORK / "memory"
    width = Settings.__dataclass_fields__["concurrency"].default
    rss = [rss for _, _, rss in ours["marks"]]
    lines = [f"`deliver` peaks at {ours['peak_mib']:.0f} MiB against {rows[0].baseline:.0f} MiB; its RSS at "
             f"25/50/75/100% of the run: {rss[0]:.0f} / {rss[1]:.0f} / {rss[2]:.0f} / {rss[3]:.0f} MiB. Peak RSS of "
             "processes that only import (each a fresh child, via peakrss.py):"]
    ladder = []
    for label, code in IMPORT_LADDER:
        _, peak, _, _ = Measured([PYTHON, "-c", code]).finish()
        lines.append(f"  - {peak:5.1f} MiB" + (f" ({peak - ladder[-1]:+.1f})" if ladder else "") + f"  {label}")
        ladder.append(peak)
    _, pydantic, _, _ = Measured([PYTHON, "-c", IMPORT_LADDER[STACK][1] + ", typer._adapters"]).finish()
    empty = work / "empty.db"
    Store.open(empty).close()
    _, idle, _, _ = Measured([CLI, "deliver", "--json"], common.cli_env(work, empty, work / "config.toml")).finish()
    lines.append(f"  - {idle:5.1f} MiB  `alpana-hooks deliver` with nothing due")
    small = {}
    for label, concurrency in ((f"default concurrency {width}", None), ("concurrency 8", 8)):
        folder = common.fresh_dir("memory-small")
        with common.receiver() as url:
            build(folder / "hooks.db", url, 5_000)
            config = common.write_config(folder / "config.toml", concurrency)
            _, small[label], _, _ = Measured([CLI, "deliver", "--json"],
                                             common.cli_env(folder, folder / "hooks.db", config)).finish()
    lines.append("  - sending 5,000: " + ", ".join(f"{peak:.1f} MiB at {label}" for label, peak in small.items())
                 + " (the engine's worker threads and their connections)")
    lines.append(f"Our modules add {ladder[-1] - ladder[STACK]:.1f} MiB to the bare loop's stack when all are imported, "
                 f"but `deliver` imports only what it runs: {idle:.1f} MiB with nothing due. The {PEAK_LIMIT:.2f}x "
                 f"target is {rows[0].baseline * PEAK_LIMIT:.1f} MiB. (Typer 0.29 imports pydantic to read option "
                 f"values, {pydantic - ladder[STACK]:+.1f} MiB; cli/values.py reads ours without it.)")
    lines += growth_profile(GROWTH_PROFILE_SIZE)
    store = Store.open(work / "hooks.db")
    finished = store.conn.execute("SELECT count(*) FROM attempts").fetchone()[0]
    now = utcnow()
    runs, statements = [], []
    store.conn.set_trace_callback(statements.append)  # the claim's own SELECT, to EXPLAIN it
    for _ in range(3):
        started = time.perf_counter()
        store.claim(None, now=now, lease_until=now + timedelta(seconds=60), owner="bench", limit=width)
        runs.append(time.perf_counter() - started)
    store.conn.set_trace_callback(None)
    select = next(sql for sql in statements if sql.startswith("SELECT a.id"))
    plan = "; ".join(r[3] for r in store.conn.execute(f"EXPLAIN QUERY PLAN {select}"))
    store.close()
    spans = quarters(ours["marks"])
    lines.append(f"Speed, not memory: `Store.claim(None)` (used by deliver_due) plans as `{plan}`: it reads only "
                 f"unfinished attempts, in id order, and stops at its LIMIT; one claim with {finished:,} finished "
                 f"attempts takes {common.median(runs) * 1000:.1f} ms. Seconds per quarter of this run: "
                 + ", ".join(f"{x:.0f}" for x in spans) + ". The gap to the bare loop's speed is the per-delivery "
                 "CPU of figure 2.")
    return lines


GROWTH_PROFILE_SIZE = 10_000


def growth_profile(attempts: int) -> list[str]:
    """What grows while `deliver` works: tracemalloc in a child running the CLI in-process on a backlog."""
    done = subprocess.run([PYTHON, __file__, "--growth-profile", str(attempts)], capture_output=True, text=True,
                          timeout=900)
    if done.returncode != 0:
        return [f"(growth profile failed: {done.stderr[-500:]})"]
    return [f"Python heap growth from 25% to 98% of `deliver` on {attempts:,} attempts (tracemalloc, lines that "
            "allocated what is still held; SQLite's own memory and thread stacks are not traced):",
            *done.stdout.splitlines()]


def _growth_profile_child(attempts: int) -> None:
    """The child of growth_profile: build a backlog, run `alpana-hooks deliver --json` in this process under
    tracemalloc, snapshot at 25% and 98% of the attempts finished, print the lines whose memory grew most."""
    import contextlib
    import io
    import tracemalloc

    work = common.fresh_dir("memory-growth")
    with common.receiver() as url:
        build(work / "hooks.db", url, attempts)
        os.environ.update(common.cli_env(work, work / "hooks.db", common.write_config(work / "config.toml")))
        reader = sqlite3.connect(f"file:{work / 'hooks.db'}?mode=ro", uri=True, check_same_thread=False)
        snapshots, stop = [], threading.Event()

        def sample():
            for share in (0.25, 0.98):
                while not stop.is_set() and 1 - reader.execute(
                        "SELECT count(*) FROM attempts WHERE status IN ('pending', 'sending')").fetchone()[0] / attempts < share:
                    stop.wait(0.05)
                snapshots.append(tracemalloc.take_snapshot())

        tracemalloc.start()
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        sys.argv = ["alpana-hooks", "deliver", "--json"]
        from alpana_hooks.__main__ import main

        with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
            main()
        stop.set()
        sampler.join()
    ignore = [tracemalloc.Filter(False, name) for name in (tracemalloc.__file__, __file__, "<frozen importlib._bootstrap*>")]
    first, last = (snapshot.filter_traces(ignore) for snapshot in snapshots)
    for stat in last.compare_to(first, "lineno")[:5]:
        frame = stat.traceback[0]
        print(f"  - {stat.size_diff / 1024:+8.1f} KiB ({stat.count_diff:+,} blocks)  {frame.filename.split('/site-packages/')[-1].removeprefix(f'{common.ROOT}/')}"
              f":{frame.lineno}  {linecache.getline(frame.filename, frame.lineno).strip()}")


def cleanup() -> None:
    import shutil

    shutil.rmtree(common.WORK / "memory", ignore_errors=True)
    shutil.rmtree(common.WORK / "memory-small", ignore_errors=True)
    shutil.rmtree(common.WORK / "memory-growth", ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--growth-profile"]:
        _growth_profile_child(int(sys.argv[2]))
    else:
        common.main_for(lambda: run(int(sys.argv[1]) if len(sys.argv) > 1 else ATTEMPTS), explain, cleanup)
