"""The delivery engine on a bad day (issue 15): SIGTERM mid-send. Real processes, real receivers on 127.0.0.1,
real store files."""

import os
import signal
import subprocess
import sys
import time

from conftest import db_rows, run_cli

PYTHON_CLI = [sys.executable, "-m", "alpana_hooks"]


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def statuses(db_path) -> list[str]:
    return [r["status"] for r in db_rows(db_path, "SELECT status FROM attempts ORDER BY id")]


# -- 3. SIGTERM stops every command as Ctrl-C does --------------------------------------------------

def test_emit_stopped_by_sigterm_records_what_went_out_and_deliver_sends_the_rest_once(
        cli, add_sub, receiver, config_path, db_path):
    config_path.write_text(config_path.read_text() + "\n[delivery]\nconcurrency = 2\n")
    rx = receiver(lambda *a: time.sleep(1.0))
    for n in range(8):
        add_sub(rx.url(f"/s{n}"), "widget.deleted")
    emitter = subprocess.Popen([*PYTHON_CLI, "emit", "widget.deleted", "--tenant", "t1", "--id", "7", "--name", "W"],
                               env=os.environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: rx.requests)
    emitter.send_signal(signal.SIGTERM)
    assert emitter.wait(30) == 130
    after_term = statuses(db_path)
    assert after_term.count("succeeded") == len(rx.requests)
    assert after_term.count("pending") == 8 - len(rx.requests) > 0  # handed back, not left claimed
    assert run_cli("deliver").returncode == 0
    assert sorted(r["path"] for r in rx.requests) == [f"/s{n}" for n in range(8)]
    assert statuses(db_path) == ["succeeded"] * 8


def test_watch_stopped_by_sigterm_exits_0(add_sub, receiver):
    watcher = subprocess.Popen([*PYTHON_CLI, "attempts", "list", "--tenant", "t1", "--watch", "--json",
                                "--interval", "0.1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=os.environ)
    try:
        time.sleep(1.5)
        watcher.send_signal(signal.SIGTERM)
        assert watcher.wait(10) == 0
    finally:
        watcher.kill()
