"""Where the time goes, for figures that miss: py-spy (sampling, all threads) and -X importtime.

py-spy (`make bench` installs it) is looked up beside this Python, then on PATH; without it the CPU profiles are
skipped.
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
import tempfile

from common import PYTHON, log


def pyspy() -> str | None:
    beside = os.path.join(os.path.dirname(PYTHON), "py-spy")
    return beside if os.access(beside, os.X_OK) else shutil.which("py-spy")


def record(argv: list[str], rate: int = 250, gil: bool = True) -> list[tuple[list[str], int]] | None:
    """Run argv under `py-spy record --gil` (only samples of the thread holding the GIL: where the CPU of
    a GIL-bound Python process goes); returns (stack frames, samples) pairs, or None without py-spy."""
    tool = pyspy()
    if tool is None:
        return None
    with tempfile.NamedTemporaryFile(suffix=".raw", delete=False) as out:
        path = out.name
    try:
        done = subprocess.run([tool, "record", *(["--gil"] if gil else []), "-r", str(rate), "-f", "raw", "-o", path,
                               "--", *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0:
            log(f"py-spy failed: {done.stderr.strip()[-300:]}")
            return None
        stacks = []
        with open(path) as f:
            for line in f:
                stack, count = line.rstrip("\n").rsplit(" ", 1)
                stacks.append((stack.split(";"), int(count)))
        return stacks
    finally:
        os.unlink(path)


def categorize(stacks, categories: list[tuple[str, tuple[str, ...]]], exclude: tuple[str, ...] = ()) -> list[tuple[str, float]]:
    """Share of samples per category: a stack goes to the first category one of whose markers appears in it."""
    counts: collections.Counter = collections.Counter()
    total = 0
    for frames, count in stacks:
        text = ";".join(frames)
        if any(marker in text for marker in exclude):
            continue
        total += count
        for name, markers in categories:
            if any(marker in text for marker in markers):
                counts[name] += count
                break
        else:
            counts["other (dispatcher loop, native frames)"] += count
    return [(name, count / total) for name, count in counts.most_common()] if total else []


_IMPORT = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s+)(\S+)")


def import_times(argv: list[str], env: dict, runs: int = 3) -> dict[str, tuple[int, str | None]]:
    """-X importtime of a command: module -> (median self time in us, the module that imported it)."""
    per_module: dict[str, list[int]] = collections.defaultdict(list)
    parents: dict[str, str | None] = {}
    for _ in range(runs):
        done = subprocess.run([PYTHON, "-X", "importtime", *argv], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        lines = [(m.group(4), int(m.group(1)), (len(m.group(3)) - 1) // 2) for m in _IMPORT.finditer(done.stderr)]
        ancestors: dict[int, str] = {}
        for name, self_us, depth in reversed(lines):      # reversed post-order: importers come first
            ancestors[depth] = name
            parents.setdefault(name, ancestors.get(depth - 1) if depth else None)
            per_module[name].append(self_us)
    return {name: (sorted(values)[len(values) // 2], parents.get(name)) for name, values in per_module.items()}


def extra_imports(ours: dict, base: dict, top: int = 8) -> tuple[float, int, list[tuple[str, float, list[str]]]]:
    """Self time of the modules ours imports and the baseline does not, each charged to the nearest
    alpana_hooks module that (directly or not) imported it: (total ms, module count,
    [(our module, ms, the heaviest foreign modules it brings)])."""
    groups: collections.Counter = collections.Counter()
    foreign: dict[str, list[tuple[int, str]]] = collections.defaultdict(list)
    extra = [name for name in ours if name not in base]
    for name in extra:
        owner = name
        while owner is not None and not owner.startswith("alpana_hooks"):
            owner = ours.get(owner, (0, None))[1]
        owner = owner or "(outside alpana_hooks)"
        groups[owner] += ours[name][0]
        if not name.startswith("alpana_hooks"):
            foreign[owner].append((ours[name][0], name))
    total = sum(groups.values()) / 1000
    return total, len(extra), [(name, us / 1000, [n for _, n in sorted(foreign[name], reverse=True)[:4]])
                               for name, us in groups.most_common(top)]
