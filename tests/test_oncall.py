"""The on-call workflow: retries, auto-disable, deliver claims, crashes, resend, attempts list/show/watch."""

import json
import os
import random
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from conftest import db_exec, db_rows, run_cli
from standardwebhooks.webhooks import Webhook

from alpana_hooks import Hooks
from alpana_hooks.config import Settings, load_settings
from alpana_hooks.dispatch import Dispatcher
from alpana_hooks.pacing import retry_delay
from alpana_hooks.events import event_body, new_event_id
from alpana_hooks.store import Store
from alpana_hooks.timeutil import from_iso, parse_duration, utcnow

S = timedelta(seconds=1)
SCHEDULE = tuple(parse_duration(d) for d in ("5s", "5m", "30m", "2h", "5h", "10h", "10h"))


# -- the retry schedule -------------------------------------------------------------------------

def test_retry_times_follow_the_schedule_within_jitter():
    rng = random.Random(7)
    for number, step in enumerate(SCHEDULE, start=1):
        delays = [retry_delay(number, SCHEDULE, 500, None, None, rng) for _ in range(200)]
        assert all(0.8 * step <= d <= 1.2 * step for d in delays)
        assert max(delays) - min(delays) > 0.2 * step  # jitter is really applied
    assert retry_delay(len(SCHEDULE) + 1, SCHEDULE, 500, None, None, rng) is None


def test_retry_after_is_clamped_between_one_and_two_steps():
    rng = random.Random(1)
    assert retry_delay(1, SCHEDULE, 503, None, "120", rng) == 10 * S  # 5 s step: at most 2x
    assert retry_delay(3, SCHEDULE, 503, None, "120", rng) == 30 * 60 * S  # 30 min step: at least 1x
    assert retry_delay(2, SCHEDULE, 503, None, "400", rng) == 400 * S
    assert retry_delay(1, SCHEDULE, 503, None, "garbage", rng) <= 6 * S


def test_overload_waits_at_least_a_minute():
    rng = random.Random(1)
    assert retry_delay(1, SCHEDULE, 429, None, None, rng) >= 60 * S
    assert retry_delay(1, SCHEDULE, None, "timeout", None, rng) >= 60 * S
    assert retry_delay(1, SCHEDULE, 429, None, "1", rng) >= 60 * S


# -- an engine with an injectable clock ----------------------------------------------------------

class Clock:
    def __init__(self, start=None):
        self.now = start or utcnow()

    def __call__(self):
        return self.now


@pytest.fixture
def engine(db_path):
    """A store, settings that reach 127.0.0.1, and a factory for dispatchers on a given clock."""
    store = Store.open(db_path)
    settings = Settings(database=db_path, config_file=None, tenant="t1", allowed_networks=("127.0.0.0/8",),
                        timeout_seconds=2, connect_timeout_seconds=1)
    made = []

    def dispatcher(clock):
        made.append(Dispatcher(store, settings, clock=clock, rng=random.Random(3)))
        return made[-1]

    yield store, settings, dispatcher
    for d in made:
        d.close()
    store.close()


def emit_via(store, dispatcher, clock, event_type="widget.deleted", tenant="t1", send=True):
    """As `emit` does: the attempts are stored already claimed by this dispatcher, then it sends just those
    (deliver_due would also send retries that have come due); send=False stores them pending (`--no-send`)."""
    now = clock()
    event_id = new_event_id(now)
    data = {"widget_id": "7", "name": "W"}
    body = event_body(event_type=event_type, event_id=event_id, tenant=tenant, data=data, now=now)
    recorded = store.record_event(tenant=tenant, event_id=event_id, event_type=event_type, data=data, body=body,
                                  now=now, claim=dispatcher.claim_ticket() if send else None)
    if send:
        dispatcher.send_claimed(recorded["attempt_ids"])
    return recorded["attempt_ids"]


def add(store, url, event_type="widget.deleted", tenant="t1"):
    from alpana_hooks.signing import generate_secret

    return store.add_subscription(tenant=tenant, event_type=event_type, url=url, description="", state="active",
                                  headers=[], secret=generate_secret(), now=utcnow())


def test_failed_delivery_is_retried_by_deliver_when_due(engine, receiver):
    store, settings, dispatcher = engine
    answers = iter([(503, {}, b"busy"), None])
    rx = receiver(lambda *a: next(answers))
    add(store, rx.url())
    clock = Clock()
    d = dispatcher(clock)
    (first,) = emit_via(store, d, clock)
    attempt = store.get_attempt("t1", first)
    due = from_iso(attempt.next_attempt_at)
    assert 4 * S <= due - clock.now <= 6 * S
    clock.now = due - S
    assert d.deliver_due() == []  # not yet
    clock.now = due + S
    (retry_id,) = d.deliver_due()
    retry = store.get_attempt("t1", retry_id)
    assert (retry.trigger, retry.attempt_number, retry.status) == ("retry", 2, "succeeded")
    assert store.get_attempt("t1", first).next_attempt_at is None
    assert d.deliver_due() == []
    assert [r["headers"]["webhook-id"] for r in rx.requests] == [attempt.event_id] * 2


def test_deliver_reads_back_only_the_attempts_it_is_asked_to_report(engine, receiver, monkeypatch):
    from dataclasses import replace

    from alpana_hooks import Hooks, dispatch

    store, settings, _ = engine
    rx = receiver(lambda *a: None)
    add(store, rx.url())
    pending = [emit_via(store, None, Clock(), send=False)[0] for _ in range(5)]
    monkeypatch.setattr(dispatch, "WRITE_AT", 1)  # each result written, and reported, alone: the count crosses batches
    read_back, reported = [], []
    attempts_by_ids = store.attempts_by_ids
    monkeypatch.setattr(store, "attempts_by_ids", lambda tenant, ids: read_back.extend(ids) or attempts_by_ids(tenant, ids))

    totals = Hooks(replace(settings, concurrency=1), store).deliver(on_delivered=reported.extend, delivered_at_most=3)

    assert (totals.sent, totals.succeeded) == (5, 5) and len(rx.requests) == 5
    assert read_back == pending[:3]
    assert [(a.id, a.status) for a in reported] == [(attempt_id, "succeeded") for attempt_id in pending[:3]]


