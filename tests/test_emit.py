"""emit: the 10 events' payloads, signatures, the rename rule, fan-out, failures, the outbox."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from standardwebhooks.webhooks import Webhook

from alpana_hooks import __version__
from conftest import ALLOW_LOOPBACK, db_rows

# (type, emit flags, expected data) for the 10 events Alpana Server supports.
EVENTS = [
    ("comment.added", ["--target", "dashboard", "--target-id", "42", "--target-name", "Sales", "--comment-id", "c9",
                       "--comment-url", "https://bi.example.com/t1/dashboards/42/comments/c9"],
     {"target": "dashboard", "target_id": "42", "target_name": "Sales", "comment_id": "c9",
      "comment_url": "https://bi.example.com/t1/dashboards/42/comments/c9"}),
    ("dashboard.added", ["--id", "42", "--name", "Sales", "--item-url", "https://bi/d/42"],
     {"dashboard_id": "42", "name": "Sales", "url": "https://bi/d/42"}),
    ("dashboard.deleted", ["--id", "42", "--name", "Sales"], {"dashboard_id": "42", "name": "Sales"}),
    ("dashboard.updated", ["--id", "42", "--name", "Sales", "--item-url", "https://bi/d/42", "--version", "3"],
     {"dashboard_id": "42", "name": "Sales", "url": "https://bi/d/42", "version": 3}),
    ("datasource.added", ["--id", "ds1", "--name", "Warehouse"], {"datasource_id": "ds1", "name": "Warehouse"}),
    ("datasource.deleted", ["--id", "ds1", "--name", "Warehouse"], {"datasource_id": "ds1", "name": "Warehouse"}),
    ("datasource.updated", ["--id", "ds1", "--name", "Warehouse"], {"datasource_id": "ds1", "name": "Warehouse"}),
    ("widget.added", ["--id", "w7", "--name", "Revenue", "--item-url", "https://bi/w/7"],
     {"widget_id": "w7", "name": "Revenue", "url": "https://bi/w/7"}),
    ("widget.deleted", ["--id", "w7", "--name", "Revenue"], {"widget_id": "w7", "name": "Revenue"}),
    ("widget.updated", ["--id", "w7", "--name", "Revenue", "--item-url", "https://bi/w/7", "--version", "2"],
     {"widget_id": "w7", "name": "Revenue", "url": "https://bi/w/7", "version": 2}),
]


@pytest.mark.sqlite_only  # payloads, not the store: one backend is enough
@pytest.mark.parametrize("event_type, flags, data", EVENTS, ids=[e[0] for e in EVENTS])
def test_each_event_arrives_with_its_payload(cli, add_sub, receiver, event_type, flags, data):
    rx = receiver()
    add_sub(rx.url(), event_type)
    result = cli.json("emit", event_type, "--tenant", "t1", *flags)
    assert [a["status"] for a in result["attempts"]] == ["succeeded"]
    (body,) = rx.bodies()
    assert body["type"] == event_type and body["tenant"] == "t1" and body["id"] == result["event_id"]
    assert body["data"] == data
    assert set(body) == {"type", "id", "timestamp", "tenant", "data"}


@pytest.mark.sqlite_only
def test_urls_are_built_from_server_url(cli, add_sub, receiver, config_path):
    config_path.write_text('server_url = "https://bi.example.com/"\n' + config_path.read_text())
    rx = receiver()
    add_sub(rx.url(), "dashboard.added")
    cli.json("emit", "dashboard.added", "--tenant", "t1", "--id", "42", "--name", "Sales")
    assert rx.bodies()[0]["data"]["url"] == "https://bi.example.com/t1/dashboards/42"


def test_delivery_is_signed_and_carries_headers(cli, add_sub, receiver):
    rx = receiver()
    sub = add_sub(rx.url(), "widget.added", "t1", "--header", "X-Api-Key: k-123", "--header", "X-Team: bi")
    result = cli.json("emit", "widget.added", "--tenant", "t1", "--id", "7", "--name", "W", "--item-url", "https://bi/w/7")
    (request,) = rx.requests
    headers = {k.lower(): v for k, v in request["headers"].items()}
    Webhook(sub["secret"]).verify(request["body"], headers)  # raises when it does not verify
    assert headers["webhook-id"] == result["event_id"]
    assert headers["x-api-key"] == "k-123" and headers["x-team"] == "bi"
    assert headers["user-agent"] == f"alpana-hooks/{__version__}"
    assert headers["content-type"] == "application/json"
    stored = cli.json("attempts", "show", result["attempts"][0]["id"], "--tenant", "t1")
    assert {"name": "X-Api-Key", "value": "********"} in stored["request_headers"]
    assert stored["payload"].encode() == request["body"]


def test_rename_alone_does_not_fire_but_new_or_restored_version_does(cli, add_sub, receiver):
    rx = receiver()
    add_sub(rx.url(), "dashboard.updated")
    base = ["emit", "dashboard.updated", "--tenant", "t1", "--id", "42", "--item-url", "https://bi/d/42"]
    assert cli.json(*base, "--name", "Sales", "--version", "3")["fired"] is True
    renamed = cli(*base, "--name", "Sales EMEA", "--version", "3")
    assert renamed.exit_code == 0 and "not fired: only the name changed" in renamed.stderr
    assert cli.json(*base, "--name", "Sales EMEA", "--version", "4")["fired"] is True
    assert cli.json(*base, "--name", "Sales EMEA", "--version", "3")["fired"] is True  # restored
    assert [b["data"]["version"] for b in rx.bodies()] == [3, 4, 3]
    assert rx.bodies()[1]["data"]["name"] == "Sales EMEA"


def test_rename_rule_is_per_tenant_and_deleted_forgets(cli, add_sub, receiver):
    rx = receiver()
    add_sub(rx.url(), "widget.updated", "t1")
    add_sub(rx.url(), "widget.updated", "t2")
    args = ["widget.updated", "--id", "7", "--name", "W", "--item-url", "https://bi/w/7", "--version", "1"]
    assert cli.json("emit", *args, "--tenant", "t1")["fired"]
    assert cli.json("emit", *args, "--tenant", "t2")["fired"]
    assert not cli.json("emit", *args, "--tenant", "t1")["fired"]
    cli.json("emit", "widget.deleted", "--tenant", "t1", "--id", "7", "--name", "W")
    assert cli.json("emit", *args, "--tenant", "t1")["fired"]


@pytest.mark.sqlite_only
def test_copied_dashboard_carries_copied_from(cli, add_sub, receiver):
    rx = receiver()
    add_sub(rx.url(), "dashboard.added")
    cli.json("emit", "dashboard.added", "--tenant", "t1", "--id", "43", "--name", "Copy", "--item-url", "https://bi/d/43",
             "--copied-from", "7")
    assert rx.bodies()[0]["data"]["copied_from"] == "7"


def test_disabled_subscription_receives_nothing_others_untouched(cli, add_sub, receiver):
    rx = receiver()
    off = add_sub(rx.url("/off"), "datasource.updated", "t1")
    add_sub(rx.url("/on"), "datasource.updated", "t1")
    add_sub(rx.url("/other-type"), "datasource.added", "t1")
    add_sub(rx.url("/other-tenant"), "datasource.updated", "t2")
    cli("disable", off["id"], "--tenant", "t1")
    result = cli.json("emit", "datasource.updated", "--tenant", "t1", "--id", "d", "--name", "D")
    assert [r["path"] for r in rx.requests] == ["/on"]
    assert len(result["attempts"]) == 1


def test_no_matching_subscription_says_so(cli):
    result = cli("emit", "widget.deleted", "--tenant", "t1", "--id", "7", "--name", "W")
    assert result.exit_code == 0
    assert "no active subscription in t1 for widget.deleted" in result.stderr


def test_event_id_makes_a_repeat_a_no_op(cli, add_sub, receiver):
    rx = receiver()
    add_sub(rx.url(), "widget.deleted")
    args = ["emit", "widget.deleted", "--tenant", "t1", "--id", "7", "--name", "W", "--event-id", "bi-123"]
    assert cli.json(*args)["duplicate"] is False
    again = cli(*args)
    assert again.exit_code == 0 and "already recorded" in again.stderr
    assert len(rx.requests) == 1 and rx.requests[0]["headers"]["webhook-id"] == "bi-123"


@pytest.mark.parametrize("args, message", [
    (["dashboard.renamed", "--id", "1"], "unknown event type 'dashboard.renamed'"),
    (["dashboard.added", "--id", "1", "--item-url", "https://x/"], "missing field 'name'"),
    (["dashboard.added", "--version", "2", "--id", "1", "--name", "n", "--item-url", "https://x/"], "--version does not apply"),
    (["dashboard.added", "--data", '{"dashboard_id": "1", "name": "n", "url": "https://x/", "colour": "red"}'],
     "unknown field 'colour'"),
    (["dashboard.added", "--data", "{not json"], "invalid --data JSON"),
    (["dashboard.added", "--data", "@/nonexistent/file.json"], "cannot read --data file"),
    (["widget.deleted", "--id", "1", "--name", "n", "--event-id", "has.dot"], "invalid --event-id"),
    (["dashboard.added", "--id", "1", "--name", "n"], "give --item-url or set server_url"),
])
@pytest.mark.sqlite_only  # input parsing
def test_bad_emit_input_exits_2_and_records_nothing(cli, add_sub, db_path, args, message):
    add_sub("http://127.0.0.1:9/", "dashboard.added")
    result = cli("emit", *args, "--tenant", "t1")
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert db_rows(db_path, "SELECT * FROM events") == []


@pytest.mark.sqlite_only
def test_data_from_file(cli, add_sub, receiver, tmp_path):
    rx = receiver()
    add_sub(rx.url(), "datasource.added")
    path = tmp_path / "data.json"
    path.write_text('{"datasource_id": "ds9", "name": "Lake"}')
    cli.json("emit", "datasource.added", "--tenant", "t1", "--data", f"@{path}")
    assert rx.bodies()[0]["data"] == {"datasource_id": "ds9", "name": "Lake"}


def test_no_send_records_pending_attempts(cli, add_sub, receiver, db_path):
    rx = receiver()
    add_sub(rx.url(), "widget.added")
    result = cli.json("emit", "widget.added", "--tenant", "t1", "--id", "7", "--name", "W", "--item-url", "https://x/",
                      "--no-send")
    assert [a["status"] for a in result["attempts"]] == ["pending"] and rx.requests == []
    delivered = cli.json("deliver")
    assert {k: delivered[k] for k in ("sent", "succeeded", "failed")} == {"sent": 1, "succeeded": 1, "failed": 0}
    assert [a["status"] for a in delivered["attempts"]] == ["succeeded"]
    assert rx.bodies()[0]["id"] == result["event_id"]


# -- failures: each a recorded attempt -----------------------------------------------------------

def _emit_one(cli, add_sub, url):
    add_sub(url, "widget.deleted")
    result = cli("emit", "widget.deleted", "--tenant", "t1", "--id", "7", "--name", "W", "--json")
    return result.exit_code, json.loads(result.stdout)["attempts"][0]


def test_receiver_down(cli, add_sub):
    code, attempt = _emit_one(cli, add_sub, "http://127.0.0.1:9/down")
    assert code == 4
    assert (attempt["status"], attempt["status_code"], attempt["error_class"]) == ("failed", None, "connect")
    assert attempt["next_attempt_at"] is not None


@pytest.mark.sqlite_only  # HTTP handling: the store sees the same as for any failure
def test_http_500_is_a_failure_with_its_body(cli, add_sub, receiver):
    rx = receiver(lambda *a: (500, {}, b"boom"))
    code, attempt = _emit_one(cli, add_sub, rx.url())
    assert code == 4 and (attempt["status"], attempt["status_code"], attempt["response"]) == ("failed", 500, "boom")


@pytest.mark.sqlite_only
def test_redirect_is_not_followed(cli, add_sub, receiver):
    target = receiver()
    rx = receiver(lambda *a: (302, {"Location": target.url("/elsewhere")}, b""))
    code, attempt = _emit_one(cli, add_sub, rx.url())
    assert code == 4 and (attempt["status"], attempt["status_code"]) == ("failed", 302)
    assert target.requests == []


def test_big_body_is_capped_and_non_utf8_kept(cli, add_sub, receiver, db_path):
    rx = receiver(lambda path, *a: (200, {}, b"x" * 5_000_000) if path == "/big" else (200, {}, b"\xff\xfe ok"))
    add_sub(rx.url("/big"), "widget.deleted")
    add_sub(rx.url("/bytes"), "widget.deleted")
    result = cli("emit", "widget.deleted", "--tenant", "t1", "--id", "7", "--name", "W")
    assert result.exit_code == 0
    rows = db_rows(db_path, "SELECT url, status, response_body, response_truncated FROM attempts ORDER BY id")
    assert rows[0]["status"] == "succeeded" and len(rows[0]["response_body"]) == 20000 and rows[0]["response_truncated"]
    assert rows[1]["response_body"] == b"\xff\xfe ok" and not rows[1]["response_truncated"]
    assert "\\xff\\xfe ok" in cli("attempts", "list", "--tenant", "t1").stdout


@pytest.mark.sqlite_only
def test_slow_drip_hits_the_deadline(cli, add_sub, receiver, config_path):
    config_path.write_text(config_path.read_text() + "\n[delivery]\ntimeout_seconds = 1\n")

    def drip(*a):
        time.sleep(3)
        return None

    rx = receiver(drip)
    code, attempt = _emit_one(cli, add_sub, rx.url())
    assert code == 4 and attempt["error_class"] == "timeout"
    assert attempt["duration_ms"] < 2500


@pytest.mark.sqlite_only
def test_loopback_is_blocked_unless_allowed(cli, add_sub, receiver, config_path):
    rx = receiver()
    config_path.write_text("")
    code, attempt = _emit_one(cli, add_sub, rx.url())
    assert code == 4 and attempt["error_class"] == "blocked"
    assert "127.0.0.1" in attempt["error"] and "allowed_networks" in attempt["error"]
    assert rx.requests == []


def test_fan_out_is_concurrent_and_a_hanging_endpoint_does_not_hold_others(cli, add_sub, receiver, config_path,
                                                                             db_path):
    config_path.write_text(config_path.read_text() + "\n[delivery]\ntimeout_seconds = 2\nconcurrency = 8\n")
    release = threading.Event()

    def slow(path, *a):
        if path == "/hang":
            release.wait(5)
        else:
            time.sleep(0.3)
        return None

    rx = receiver(slow)
    add_sub(rx.url("/hang"), "widget.deleted")
    for n in range(19):
        add_sub(rx.url(f"/s{n}"), "widget.deleted")
    result = cli("emit", "widget.deleted", "--tenant", "t1", "--id", "7", "--name", "W")
    release.set()
    assert result.exit_code == 4
    assert rx.max_in_flight > 1
    rows = db_rows(db_path, "SELECT url, status, finished_at, error_class FROM attempts ORDER BY id")
    hang, others = rows[0], rows[1:]
    assert hang["error_class"] == "timeout" and all(r["status"] == "succeeded" for r in others)
    assert max(r["finished_at"] for r in others) < hang["finished_at"]


KILL_ON_RECEIPT = """
import os, signal, sys, json
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        pid = int(open(sys.argv[1]).read())
        os.kill(pid, signal.SIGKILL)
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
s = HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.handle_request()
"""


def test_emitter_killed_mid_delivery_loses_nothing(cli, add_sub, tmp_path, db_path):
    pid_file = tmp_path / "pid"
    server = subprocess.Popen([sys.executable, "-c", KILL_ON_RECEIPT, str(pid_file)], stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        add_sub(f"http://127.0.0.1:{port}/a", "widget.added")
        add_sub("http://127.0.0.1:9/b", "widget.added")
        emitter = subprocess.Popen([sys.executable, "-m", "alpana_hooks", "emit", "widget.added", "--tenant", "t1",
                                    "--id", "7", "--name", "W", "--item-url", "https://x/"], env=os.environ)
        pid_file.write_text(str(emitter.pid))
        assert emitter.wait(30) == -signal.SIGKILL
    finally:
        server.kill()
    assert len(db_rows(db_path, "SELECT * FROM events")) == 1
    statuses = sorted(r["status"] for r in db_rows(db_path, "SELECT status FROM attempts"))
    assert len(statuses) == 2 and "sending" in statuses


def test_ping_reaches_one_subscription_even_disabled(cli, add_sub, receiver):
    rx = receiver()
    first = add_sub(rx.url("/one"), "widget.added")
    add_sub(rx.url("/two"), "widget.added")
    cli("disable", first["id"], "--tenant", "t1")
    result = cli.json("ping", first["id"], "--tenant", "t1")
    assert [a["trigger"] for a in result["attempts"]] == ["ping"]
    assert [r["path"] for r in rx.requests] == ["/one"]
    body = rx.bodies()[0]
    assert body["type"] == "ping" and body["data"]["subscription_id"] == first["id"]
    Webhook(first["secret"]).verify(rx.requests[0]["body"], {k.lower(): v for k, v in rx.requests[0]["headers"].items()})
    assert cli("ping", first["id"], "--tenant", "t2").exit_code == 3


def test_events_list_and_show(cli, add_sub, receiver):
    rx = receiver()
    add_sub(rx.url(), "widget.added")
    emitted = cli.json("emit", "widget.added", "--tenant", "t1", "--id", "7", "--name", "W", "--item-url", "https://x/")
    listed = cli.json("events", "list", "--tenant", "t1")
    assert [(e["event_id"], e["event"], e["attempts"]) for e in listed] == [(emitted["event_id"], "widget.added", 1)]
    shown = cli.json("events", "show", emitted["event_id"], "--tenant", "t1")
    assert shown["payload"].encode() == rx.requests[0]["body"]
    assert [a["id"] for a in shown["attempts"]] == [emitted["attempts"][0]["id"]]
    assert cli.json("events", "list", "--tenant", "t1", "--event", "widget.deleted") == []
    assert f"Event ID\t{emitted['event_id']}\n" in cli("events", "show", emitted["event_id"], "--tenant", "t1").stdout



def test_outbox_can_store_attempts_already_claimed(db_path):
    """emit stores its attempts claimed by itself, so a deliver running at that moment cannot take them
    between the outbox commit and the send (and, with --force semantics elsewhere, drop them)."""
    from datetime import timedelta

    from alpana_hooks.signing import generate_secret
    from alpana_hooks.store import Store
    from alpana_hooks.timeutil import utcnow

    store = Store.open(db_path)
    now = utcnow()
    store.add_subscription(tenant="t1", event_type="widget.deleted", url="https://e.com/", description="",
                           state="active", headers=[], secret=generate_secret(), now=now)
    recorded = store.record_event(tenant="t1", event_id="evt_1", event_type="widget.deleted", data={}, body=b"{}",
                                  now=now, claim=("emitter", now + timedelta(seconds=45)))
    assert store.claim(None, now=now, lease_until=now + timedelta(minutes=1), owner="deliver") == []
    (row,) = db_rows(db_path, "SELECT id, status, claimed_by FROM attempts")
    assert (row["id"], row["status"], row["claimed_by"]) == (recorded["attempt_ids"][0], "sending", "emitter")
    later = now + timedelta(seconds=46)
    assert store.claim(None, now=later, lease_until=later + timedelta(minutes=1), owner="deliver") == [row["id"]]
    store.close()


@pytest.mark.postgres_only
def test_nul_that_postgres_cannot_store_is_bad_input_and_records_nothing(cli, add_sub, db_path):
    add_sub("http://127.0.0.1:9/", "datasource.added")
    result = cli("emit", "datasource.added", "--tenant", "t1", "--no-send",
                 "--data", '{"datasource_id": "d\\u0000", "name": "N"}')
    assert result.exit_code == 2 and "cannot store this input" in result.stderr
    assert db_rows(db_path, "SELECT * FROM events") == []
    from alpana_hooks import Hooks

    with Hooks.open() as hooks:
        with pytest.raises(Exception, match="cannot store this input"):
            hooks.add_subscription("t1", "widget.added", "https://e.com/x", description="a\x00b")
    assert len(db_rows(db_path, "SELECT * FROM subscriptions")) == 1


@pytest.mark.sqlite_only  # the engine's send path: the store sees the same as for any failure
def test_require_https_applies_at_send_time_to_a_subscription_added_before(cli, add_sub, receiver, config_path):
    """Issue 13 point 10: turning on require_https stops plain-http deliveries to subscriptions already stored."""
    rx = receiver()
    add_sub(rx.url(), "widget.deleted")
    config_path.write_text(ALLOW_LOOPBACK + "require_https = true\n")
    result = cli("emit", "widget.deleted", "--tenant", "t1", "--id", "7", "--name", "W", "--json")
    attempt = json.loads(result.stdout)["attempts"][0]
    assert result.exit_code == 4
    assert (attempt["status"], attempt["status_code"], attempt["error_class"], attempt["error"]) == (
        "failed", None, "blocked", "plain http is refused ([security] require_https = true); not sent")
    assert attempt["next_attempt_at"] is not None  # retried on the schedule: `edit --url https://…` fixes it
    assert rx.requests == []


@pytest.mark.parametrize("changed", [["widget.deleted", "--id", "7", "--name", "Other"],
                                     ["widget.updated", "--id", "7", "--name", "W", "--version", "2",
                                      "--item-url", "https://bi.example.com/w/7"]])
def test_event_id_reused_with_another_payload_is_exit_2_and_records_nothing(cli, add_sub, receiver, db_path,
                                                                             changed):
    """Issue 13 point 14: an idempotency key reused with other data is an error (as Stripe's), not a no-op."""
    rx = receiver()
    add_sub(rx.url(), "widget.deleted")
    first = cli("emit", "widget.deleted", "--tenant", "t1", "--id", "7", "--name", "W", "--event-id", "bi-123")
    assert first.exit_code == 0
    before = db_rows(db_path, "SELECT count(*) AS n FROM attempts")
    again = cli("emit", *changed, "--tenant", "t1", "--event-id", "bi-123")
    assert (again.exit_code, again.stdout, again.stderr) == (
        2, "", "error: event id bi-123 is already used by a widget.deleted event with other data; "
               "give a new --event-id, or repeat that event exactly\n")
    assert db_rows(db_path, "SELECT count(*) AS n FROM attempts") == before
    assert db_rows(db_path, "SELECT event_id FROM events") == [{"event_id": "bi-123"}]
    assert len(rx.requests) == 1
