"""Operational alerts: [alerts] url receives signed subscription.disabled, attempt.exhausted and
subscription.recovered events through the outbox, sent by `deliver`, recorded apart from tenants' attempts."""

import json

import pytest
from conftest import db_rows

from alpana_hooks.signing import generate_secret, signature_header


@pytest.fixture
def alerts(config_path, receiver):
    """An alerts receiver and its secret in the config; no retries, so a failure uses them up at once."""
    rx, secret = receiver(), generate_secret()
    config_path.write_text(config_path.read_text() + f'[delivery]\nretry_schedule = []\n'
                           f'[alerts]\nurl = "{rx.url("/alerts")}"\nsecret = "{secret}"\n')
    return rx, secret


def _emit(cli):
    return cli("emit", "dashboard.updated", "-t", "t1", "--id", "1", "--name", "A", "--item-url", "https://b/1")


def _delivered(rx, secret):
    """The alerts the receiver got, each checked against its signature."""
    found = []
    for request in rx.requests:
        headers = {k.lower(): v for k, v in request["headers"].items()}
        expected = signature_header([secret], headers["webhook-id"], int(headers["webhook-timestamp"]), request["body"])
        assert headers["webhook-signature"] == expected
        found.append(json.loads(request["body"]))
    return found


def test_a_410_disables_and_the_alert_goes_out_signed_on_deliver(cli, add_sub, receiver, alerts, db_path):
    rx, secret = alerts
    gone = receiver(lambda path, headers, body: (410, {}, b""))
    sub = add_sub(gone.url())
    assert _emit(cli).exit_code == 4
    assert rx.requests == []  # in the outbox, not sent by emit
    assert cli("deliver").exit_code == 0
    (alert,) = _delivered(rx, secret)
    assert (alert["type"], alert["tenant"]) == ("subscription.disabled", "_alerts")
    assert {k: alert["data"][k] for k in ("tenant", "subscription_id", "url", "reason")} == {
        "tenant": "t1", "subscription_id": sub["id"], "url": gone.url(), "reason": "the endpoint answered 410 Gone"}
    listed = cli.json("attempts", "list", "--alerts")
    assert [(a["event"], a["status"], a["url"]) for a in listed] == [("subscription.disabled", "succeeded",
                                                                      rx.url("/alerts"))]
    assert [a["event"] for a in cli.json("attempts", "list", "-t", "t1")] == ["dashboard.updated"]
    assert cli.json("tenants") == ["t1"]
    mixed = cli("attempts", "list", "--alerts", "-t", "t1")
    assert (mixed.exit_code, mixed.stderr) == (2, "error: --alerts takes only --limit and --json: the alerts belong"
                                                  " to no tenant\n")


def test_retries_used_up_then_recovery(cli, add_sub, receiver, alerts):
    rx, secret = alerts
    answers = iter([500, 200])
    flaky = receiver(lambda path, headers, body: (next(answers), {}, b""))
    sub = add_sub(flaky.url())
    assert _emit(cli).exit_code == 4
    failed = cli.json("attempts", "list", "-t", "t1")[0]
    assert cli("resend", failed["id"], "-t", "t1").exit_code == 0
    assert cli("deliver").exit_code == 0
    exhausted, recovered = sorted(_delivered(rx, secret), key=lambda alert: alert["type"])  # sent concurrently
    assert exhausted["type"] == "attempt.exhausted"
    assert {k: exhausted["data"][k] for k in ("tenant", "subscription_id", "attempt_id", "attempts", "status_code")} \
        == {"tenant": "t1", "subscription_id": sub["id"], "attempt_id": failed["id"], "attempts": 1, "status_code": 500}
    assert recovered["type"] == "subscription.recovered" and recovered["data"]["subscription_id"] == sub["id"]


def test_no_alerts_without_the_setting_and_a_bad_setting_is_exit_2(cli, add_sub, receiver, config_path, db_path):
    gone = receiver(lambda path, headers, body: (410, {}, b""))
    add_sub(gone.url())
    assert _emit(cli).exit_code == 4
    assert db_rows(db_path, "SELECT count(*) AS n FROM attempts") == [{"n": 1}]
    config_path.write_text(config_path.read_text() + '[alerts]\nurl = "https://alerts.example.com/in"\n')
    bad = cli("list", "-t", "t1")
    assert (bad.exit_code, bad.stderr) == (2, f"error: config {config_path}: [alerts] needs both url and secret\n")
