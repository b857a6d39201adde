"""replay-missing: a subscription disabled for a while, events fired meanwhile, then enabled and replayed: the
receiver gets exactly the missed ones, in order, each once; against a real receiver on both backends."""

import json

from conftest import db_rows

from alpana_hooks import Hooks


def _emit(cli, name, *extra):
    result = cli("emit", "dashboard.updated", "-t", "t1", "--id", "1", "--name", name, "--item-url", "https://b/1", *extra)
    assert result.exit_code == 0, result.stderr
    return result


def _names(rx):
    return [json.loads(r["body"])["data"]["name"] for r in rx.requests]


def test_replay_sends_exactly_the_missed_events_in_order(cli, add_sub, receiver, db_path):
    rx = receiver()
    sub = add_sub(rx.url(), "dashboard.updated", "t1", "--filter", "data.name != 'Skip'")
    _emit(cli, "before")
    _emit(cli, "pending", "--no-send")  # recorded for it, then discarded: it was disabled before the send
    cli("disable", sub["id"], "-t", "t1")
    assert cli("deliver").exit_code == 0
    assert db_rows(db_path, "SELECT error_class FROM attempts WHERE status = 'failed'") == [{"error_class": "discarded"}]
    for name in ("while-1", "Skip", "while-2"):
        _emit(cli, name)
    cli("emit", "widget.added", "-t", "t1", "--id", "9", "--name", "W", "--item-url", "https://b/w")  # another type
    cli("emit", "dashboard.updated", "-t", "t2", "--id", "1", "--name", "other tenant", "--item-url", "https://b/1")
    cli("enable", sub["id"], "-t", "t1")
    _emit(cli, "after")
    assert _names(rx) == ["before", "after"]

    planned = cli.json("replay-missing", sub["id"], "-t", "t1", "--since", "1h", "--dry-run")
    assert [e["data"]["name"] for e in planned] == ["pending", "while-1", "while-2"]
    assert _names(rx) == ["before", "after"]
    unasked = cli("replay-missing", sub["id"], "-t", "t1", "--since", "1h")
    assert (unasked.exit_code, unasked.stderr) == (2, "error: replay-missing needs --yes when not run from a terminal\n")

    replayed = cli("replay-missing", sub["id"], "-t", "t1", "--since", "1h", "--yes")
    assert replayed.exit_code == 0, replayed.stderr
    assert replayed.stderr == "sent 3: 3 succeeded, 0 failed\n"
    assert _names(rx) == ["before", "after", "pending", "while-1", "while-2"]
    assert [r["trigger"] for r in db_rows(db_path, "SELECT trigger FROM attempts WHERE subscription_id = ?"
                                                   " ORDER BY id DESC LIMIT 3", (sub["id"],))] == ["emit"] * 3
    again = cli("replay-missing", sub["id"], "-t", "t1", "--since", "1h", "--yes")
    assert (again.exit_code, again.stderr) == (0, f"subscription {sub['id']} missed no event since 1h\n")
    assert len(rx.requests) == 5


def test_bad_input_exits_2_or_3_and_sends_nothing(cli, add_sub, receiver, db_path):
    rx = receiver()
    sub = add_sub(rx.url(), "dashboard.updated", "t1", "--disabled")
    _emit(cli, "missed")
    disabled = cli("replay-missing", sub["id"], "-t", "t1", "--since", "1h", "--yes")
    assert (disabled.exit_code, disabled.stderr) == (2, f"error: subscription {sub['id']} is disabled: enable it first\n")
    unknown = cli("replay-missing", 99, "-t", "t1", "--since", "1h", "--yes")
    assert (unknown.exit_code, unknown.stderr) == (3, "error: subscription 99 not found in tenant t1\n")
    future = cli("replay-missing", sub["id"], "-t", "t1", "--since", "2099-01-01T00:00:00Z", "--yes")
    assert future.exit_code == 2 and future.stderr.startswith("error: --since 2099-01-01T00:00:00+00:00 is in the future")
    assert rx.requests == [] and db_rows(db_path, "SELECT count(*) AS n FROM attempts") == [{"n": 0}]


def test_the_python_api_replays_with_progress(db_path, receiver):
    from datetime import timedelta

    from alpana_hooks.timeutil import utcnow

    rx = receiver()
    data = {"dashboard_id": "1", "url": "https://b/1"}
    with Hooks.open() as hooks:
        sub = hooks.add_subscription("t1", "dashboard.updated", rx.url(), disabled=True).subscription
        for name in ("a", "b"):
            hooks.emit("t1", "dashboard.updated", {**data, "name": name})
        hooks.enable("t1", sub.id)
        missed = hooks.missed_events("t1", sub.id, since=utcnow() - timedelta(hours=1))
        seen = []
        attempts = hooks.replay_missing("t1", sub.id, missed, progress=lambda done, total: seen.append((done, total)))
        assert seen == [(1, 2), (2, 2)] and [a.status for a in attempts] == ["succeeded", "succeeded"]
        assert hooks.replay_missing("t1", sub.id, missed) == []  # each once, also when asked twice
    assert _names(rx) == ["a", "b"]
