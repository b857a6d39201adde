"""Per-subscription rate limits (issue 14, point 1b): `add/edit --rate-limit`, shown, exported and applied; the
budget lives in the store (a next allowed send time per subscription, moved on inside the claim transaction), so
it holds across several deliver processes; attempts over it stay pending, never fail."""

import json
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from conftest import db_exec, db_rows, run_cli

from alpana_hooks import Hooks
from alpana_hooks.events import event_body, new_event_id
from alpana_hooks.signing import generate_secret
from alpana_hooks.store import Store
from alpana_hooks.timeutil import to_iso, utcnow

PYTHON_CLI = [sys.executable, "-m", "alpana_hooks"]


def record(store: Store, n: int, event_type: str = "dashboard.updated", claim=None) -> dict:
    now = utcnow()
    event_id = new_event_id(now)
    data = {"dashboard_id": str(n), "name": "D"}
    body = event_body(event_type=event_type, event_id=event_id, tenant="t1", data=data, now=now)
    return store.record_event(tenant="t1", event_id=event_id, event_type=event_type, data=data, body=body, now=now,
                              claim=claim)


def add(store: Store, url: str, rate_limit: str | None) -> int:
    return store.add_subscription(tenant="t1", event_type="dashboard.updated", url=url, description="", state="active",
                                  headers=[], secret=generate_secret(), now=utcnow(), rate_limit=rate_limit)


@pytest.mark.parametrize("value", ["10", "0/s", "10/d", "ten/s", "-1/s", "1.5/s", "1234567/s", ""])
def test_a_bad_rate_limit_is_one_line_exit_2_and_nothing_written(cli, add_sub, db_path, value):
    added = cli("add", "-t", "t1", "-e", "dashboard.updated", "-u", "https://example.com/h", "--rate-limit", value)
    assert (added.exit_code, added.stdout) == (2, "")
    assert added.stderr == (f"error: invalid rate limit {value!r}: use a count per second, minute or hour, e.g. 10/s,"
                            " 600/m or 5000/h (none: no limit)\n")
    assert cli.json("list", "-t", "t1") == []
    sub = add_sub("https://example.com/h", "dashboard.updated", "t1", "--rate-limit", "5/m")
    edited = cli("edit", sub["id"], "-t", "t1", "--rate-limit", value)
    assert (edited.exit_code, edited.stdout, edited.stderr) == (2, "", added.stderr)
    assert db_rows(db_path, "SELECT rate_limit FROM subscriptions") == [{"rate_limit": "5/m"}]


def test_add_edit_list_show_and_json(cli, add_sub, db_path):
    sub = add_sub("https://example.com/h", "dashboard.updated", "t1", "--rate-limit", " 010/S ")
    assert sub["rate_limit"] == "10/s"  # the normal form
    add_sub("https://example.com/other")
    listed = cli("list", "-t", "t1")
    assert listed.exit_code == 0
    assert listed.stdout == ("1\tdashboard.updated\thttps://example.com/h\tActive\t\t10/s\t\n"  # piped: tab-separated
                             "2\tdashboard.updated\thttps://example.com/other\tActive\t\t\t\n")
    shown = cli("show", sub["id"], "-t", "t1").stdout.splitlines()
    assert shown[4:6] == ["State\tActive", "Rate limit\t10/s"]
    assert [s["rate_limit"] for s in cli.json("list", "-t", "t1")] == ["10/s", None]
    assert cli.json("edit", sub["id"], "-t", "t1", "--rate-limit", "600/m")["rate_limit"] == "600/m"
    db_exec(db_path, "UPDATE subscriptions SET next_send_at = ? WHERE id = 1", (to_iso(utcnow() + timedelta(hours=1)),))
    assert cli.json("edit", sub["id"], "-t", "t1", "--rate-limit", "none")["rate_limit"] is None
    assert db_rows(db_path, "SELECT rate_limit, next_send_at FROM subscriptions WHERE id = 1") == [
        {"rate_limit": None, "next_send_at": None}]  # the budget goes with the limit
    assert "Rate" not in cli("list", "-t", "t1").stdout  # no column when no subscription has a limit


def test_python_api_keyword(db_path):
    with Hooks.open() as hooks:
        added = hooks.add_subscription("t1", "dashboard.updated", "https://example.com/h", rate_limit="5000/h")
        assert added.subscription.rate_limit == "5000/h"
        assert hooks.edit_subscription("t1", added.subscription.id, rate_limit="2/s").rate_limit == "2/s"
        assert hooks.edit_subscription("t1", added.subscription.id, rate_limit="none").rate_limit is None


