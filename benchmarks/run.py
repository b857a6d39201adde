"""`make bench`: run every figure, print one table, write benchmarks/RESULTS.md.

Usage: run.py [--only startup,throughput,fanout,history,memory,ui_startup,postgres,stats] [--no-explain] [--memory-size N]
Every figure is a ratio against a baseline measured in the same run; a MISS comes with where the time
(or memory) goes, from py-spy, -X importtime, EXPLAIN QUERY PLAN or tracemalloc.
"""

import argparse
import importlib
import sys
import time
from pathlib import Path

import common
from common import Row

FIGURES = ("startup", "throughput", "fanout", "history", "memory", "ui_startup", "postgres", "stats")
RESULTS = common.HERE / "RESULTS.md"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(FIGURES), help="comma-separated figures to run")
    parser.add_argument("--no-explain", action="store_true", help="skip the profiles of the figures that miss")
    parser.add_argument("--memory-size", type=int, default=None, help="attempts for the memory figure")
    parser.add_argument("--results", default=str(RESULTS), help="where to write the Markdown results")
    args = parser.parse_args()
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(chosen) - set(FIGURES)
    if unknown:
        parser.error(f"unknown figure(s): {', '.join(sorted(unknown))}")

    from alpana_hooks import __version__
    from alpana_hooks.config import Settings

    machine = common.machine()
    started = time.perf_counter()
    rows: list[Row] = []
    explanations: dict[str, list[str]] = {}
    durations: dict[str, float] = {}
    for name in chosen:
        module = importlib.import_module(name)
        print(f"== {name}", file=sys.stderr, flush=True)
        begun = time.perf_counter()
        try:
            figure_rows = module.run(args.memory_size) if name == "memory" and args.memory_size else module.run()
            rows += figure_rows
            if not args.no_explain and hasattr(module, "explain") and any(r.verdict == "MISS" for r in figure_rows):
                explanations[name] = module.explain(figure_rows)
        finally:
            if hasattr(module, "cleanup"):
                module.cleanup()
        durations[name] = time.perf_counter() - begun
    total = time.perf_counter() - started

    print()
    print(common.table(rows))
    print(f"\n{sum(r.verdict == 'PASS' for r in rows)} PASS, {sum(r.verdict == 'MISS' for r in rows)} MISS, "
          f"{total / 60:.1f} min. Details and profiles: {args.results}")
    package = {"version": __version__, "concurrency": Settings.__dataclass_fields__["concurrency"].default}
    Path(args.results).write_text(markdown(rows, explanations, machine, package, durations, total))
    return 0


def markdown(rows, explanations, machine, package, durations, total) -> str:
    out = ["# Benchmark results", "",
           "Written by `make bench` (`benchmarks/run.py`); every figure is ours / a baseline measured in the same "
           "run, interleaved, medians. Wall-clock values are only meaningful next to their baseline.", "",
           "## Machine", "",
           f"- CPU: {machine['cpu']}, {machine['cores']} cores; {machine['os']}",
           f"- Python {machine['python']}, SQLite {machine['sqlite']}",
           f"- alpana-hooks {package['version']}, default `concurrency` = {package['concurrency']} (as read when run)",
           f"- Date: {machine['date']}; the whole run took {total / 60:.1f} min "
           f"({', '.join(f'{k} {v:.0f} s' for k, v in durations.items())})", "",
           "## Results", "",
           "| figure | ours | baseline | ratio | target | result |", "|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r.figure} | {common.fmt(r.ours, r.unit)} | {common.fmt(r.baseline, r.unit)} | "
                   f"{r.ratio:.2f}x | {r.target_text} | {r.verdict} |")
    out += ["", "## How each figure was measured", ""]
    for r in rows:
        if r.note:
            out.append(f"- **{r.figure}**: {r.note}")
    out += ["", "Modules: " + ", ".join(f"`benchmarks/{name}.py`" for name in durations) + ". Each one runs alone "
            "too: `.venv/bin/python benchmarks/<name>.py`.", ""]
    for name in durations:
        notes = getattr(importlib.import_module(name), "RESULTS_NOTES", "")
        if notes:
            out += [notes.strip(), ""]
    if explanations:
        out += ["## Where the time goes (figures that miss)", ""]
        for name, lines in explanations.items():
            out += [f"### {name}", "", *lines, ""]
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    sys.exit(main())
