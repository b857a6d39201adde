"""The delivery engine on a bad day (issue 15): SIGTERM and SIGKILL mid-send, and a loop that runs for many
rounds. Real processes, real receivers on 127.0.0.1, real store files."""

import gc
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import requests

from alpana_hooks.config import Settings, load_settings
from alpana_hooks.dispatch import LEASE_MARGIN, Dispatcher, event_body, new_event_id
from alpana_hooks.signing import generate_secret
from alpana_hooks.store import Store
from alpana_hooks.timeutil import from_iso, utcnow
from conftest import db_rows, run_cli

PYTHON_CLI = [sys.executable, "-m", "alpana_hooks"]


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def statuses(db_path) -> list[str]:
    return [r["status"] for r in db_rows(db_path, "SELECT status FROM attempts ORDER BY id")]


# -- 3. SIGTERM everywhere, and leases that do not strand work ----------------------------------------

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


def test_a_killed_resend_leaves_its_claims_leased_for_one_deadline(cli, add_sub, receiver, config_path, db_path):
    """resend --failed over 200 deliveries, 2 at a time: its queued claims are renewed while it works, and when
    it is SIGKILLed they expire within one deadline plus the margin (not after 100 rounds of deadlines)."""
    config_path.write_text(config_path.read_text()
                           + "\n[delivery]\nconcurrency = 2\ntimeout_seconds = 5\nretry_schedule = []\n")
    mode = {"answer": (500, {}, b"down")}

    def respond(*_):
        if mode["answer"] == "slow":
            time.sleep(0.5)
            return None
        return mode["answer"]

    rx = receiver(respond)
    add_sub(rx.url(), "widget.deleted")
    store = Store.open(db_path)
    for n in range(200):
        now = utcnow()
        event_id = new_event_id(now)
        body = event_body(event_type="widget.deleted", event_id=event_id, tenant="t1", data={}, now=now)
        store.record_event(tenant="t1", event_id=event_id, event_type="widget.deleted", data={}, body=body, now=now)
    first = Dispatcher(store, load_settings())
    assert len(first.deliver_due()) == 200
    first.close()
    mode["answer"] = "slow"
    sent_before = len(rx.requests)
    resend = subprocess.Popen([*PYTHON_CLI, "resend", "--failed", "--yes", "--tenant", "t1"], env=os.environ,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    claimed = "SELECT id, lease_until FROM attempts WHERE status = 'sending' ORDER BY id"
    wait_for(lambda: len(rx.requests) > sent_before and len(db_rows(db_path, claimed)) > 100)
    queued = db_rows(db_path, claimed)[-1]  # the last of the queue: sent in about 50 s
    wait_for(lambda: db_rows(db_path, f"SELECT lease_until FROM attempts WHERE id = {queued['id']}")[0]["lease_until"]
             > queued["lease_until"], timeout=20)  # renewed while the process works
    resend.kill()
    killed_at = utcnow()
    resend.wait(10)
    left = db_rows(db_path, claimed)
    assert len(left) > 100
    leases = [from_iso(r["lease_until"]) for r in left]
    assert max(leases) <= killed_at + timedelta(seconds=5) + LEASE_MARGIN + timedelta(seconds=2)
    mode["answer"] = None
    later = Dispatcher(store, load_settings(), clock=lambda: max(leases) + timedelta(seconds=1))
    try:
        assert sorted(later.deliver_due()) == [r["id"] for r in left]
    finally:
        later.close()
        store.close()


# -- 6. a loop that runs for weeks: one pool, bounded sessions, flat memory ----------------------------

def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def _live_sessions() -> int:
    gc.collect()
    return sum(isinstance(o, requests.Session) for o in gc.get_objects())


def test_three_hundred_rounds_keep_threads_sessions_and_memory_flat(db_path, receiver):
    rx = receiver()
    store = Store.open(db_path)
    settings = Settings(database=db_path, config_file=None, tenant="t1", allowed_networks=("127.0.0.0/8",),
                        concurrency=4)
    store.add_subscription(tenant="t1", event_type="widget.deleted", url=rx.url(), description="", state="active",
                           headers=[], secret=generate_secret(), now=utcnow())
    dispatcher = Dispatcher(store, settings, rng=random.Random(1))

    def rounds(count: int) -> None:
        for _ in range(count):
            for _ in range(3):
                now = utcnow()
                event_id = new_event_id(now)
                body = event_body(event_type="widget.deleted", event_id=event_id, tenant="t1", data={}, now=now)
                store.record_event(tenant="t1", event_id=event_id, event_type="widget.deleted", data={}, body=body,
                                   now=now)
            assert len(dispatcher.deliver_due()) == 3

    try:
        rounds(30)
        threads, rss = threading.active_count(), _rss_kib()
        rounds(300)
        assert len(rx.requests) == 990
        assert threading.active_count() <= threads
        assert _live_sessions() <= settings.concurrency
        assert _rss_kib() - rss < 8 * 1024, "RSS grew by more than 8 MiB over 300 rounds"
    finally:
        dispatcher.close()
        store.close()
