"""Shared helpers of the benchmarks: rows of the table, medians, the receiver process, CLI subprocesses.

Every figure is a ratio against a baseline measured in the same run, on the same machine, with the
runs interleaved (ours, baseline, ours, baseline, ...) so that noise hits both sides alike.
"""

from __future__ import annotations

import functools
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent          # the .venv's bin (run.py is started with .venv/bin/python)
CLI = str(BIN / "alpana-hooks")            # the console script, as users run it
PYTHON = sys.executable
WORK = HERE / ".work"                      # scratch files (git-ignored)

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@dataclass
class Row:
    """One line of the results table."""

    figure: str
    ours: float
    baseline: float
    unit: str
    target: float | None              # None: information only, no PASS/MISS
    higher_is_better: bool = False    # ratio >= target (throughput) instead of ratio <= target
    note: str = ""
    detail: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.ours / self.baseline if self.baseline else float("inf")

    @property
    def target_text(self) -> str:
        if self.target is None:
            return "info"
        return f"{'>=' if self.higher_is_better else '<='} {self.target:.2f}x"

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "-"
        ok = self.ratio >= self.target if self.higher_is_better else self.ratio <= self.target
        return "PASS" if ok else "MISS"


def fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1000:.1f} ms" if value < 10 else f"{value:.1f} s"
    if unit == "MiB":
        return f"{value:.1f} MiB"
    if unit == "/s":
        return f"{value:,.0f} /s"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:.3g} {unit}"


def table(rows: list[Row]) -> str:
    """The plain-text table printed by run.py (and each module when run alone)."""
    head = ("figure", "ours", "baseline", "ratio", "target", "result")
    body = [(r.figure, fmt(r.ours, r.unit), fmt(r.baseline, r.unit), f"{r.ratio:.2f}x", r.target_text, r.verdict)
            for r in rows]
    widths = [max(len(str(line[i])) for line in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip() for line in [head, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def median(values) -> float:
    return statistics.median(values)


def log(text: str) -> None:
    """Progress on stderr, so a long run shows it is alive."""
    print(f"  [{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def machine() -> dict:
    """Where the figures came from."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "os": f"{platform.system()} {platform.release()}",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


# -- environment of CLI subprocesses ----------------------------------------------------------

@functools.cache
def byte_compile_package() -> None:
    """Write the package's .pyc files, as `pip install` does: with PYTHONDONTWRITEBYTECODE=1 in the environment
    (some CI and sandbox images set it) an editable install would otherwise compile every module from source on
    every run, a cost no installed copy pays and the single-file baselines hardly do."""
    subprocess.run([PYTHON, "-m", "compileall", "-q", str(HERE.parent / "alpana_hooks")], check=True,
                   stdout=subprocess.DEVNULL)


def cli_env(workdir: Path, db: Path, config: Path | None = None) -> dict:
    """No inherited alpana-hooks settings, a private config dir, stable width, no colour (and .pyc files written)."""
    byte_compile_package()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPANA_HOOKS_")}
    env.update({"XDG_CONFIG_HOME": str(workdir / "xdg"), "NO_COLOR": "1", "COLUMNS": "160",
                "ALPANA_HOOKS_DB": str(db)})
    if config is not None:
        env["ALPANA_HOOKS_CONFIG"] = str(config)
    return env


def write_config(path: Path, concurrency: int | None = None) -> Path:
    """A config file that lets deliveries reach 127.0.0.0/8 (and optionally sets concurrency)."""
    text = ""
    if concurrency is not None:
        text += f"[delivery]\nconcurrency = {concurrency}\n"
    text += '[security]\nallowed_networks = ["127.0.0.0/8"]\n'
    path.write_text(text)
    return path


def timed_run(argv: list[str], env: dict, check: bool = True) -> float:
    """Wall time of one subprocess, output captured (a pipe, as in scripts)."""
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    if check and done.returncode != 0:
        raise RuntimeError(f"{argv} exited {done.returncode}: {done.stderr.decode()[-2000:]}")
    return elapsed


def interleaved(commands: dict[str, tuple[list[str], dict]], repeats: int, warmup: int = 2) -> dict[str, list[float]]:
    """Run each command `repeats` times, round-robin, after `warmup` untimed rounds; wall times per name."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for round_no in range(warmup + repeats):
        for name, (argv, env) in commands.items():
            elapsed = timed_run(argv, env)
            if round_no >= warmup:
                times[name].append(elapsed)
    return times


# -- the receiver, in its own process ---------------------------------------------------------

@contextmanager
def receiver(delay: float = 0.0, hosts: int = 0):
    """Start benchmarks/receiver.py in a separate process (listening on 127.0.0.1, and with `hosts` on as many
    more loopback addresses from 127.0.0.2, same port); yields its URL on 127.0.0.1."""
    proc = subprocess.Popen([PYTHON, str(HERE / "receiver.py"), "--delay", str(delay), "--hosts", str(hosts)],
                            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline().strip()
        if not line.startswith("PORT "):
            raise RuntimeError(f"receiver did not start: {line!r}")
        yield f"http://127.0.0.1:{int(line.split()[1])}/hook"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def receiver_capacity(url: str, seconds: float = 3.0, processes: int = 2, threads: int = 4) -> float:
    """Requests per second the receiver answers to a lean load generator (raw http.client, keep-alive,
    `processes` x `threads` connections). A lower bound: the generator shares the machine's cores."""
    argv = [PYTHON, str(HERE / "loadgen.py"), url, str(seconds), str(threads)]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) for _ in range(processes)]
    total = 0
    for proc in procs:
        out, _ = proc.communicate(timeout=seconds + 30)
        total += int(out.split()[0])
    return total / seconds


# -- stores ---------------------------------------------------------------------------------------

def settings(db: Path, **overrides):
    """In-process Settings: loopback allowed, no config file."""
    from alpana_hooks.config import Settings

    return Settings(database=db, config_file=None, tenant="t1", allowed_networks=("127.0.0.0/8",), **overrides)


def add_subscriptions(store, count: int, url: str, tenant: str = "t1", event_type: str = "dashboard.updated") -> list[int]:
    """`count` active subscriptions to `url` (distinct by a query string), each with a signing secret."""
    from alpana_hooks.signing import generate_secret
    from alpana_hooks.timeutil import utcnow

    return [store.add_subscription(tenant=tenant, event_type=event_type, url=f"{url}?s={i}", description="",
                                   state="active", headers=[], secret=generate_secret(), now=utcnow())
            for i in range(count)]


def event_payload(n: int = 0) -> dict:
    """A realistic dashboard.updated payload."""
    return {"dashboard_id": f"d{n}", "name": f"Sales dashboard {n}", "url": f"https://bi.example.com/t1/dashboards/d{n}",
            "version": n + 1}


def fresh_dir(name: str) -> Path:
    """An empty scratch folder under benchmarks/.work/."""
    import shutil

    path = WORK / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def main_for(run, explain=None, cleanup=None) -> None:
    """`python benchmarks/<figure>.py`: run one figure, print its rows and, for a miss, where the time goes."""
    try:
        rows = run()
        print(table(rows))
        for row in rows:
            if row.note:
                print(f"- {row.figure}: {row.note}")
        if explain is not None and any(row.verdict == "MISS" for row in rows):
            print("\n".join(explain(rows)))
    finally:
        if cleanup is not None:
            cleanup()


def remove_work(*names: str) -> None:
    """Delete scratch folders under benchmarks/.work/."""
    import shutil

    for name in names:
        shutil.rmtree(WORK / name, ignore_errors=True)
