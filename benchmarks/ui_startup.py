"""Figure 6 - `ui` start-up: `alpana-hooks ui -t t1` until its first screen shows the tenant's 20
webhooks, vs benchmarks/ui_baseline_app.py (a minimal Textual app showing one DataTable of them), each
in its own pseudo-terminal of 100x30, interleaved, medians.

"Ready" is the moment the screen's output holds the data: for ours the list's summary line
("20 webhook(s), 20 active", written once the rows are read and shown), for the baseline the last
row's description. Then q is sent and the process is waited for (not timed).
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import time

import common
from common import CLI, HERE, PYTHON, Row, log

REPEATS = 11
SUBSCRIPTIONS = 20
SIZE = (30, 100)  # rows, columns
TIMEOUT = 30.0
_ESCAPES = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1bP[^\x1b]*\x1b\\|\x1b[@-Z\\-_]")


def time_to_screen(argv: list[str], env: dict, sentinel: bytes) -> float:
    """Seconds from spawning argv on a new pseudo-terminal until `sentinel` is on its screen."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[0], SIZE[1], 0, 0))
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdin=follower, stdout=follower, stderr=follower, start_new_session=True)
    os.close(follower)
    seen, elapsed = b"", None
    try:
        while elapsed is None:
            left = started + TIMEOUT - time.perf_counter()
            if left <= 0:
                raise RuntimeError(f"{argv} showed no {sentinel!r} within {TIMEOUT} s: {seen[-500:]!r}")
            ready, _, _ = select.select([leader], [], [], left)
            if not ready:
                continue
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                raise RuntimeError(f"{argv} exited before showing {sentinel!r}: {seen[-500:]!r}") from None
            seen += chunk
            if sentinel in _ESCAPES.sub(b"", seen):
                elapsed = time.perf_counter() - started
        os.write(leader, b"q")
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            if select.select([leader], [], [], 0.05)[0]:
                try:
                    os.read(leader, 65536)  # keep draining, so its last writes never block
                except OSError:
                    break
        return elapsed
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        os.close(leader)


def run() -> list[Row]:
    from startup import make_store

    work = common.fresh_dir("ui_startup")
    db = make_store(work)
    env = {**common.cli_env(work, db), "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    env.pop("COLUMNS", None)
    commands = {
        "ours": ([CLI, "ui", "-t", "t1"], f"{SUBSCRIPTIONS} webhook(s), {SUBSCRIPTIONS} active".encode()),
        "base": ([PYTHON, str(HERE / "ui_baseline_app.py"), str(db), "t1"], f"subscriber {SUBSCRIPTIONS - 1}".encode()),
    }
    log(f"ui start-up: {REPEATS} interleaved runs of each, in a {SIZE[1]}x{SIZE[0]} pseudo-terminal")
    times: dict[str, list[float]] = {name: [] for name in commands}
    for round_no in range(2 + REPEATS):
        for name, (argv, sentinel) in commands.items():
            elapsed = time_to_screen(argv, env, sentinel)
            if round_no >= 2:
                times[name].append(elapsed)
    ours, base = common.median(times["ours"]), common.median(times["base"])
    note = (f"median of {REPEATS} interleaved runs (after 2 warm-up rounds), each in a new {SIZE[1]}x{SIZE[0]} "
            "pseudo-terminal: spawn to the first screen holding the 20 rows' data")
    return [Row("6. ui start-up: first screen ready (20 webhooks)", ours, base, "s", 1.30, note=note, detail=times)]


PROBE = """
import sys, time
started = time.perf_counter()
from alpana_hooks.__main__ import main
entry_imported = time.perf_counter()
import textual, alpana_hooks.ui  # what the command imports before it runs the app
imported = time.perf_counter()
def run(settings, tenant):
    print(f"{(entry_imported - started) * 1000:.1f} {(time.perf_counter() - imported) * 1000:.1f}", file=sys.stderr)
    return 0
alpana_hooks.ui.run = run
sys.argv = ["alpana-hooks", "ui", "-t", "t1"]
main()
"""
UI_IMPORTS = ("import alpana_hooks.__main__, alpana_hooks.ui, alpana_hooks.config, alpana_hooks.validate, "
              "alpana_hooks.ui.app, alpana_hooks.ui.webhooks")


def explain(rows: list[Row]) -> list[str]:
    """Where ours spends the time the baseline does not: the console script before the UI runs (in-process
    probe: its import, then reading ui's options, the settings and the tenant), and -X importtime of what ours
    imports that the baseline does not, charged to our module that pulls it in."""
    import profiling

    work = common.WORK / "ui_startup"
    env = {**common.cli_env(work, work / "hooks.db"), "TERM": "xterm-256color"}
    probes = []
    for _ in range(5):
        master, slave = pty.openpty()  # `ui` checks for a terminal before it runs
        done = subprocess.run([PYTHON, "-c", PROBE], env=env, stdin=slave, stdout=slave, stderr=subprocess.PIPE,
                              text=True)
        os.close(master)
        os.close(slave)
        probes.append(tuple(float(x) for x in done.stderr.split()))
    imports, parsing = (sorted(p[i] for p in probes)[len(probes) // 2] for i in (0, 1))
    lines = [f"Before the UI runs, ours spends {imports:.0f} ms importing the console script (alpana_hooks.__main__, "
             f"which imports neither Typer nor Click for `ui`) and {parsing:.0f} ms from there to the UI's start: "
             "reading its options, the settings and the tenant check; the baseline starts Textual directly. Median "
             "of 5 in-process probes."]
    probe = UI_IMPORTS
    ours = profiling.import_times(["-c", probe], env)
    base = profiling.import_times(["-c", "import textual.app, textual.widgets._data_table, sqlite3"], env)
    total, count, groups = profiling.extra_imports(ours, base)
    lines.append(f"`ui`: {count} modules the baseline never imports cost {total:.0f} ms (self time), charged to the "
                 "module of ours that pulls them in: "
                 + ", ".join(f"{name} {ms:.1f} ms" + (f" (with {', '.join(mods)})" if mods else "")
                             for name, ms, mods in groups)
                 + ". (-X importtime, median of 3 runs. Textual's widget modules that textual.widgets loads on first "
                 "use, DataTable's among them, are not listed by -X importtime: their time counts as the self time "
                 "of our module that first names the widget.)")
    return lines


def cleanup() -> None:
    common.remove_work("ui_startup")


if __name__ == "__main__":
    common.main_for(run, explain, cleanup)
