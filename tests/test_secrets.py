"""Secret rotation: both secrets sign during the grace period, only the new one after it."""

from datetime import timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from alpana_hooks.store import Store
from alpana_hooks.signing import generate_secret
from alpana_hooks.timeutil import utcnow


def emit(cli):
    result = cli("emit", "widget.deleted", "--tenant", "t1", "--id", "7", "--name", "W")
    assert result.exit_code == 0, result.stderr


def headers_of(request):
    return {k.lower(): v for k, v in request["headers"].items()}


def rotate(db_path, sub_id, *, rotated_ago, grace):
    """Rotate as if it happened `rotated_ago` ago (the store takes the clock as an argument)."""
    new = generate_secret()
    store = Store.open(db_path)
    when = utcnow() - rotated_ago
    store.rotate_secret("t1", sub_id, new, now=when, old_expires=when + grace)
    store.close()
    return new


def test_grace_period_signs_with_both(cli, add_sub, receiver, db_path):
    rx = receiver()
    sub = add_sub(rx.url(), "widget.deleted")
    new = rotate(db_path, sub["id"], rotated_ago=timedelta(hours=1), grace=timedelta(hours=24))
    emit(cli)
    request = rx.requests[0]
    assert len(headers_of(request)["webhook-signature"].split(" ")) == 2
    Webhook(sub["secret"]).verify(request["body"], headers_of(request))
    Webhook(new).verify(request["body"], headers_of(request))
    shown = cli.json("secret", "show", sub["id"], "--tenant", "t1")
    assert [s["secret"] for s in shown] == [new, sub["secret"]]


def test_after_the_grace_period_only_the_new_signs(cli, add_sub, receiver, db_path):
    rx = receiver()
    sub = add_sub(rx.url(), "widget.deleted")
    new = rotate(db_path, sub["id"], rotated_ago=timedelta(hours=25), grace=timedelta(hours=24))
    emit(cli)
    request = rx.requests[0]
    Webhook(new).verify(request["body"], headers_of(request))
    with pytest.raises(WebhookVerificationError):
        Webhook(sub["secret"]).verify(request["body"], headers_of(request))
    assert [s["secret"] for s in cli.json("secret", "show", sub["id"], "--tenant", "t1")] == [new]


def test_rotate_command(cli, add_sub, receiver):
    rx = receiver()
    sub = add_sub(rx.url(), "widget.deleted")
    rotated = cli.json("secret", "rotate", sub["id"], "--tenant", "t1", "--grace", "1h")
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != sub["secret"]
    emit(cli)
    Webhook(rotated["secret"]).verify(rx.requests[0]["body"], headers_of(rx.requests[0]))
    Webhook(sub["secret"]).verify(rx.requests[0]["body"], headers_of(rx.requests[0]))
    bad = cli("secret", "rotate", sub["id"], "--tenant", "t1", "--grace", "soon")
    assert bad.exit_code == 2 and "invalid duration 'soon'" in bad.stderr
