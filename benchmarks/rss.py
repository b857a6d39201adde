"""Resident memory of this process: current (VmRSS) and peak (VmHWM), from /proc/self/status."""

import json
import sys
import time


def _status() -> dict:
    values = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, kib = line.split()[:2]
                values[name.rstrip(":")] = int(kib) / 1024
    return values


class Sampler:
    """Marks: (label, seconds since start, RSS MiB); report() prints them as one JSON line on stdout."""

    def __init__(self):
        self.started = time.monotonic()
        self.marks = []

    def mark(self, label: str) -> None:
        self.marks.append((label, round(time.monotonic() - self.started, 2), round(_status()["VmRSS"], 2)))

    def report(self, **extra) -> None:
        sys.stdout.write(json.dumps({"marks": self.marks, "peak_mib": round(_status()["VmHWM"], 2), **extra}) + "\n")
        sys.stdout.flush()
