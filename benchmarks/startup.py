"""Figure 1 - start-up: `alpana-hooks --help`, `attempts --help`, a shell-completion request (what TAB runs for
`alpana-hooks a<TAB>` in bash) and `list --tenant t1` (20 rows) vs benchmarks/baseline_app.py doing the same,
each as a subprocess, interleaved, medians.

Ours is the console script .venv/bin/alpana-hooks; the baseline is .venv/bin/python baseline_app.py.
Both read the same SQLite file (20 subscriptions, some with headers) and print to a pipe.
"""

import common
from common import CLI, HERE, PYTHON, Row, log

REPEATS = 21
SUBSCRIPTIONS = 20


def make_store(work):
    """A database with 20 subscriptions of tenant t1 (every third with a header), built by the CLI's Store."""
    from alpana_hooks.store import Store
    from alpana_hooks.signing import generate_secret
    from alpana_hooks.timeutil import utcnow

    db = work / "hooks.db"
    store = Store.open(db)
    types = ("dashboard.updated", "dashboard.added", "widget.updated", "comment.added")
    for i in range(SUBSCRIPTIONS):
        headers = [("Authorization", f"Bearer token-{i}")] if i % 3 == 0 else []
        store.add_subscription(tenant="t1", event_type=types[i % len(types)], url=f"https://hooks{i}.example.com/in",
                               description=f"subscriber {i}", state="active", headers=headers,
                               secret=generate_secret(), now=utcnow())
    store.close()
    return db


def run() -> list[Row]:
    work = common.fresh_dir("startup")
    db = make_store(work)
    env = common.cli_env(work, db)
    baseline = [PYTHON, str(HERE / "baseline_app.py")]
    ours_tab = {**env, "_ALPANA_HOOKS_COMPLETE": "complete_bash", "COMP_WORDS": "alpana-hooks a", "COMP_CWORD": "1"}
    base_tab = {**env, "_BASELINE_APP.PY_COMPLETE": "complete_bash", "COMP_WORDS": "baseline_app.py a",
                "COMP_CWORD": "1"}
    commands = {
        "ours --help": ([CLI, "--help"], env),
        "base --help": ([*baseline, "--help"], env),
        "ours attempts --help": ([CLI, "attempts", "--help"], env),
        "base attempts --help": ([*baseline, "attempts", "--help"], env),
        "ours TAB": ([CLI], ours_tab),
        "base TAB": ([*baseline], base_tab),
        "ours list": ([CLI, "list", "--tenant", "t1"], env),
        "base list": ([*baseline, "list", "--tenant", "t1"], env),
    }
    log(f"start-up: {REPEATS} interleaved runs of {len(commands)} commands")
    times = common.interleaved(commands, REPEATS)
    med = {name: common.median(values) for name, values in times.items()}
    note = f"median of {REPEATS} interleaved subprocess runs (after 2 warm-up rounds)"
    return [
        Row("1a. start-up: --help", med["ours --help"], med["base --help"], "s", 1.10, note=note, detail=times),
        Row("1b. start-up: list --tenant t1 (20 rows)", med["ours list"], med["base list"], "s", 1.15, note=note),
        Row("1c. start-up: attempts --help", med["ours attempts --help"], med["base attempts --help"], "s", 1.10,
            note=note),
        Row("1d. start-up: shell completion (a<TAB>)", med["ours TAB"], med["base TAB"], "s", 1.10, note=note),
    ]


def explain(rows: list[Row]) -> list[str]:
    """-X importtime of ours vs the baseline: what ours imports that the baseline does not, and who imports it."""
    import profiling

    work = common.WORK / "startup"
    env = common.cli_env(work, work / "hooks.db")
    lines = []
    for label, args in (("--help", ["--help"]), ("list --tenant t1", ["list", "--tenant", "t1"])):
        ours = profiling.import_times([CLI, *args], env)
        base = profiling.import_times([str(HERE / "baseline_app.py"), *args], env)
        total, count, groups = profiling.extra_imports(ours, base)
        lines.append(
            f"`{label}`: {count} modules the baseline never imports cost {total:.0f} ms (self time), charged to the "
            "module of ours that pulls them in: "
            + ", ".join(f"{name} {ms:.1f} ms" + (f" (with {', '.join(mods)})" if mods else "") for name, ms, mods in groups)
            + ".")
    lines.append("(-X importtime, median of 3 runs; importtime adds its own overhead, so these ms run a little "
                 "higher than in the timed runs.)")
    return lines


def cleanup() -> None:
    common.remove_work("startup")


if __name__ == "__main__":
    common.main_for(run, explain, cleanup)