def test_export_and_apply_carry_the_rate_limit(cli, add_sub, tmp_path):
    add_sub("https://example.com/h", "dashboard.updated", "t1", "--rate-limit", "10/s")
    exported = cli("export", "-t", "t1")
    assert exported.stdout == ('tenant = "t1"\n\n[[subscription]]\nevent = "dashboard.updated"\n'
                               'url = "https://example.com/h"\ndescription = ""\nstate = "active"\nrate_limit = "10/s"\n')
    path = tmp_path / "subs.toml"
    path.write_text(exported.stdout.replace('"10/s"', '"3/m"'))
    assert cli("apply", path, "--yes").exit_code == 0
    assert [s["rate_limit"] for s in cli.json("list", "-t", "t1")] == ["3/m"]
    path.write_text(exported.stdout.replace('rate_limit = "10/s"\n', ""))
    assert cli("apply", path, "--yes").exit_code == 0
    assert [s["rate_limit"] for s in cli.json("list", "-t", "t1")] == [None]
    path.write_text(exported.stdout.replace('"10/s"', '"fast"'))
    bad = cli("apply", path, "--yes")
    assert (bad.exit_code, bad.stderr) == (2, f"error: {path}: subscription #1, key 'rate_limit': invalid rate limit"
                                              " 'fast': use a count per second, minute or hour, e.g. 10/s, 600/m or"
                                              " 5000/h (none: no limit)\n")
    assert [s["rate_limit"] for s in cli.json("list", "-t", "t1")] == [None]


def test_the_claim_spends_a_budget_shared_by_every_connection(db_path):
    first, second = Store.open(db_path), Store.open(db_path)  # two processes' connections to one store
    try:
        limited, free = add(first, "http://127.0.0.1:9/slow", "10/s"), add(first, "http://127.0.0.1:9/free", None)
        attempts = [record(first, n)["attempt_ids"] for n in range(4)]  # each event: (limited, free)
        now = utcnow()
        lease = now + timedelta(minutes=1)
        assert first.claim(None, now=now, lease_until=lease, owner="a") == [attempts[0][0], *[a[1] for a in attempts]]
        assert second.claim(None, now=now, lease_until=lease, owner="b") == []  # the budget is spent for 0.1 s
        assert second.claim(None, now=now + timedelta(seconds=0.05), lease_until=lease, owner="b") == []
        assert second.claim(None, now=now + timedelta(seconds=0.1), lease_until=lease, owner="b") == [attempts[1][0]]
        later = now + timedelta(seconds=10)  # idle time is not banked: one at once, then spaced again
        assert first.claim(None, now=later, lease_until=lease, owner="a") == [attempts[2][0]]
        assert first.claim(None, now=later, lease_until=lease, owner="a") == []
        assert first.rate_limited_backlog(later) == (1, later + timedelta(seconds=0.1))
        assert db_rows(db_path, "SELECT status, count(*) AS n FROM attempts WHERE subscription_id = ? GROUP BY status",
                       (limited,)) == [{"status": "pending", "n": 1}, {"status": "sending", "n": 3}]
        assert free
    finally:
        first.close()
        second.close()


def test_emit_sends_within_the_budget_and_leaves_the_rest_pending(db_path, receiver, cli):
    rx = receiver()
    with Hooks.open() as hooks:
        sub = hooks.add_subscription("t1", "widget.deleted", rx.url("/limited"), rate_limit="1/h").subscription
        hooks.add_subscription("t1", "widget.deleted", rx.url("/free"))
        first = hooks.emit("t1", "widget.deleted", {"widget_id": "1", "name": "W"})
        second = hooks.emit("t1", "widget.deleted", {"widget_id": "2", "name": "W"})
    assert [(a.url, a.status) for a in first.attempts] == [(rx.url("/limited"), "succeeded"), (rx.url("/free"), "succeeded")]
    assert [(a.url, a.status) for a in second.attempts] == [(rx.url("/limited"), "pending"), (rx.url("/free"), "succeeded")]
    assert sorted(r["path"] for r in rx.requests) == ["/free", "/free", "/limited"]  # the first two concurrently
    allowed_at = db_rows(db_path, "SELECT next_send_at FROM subscriptions WHERE id = ?", (sub.id,))[0]["next_send_at"]
    delivered = cli("deliver")  # the next send is an hour away: a one-shot deliver says so and does not wait
    assert (delivered.exit_code, delivered.stdout) == (0, "")
    assert delivered.stderr == ("sent 0: 0 succeeded, 0 failed\nattempts left pending for a subscription's rate "
                                f"limit: 1; the next may go at {allowed_at}: run deliver again then, or keep deliver"
                                " --loop running\n")
    assert cli.json("deliver") == {"sent": 0, "succeeded": 0, "failed": 0, "waiting": 1, "next_send_at": allowed_at,
                                   "attempts": []}
    assert len(rx.requests) == 3


