"""Proof under load: many processes emitting at once while a watcher and a cron-style deliver run, racing
senders, and senders SIGKILLed after the outbox commit or with requests in flight. Nothing is lost; racing
senders make one request per attempt (after a crash, only what was in flight may be sent again); no writer
sees "database is locked"."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from conftest import db_rows

from alpana_hooks.config import load_settings
from alpana_hooks.dispatch import Dispatcher
from alpana_hooks.store import Store
from alpana_hooks.timeutil import from_iso, utcnow

PROCESSES, EMITS_EACH = 8, 25

# One emitting process: loops over the CLI in-process (a fresh `python -m` per emit would spend the
# whole budget importing); prints the event ids it recorded, writes every error to stderr.
WORKER = r"""
import json, sys, traceback
from typer.testing import CliRunner
from alpana_hooks.cli.app import app
worker, count = sys.argv[1], int(sys.argv[2])
runner = CliRunner()
ids, bad = [], 0
for n in range(count):
    r = runner.invoke(app, ["emit", "datasource.added", "--tenant", "t1", "--id", f"{worker}-{n}", "--name", "W",
                            "--json"])
    sys.stderr.write(r.stderr)
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        traceback.print_exception(r.exception, file=sys.stderr)
    if r.exit_code != 0:
        bad += 1
        sys.stderr.write(f"emit {worker}-{n} exited {r.exit_code}\n")
    else:
        ids.append(json.loads(r.stdout)["event_id"])
print(json.dumps(ids))
sys.exit(1 if bad else 0)
"""


def _popen(*args, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *args], env=os.environ, stdin=subprocess.DEVNULL, **kwargs)


def _wait_until_open(pid: int, path, timeout: float = 20.0) -> None:
    """Wait until process `pid` has the file open, or is connected to the PostgreSQL database (the watcher's
    first poll follows at once)."""
    if isinstance(path, str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if db_rows(path, "SELECT 1 FROM pg_stat_activity WHERE datname = current_database()"
                             " AND application_name LIKE ?", (f"alpana-hooks %:{pid}",)):
                return
            time.sleep(0.05)
        raise AssertionError(f"process {pid} never connected to {path}")
    target = os.path.realpath(path)
    if not os.path.isdir("/proc/self/fd"):  # not Linux: give it time instead
        time.sleep(3)
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return
            except OSError:
                pass
        time.sleep(0.05)
    raise AssertionError(f"process {pid} never opened {target}")


def _watched(path) -> list[dict]:
    """The watcher's complete NDJSON lines so far (a last line still being written is left out)."""
    return [json.loads(line) for line in path.read_text().split("\n")[:-1] if line.strip()]


def _unfinished(db_path) -> int:
    return db_rows(db_path, "SELECT count(*) AS n FROM attempts WHERE status IN ('pending', 'sending')")[0]["n"]


