"""`stats`: counts, rates, durations, health and activity per subscription, from real sends to a real receiver, on
both backends; its whole output at 100 columns; bad input."""

import json
import re
from datetime import timedelta

import pytest
from test_whole_output import run_tty
from conftest import db_rows, run_cli

from alpana_hooks import Hooks
from alpana_hooks.timeutil import utcnow


def respond(path, headers, body):
    return (500, {}, b"down") if path == "/fail" else None


@pytest.fixture
def three(cli, add_sub, receiver):
    """Subscription 1 answers 200, 2 answers 500, 3 is disabled; one event to all, then a ping to 1."""
    rx = receiver(respond)
    add_sub(rx.url("/ok"))
    add_sub(rx.url("/fail"))
    add_sub(rx.url("/off"), "dashboard.updated", "t1", "--disabled")
    assert cli("emit", "dashboard.updated", "-t", "t1", "--id", "1", "--name", "A", "--item-url", "https://b/1").exit_code == 4
    assert cli("ping", 1, "-t", "t1").exit_code == 0
    return rx


def test_stats_counts_rates_health_and_buckets(cli, three, db_path):
    found = cli.json("stats", "-t", "t1", "--since", "3h", "--bucket", "1h")
    assert (found["tenant"], found["bucket_seconds"]) == ("t1", 3600)
    by_id = {one["id"]: one for one in found["subscriptions"]}
    picked = {sub_id: {key: one[key] for key in ("state", "attempts", "succeeded", "failed", "pending", "success_rate",
                                                  "consecutive_failures")}
              for sub_id, one in by_id.items()}
    assert picked == {
        1: {"state": "active", "attempts": 2, "succeeded": 2, "failed": 0, "pending": 0, "success_rate": 1.0,
            "consecutive_failures": 0},
        2: {"state": "active", "attempts": 1, "succeeded": 0, "failed": 1, "pending": 0, "success_rate": 0.0,
            "consecutive_failures": 1},
        3: {"state": "disabled", "attempts": 0, "succeeded": 0, "failed": 0, "pending": 0, "success_rate": None,
            "consecutive_failures": 0},
    }
    assert [(b["succeeded"], b["failed"]) for b in by_id[1]["buckets"]] == [(0, 0), (0, 0), (2, 0)]
    assert [(b["succeeded"], b["failed"]) for b in by_id[2]["buckets"]] == [(0, 0), (0, 0), (0, 1)]
    assert by_id[1]["last_failure"] is None and by_id[2]["last_success"] is None
    assert by_id[1]["last_success"] == db_rows(db_path, "SELECT max(finished_at) AS f FROM attempts"
                                                         " WHERE subscription_id = 1")[0]["f"]
    assert by_id[2]["last_failure"] == db_rows(db_path, "SELECT finished_at FROM attempts"
                                                        " WHERE subscription_id = 2")[0]["finished_at"]
    assert by_id[3]["p50_ms"] is None and by_id[2]["p50_ms"] == by_id[2]["p95_ms"] >= 0


def test_failures_in_a_row_count_from_the_last_success_and_percentiles(db_path, receiver):
    answers = iter([200, 500, 500, 500] + [200] * 20)
    rx = receiver(lambda path, headers, body: (next(answers), {}, b""))
    data = {"dashboard_id": "1", "name": "A", "url": "https://b/1"}
    with Hooks.open() as hooks:
        sub = hooks.add_subscription("t1", "dashboard.updated", rx.url()).subscription
        for _ in range(4):
            hooks.emit("t1", "dashboard.updated", data)
        one = hooks.stats("t1").subscriptions[0]
        assert (one.succeeded, one.failed, one.consecutive_failures) == (1, 3, 3)
        durations = sorted(r["duration_ms"] for r in db_rows(db_path, "SELECT duration_ms FROM attempts"))
        assert (one.p50_ms, one.p95_ms) == (durations[1], durations[3])  # nearest rank of 4: 2nd and 4th
        hooks.emit("t1", "dashboard.updated", data)
        assert hooks.stats("t1", subscription_id=sub.id).subscriptions[0].consecutive_failures == 0


def test_bad_input_exits_2_or_3_with_one_line(cli, add_sub):
    add_sub("https://e.com/h")
    future = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ahead = cli("stats", "-t", "t1", "--since", future)
    assert ahead.exit_code == 2 and re.fullmatch(r"error: --since \S+ is in the future\n", ahead.stderr)
    assert cli("stats", "-t", "t1", "-s", 9).stderr == "error: subscription 9 not found in tenant t1\n"
    many = cli("stats", "-t", "t1", "--since", "30d", "--bucket", "1h")
    assert (many.exit_code, many.stderr) == (2, "error: --bucket: between 1s and 240 buckets in the window"
                                                " (this makes 720)\n")
    assert cli("stats", "-t", "t1", "--event", "nope").exit_code == 2


def _normalise(text: str) -> str:
    """The window's start, and the p50/p95 durations (digits to N, under their titles), vary from run to run."""
    text = re.sub(r"since \d{4}-\d\d-\d\d \d\d:\d\dZ", "since YYYY-MM-DD hh:mmZ", text)
    lines = text.split("\n")
    header = next(line for line in lines if "P50 MS" in line)
    first, last = header.index("P50 MS"), header.index("LAST OK")
    rows = lines.index(header) + 1
    lines[rows:] = [line[:first] + re.sub(r"\d+ *", lambda m: "N".ljust(len(m.group())), line[first:last]) + line[last:] if re.match(r"\d+ ", line)
                    else line for line in lines[rows:]]
    return "\n".join(lines)


@pytest.mark.sqlite_only
def test_the_whole_stats_output_at_100_columns(three):
    code, stdout, stderr = run_tty("stats", "--since", "6h", columns=100, tenant="t1")
    assert (code, stderr) == (0, "")
    assert _normalise(stdout) == """\
Deliveries since YYYY-MM-DD hh:mmZ
ID  STATE     SENT  OK  FAIL  PEND  RATE  P50 MS  P95 MS  LAST OK  LAST FAIL  STREAK
1   active    2     2   0     0     100%  N       N       AGE      never      0
2   active    1     0   1     0     0%    N       N       never    AGE        1
3   disabled  0     0   0     0                           never    never      0
Activity, one mark per 1h, oldest first (height: attempts; · none):
   1 ok   ·····█
     fail ······
   2 ok   ······
     fail ·····█
   3 ok   ······
     fail ······
"""
    as_json = json.loads(run_cli("stats", "-t", "t1", "--since", "6h", "--json").stdout)
    assert [len(one["buckets"]) for one in as_json["subscriptions"]] == [6, 6, 6]