def test_a_due_retry_of_a_limited_subscription_waits_for_the_claim(db_path):
    store = Store.open(db_path)
    try:
        add(store, "http://127.0.0.1:9/slow", "1/h")
        [attempt_id] = record(store, 1)["attempt_ids"]
        now = utcnow()
        db_exec(db_path, "UPDATE attempts SET status = 'failed', next_attempt_at = ? WHERE id = ?", (to_iso(now), attempt_id))
        assert store.claim_due_retries(now=now, lease_until=now + timedelta(minutes=1), owner="a") == []
        assert db_rows(db_path, "SELECT trigger, status, claimed_by FROM attempts WHERE id > ?", (attempt_id,)) == [
            {"trigger": "retry", "status": "pending", "claimed_by": None}]
    finally:
        store.close()


def limited_backlog(db_path, receiver, events: int):
    """A 10/s subscription with `events` pending attempts, and its receiver's arrival times (monotonic)."""
    arrivals: list[float] = []
    rx = receiver(lambda path, headers, body: arrivals.append(time.monotonic()))
    store = Store.open(db_path)
    try:
        add(store, rx.url("/limited"), "10/s")
        for n in range(events):
            record(store, n)
    finally:
        store.close()
    return arrivals, rx


def test_two_deliverers_keep_to_10_per_second(db_path, receiver):
    """The issue's proof: a real receiver records arrival times; two deliver processes share one 10/s budget for
    about 4 s of sending; no 1-second window holds more than 10 (+1) requests, and each one-shot deliver waits for
    the budget instead of exiting with work left."""
    arrivals, rx = limited_backlog(db_path, receiver, 40)
    deliverers = [subprocess.Popen([*PYTHON_CLI, "deliver", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True) for _ in range(2)]
    outputs = [proc.communicate(timeout=60) for proc in deliverers]
    assert [proc.returncode for proc in deliverers] == [0, 0], outputs
    assert sum(int(out.split('"sent": ')[1].split(",")[0]) for out, _ in outputs) == 40
    assert all(out.count('"sent"') == 1 and '"waiting"' not in out for out, _ in outputs)
    assert len(arrivals) == 40 and len(rx.requests) == 40
    busiest = max(sum(1 for t in arrivals if start <= t < start + 1.0) for start in arrivals)
    assert busiest <= 11, busiest
    assert db_rows(db_path, "SELECT status, count(*) AS n FROM attempts GROUP BY status") == [
        {"status": "succeeded", "n": 40}]
    assert json.loads(run_cli("deliver", "--json").stdout) == {"sent": 0, "succeeded": 0, "failed": 0, "attempts": []}


def test_deliver_loop_takes_the_next_round_when_the_budget_allows(db_path, receiver):
    """With --interval 60 a looping deliver still sends a 10/s subscription's backlog at its rate: the next round
    comes when the budget allows a send, not a whole interval later."""
    arrivals, _ = limited_backlog(db_path, receiver, 10)
    loop = subprocess.Popen([*PYTHON_CLI, "deliver", "--loop", "--interval", "60", "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        give_up = time.monotonic() + 30
        while len(arrivals) < 10 and time.monotonic() < give_up and loop.poll() is None:
            time.sleep(0.1)
    finally:
        loop.send_signal(signal.SIGTERM)
        out, err = loop.communicate(timeout=30)
    assert (loop.returncode, len(arrivals)) == (0, 10), err
    assert out == '{\n  "sent": 10,\n  "succeeded": 10,\n  "failed": 0\n}\n'
    assert max(sum(1 for t in arrivals if start <= t < start + 1.0) for start in arrivals) <= 11
