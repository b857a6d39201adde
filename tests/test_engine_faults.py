"""The delivery engine on a bad day (issue 15, points 2, 3, 6 and 13c): a store that is locked or full after
sends went out, SIGTERM and SIGKILL mid-send, and a loop that runs for many rounds. Real processes, real
receivers on 127.0.0.1, real store files (and a real full disk: a tmpfs in a private mount namespace)."""

import gc
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from alpana_hooks import Hooks
from alpana_hooks.config import Settings, load_settings
from alpana_hooks.dispatch import LEASE_MARGIN, Dispatcher, StoreUnwritable
from alpana_hooks.events import event_body, new_event_id
from alpana_hooks.signing import generate_secret
from alpana_hooks.store import Store
from alpana_hooks.timeutil import from_iso, utcnow
from alpana_hooks.workers import Workers
from conftest import db_rows, run_cli

PYTHON_CLI = [sys.executable, "-m", "alpana_hooks"]

# Holds a write transaction on the store from the moment it reads a line on stdin, for argv[2] seconds.
LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
sys.stdin.readline()
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


class Locker:
    """Another process that holds BEGIN IMMEDIATE on the store for `seconds`, from lock() on."""

    def __init__(self, db_path, seconds: float):
        self.proc = subprocess.Popen([sys.executable, "-c", LOCKER, str(db_path), str(seconds)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.locked = threading.Event()
        self._once = threading.Lock()

    def lock(self) -> None:
        with self._once:
            if not self.locked.is_set():
                self.proc.stdin.write("go\n")
                self.proc.stdin.flush()
                assert self.proc.stdout.readline() == "locked\n"
                self.locked.set()

    def wait(self) -> None:
        assert self.proc.wait(60) == 0


def deliver_much_later(db_path) -> list[int]:
    """A deliver run an hour later, when every lease has long expired: the ids it sends."""
    store = Store.open(db_path)
    dispatcher = Dispatcher(store, load_settings(), clock=lambda: utcnow() + timedelta(hours=1))
    try:
        return dispatcher.deliver_due()
    finally:
        dispatcher.close()
        store.close()


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def statuses(db_path) -> list[str]:
    return [r["status"] for r in db_rows(db_path, "SELECT status FROM attempts ORDER BY id")]


def emit_no_send(cli, n: int) -> int:
    emitted = cli.json("emit", "widget.deleted", "--tenant", "t1", "--id", str(n), "--name", "W", "--no-send")
    return emitted["attempts"][0]["id"]


# -- 2. the store cannot be written after sends went out --------------------------------------------

def test_sends_made_while_the_store_is_locked_are_recorded_once_it_clears(add_sub, receiver, db_path):
    """Another process holds the write lock for longer than the busy timeout while emit's 4 sends are out."""
    locker = Locker(db_path, 12)
    rx = receiver(lambda *a: locker.lock())  # the first request takes the lock; every answer waits for it
    for n in range(4):
        add_sub(rx.url(f"/s{n}"), "widget.deleted")
    emitted = run_cli("emit", "widget.deleted", "--tenant", "t1", "--id", "7", "--name", "W", timeout=120)
    locker.wait()
    assert emitted.returncode == 0, emitted.stderr
    assert sorted(r["path"] for r in rx.requests) == ["/s0", "/s1", "/s2", "/s3"]
    assert statuses(db_path) == ["succeeded"] * 4
    assert deliver_much_later(db_path) == []
    assert len(rx.requests) == 4


def test_idle_deliver_loop_survives_a_locked_store_and_goes_on(cli, add_sub, receiver, db_path):
    rx = receiver()
    add_sub(rx.url(), "widget.deleted")
    emit_no_send(cli, 1)
    loop = subprocess.Popen([*PYTHON_CLI, "deliver", "--loop", "--quiet", "--interval", "0.2", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ)
    try:
        wait_for(lambda: len(rx.requests) == 1)  # the loop runs
        locker = Locker(db_path, 12)
        locker.lock()
        locker.wait()  # meanwhile a round waits the whole busy timeout for the lock, and fails
        assert loop.poll() is None
        emit_no_send(cli, 2)
        wait_for(lambda: len(rx.requests) == 2)
        loop.send_signal(signal.SIGTERM)
        out, err = loop.communicate(timeout=30)
    finally:
        loop.kill()
    assert loop.returncode == 0, err
    assert json.loads(out) == {"sent": 2, "succeeded": 2, "failed": 0}
    (line,) = err.strip().splitlines()
    assert line.startswith("error: round failed") and "database is locked" in line and "next round in" in line
    assert statuses(db_path) == ["succeeded"] * 2


class SmallDisk:
    """A 1 MiB tmpfs at `mount_point`, mounted in a private mount namespace that a sleeping process holds.

    Commands run inside with nsenter. This test sees the files through /proc/PID/root, for plain file operations
    only: SQLite resolves that link and would open the file beneath the mount instead."""

    def __init__(self, mount_point: Path):
        mount_point.mkdir()
        self.mount_point = mount_point
        self.holder = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c",
             'mount -t tmpfs -o size=1m tmpfs "$0" && echo ready && exec sleep 600', str(mount_point)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if self.holder.stdout.readline() != "ready\n":
            pytest.skip(f"cannot mount a tmpfs in a private mount namespace: {self.holder.communicate()[1].strip()}")
        self.view = Path(f"/proc/{self.holder.pid}/root{mount_point}")

    def command(self, *args: str) -> list[str]:
        return ["nsenter", "-t", str(self.holder.pid), "-m", "--", *args]

    def fill(self) -> None:
        filler = os.open(self.view / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(filler, b"\0" * 4096)
        except OSError:  # ENOSPC: the disk is full
            pass
        finally:
            os.close(filler)

    def free(self) -> None:
        (self.view / "filler").unlink()

    def rows(self, sql: str) -> list[dict]:
        script = ("import json, sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.row_factory = sqlite3.Row; "
                  "print(json.dumps([dict(r) for r in c.execute(sys.argv[2])]))")
        done = subprocess.run(self.command(sys.executable, "-c", script, str(self.mount_point / "hooks.db"), sql),
                              capture_output=True, text=True, check=True)
        return json.loads(done.stdout)

    def close(self) -> None:
        self.holder.kill()
        self.holder.wait()


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("nsenter"):
        pytest.skip("needs root and util-linux unshare/nsenter")
    disk = SmallDisk(tmp_path / "small")
    yield disk
    disk.close()


# Runs the CLI with a shorter patience for recording results, so giving up is reached in a test.
IMPATIENT_CLI = ("import sys; import alpana_hooks.dispatch as d; d.RECORD_PATIENCE = float(sys.argv.pop(1)); "
                 "from alpana_hooks.__main__ import main; main()")


@pytest.mark.parametrize("space_comes_back", [True, False])
def test_sends_made_while_the_disk_is_full(cli, add_sub, receiver, db_path, small_disk, space_comes_back):
    """The disk fills up while 4 sends are out: the results are written once there is space again, and
    nothing is sent twice; if space never comes back, one loud line names what was sent and not recorded."""
    filled = threading.Event()

    def fill_once(*_):
        with lock:
            if not filled.is_set():
                small_disk.fill()
                filled.set()

    lock = threading.Lock()
    rx = receiver(fill_once)
    add_sub(rx.url(), "widget.deleted")
    ids = [emit_no_send(cli, n) for n in range(4)]
    shutil.copyfile(db_path, small_disk.view / "hooks.db")  # every connection is closed: no -wal to copy
    env = {**os.environ, "ALPANA_HOOKS_DB": str(small_disk.mount_point / "hooks.db")}
    patience = "300" if space_comes_back else "2"
    sender = subprocess.Popen(small_disk.command(sys.executable, "-c", IMPATIENT_CLI, patience, "deliver", "--json"),
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: len(rx.requests) == 4)
        if space_comes_back:
            time.sleep(2)
            assert sender.poll() is None, sender.communicate()[1]  # still trying to record
            small_disk.free()
        out, err = sender.communicate(timeout=60)
    finally:
        sender.kill()
    assert len(rx.requests) == 4
    rows = small_disk.rows("SELECT id, status FROM attempts ORDER BY id")
    if space_comes_back:
        assert sender.returncode == 0, err
        delivered = json.loads(out)
        assert {k: delivered[k] for k in ("sent", "succeeded", "failed")} == {"sent": 4, "succeeded": 4, "failed": 0}
        assert sorted(a["id"] for a in delivered["attempts"]) == [r["id"] for r in rows]
        assert [r["status"] for r in rows] == ["succeeded"] * 4
        again = subprocess.run(small_disk.command(*PYTHON_CLI, "deliver", "--json"), env=env, capture_output=True,
                               text=True)
        assert json.loads(again.stdout)["sent"] == 0 and len(rx.requests) == 4
    else:
        assert sender.returncode == 1
        (line,) = err.strip().splitlines()
        assert "database or disk is full" in line and "not recorded" in line
        assert all(str(i) in line for i in ids), line
        assert [r["status"] for r in rows] == ["sending"] * 4


def test_stopped_while_the_disk_is_full_it_records_and_hands_back_once_there_is_space(
        cli, add_sub, receiver, config_path, db_path, small_disk):
    """SIGTERM while 2 sends are out, 2 more queued, and the disk full: once space comes back the 2 sent are
    recorded and the 2 queued handed back as pending, not left claimed."""
    config_path.write_text(config_path.read_text() + "\n[delivery]\nconcurrency = 2\n")
    filled = threading.Event()

    def fill_then_answer_slowly(*_):
        if not filled.is_set():
            small_disk.fill()
            filled.set()
        time.sleep(1.0)

    rx = receiver(fill_then_answer_slowly)
    add_sub(rx.url(), "widget.deleted")
    for n in range(6):
        emit_no_send(cli, n)
    shutil.copyfile(db_path, small_disk.view / "hooks.db")
    env = {**os.environ, "ALPANA_HOOKS_DB": str(small_disk.mount_point / "hooks.db")}
    sender = subprocess.Popen(small_disk.command(*PYTHON_CLI, "deliver"), env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: len(rx.requests) == 2)
        sender.send_signal(signal.SIGTERM)
        time.sleep(2)
        assert sender.poll() is None, sender.communicate()[1]  # still trying to record and hand back
        small_disk.free()
        assert sender.wait(60) == 130
    finally:
        sender.kill()
    rows = small_disk.rows("SELECT status FROM attempts ORDER BY id")
    assert [r["status"] for r in rows] == ["succeeded"] * 2 + ["pending"] * 4
    again = subprocess.run(small_disk.command(*PYTHON_CLI, "deliver", "--json"), env=env, capture_output=True,
                           text=True)
    assert json.loads(again.stdout)["sent"] == 4
    assert sorted(r["headers"]["webhook-id"] for r in rx.requests) == sorted(
        r["event_id"] for r in small_disk.rows("SELECT e.event_id FROM attempts a JOIN events e ON e.id = a.event_pk"))


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
    assert emitter.stderr.read().splitlines()[-1:] == ["error: interrupted"]  # the console script's boundary
    after_term = statuses(db_path)
    assert after_term.count("succeeded") == len(rx.requests)
    assert after_term.count("pending") == 8 - len(rx.requests) > 0  # handed back, not left claimed
    assert run_cli("deliver").returncode == 0
    assert sorted(r["path"] for r in rx.requests) == [f"/s{n}" for n in range(8)]
    assert statuses(db_path) == ["succeeded"] * 8


def test_watch_stopped_by_sigterm_exits_0(cli, add_sub, receiver):
    add_sub(receiver().url(), "widget.deleted")
    attempt_id = emit_no_send(cli, 1)
    watcher = subprocess.Popen([*PYTHON_CLI, "attempts", "list", "--tenant", "t1", "--watch", "--json",
                                "--interval", "0.1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=os.environ)
    try:
        assert json.loads(watcher.stdout.readline())["id"] == attempt_id  # it is watching
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


# -- 6. a loop that runs for weeks: one pool, bounded connections, flat memory ----------------------------

def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def _open_connections() -> int:
    gc.collect()
    return sum(isinstance(o, http.client.HTTPConnection) and o.sock is not None for o in gc.get_objects())


def test_three_hundred_rounds_keep_threads_connections_and_memory_flat(db_path, receiver):
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
        assert 1 <= _open_connections() <= settings.concurrency  # one pool for the dispatcher's life, reused
        assert _rss_kib() - rss < 8 * 1024, "RSS grew by more than 8 MiB over 300 rounds"
    finally:
        dispatcher.close()
        store.close()


# -- 13c. a loop stopped by SIGTERM counts what it recorded ------------------------------------------

def test_deliver_loop_stopped_mid_round_counts_what_it_recorded(cli, add_sub, receiver, db_path):
    rx = receiver(lambda *a: time.sleep(1.0))
    add_sub(rx.url(), "widget.deleted")
    for n in range(4):
        emit_no_send(cli, n)
    loop = subprocess.Popen([*PYTHON_CLI, "deliver", "--loop", "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=os.environ)
    try:
        wait_for(lambda: len(rx.requests) == 4)
        loop.send_signal(signal.SIGTERM)  # while the 4 answers are still coming
        out, err = loop.communicate(timeout=30)
    finally:
        loop.kill()
    assert loop.returncode == 0, err
    assert statuses(db_path) == ["succeeded"] * 4
    assert json.loads(out) == {"sent": 4, "succeeded": 4, "failed": 0}


# -- an interrupt just after a send was queued, before the engine counted it --------------------------------

class InterruptedWorkers(Workers):
    """Real workers whose first put queues the send (and starts its thread) and then raises KeyboardInterrupt, as a
    Ctrl-C or SIGTERM landing between the queuing and the engine's bookkeeping does."""

    def put(self, item):
        super().put(item)
        if not getattr(self, "interrupted", False):
            self.interrupted = True
            raise KeyboardInterrupt


def test_a_send_queued_just_before_an_interrupt_is_recorded_and_the_rest_handed_back(
        add_sub, receiver, db_path, monkeypatch):
    rx = receiver(lambda *a: time.sleep(0.3))  # still on the wire when the interrupt is handled
    for n in range(3):
        add_sub(rx.url(f"/s{n}"), "widget.deleted")
    monkeypatch.setattr("alpana_hooks.dispatch.Workers", InterruptedWorkers)
    with Hooks.open() as hooks, pytest.raises(KeyboardInterrupt):
        hooks.emit("t1", "widget.deleted", {"widget_id": "7", "name": "W"})
    assert [r["path"] for r in rx.requests] == ["/s0"]
    assert statuses(db_path) == ["succeeded", "pending", "pending"]  # recorded once; never sent twice


def test_an_interrupt_at_any_moment_of_emit_never_loses_or_repeats_a_send(add_sub, receiver, db_path):
    """A real SIGINT, sent to the main thread at a random moment of 40 emits (claiming, starting worker threads,
    recording...): whatever went out is recorded succeeded, the rest is pending, nothing is left claimed."""
    armed = [False]

    def interrupt(*_):
        if armed[0]:
            raise KeyboardInterrupt

    rx = receiver(lambda *a: time.sleep(0.02))
    for n in range(6):
        add_sub(rx.url(f"/s{n}"), "widget.deleted")
    rng = random.Random(3)
    main = threading.get_ident()
    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        for n in range(40):
            with Hooks.open() as hooks:
                timer = threading.Timer(rng.uniform(0.0, 0.08), signal.pthread_kill, (main, signal.SIGINT))
                timer.start()
                armed[0] = True
                try:
                    hooks.emit("t1", "widget.deleted", {"widget_id": str(n), "name": "W"}, event_id=f"evt_{n}")
                    armed[0] = False  # a signal after emit returned interrupts nothing
                except (KeyboardInterrupt, StoreUnwritable):
                    armed[0] = False
                timer.cancel()
                timer.join()
            rows = db_rows(db_path, "SELECT a.status FROM attempts a JOIN events e ON e.id = a.event_pk"
                                    " WHERE e.event_id = ?", (f"evt_{n}",))
            received = [r for r in rx.requests if r["headers"]["webhook-id"] == f"evt_{n}"]
            statuses_now = sorted(r["status"] for r in rows)
            assert statuses_now in ([], ["pending"] * (6 - len(received)) + ["succeeded"] * len(received)), n
    finally:
        armed[0] = False
        signal.signal(signal.SIGINT, previous)


def test_an_interrupt_just_after_results_were_committed_still_counts_them(cli, add_sub, receiver, db_path):
    """A signal that arrives during the commit of the results is raised as soon as it returns: the wind-down
    writes them again, finds them stored, and counts them (deliver --loop reports what it recorded)."""
    rx = receiver()
    add_sub(rx.url(), "widget.deleted")
    emit_no_send(cli, 1)
    store = Store.open(db_path)
    commit = store.record_results

    def committed_then_interrupted(*args, **kwargs):
        store.record_results = commit
        commit(*args, **kwargs)
        raise KeyboardInterrupt

    store.record_results = committed_then_interrupted
    dispatcher = Dispatcher(store, load_settings())
    try:
        with pytest.raises(KeyboardInterrupt):
            dispatcher.deliver_due()
        assert dispatcher.recorded == {"succeeded": 1, "failed": 0}
    finally:
        dispatcher.close()
        store.close()
    assert len(rx.requests) == 1 and statuses(db_path) == ["succeeded"]