def test_eight_processes_emit_while_watch_and_deliver_run(add_sub, receiver, db_path, tmp_path,
                                                          sigint_stops_children):
    rx = receiver()
    subs = [add_sub(rx.url("/a"), "datasource.added"), add_sub(rx.url("/b"), "datasource.added")]
    watch_out, watch_err = tmp_path / "watch.out", tmp_path / "watch.err"
    with open(watch_out, "w") as out, open(watch_err, "w") as err:
        watcher = _popen("-m", "alpana_hooks", "attempts", "list", "--watch", "--json", "--interval", "0.2",
                         "--tenant", "t1", stdout=out, stderr=err)
    # A cron-style `deliver --loop` races each emit for its freshly recorded attempts: each is sent once.
    deliverer = _popen("-m", "alpana_hooks", "deliver", "--loop", "--quiet", "--interval", "0.2", "--json",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    workers = []
    try:
        _wait_until_open(watcher.pid, db_path)
        time.sleep(0.3)
        workers = [_popen("-c", WORKER, f"w{n}", str(EMITS_EACH), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) for n in range(PROCESSES)]
        outs = [w.communicate(timeout=120) for w in workers]
        assert [w.returncode for w in workers] == [0] * PROCESSES, [e for _, e in outs if e]
        assert not any("database is locked" in o + e for o, e in outs)
        emitted = [i for o, _ in outs for i in json.loads(o.strip().splitlines()[-1])]
        assert len(emitted) == len(set(emitted)) == PROCESSES * EMITS_EACH

        deadline = time.monotonic() + 20
        while _unfinished(db_path) and time.monotonic() < deadline:
            time.sleep(0.1)
        deliverer.send_signal(signal.SIGINT)
        d_out, d_err = deliverer.communicate(timeout=20)
        assert deliverer.returncode == 0 and "database is locked" not in d_out + d_err, d_err

        # Every event and attempt is stored, each (event, subscription) once, and all succeeded.
        events = db_rows(db_path, "SELECT event_id FROM events WHERE tenant = 't1'")
        assert sorted(e["event_id"] for e in events) == sorted(emitted)
        attempts = db_rows(db_path, "SELECT id, event_pk, subscription_id, status FROM attempts")
        assert len(attempts) == 2 * len(emitted)
        assert len({(a["event_pk"], a["subscription_id"]) for a in attempts}) == len(attempts)
        assert {a["subscription_id"] for a in attempts} == {s["id"] for s in subs}
        assert Counter(a["status"] for a in attempts) == {"succeeded": len(attempts)}
        # ...and each was requested exactly once, though emit and deliver raced for it.
        sent = Counter((r["headers"]["webhook-id"], r["path"]) for r in rx.requests)
        assert set(sent) == {(e, p) for e in emitted for p in ("/a", "/b")} and set(sent.values()) == {1}

        # The watcher streamed every attempt, each until it was seen succeeded.
        ids = {a["id"] for a in attempts}
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            done = {line["id"] for line in _watched(watch_out) if line["status"] == "succeeded"}
            if done >= ids:
                break
            time.sleep(0.2)
        lines = _watched(watch_out)
        assert {line["id"] for line in lines} == ids
        assert {line["id"] for line in lines if line["status"] == "succeeded"} == ids

        # --watch holds no transaction between polls: a TRUNCATE checkpoint gets through while it runs.
        if not isinstance(db_path, str):
            conn = sqlite3.connect(db_path)
            try:
                assert conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
            finally:
                conn.close()
        watcher.send_signal(signal.SIGINT)
        assert watcher.wait(20) == 0
        assert "database is locked" not in watch_err.read_text()
    finally:
        for proc in (watcher, deliverer, *workers):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    if isinstance(db_path, str):
        return
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    finally:
        conn.close()
    wal = db_path.with_name(db_path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size < 1024 * 1024


# -- racing senders: each attempt is won by one process -------------------------------------------

SENDER = r"""
import dataclasses, json, os, sys, time
from alpana_hooks.config import load_settings
from alpana_hooks.dispatch import Dispatcher
from alpana_hooks.store import Store
go = sys.argv[1]
settings = dataclasses.replace(load_settings(), concurrency=2)  # small claims: the four take turns, not one all
store = Store.open(settings.database)
dispatcher = Dispatcher(store, settings)
while not os.path.exists(go):
    time.sleep(0.005)
print(json.dumps(dispatcher.deliver_due()))
dispatcher.close()
store.close()
"""


def test_four_processes_sending_the_same_attempts_send_each_once(cli, add_sub, receiver, db_path, tmp_path):
    """Four `deliver` dispatchers racing for the same pending attempts: each attempt is won by one of them (a
    conditional update with a lease), and a dispatcher that loses the claim does not send it."""
    rx = receiver()
    for path in ("/a", "/b", "/c"):
        add_sub(rx.url(path), "datasource.added")
    for n in range(15):
        cli.json("emit", "datasource.added", "--tenant", "t1", "--id", str(n), "--name", "W", "--no-send")
    ids = [a["id"] for a in db_rows(db_path, "SELECT id FROM attempts ORDER BY id")]
    go = tmp_path / "go"
    procs = [_popen("-c", SENDER, str(go), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    time.sleep(0.8)
    go.touch()
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [e for _, e in outs]
    won = [i for o, _ in outs for i in json.loads(o)]
    assert sorted(won) == ids
    sent = Counter((r["headers"]["webhook-id"], r["path"]) for r in rx.requests)
    assert len(sent) == len(ids) and set(sent.values()) == {1}
    assert Counter(a["status"] for a in db_rows(db_path, "SELECT status FROM attempts")) == {"succeeded": len(ids)}


# -- crashes: SIGKILL after the outbox commit, and with requests in flight ----------------------------

# A receiver in its own process: logs each request's webhook-id and path, SIGKILLs the sender when the
# kill_at-th request arrives (holding the earlier ones open until then), then answers 200 to everything.
CRASH_RECEIVER = r"""
import json, os, signal, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
pid_file, log_path, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
lock, killed, arrived = threading.Lock(), threading.Event(), [0]
log = open(log_path, "a", buffering=1)
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        with lock:
            arrived[0] += 1
            log.write(json.dumps({"id": self.headers["webhook-id"], "path": self.path}) + "\n")
            if arrived[0] == kill_at:
                os.kill(int(open(pid_file).read()), signal.SIGKILL)
                killed.set()
        killed.wait(10)
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"{}")
    def log_message(self, *a): pass
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
s.daemon_threads = True
print(s.server_address[1], flush=True)
s.serve_forever()
"""


class CrashReceiver:
    def __init__(self, tmp_path, kill_at: int):
        self.pid_file, self.log = tmp_path / "sender.pid", tmp_path / "received.log"
        self.log.touch()
        self.proc = _popen("-c", CRASH_RECEIVER, str(self.pid_file), str(self.log), str(kill_at),
                           stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def run_sender(self, *args) -> int:
        sender = _popen("-m", "alpana_hooks", *args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.pid_file.write_text(str(sender.pid))
        try:
            sender.wait(30)
        finally:
            sender.kill()
        return sender.returncode

    def received(self) -> Counter:
        return Counter((r["id"], r["path"]) for r in map(json.loads, self.log.read_text().splitlines()))

    def close(self):
        self.proc.kill()
        self.proc.wait()


def _recover(db_path, racers: int = 2) -> None:
    """Run `deliver` as if after the leases expired, in several racing dispatchers, until nothing is due."""
    leases = [from_iso(r["lease_until"]) for r in db_rows(db_path, "SELECT lease_until FROM attempts"
                                                                   " WHERE lease_until IS NOT NULL")]
    later = max(leases, default=utcnow()) + timedelta(seconds=1)
    errors = []

    def run():
        store = Store.open(db_path)
        dispatcher = Dispatcher(store, load_settings(), clock=lambda: later)
        try:
            for _ in range(20):
                if not dispatcher.deliver_due():
                    return
            errors.append("still due after 20 rounds")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(repr(exc))
        finally:
            dispatcher.close()
            store.close()

    threads = [threading.Thread(target=run) for _ in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []


def _assert_each_delivered_once(db_path, crash: CrashReceiver, in_flight: set) -> None:
    """Every (event, subscription) reached the receiver, and is recorded succeeded exactly once; only the
    deliveries that were in flight at the crash may have reached it twice (at-least-once)."""
    pairs = db_rows(db_path, "SELECT e.event_id, s.id AS sub, s.url FROM events e JOIN subscriptions s"
                             " ON s.event_type = e.type AND s.tenant = e.tenant")
    rows = db_rows(db_path, "SELECT a.id, e.event_id, a.subscription_id AS sub, a.status FROM attempts a"
                            " JOIN events e ON e.id = a.event_pk")
    assert not [r for r in rows if r["status"] in ("pending", "sending")]
    succeeded = Counter((r["event_id"], r["sub"]) for r in rows if r["status"] == "succeeded")
    assert succeeded == Counter((p["event_id"], p["sub"]) for p in pairs)
    received = crash.received()
    expected = {(p["event_id"], "/" + p["url"].rsplit("/", 1)[1]) for p in pairs}
    assert set(received) == expected
    assert max(received.values()) <= 2
    assert {pair for pair, n in received.items() if n > 1} <= in_flight


def _claimed(db_path) -> set:
    rows = db_rows(db_path, "SELECT e.event_id, a.url FROM attempts a JOIN events e ON e.id = a.event_pk"
                            " WHERE a.status = 'sending'")
    return {(r["event_id"], "/" + r["url"].rsplit("/", 1)[1]) for r in rows}


def test_deliver_killed_after_the_outbox_commit_loses_nothing(cli, add_sub, tmp_path, db_path):
    crash = CrashReceiver(tmp_path, kill_at=1)
    try:
        for n in range(3):
            add_sub(crash.url(f"/s{n}"), "datasource.added")
        emitted = [cli.json("emit", "datasource.added", "--tenant", "t1", "--id", str(n), "--name", "W",
                            "--no-send")["event_id"] for n in range(3)]
        assert Counter(r["status"] for r in db_rows(db_path, "SELECT status FROM attempts")) == {"pending": 9}
        assert crash.run_sender("deliver") == -signal.SIGKILL
        statuses = Counter(r["status"] for r in db_rows(db_path, "SELECT status FROM attempts"))
        assert statuses["sending"] >= 1 and "succeeded" not in statuses and sum(statuses.values()) == 9
        in_flight = _claimed(db_path)
        _recover(db_path)
        _assert_each_delivered_once(db_path, crash, in_flight)
        assert {i for i, _ in crash.received()} == set(emitted)
    finally:
        crash.close()


def test_emit_killed_with_requests_in_flight_loses_nothing(add_sub, tmp_path, db_path):
    crash = CrashReceiver(tmp_path, kill_at=3)
    try:
        for n in range(10):
            add_sub(crash.url(f"/s{n}"), "datasource.added")
        assert crash.run_sender("emit", "datasource.added", "--tenant", "t1", "--id", "1", "--name", "W") == \
            -signal.SIGKILL
        assert len(db_rows(db_path, "SELECT * FROM events")) == 1
        assert len(crash.received()) >= 3  # three requests were in flight when the sender died
        in_flight = _claimed(db_path)
        assert len(in_flight) >= 3 and _unfinished(db_path) == 10
        _recover(db_path)
        _assert_each_delivered_once(db_path, crash, in_flight)
    finally:
        crash.close()


# -- several hosts on one PostgreSQL: 4 `deliver --loop` and 8 emitters, then a deliverer SIGKILLed --------------

EMIT_NO_SEND = WORKER.replace('"--json"])', '"--json", "--no-send"])')
assert EMIT_NO_SEND != WORKER

# `deliver --loop` with a short lease margin (a test knob: the claim outlives a send by this many seconds instead of
# 30), so the survivors take a killed deliverer's claims over within seconds, on the real clock.
DELIVER_SHORT_LEASE = r"""
import sys
from datetime import timedelta
import alpana_hooks.dispatch as dispatch
import alpana_hooks.leases as leases
dispatch.LEASE_MARGIN = timedelta(seconds=float(sys.argv[1]))
leases.RENEW_EVERY = 0.5  # well inside the short lease (the real one renews every 5 s a lease of 30 s and more)
from alpana_hooks.__main__ import main
sys.argv = ["alpana-hooks", *sys.argv[2:]]
main()
"""


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _succeeded_once(db_path) -> Counter:
    """(event id, subscription) -> how many succeeded attempts it has."""
    rows = db_rows(db_path, "SELECT e.event_id, a.subscription_id FROM attempts a JOIN events e ON e.id = a.event_pk"
                            " WHERE a.status = 'succeeded'")
    return Counter((r["event_id"], r["subscription_id"]) for r in rows)


@pytest.mark.postgres_only
def test_four_deliver_hosts_and_eight_emitters_on_one_postgres(  # noqa: PLR0915 - one scenario, in order
        add_sub, receiver, db_path, config_path, backend, sigint_stops_children):
    config_path.write_text(config_path.read_text() + "\n[delivery]\ntimeout_seconds = 2\n")
    hold = {"seconds": 0.02}
    rx = receiver(lambda *a: time.sleep(hold["seconds"]))
    subs = {path: add_sub(rx.url(path), "datasource.added")["id"] for path in ("/a", "/b")}
    deliverers = [_popen("-c", DELIVER_SHORT_LEASE, "2", "deliver", "--loop", "--quiet", "--interval", "0.2", "--json",
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    workers: list = []
    try:
        # 1. 8 emitters record 200 events (400 attempts) while 4 deliverers race for them.
        workers = [_popen("-c", EMIT_NO_SEND, f"w{n}", str(EMITS_EACH), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) for n in range(PROCESSES)]
        outs = [w.communicate(timeout=120) for w in workers]
        assert [w.returncode for w in workers] == [0] * PROCESSES, [e for _, e in outs if e]
        emitted = [i for o, _ in outs for i in json.loads(o.strip().splitlines()[-1])]
        assert len(set(emitted)) == PROCESSES * EMITS_EACH
        _wait_for(lambda: not _unfinished(db_path), 60, "the deliverers to send everything")
        events = db_rows(db_path, "SELECT event_id FROM events")
        assert sorted(e["event_id"] for e in events) == sorted(emitted)
        assert _succeeded_once(db_path) == Counter({(e, s): 1 for e in emitted for s in subs.values()})
        sent = Counter((r["headers"]["webhook-id"], r["path"]) for r in rx.requests)
        assert set(sent) == {(e, p) for e in emitted for p in subs} and set(sent.values()) == {1}
        assert all(d.poll() is None for d in deliverers)

        # 2. SIGKILL one deliverer with sends in flight: the others finish its claims once its lease is over.
        hold["seconds"] = 0.5
        before = len(rx.requests)
        batch = _popen("-c", EMIT_NO_SEND, "k", "40", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        late, err = batch.communicate(timeout=60)
        assert batch.returncode == 0, err
        late_ids = json.loads(late.strip().splitlines()[-1])
        by_pid = {d.pid: d for d in deliverers}
        holders = "SELECT DISTINCT claimed_by FROM attempts WHERE status = 'sending'"
        _wait_for(lambda: rx.in_flight and db_rows(db_path, holders), 30, "a deliverer to be mid-send")
        owner_pid = int(db_rows(db_path, holders)[0]["claimed_by"].split(":")[-2])
        victim = by_pid[owner_pid]  # whichever deliverer holds claims with sends in flight
        victim.kill()
        victim.wait(10)
        mine = ("SELECT e.event_id, a.url, a.lease_until FROM attempts a JOIN events e ON e.id = a.event_pk"
                " WHERE a.status = 'sending' AND a.claimed_by LIKE ?")
        claimed = db_rows(db_path, mine, (f"%:{owner_pid}:%",))
        assert claimed
        orphans = {(r["event_id"], "/" + r["url"].rsplit("/", 1)[1]) for r in claimed}
        lease_over = max(from_iso(r["lease_until"]) for r in claimed)
        assert lease_over - utcnow() < timedelta(seconds=30)  # the short lease is in force
        _wait_for(lambda: not _unfinished(db_path), 60, "the survivors to finish the victim's claims")
        all_ids = emitted + late_ids
        assert _succeeded_once(db_path) == Counter({(e, s): 1 for e in all_ids for s in subs.values()})
        taken_over = db_rows(db_path, "SELECT e.event_id, a.url, a.started_at FROM attempts a JOIN events e"
                                      " ON e.id = a.event_pk WHERE a.status = 'succeeded'")
        for row in taken_over:
            if (row["event_id"], "/" + row["url"].rsplit("/", 1)[1]) in orphans:
                assert from_iso(row["started_at"]) >= lease_over - timedelta(seconds=1)  # not before the lease
        received = Counter((r["headers"]["webhook-id"], r["path"]) for r in rx.requests[before:])
        assert set(received) == {(e, p) for e in late_ids for p in subs}
        assert {pair for pair, n in received.items() if n > 1} <= orphans  # only what was in flight, at most twice
        assert max(received.values()) <= 2

        survivors = [d for d in deliverers if d is not victim]
        for d in survivors:
            d.send_signal(signal.SIGINT)
        for d in survivors:
            out, err = d.communicate(timeout=30)
            assert d.returncode == 0, err
    finally:
        for proc in (*deliverers, *workers):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
