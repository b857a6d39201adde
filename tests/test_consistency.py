"""One flag name and one JSON shape per idea across commands (issue 13 point 6)."""

import json


def test_headers_add_takes_the_name_value_form_of_add_h(cli, add_sub):
    sub = add_sub("https://x.example/", "widget.added")
    assert cli.json("headers", "add", sub["id"], "X-Team: analytics", "-t", "t1") == [
        {"name": "X-Team", "value": "analytics"}]
    wrong = cli("headers", "add", sub["id"], "X Team: analytics", "-t", "t1")
    assert (wrong.exit_code, wrong.stderr) == (
        2, "error: invalid header name 'X Team': use ASCII letters, digits and !#$%&'*+-.^_`|~ only\n")


def test_emit_names_the_item_url_apart_from_the_endpoint_url(cli, add_sub):
    add_sub("https://x.example/", "widget.added")
    new = cli("emit", "widget.added", "-t", "t1", "--id", "7", "--name", "W", "--item-url", "https://bi/w/7",
              "--no-send", "--json")
    assert (new.exit_code, new.stderr) == (0, "")
    assert json.loads(new.stdout)["event"] == "widget.added"
    old = cli("emit", "widget.added", "-t", "t1", "--id", "8", "--name", "W", "--url", "https://bi/w/8",
              "--no-send", "--json")
    assert (old.exit_code, old.stderr) == (0, "warning: emit --url is now --item-url (--url names an endpoint "
                                              "elsewhere)\n")
    listed = cli.json("events", "list", "-t", "t1", "--event", "widget.added")
    assert [(e["event"], e["data"]["url"]) for e in listed] == [("widget.added", "https://bi/w/8"),
                                                                 ("widget.added", "https://bi/w/7")]
    assert [t["event"] for t in cli.json("events", "types")][:1] == ["comment.added"]


def test_http_failures_have_an_error_and_resend_json_has_one_shape(cli, add_sub, receiver):
    rx = receiver(lambda *_: (500, {}, b"down"))
    add_sub(rx.url(), "widget.deleted")
    cli("emit", "widget.deleted", "-t", "t1", "--id", "7", "--name", "W")
    (failed,) = cli.json("attempts", "list", "-t", "t1")
    assert (failed["error_class"], failed["error"], failed["response"]) == ("http_status", "HTTP 500", "down")
    dry = json.loads(cli("resend", "--failed", "--dry-run", "-t", "t1", "--json").stdout)
    done = json.loads(cli("resend", "--failed", "--yes", "-t", "t1", "--json").stdout)
    assert set(dry) == set(done) == {"dry_run", "sent", "succeeded", "failed", "attempts"}
    assert (dry["dry_run"], dry["sent"], [a["id"] for a in dry["attempts"]]) == (True, 0, [failed["id"]])
    assert (done["dry_run"], done["sent"], done["failed"]) == (False, 1, 1)


def test_secret_rotate_json_time_ends_in_z(cli, add_sub):
    sub = add_sub("https://x.example/", "widget.added")
    rotated = cli.json("secret", "rotate", sub["id"], "-t", "t1", "--grace", "1h")
    assert rotated["old_secret_expires_at"].endswith("Z") and "+00:00" not in rotated["old_secret_expires_at"]
