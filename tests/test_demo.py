"""`make demo` runs end to end and leaves nothing running."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def alpana_processes() -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"alpana-hooks\x00listen" in cmdline or b"alpana_hooks\x00listen" in cmdline:
                found.add(int(entry.name))
    return found


def test_demo_runs_and_stops_its_listener(tmp_path):
    before = alpana_processes()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for name in ("ALPANA_HOOKS_DB", "ALPANA_HOOKS_CONFIG", "ALPANA_HOOKS_TENANT"):
        env.pop(name, None)
    result = subprocess.run(["bash", str(ROOT / "examples" / "demo.sh")], env=env, capture_output=True, text=True,
                            timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout + result.stderr
    assert "\x1b" not in out  # piped (as here, or into a file): no colour or cursor codes (issue 13)
    assert "not fired: only the name changed" in out
    assert "signature:   valid" in out and "sent 1: 1 succeeded, 0 failed" in out
    assert "1 attempt(s); 1 subscription(s) skipped by their filter" in out and "\nmatch: subscription 5\n" in out
    # stats, piped: the endpoint that was down has 2 attempts, 1 succeeded after the edit, 1 failed
    assert "\n3\tactive\t2\t1\t1\t0\t50%\t" in out and "Activity, one mark per 1h" in out
    assert alpana_processes() - before == set()