def test_schedule_runs_out(engine, receiver):
    store, settings, dispatcher = engine
    rx = receiver(lambda *a: (500, {}, b""))
    add(store, rx.url())
    clock = Clock()
    d = dispatcher(clock)
    emit_via(store, d, clock)
    for _ in range(len(settings.retry_schedule)):
        clock.now += timedelta(hours=13)
        assert len(d.deliver_due()) == 1
    clock.now += timedelta(hours=13)
    assert d.deliver_due() == []
    assert len(rx.requests) == len(settings.retry_schedule) + 1


def test_410_disables_at_once(engine, receiver, cli):
    store, settings, dispatcher = engine
    rx = receiver(lambda *a: (410, {}, b"gone"))
    sub_id = add(store, rx.url())
    clock = Clock()
    (attempt_id,) = emit_via(store, dispatcher(clock), clock)
    sub = store.get_subscription("t1", sub_id)
    assert sub.state == "disabled" and "410 Gone" in sub.disabled_reason
    assert store.get_attempt("t1", attempt_id).next_attempt_at is None
    assert "Disabled (the endpoint answered 410 Gone)" in cli("list", "--tenant", "t1").stdout
    assert cli.json("show", sub_id, "--tenant", "t1")["disabled_reason"] == "the endpoint answered 410 Gone"


def test_five_days_of_failures_disable(engine, receiver):
    store, settings, dispatcher = engine
    rx = receiver(lambda *a: (500, {}, b""))
    sub_id = add(store, rx.url())
    clock = Clock()
    d = dispatcher(clock)
    emit_via(store, d, clock)
    clock.now += timedelta(days=4, hours=23)
    emit_via(store, d, clock)
    assert store.get_subscription("t1", sub_id).state == "active"
    clock.now += timedelta(hours=2)
    emit_via(store, d, clock)
    sub = store.get_subscription("t1", sub_id)
    assert sub.state == "disabled" and sub.disabled_reason.startswith("every delivery failed since")
    clock.now += timedelta(days=1)
    assert d.deliver_due() == []  # pending retries were cancelled


def test_a_success_resets_the_failure_clock(engine, receiver):
    store, settings, dispatcher = engine
    answers = iter([(500, {}, b""), None, (500, {}, b""), (500, {}, b"")])
    rx = receiver(lambda *a: next(answers))
    sub_id = add(store, rx.url())
    clock = Clock()
    d = dispatcher(clock)
    emit_via(store, d, clock)
    clock.now += timedelta(days=3)
    emit_via(store, d, clock)  # succeeds
    clock.now += timedelta(days=3)
    emit_via(store, d, clock)
    clock.now += timedelta(days=1)
    emit_via(store, d, clock)
    assert store.get_subscription("t1", sub_id).state == "active"


def test_expired_claim_is_sent_again_with_the_same_webhook_id(engine, receiver):
    store, settings, dispatcher = engine
    rx = receiver()
    add(store, rx.url())
    clock = Clock()
    d = dispatcher(clock)
    (attempt_id,) = emit_via(store, d, clock, send=False)
    assert store.claim([attempt_id], now=clock.now, lease_until=clock.now + timedelta(seconds=30), owner="dead") == [
        attempt_id]
    assert d.deliver_due() == []  # the lease still holds
    clock.now += timedelta(seconds=31)
    assert d.deliver_due() == [attempt_id]
    assert store.get_attempt("t1", attempt_id).status == "succeeded"
    assert len(rx.requests) == 1


# -- real processes: racing delivers, a killed sender ----------------------------------------------

