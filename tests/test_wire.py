"""What goes on and comes off the wire, end to end through the CLI and the stored attempt: no cookie crosses a
tenant wall, the recorded request headers are the ones the receiver got."""

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
