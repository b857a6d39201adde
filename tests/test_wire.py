"""What goes on and comes off the wire, end to end through the CLI and the stored attempt: no cookie crosses a
tenant wall, the recorded request headers are the ones the receiver got, response headers are capped."""

from conftest import db_rows

MASK = "********"


def attempt_for(cli, db_path, url):
    """The full JSON (`attempts show --json`) of the only attempt sent to url."""
    (row,) = db_rows(db_path, "SELECT id, tenant FROM attempts WHERE url = ?", (url,))
    return cli.json("attempts", "show", row["id"], "--tenant", row["tenant"])


def test_cookies_never_cross_tenants_and_recorded_headers_are_the_wire_headers(cli, add_sub, receiver, config_path,
                                                                               db_path):
    cookies = {"/a1": "sid=tenant-a; Path=/", "/a2": "planted=1; Domain=127.0.0.1; Path=/"}
    rx = receiver(lambda path, headers, body: (200, {"Set-Cookie": cookies[path]}, b"{}") if path in cookies else None)
    config_path.write_text(config_path.read_text() + "[delivery]\nconcurrency = 1\n")  # one worker, one session
    add_sub(rx.url("/a1"), "dashboard.added", "tenant-a")
    add_sub(rx.url("/a2"), "dashboard.added", "tenant-a")
    add_sub(rx.url("/b"), "dashboard.added", "tenant-b", "--header", "Authorization: Bearer b-token")
    for tenant in ("tenant-a", "tenant-b"):  # tenant-a's attempts first: one `deliver` sends them in id order
        cli.json("emit", "dashboard.added", "--tenant", tenant, "--id", "1", "--name", "D", "--url", "https://bi/d/1",
                 "--no-send")

    assert cli("deliver").exit_code == 0

    assert [r["path"] for r in rx.requests] == ["/a1", "/a2", "/b"]
    sent_cookies = [(r["path"], value) for r in rx.requests for name, value in r["headers"].items()
                    if name.lower() == "cookie"]
    assert sent_cookies == []
    for request in rx.requests:
        recorded = attempt_for(cli, db_path, rx.url(request["path"]))["request_headers"]
        on_the_wire = [[name, MASK if name == "Authorization" else value] for name, value in request["headers"].items()]
        assert recorded == on_the_wire


def test_response_headers_are_capped_and_flagged(cli, add_sub, receiver, db_path):
    huge = {f"X-Big-{n}": chr(ord("a") + n % 26) * 60_000 for n in range(90)}
    rx = receiver(lambda path, headers, body: (200, huge, b"ok") if path == "/huge" else None)
    add_sub(rx.url("/huge"), "dashboard.added")
    add_sub(rx.url("/plain"), "dashboard.added")

    emitted = cli.json("emit", "dashboard.added", "--tenant", "t1", "--id", "1", "--name", "D", "--url", "https://b/1")

    assert [a["status"] for a in emitted["attempts"]] == ["succeeded", "succeeded"]
    capped = attempt_for(cli, db_path, rx.url("/huge"))
    assert capped["response_headers_truncated"] is True
    kept = dict(capped["response_headers"])
    assert kept.pop("Content-Length") == "2"  # sent last, kept anyway: it says where the body ends
    assert 1 <= len(kept) <= 64
    assert sum(len(name) + len(value) + 4 for name, value in kept.items()) <= 16384
    last_name, last_value = list(kept.items())[-1]
    assert last_value == huge[last_name][: len(last_value)]  # the header that crossed the limit is cut
    (row,) = db_rows(db_path, "SELECT length(response_headers) AS size FROM attempts WHERE url = ?", (rx.url("/huge"),))
    assert row["size"] < 20_000
    plain = attempt_for(cli, db_path, rx.url("/plain"))
    assert plain["response_headers_truncated"] is False
    assert ["Content-Length", "2"] in plain["response_headers"]
    shown = cli("attempts", "show", capped["id"], "--tenant", "t1")
    assert "Response headers (truncated):" in shown.stdout