def test_two_deliver_processes_send_each_attempt_once(cli, add_sub, receiver, db_path):
    rx = receiver()
    add_sub(rx.url(), "widget.added")
    for n in range(200):
        cli("emit", "widget.added", "--tenant", "t1", "--id", str(n), "--name", "W", "--item-url", "https://x/", "--no-send")
    procs = [subprocess.Popen([sys.executable, "-m", "alpana_hooks", "deliver", "--json"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=os.environ) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    ids = [r["headers"]["webhook-id"] for r in rx.requests]
    assert len(ids) == 200 and len(set(ids)) == 200
    assert sum(json.loads(out)["sent"] for out, _ in outs) == 200
    assert db_rows(db_path, "SELECT count(*) AS n FROM attempts WHERE status = 'succeeded'")[0]["n"] == 200


KILLER = """
import os, signal, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        os.kill(int(open(sys.argv[1]).read()), signal.SIGKILL)
    def log_message(self, *a): pass
s = HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.handle_request()
"""


def test_killed_sender_is_recovered_after_the_lease(cli, add_sub, receiver, tmp_path, db_path):
    pid_file = tmp_path / "pid"
    killer = subprocess.Popen([sys.executable, "-c", KILLER, str(pid_file)], stdout=subprocess.PIPE, text=True)
    port = int(killer.stdout.readline())
    sub = add_sub(f"http://127.0.0.1:{port}/h", "widget.added")
    emitted = cli.json("emit", "widget.added", "--tenant", "t1", "--id", "7", "--name", "W", "--item-url", "https://x/",
                       "--no-send")
    sender = subprocess.Popen([sys.executable, "-m", "alpana_hooks", "deliver"], env=os.environ)
    pid_file.write_text(str(sender.pid))
    assert sender.wait(30) == -signal.SIGKILL
    killer.wait(10)
    (row,) = db_rows(db_path, "SELECT id, status, lease_until FROM attempts")
    assert row["status"] == "sending"
    rx = receiver()
    cli("edit", sub["id"], "--tenant", "t1", "--url", rx.url())
    store = Store.open(db_path)
    later = Clock(from_iso(row["lease_until"]) + S)
    d = Dispatcher(store, load_settings(), clock=later)
    assert d.deliver_due() == [row["id"]]
    d.close()
    store.close()
    assert [r["headers"]["webhook-id"] for r in rx.requests] == [emitted["event_id"]]
    assert db_rows(db_path, "SELECT status FROM attempts")[0]["status"] == "succeeded"


# -- resend -----------------------------------------------------------------------------------------

def test_resend_six_minutes_later_verifies_and_follows_the_edit(engine, receiver, cli, add_sub):
    store, settings, dispatcher = engine
    old = receiver(lambda *a: (500, {}, b"down"))
    new = receiver()
    sub = add_sub(old.url(), "widget.deleted")
    clock = Clock(utcnow() - timedelta(minutes=6))
    (original,) = emit_via(store, dispatcher(clock), clock)
    cli("edit", sub["id"], "--tenant", "t1", "--url", new.url("/fixed"))
    result = cli("resend", original, "--tenant", "t1", "--json")
    assert result.exit_code == 0, result.stderr
    resent = json.loads(result.stdout)
    assert (resent["trigger"], resent["resend_of"], resent["status"]) == ("resend", original, "succeeded")
    (request,) = new.requests
    headers = {k.lower(): v for k, v in request["headers"].items()}
    Webhook(sub["secret"]).verify(request["body"], headers)
    assert headers["webhook-id"] == old.requests[0]["headers"]["webhook-id"]
    assert request["body"] == old.requests[0]["body"]
    assert resent["next_attempt_at"] is None  # a resend is not retried


def test_a_resend_that_gets_through_cancels_the_retry_scheduled_for_that_delivery(cli, add_sub, receiver, db_path):
    answers = iter([500, 200])
    rx = receiver(lambda *a: (next(answers), {}, b""))
    add_sub(rx.url(), "widget.deleted")
    emitted = cli("emit", "widget.deleted", "--tenant", "t1", "--id", "7", "--name", "W", "--json")
    first = json.loads(emitted.stdout)["attempts"][0]
    assert first["status"] == "failed" and first["next_attempt_at"] is not None
    assert cli("resend", first["id"], "--tenant", "t1", "--json").exit_code == 0
    rows = db_rows(db_path, "SELECT id, status, next_attempt_at FROM attempts ORDER BY id")
    assert [(r["status"], r["next_attempt_at"]) for r in rows] == [("failed", None), ("succeeded", None)]
    assert len(rx.requests) == 2


def test_resend_rules(cli, add_sub, receiver):
    rx = receiver(lambda *a: (500, {}, b""))
    sub = add_sub(rx.url(), "widget.deleted")
    emitted = cli("emit", "widget.deleted", "--tenant", "t1", "--id", "7", "--name", "W", "--json")
    attempt = json.loads(emitted.stdout)["attempts"][0]
    failed = cli("resend", attempt["id"], "--tenant", "t1", "--json")
    assert failed.exit_code == 4 and json.loads(failed.stdout)["next_attempt_at"] is None
    cli("disable", sub["id"], "--tenant", "t1")
    refused = cli("resend", attempt["id"], "--tenant", "t1")
    assert refused.exit_code == 2 and "--force" in refused.stderr
    assert cli("resend", attempt["id"], "--tenant", "t1", "--force").exit_code == 4
    assert len(rx.requests) == 3
    cli("delete", sub["id"], "--tenant", "t1", "--yes")
    gone = cli("resend", attempt["id"], "--tenant", "t1")
    assert gone.exit_code == 3 and f"subscription {sub['id']} of attempt {attempt['id']} was deleted" in gone.stderr


def test_resend_failed_dry_run_then_send(cli, add_sub, receiver):
    healthy = {"value": False}
    rx = receiver(lambda path, *a: None if healthy["value"] or path == "/ok" else (500, {}, b""))
    add_sub(rx.url("/a"), "widget.deleted")
    add_sub(rx.url("/b"), "widget.deleted")
    add_sub(rx.url("/ok"), "widget.deleted")
    first = cli("emit", "widget.deleted", "--tenant", "t1", "--id", "1", "--name", "W", "--json")
    second = json.loads(cli("emit", "widget.deleted", "--tenant", "t1", "--id", "2", "--name", "W", "--json").stdout)
    healthy["value"] = True
    b_attempt = next(a for a in second["attempts"] if a["url"].endswith("/b"))
    assert cli("resend", b_attempt["id"], "--tenant", "t1").exit_code == 0  # recovered: not listed below
    before = len(rx.requests)
    planned = cli.json("resend", "--failed", "--since", "1h", "--dry-run", "--tenant", "t1")["attempts"]
    first_id = json.loads(first.stdout)["event_id"]
    assert sorted((a["url"].rsplit("/", 1)[1], a["event_id"]) for a in planned) == sorted(
        [("a", first_id), ("b", first_id), ("a", second["event_id"])])
    assert len(rx.requests) == before
    assert cli("resend", "--failed", "--since", "1h", "--tenant", "t1").exit_code == 2  # needs --yes
    summary = cli.json("resend", "--failed", "--since", "1h", "--yes", "--tenant", "t1")
    assert (summary["sent"], summary["succeeded"], summary["failed"]) == (3, 3, 0)
    assert len(rx.requests) == before + 3
    assert cli.json("resend", "--failed", "--since", "1h", "--dry-run", "--tenant", "t1") == {"dry_run": True, "sent": 0, "succeeded": 0, "failed": 0, "attempts": []}


def test_resend_failed_dry_run_says_what_disabled_subscriptions_keep_out_and_the_command_to_run(
        cli, add_sub, receiver):
    """Issue 13 point 15: skipped failures are counted with how to include them; the hint is a script's command."""
    rx = receiver(lambda *a: (500, {}, b""))
    add_sub(rx.url("/a"), "widget.deleted")
    off = add_sub(rx.url("/off"), "widget.deleted")
    cli("emit", "widget.deleted", "--tenant", "t1", "--id", "1", "--name", "W")
    cli("disable", off["id"], "--tenant", "t1")
    result = cli("resend", "--failed", "--since", "1h", "--event", "widget.deleted", "--dry-run", "--tenant", "t1")
    assert result.exit_code == 0
    assert result.stderr == (
        "note: 1 failed deliveries to disabled subscriptions are left out; --force includes them\n"
        "would resend 1 attempt(s); to resend them: alpana-hooks resend --failed --yes -t t1 --since 1h"
        " --event widget.deleted\n")
    forced = cli("resend", "--failed", "--force", "--dry-run", "--tenant", "t1")
    assert forced.stderr == "would resend 2 attempt(s); to resend them: alpana-hooks resend --failed --yes -t t1 --force\n"


def test_resend_failed_reads_the_failures_once_and_counts_what_disabled_keeps_out_beyond_the_limit(
        cli, add_sub, receiver, monkeypatch):
    """--limit bounds what is resent, not the count of failures a disabled subscription keeps out; the failures
    are read once (they were read twice: once limited, once whole for the count)."""
    from alpana_hooks.store import Store

    rx = receiver(lambda *a: (500, {}, b""))
    for path in ("/a", "/b"):
        add_sub(rx.url(path), "widget.deleted")
    off = add_sub(rx.url("/off"), "widget.deleted")
    for number in range(2):
        cli("emit", "widget.deleted", "--tenant", "t1", "--id", str(number), "--name", "W")
    cli("disable", off["id"], "--tenant", "t1")
    reads = []
    read = Store.failed_not_recovered
    monkeypatch.setattr(Store, "failed_not_recovered", lambda self, *a, **k: reads.append(k) or read(self, *a, **k))
    result = cli("resend", "--failed", "--limit", "3", "--dry-run", "--json", "--tenant", "t1")
    assert result.exit_code == 0
    assert [(a["subscription_id"], a["event_id"]) for a in json.loads(result.stdout)["attempts"]] == [
        (a["subscription_id"], a["event_id"]) for a in cli.json("attempts", "list", "--status", "failed",
                                                              "--tenant", "t1")
        if a["subscription_id"] != off["id"]][::-1][:3]
    assert result.stderr.splitlines()[0] == ("note: 2 failed deliveries to disabled subscriptions are left out; "
                                             "--force includes them")
    assert len(reads) == 1


# -- tenants are walls ---------------------------------------------------------------------------------

def test_other_tenant_finds_nothing(cli, add_sub, receiver):
    rx = receiver()
    add_sub(rx.url(), "widget.deleted")
    emitted = cli.json("emit", "widget.deleted", "--tenant", "t1", "--id", "7", "--name", "W")
    attempt_id = emitted["attempts"][0]["id"]
    for args in (["resend", attempt_id], ["attempts", "show", attempt_id], ["events", "show", emitted["event_id"]]):
        result = cli(*args, "--tenant", "t2")
        assert result.exit_code == 3, args
    assert cli.json("attempts", "list", "--tenant", "t2") == []
    assert cli.json("events", "list", "--tenant", "t2") == []
    assert cli.json("resend", "--failed", "--dry-run", "--tenant", "t2") == {"dry_run": True, "sent": 0, "succeeded": 0, "failed": 0, "attempts": []}


# -- attempts list / show -----------------------------------------------------------------------------------

def test_attempts_list_filters_and_show(cli, add_sub, receiver):
    rx = receiver(lambda path, *a: (500, {}, b"\x1b]0;owned\x07 bad") if path == "/bad" else None)
    bad = add_sub(rx.url("/bad"), "widget.deleted")
    add_sub(rx.url("/good"), "widget.deleted")
    add_sub(rx.url("/w"), "widget.added")
    cli("emit", "widget.deleted", "--tenant", "t1", "--id", "7", "--name", "W")
    cli("emit", "widget.added", "--tenant", "t1", "--id", "8", "--name", "W", "--item-url", "https://x/")
    assert len(cli.json("attempts", "list", "--tenant", "t1")) == 3
    assert [a["subscription_id"] for a in cli.json("attempts", "list", "--tenant", "t1", "--status", "failed")] == [
        bad["id"]]
    assert {a["event"] for a in cli.json("attempts", "list", "--tenant", "t1", "--event", "widget.added")} == {
        "widget.added"}
    assert len(cli.json("attempts", "list", "--tenant", "t1", "--limit", "1")) == 1
    assert len(cli.json("attempts", "list", "--tenant", "t1", "--subscription", bad["id"])) == 1
    rows = [line.split("\t") for line in cli("attempts", "list", "--tenant", "t1").stdout.splitlines()]
    failed_row = next(row for row in rows if row[1] == str(bad["id"]))
    # piped: id, sub, event, event id, created, status, HTTP status code, duration, next retry, response
    assert failed_row[2] == "widget.deleted" and failed_row[5:7] == ["failed", "500"]
    assert failed_row[9] == "\\x1b]0;owned\\x07 bad" and "\x1b" not in "".join(map("".join, rows))
    failed = cli.json("attempts", "list", "--tenant", "t1", "--status", "failed")[0]
    shown = cli("attempts", "show", failed["id"], "--tenant", "t1").stdout
    assert '"widget_id": "7"' in shown and "\x1b" not in shown and "webhook-signature" in shown
    assert cli("attempts", "list", "--tenant", "t1", "--status", "bogus").exit_code == 2
    assert cli("attempts", "list", "--tenant", "t1", "--since", "yesterday").exit_code == 2


def test_prune_keeps_unfinished_and_scheduled(cli, add_sub, receiver, db_path):
    rx = receiver(lambda path, *a: (500, {}, b"") if path == "/bad" else None)
    add_sub(rx.url("/bad"), "widget.deleted")
    add_sub(rx.url("/good"), "widget.deleted")
    add_sub(rx.url("/later"), "widget.added")
    cli("emit", "widget.deleted", "--tenant", "t1", "--id", "7", "--name", "W")
    cli("emit", "widget.added", "--tenant", "t1", "--id", "8", "--name", "W", "--item-url", "https://x/", "--no-send")
    db_exec(db_path, "UPDATE attempts SET created_at = '2020-01-01T00:00:00.000000Z'")
    db_exec(db_path, "UPDATE events SET created_at = '2020-01-01T00:00:00.000000Z'")
    prune = ["attempts", "prune", "--older-than", "30d", "--tenant", "t1"]
    dry = cli.json(*prune, "--dry-run")
    assert dry == {"deleted": 1, "events_deleted": 0, "dry_run": True}  # the event still has a scheduled retry
    result = cli(*prune)  # not a terminal: a deletion needs --yes
    assert (result.exit_code, result.stdout, result.stderr) == (
        2, "", "error: attempts prune needs --yes when not run from a terminal\n")
    assert len(db_rows(db_path, "SELECT id FROM attempts")) == 3
    assert cli.json(*prune, "--yes") == {"deleted": 1, "events_deleted": 0, "dry_run": False}
    left = db_rows(db_path, "SELECT url, status, next_attempt_at FROM attempts ORDER BY id")
    assert [r["url"].rsplit("/", 1)[1] for r in left] == ["bad", "later"]


def test_prune_says_it_deletes_events_too_and_a_dry_run_deletes_nothing(cli, add_sub, receiver, db_path,
                                                                        monkeypatch):
    """Issue 13 point 13: --dry-run, the --yes rule, and the events that go with their last attempt; with --yes
    it deletes at once, without counting first (a second read of everything old)."""
    from alpana_hooks.api import Hooks

    rx = receiver()
    add_sub(rx.url(), "widget.deleted")
    cli("emit", "widget.deleted", "--tenant", "t1", "--id", "7", "--name", "W", "--event-id", "bi-7")
    db_exec(db_path, "UPDATE attempts SET created_at = '2020-01-01T00:00:00.000000Z'")
    db_exec(db_path, "UPDATE events SET created_at = '2020-01-01T00:00:00.000000Z'")
    prune = ["attempts", "prune", "--older-than", "30d", "--tenant", "t1"]
    result = cli(*prune, "--dry-run")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0, "", "would delete 1 attempt(s) and 1 event(s) older than 30d; run again without --dry-run"
               " (and with --yes from a script)\n")
    assert len(db_rows(db_path, "SELECT id FROM events")) == 1
    calls = []
    prune_attempts = Hooks.prune_attempts
    monkeypatch.setattr(Hooks, "prune_attempts",
                        lambda self, *a, **k: calls.append(k.get("dry_run", False)) or prune_attempts(self, *a, **k))
    result = cli(*prune, "--yes")
    assert (result.exit_code, result.stderr, calls) == (0, "deleted 1 attempt(s) and 1 event(s) older than 30d\n",
                                                        [False])
    assert db_rows(db_path, "SELECT id FROM events") == [] == db_rows(db_path, "SELECT id FROM attempts")
    assert cli(*prune).exit_code == 0  # nothing left to delete: nothing to ask


# -- watch -----------------------------------------------------------------------------------------------

def test_watch_json_streams_new_attempts_and_exits_0_on_sigint(cli, add_sub, receiver, db_path, sigint_stops_children):
    rx = receiver()
    add_sub(rx.url(), "widget.deleted")
    watcher = subprocess.Popen([sys.executable, "-m", "alpana_hooks", "attempts", "list", "--tenant", "t1", "--watch",
                                "--json", "--interval", "0.2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=os.environ)
    try:
        time.sleep(1.0)
        emitted = run_cli("emit", "widget.deleted", "--tenant", "t1", "--id", "7", "--name", "W", "--json")
        event_id = json.loads(emitted.stdout)["event_id"]
        line = json.loads(watcher.stdout.readline())
        assert line["event_id"] == event_id
        if not isinstance(db_path, str):  # SQLite: the watcher holds no read transaction between polls
            conn = sqlite3.connect(db_path)
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            conn.close()
            assert busy == 0
        watcher.send_signal(signal.SIGINT)
        assert watcher.wait(10) == 0
    finally:
        watcher.kill()


def test_watch_into_a_pipe_prints_a_line_per_attempt_and_exits_0_on_sigterm(add_sub, receiver):
    rx = receiver(lambda *_: (500, {}, b"down"))
    sub = add_sub(rx.url(), "widget.deleted")
    emitted = json.loads(run_cli("emit", "widget.deleted", "--tenant", "t1", "--id", "7", "--name", "W",
                                 "--json").stdout)
    watcher = subprocess.Popen([sys.executable, "-m", "alpana_hooks", "attempts", "list", "--tenant", "t1", "--watch",
                                "--interval", "0.2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=os.environ)
    try:
        assert select.select([watcher.stdout], [], [], 10)[0], "no line within 10 s"
        row = watcher.stdout.readline().rstrip("\n").split("\t")
        attempt = emitted["attempts"][0]
        assert row[:4] == [str(attempt["id"]), str(sub["id"]), "widget.deleted", emitted["event_id"]]
        assert row[5:7] == ["failed", "500"] and row[8] == attempt["next_attempt_at"] and row[9] == "down"
        watcher.send_signal(signal.SIGTERM)
        assert watcher.wait(10) == 0
        assert watcher.stdout.read() == "" and watcher.stderr.read() == ""
    finally:
        watcher.kill()


def test_watch_redraws_in_place_on_a_terminal(add_sub, receiver, sigint_stops_children):
    import pty

    rx = receiver()
    add_sub(rx.url(), "widget.deleted")
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(sys.executable, [sys.executable, "-m", "alpana_hooks", "attempts", "list", "--tenant", "t1",
                                    "--watch", "--interval", "0.2"], {**os.environ, "TERM": "xterm"})
    out = b""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and out.count(b"Send attempts in t1") < 3:
        out += os.read(fd, 65536)
    os.kill(pid, signal.SIGINT)
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert b"\x1b[?25l" in out and b"\x1b[?25h" in out[-200:]  # cursor hidden while live, shown again at the end
    assert b"\x1b[1A" in out or b"\x1b[2K" in out  # cursor moved up / line cleared: redrawn in place


# -- found in review ---------------------------------------------------------------------------------

def test_a_deleted_subscriptions_work_never_reaches_a_newer_one(cli, add_sub, receiver, db_path):
    old, new = receiver(), receiver()
    first = add_sub(old.url(), "widget.deleted", "ta")
    cli("emit", "widget.deleted", "--tenant", "ta", "--id", "7", "--name", "W", "--no-send")
    cli("delete", first["id"], "--tenant", "ta", "--yes")
    second = add_sub(new.url(), "widget.deleted", "tb")
    assert second["id"] != first["id"]  # ids are never reused
    assert cli.json("deliver") == {"sent": 0, "succeeded": 0, "failed": 0, "attempts": []}
    assert old.requests == [] and new.requests == []
    (row,) = db_rows(db_path, "SELECT status, error_class FROM attempts")
    assert (row["status"], row["error_class"]) == ("failed", "discarded")


@pytest.mark.parametrize("value", ["\u00b2", "99999999999999999999", "Wed, 21 Oct 99999 07:28:00 GMT", "-5", ""])
def test_odd_retry_after_values_do_not_break_scheduling(value):
    delay = retry_delay(1, SCHEDULE, 503, None, value, random.Random(1))
    assert 4 * S <= delay <= 10 * S


def test_only_the_claim_holder_records_a_result(engine, receiver):
    store, settings, dispatcher = engine
    add(store, "http://127.0.0.1:9/")
    clock = Clock()
    (attempt_id,) = emit_via(store, dispatcher(clock), clock, send=False)
    store.claim([attempt_id], now=clock.now, lease_until=clock.now + timedelta(minutes=1), owner="late")
    store.claim([attempt_id], now=clock.now + timedelta(minutes=2), lease_until=clock.now + timedelta(minutes=3),
                owner="current")
    outcome = {"status": "succeeded", "status_code": 200}
    store.record_results([(attempt_id, outcome, None)], now=clock.now, disable_after=timedelta(days=5), owner="late")
    assert store.get_attempt("t1", attempt_id).status == "sending"
    store.record_results([(attempt_id, outcome, None)], now=clock.now, disable_after=timedelta(days=5),
                         owner="current")
    assert store.get_attempt("t1", attempt_id).status == "succeeded"


def test_bulk_resend_skips_a_delivery_resent_meanwhile(engine):
    store, settings, dispatcher = engine
    add(store, "http://127.0.0.1:9/")
    clock = Clock()
    (attempt_id,) = emit_via(store, dispatcher(clock), clock)
    assert store.add_resend("t1", attempt_id, now=clock.now, only_if_latest=True) is not None
    assert store.add_resend("t1", attempt_id, now=clock.now, only_if_latest=True) is None  # a second engineer


@pytest.mark.parametrize("command", ["deliver", "emit"])
def test_interrupted_send_records_what_went_out_and_hands_back_the_rest(cli, add_sub, receiver, config_path,
                                                                       db_path, sigint_stops_children, command):
    config_path.write_text(config_path.read_text() + "\n[delivery]\nconcurrency = 2\n")
    rx = receiver(lambda *a: time.sleep(1.0))
    if command == "deliver":  # 6 events, one subscription
        add_sub(rx.url(), "widget.deleted")
        for n in range(6):
            cli("emit", "widget.deleted", "--tenant", "t1", "--id", str(n), "--name", "W", "--no-send")
        args = ["deliver"]
    else:  # one event, 6 subscriptions: emit's own claims beyond the pool's queue must be handed back too
        for n in range(6):
            add_sub(rx.url(f"/s{n}"), "widget.deleted")
        args = ["emit", "widget.deleted", "--tenant", "t1", "--id", "7", "--name", "W"]
    sender = subprocess.Popen([sys.executable, "-m", "alpana_hooks", *args], env=os.environ,
                              stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 20
    while not rx.requests and time.monotonic() < deadline:
        time.sleep(0.02)
    sender.send_signal(signal.SIGINT)
    assert sender.wait(20) == 130
    statuses = [r["status"] for r in db_rows(db_path, "SELECT status FROM attempts")]
    assert "sending" not in statuses
    assert statuses.count("succeeded") == len(rx.requests) and statuses.count("pending") == 6 - len(rx.requests)
    assert statuses.count("pending") > 0


def test_resend_can_be_stored_already_claimed(engine):
    store, settings, dispatcher = engine
    add(store, "http://127.0.0.1:9/")
    clock = Clock()
    (attempt_id,) = emit_via(store, dispatcher(clock), clock)
    new_id = store.add_resend("t1", attempt_id, now=clock.now, claim=("me", clock.now + timedelta(minutes=1)))
    assert store.claim(None, now=clock.now, lease_until=clock.now + timedelta(minutes=1), owner="deliver") == []
    assert store.get_attempt("t1", new_id).status == "sending"


def test_write_after_a_failed_write_commits(db_path):
    store = Store.open(db_path)
    with pytest.raises(KeyboardInterrupt):
        with store.write():
            raise KeyboardInterrupt
    assert not store.conn.in_transaction
    add(store, "https://e.com/after")
    store.close()
    reopened = Store.open(db_path)
    assert [s.url for s in reopened.list_subscriptions("t1")] == ["https://e.com/after"]
    reopened.close()


# -- PostgreSQL: notifications and a lost connection ----------------------------------------------------

@pytest.mark.postgres_only
def test_watch_is_woken_by_notify_not_by_polling(cli, add_sub, receiver, sigint_stops_children):
    rx = receiver()
    add_sub(rx.url(), "widget.deleted")
    watcher = subprocess.Popen([sys.executable, "-m", "alpana_hooks", "attempts", "list", "--tenant", "t1", "--watch",
                                "--json", "--interval", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=os.environ)
    try:
        time.sleep(1.5)
        started = time.monotonic()
        emitted = cli.json("emit", "widget.deleted", "--tenant", "t1", "--id", "7", "--name", "W", "--no-send")
        line = json.loads(watcher.stdout.readline())
        assert line["id"] == emitted["attempts"][0]["id"] and line["status"] == "pending"
        cli("deliver")
        assert json.loads(watcher.stdout.readline())["status"] in ("sending", "succeeded")
        assert time.monotonic() - started < 20  # a poll would have waited 60 s
        watcher.send_signal(signal.SIGINT)
        assert watcher.wait(10) == 0
    finally:
        watcher.kill()


@pytest.mark.postgres_only
def test_deliver_loop_survives_a_lost_connection(cli, add_sub, receiver, db_path, sigint_stops_children):
    rx = receiver()
    add_sub(rx.url(), "widget.deleted")
    loop = subprocess.Popen([sys.executable, "-m", "alpana_hooks", "deliver", "--loop", "--interval", "0.2", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ)
    try:
        deadline = time.monotonic() + 30
        killed: list = []
        while not killed and time.monotonic() < deadline:  # until the loop has connected
            time.sleep(0.1)
            killed = db_rows(db_path, "SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity"
                                      " WHERE datname = current_database() AND application_name LIKE ?",
                             (f"alpana-hooks %:{loop.pid}",))
        assert killed and all(r["done"] for r in killed)
        cli("emit", "widget.deleted", "--tenant", "t1", "--id", "7", "--name", "W", "--no-send")
        deadline = time.monotonic() + 20
        while not rx.requests and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(rx.requests) == 1
        loop.send_signal(signal.SIGINT)
        out, err = loop.communicate(timeout=20)
        assert loop.returncode == 0, err
        assert json.loads(out)["succeeded"] == 1
    finally:
        loop.kill()


@pytest.mark.postgres_only
def test_a_server_that_is_gone_is_one_line_and_exit_1(cli, db_path):
    cli("list", "-t", "t1")
    gone = db_path.replace("?host=", "?port=1&host=")
    result = cli("list", "-t", "t1", "--db", gone)
    assert result.exit_code == 1 and result.stderr.startswith("error: cannot connect to postgresql://")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.postgres_only
def test_results_of_sends_made_while_the_connection_was_lost_are_recorded_after_reconnecting(add_sub, receiver,
                                                                                              db_path):
    """The server drops emit's connections while its send is on the wire: the result is written once it has
    reconnected (the retry of held results knows PostgreSQL's errors, not only SQLite's)."""
    def drop_emitters_connections(*_):
        killed = db_rows(db_path, "SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity"
                                  " WHERE datname = current_database() AND application_name LIKE 'alpana-hooks %'"
                                  " AND pid <> pg_backend_pid()")
        assert killed and all(r["done"] for r in killed)

    rx = receiver(drop_emitters_connections)
    add_sub(rx.url(), "widget.deleted")
    emitted = run_cli("emit", "widget.deleted", "--tenant", "t1", "--id", "7", "--name", "W", "--json")
    assert emitted.returncode == 0, emitted.stderr
    assert len(rx.requests) == 1
    assert [r["status"] for r in db_rows(db_path, "SELECT status FROM attempts")] == ["succeeded"]


def test_resend_by_event_id_and_attempts_list_by_event_id(cli, add_sub, receiver):
    """Issue 13 point 18: `resend --event-id EVT [--subscription N]` and `attempts list --event-id EVT`."""
    rx = receiver()
    first, second = add_sub(rx.url("/a"), "widget.deleted"), add_sub(rx.url("/b"), "widget.deleted")
    cli("emit", "widget.deleted", "--tenant", "t1", "--id", "7", "--name", "W", "--event-id", "bi-7")
    cli("emit", "widget.deleted", "--tenant", "t1", "--id", "8", "--name", "W", "--event-id", "bi-8")
    listed = cli.json("attempts", "list", "--tenant", "t1", "--event-id", "bi-7")
    assert sorted((a["event_id"], a["subscription_id"]) for a in listed) == [("bi-7", first["id"]), ("bi-7", second["id"])]
    resent = cli.json("resend", "--event-id", "bi-7", "--tenant", "t1")
    assert [(a["subscription_id"], a["trigger"], a["status"]) for a in resent] == [
        (first["id"], "resend", "succeeded"), (second["id"], "resend", "succeeded")]
    one = cli.json("resend", "--event-id", "bi-7", "--subscription", second["id"], "--tenant", "t1")
    assert [(a["subscription_id"], a["event_id"]) for a in one] == [(second["id"], "bi-7")]
    assert [r["headers"]["webhook-id"] for r in rx.requests[4:]] == ["bi-7"] * 3
    assert len(cli.json("attempts", "list", "--tenant", "t1", "--event-id", "bi-7")) == 5
    cli("disable", first["id"], "--tenant", "t1")
    sent_before = len(rx.requests)
    for args, code, message in (
        (["--event-id", "bi-7"], 2, f"subscription {first['id']} is disabled: enable it, or resend with --force"),
        (["--event-id", "nope"], 3, "event nope not found in tenant t1"),
        (["--event-id", "bi-7", "--subscription", "99"], 3, "event bi-7 was never sent to subscription 99 in tenant t1"),
        (["--event-id", "bi-7", "--failed"], 2, "give one of ATTEMPT_ID, --failed or --event-id"),
    ):
        result = cli("resend", *args, "--tenant", "t1")
        assert (result.exit_code, result.stdout, result.stderr) == (code, "", f"error: {message}\n"), args
    assert len(rx.requests) == sent_before  # a refusal sends nothing, not even to the active subscription


def test_emit_data_at_dash_reads_stdin(cli, add_sub, receiver):
    """Issue 13 point 18: `emit --data @-`."""
    rx = receiver()
    add_sub(rx.url(), "datasource.updated")
    result = cli("emit", "datasource.updated", "--tenant", "t1", "--data", "@-",
                 input='{"datasource_id": "ds1", "name": "Warehouse"}')
    assert result.exit_code == 0, result.stderr
    assert rx.bodies()[0]["data"] == {"datasource_id": "ds1", "name": "Warehouse"}


def test_attempts_list_unresolved_is_what_resend_failed_would_take(cli, add_sub, receiver):
    answers = {"/a": 500, "/b": 500}
    rx = receiver(lambda path, *_: (answers[path], {}, b""))
    add_sub(rx.url("/a"), "widget.deleted")
    add_sub(rx.url("/b"), "widget.deleted")
    emitted = json.loads(cli("emit", "widget.deleted", "--tenant", "t1", "--id", "7", "--name", "W", "--json").stdout)
    first_a, first_b = sorted(emitted["attempts"], key=lambda a: a["url"])
    answers["/a"] = 200
    assert cli("resend", first_a["id"], "--tenant", "t1").exit_code == 0  # a's failure is resolved
    failed = cli.json("attempts", "list", "--tenant", "t1", "--status", "failed")
    assert sorted(a["id"] for a in failed) == sorted([first_a["id"], first_b["id"]])
    unresolved = cli.json("attempts", "list", "--tenant", "t1", "--status", "failed", "--unresolved")
    dry_run = cli.json("resend", "--failed", "--dry-run", "--tenant", "t1")["attempts"]
    assert [a["id"] for a in unresolved] == [a["id"] for a in dry_run] == [first_b["id"]]
    assert unresolved[0]["next_attempt_at"] is not None  # the retry it is waiting for
    wrong = cli("attempts", "list", "--tenant", "t1", "--status", "succeeded", "--unresolved")
    assert (wrong.exit_code, wrong.stderr) == (2, "error: --unresolved lists failed attempts: it does not go with "
                                                  "--watch, --event-id or another --status\n")


# -- claims a wind-down could not hand back (the store stayed locked) go back at the next round ----------------

def test_claims_a_failed_hand_back_left_are_sent_by_the_next_round(db_path, add_sub, receiver):
    """The lease keeper renews every claim of its dispatcher, so claims left 'sending' by a wind-down that found
    the store locked would never expire while a `deliver --loop` lives: its next round hands them back first."""
    rx = receiver()
    add_sub(rx.url(), "widget.deleted")
    store = Store.open(db_path)
    now = utcnow()
    body = event_body(event_type="widget.deleted", event_id="evt_1", tenant="t1", data={}, now=now)
    store.record_event(tenant="t1", event_id="evt_1", event_type="widget.deleted", data={}, body=body, now=now)
    dispatcher = Dispatcher(store, load_settings())
    try:
        left = store.claim(None, now=now, lease_until=now + timedelta(hours=1), owner=dispatcher.owner)
        dispatcher._claims_left = True  # what hand_back records when the store stayed locked
        assert dispatcher.deliver_due() == left
        assert len(rx.requests) == 1
        assert [r["status"] for r in db_rows(db_path, "SELECT status FROM attempts")] == ["succeeded"]
    finally:
        dispatcher.close()
        store.close()


# -- a receiver's NUL in an error text: PostgreSQL refused the whole batch of results ------------------------

def test_a_nul_in_one_answer_does_not_keep_a_batch_of_results_from_the_store(db_path, add_sub, receiver):
    good = receiver()
    evil = socket.create_server(("127.0.0.1", 0))
    threading.Thread(target=lambda: [_answer_nul(evil.accept()[0]) for _ in range(1)], daemon=True).start()
    add_sub(f"http://127.0.0.1:{evil.getsockname()[1]}/hook", "widget.deleted")
    for n in range(3):
        add_sub(good.url(f"/s{n}"), "widget.deleted")
    with Hooks.open() as hooks:
        hooks.emit("t1", "widget.deleted", {"widget_id": "7", "name": "W"})
    rows = db_rows(db_path, "SELECT status, error_class, error FROM attempts ORDER BY id")
    assert [(r["status"], r["error_class"]) for r in rows] == [("failed", "invalid_response")] + [("succeeded", None)] * 3
    assert rows[0]["error"].endswith(": \\x00evil status")
    evil.close()


def _answer_nul(conn) -> None:
    with conn:
        conn.recv(65536)
        conn.sendall(b"\x00evil status\r\n\r\n")
