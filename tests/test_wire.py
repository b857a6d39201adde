"""What goes on and comes off the wire, end to end through the CLI and the stored attempt: no cookie crosses a
tenant wall, the recorded request headers are the ones the receiver got, response headers are capped, and a
name server that never answers is waited for within the deadline."""

import os
import shutil
import socket
import subprocess
import sys

import pytest

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
        cli.json("emit", "dashboard.added", "--tenant", tenant, "--id", "1", "--name", "D", "--item-url", "https://bi/d/1",
                 "--no-send")

    assert cli("deliver").exit_code == 0

    assert [r["path"] for r in rx.requests] == ["/a1", "/a2", "/b"]
    sent_cookies = [(r["path"], value) for r in rx.requests for name, value in r["headers"].items()
                    if name.lower() == "cookie"]
    assert sent_cookies == []
    for request in rx.requests:
        recorded = attempt_for(cli, db_path, rx.url(request["path"]))["request_headers"]
        on_the_wire = [{"name": name, "value": MASK if name in ("Authorization", "webhook-signature") else value}
                       for name, value in request["headers"].items()]
        assert recorded == on_the_wire


def test_response_headers_are_capped_and_flagged(cli, add_sub, receiver, db_path):
    huge = {f"X-Big-{n}": chr(ord("a") + n % 26) * 60_000 for n in range(90)}
    rx = receiver(lambda path, headers, body: (200, huge, b"ok") if path == "/huge" else None)
    add_sub(rx.url("/huge"), "dashboard.added")
    add_sub(rx.url("/plain"), "dashboard.added")

    emitted = cli.json("emit", "dashboard.added", "--tenant", "t1", "--id", "1", "--name", "D", "--item-url", "https://b/1")

    assert [a["status"] for a in emitted["attempts"]] == ["succeeded", "succeeded"]
    capped = attempt_for(cli, db_path, rx.url("/huge"))
    assert capped["response_headers_truncated"] is True
    kept = {h["name"]: h["value"] for h in capped["response_headers"]}
    assert kept.pop("Content-Length") == "2"  # sent last, kept anyway: it says where the body ends
    assert 1 <= len(kept) <= 64
    assert sum(len(name) + len(value) + 4 for name, value in kept.items()) <= 16384
    last_name, last_value = list(kept.items())[-1]
    assert last_value == huge[last_name][: len(last_value)]  # the header that crossed the limit is cut
    (row,) = db_rows(db_path, "SELECT length(response_headers) AS size FROM attempts WHERE url = ?", (rx.url("/huge"),))
    assert row["size"] < 20_000
    plain = attempt_for(cli, db_path, rx.url("/plain"))
    assert plain["response_headers_truncated"] is False
    assert {"name": "Content-Length", "value": "2"} in plain["response_headers"]
    shown = cli("attempts", "show", capped["id"], "--tenant", "t1")
    assert "Response headers (truncated):" in shown.stdout


# ---------------------------------------------------------------- DNS inside the deadline

SILENT_DNS = "127.83.41.7"  # any loopback address: the bound socket reads nothing and answers nothing


def _can_make_mount_namespaces() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


@pytest.fixture
def silent_name_server():
    """A UDP socket on port 53 of a loopback address that takes DNS queries and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((SILENT_DNS, 53))
    except OSError as exc:
        sock.close()
        pytest.skip(f"cannot bind {SILENT_DNS}:53: {exc}")
    yield sock
    sock.close()


def asked_names(sock) -> list[str]:
    """The name in each DNS query waiting on the socket."""
    sock.settimeout(0)
    names = []
    while True:
        try:
            query = sock.recv(4096)
        except BlockingIOError:
            return names
        labels, at = [], 12  # after the header: length-prefixed labels up to a zero length
        while query[at]:
            labels.append(query[at + 1:at + 1 + query[at]].decode())
            at += 1 + query[at]
        names.append(".".join(labels))


@pytest.mark.skipif(not _can_make_mount_namespaces(), reason="needs root and `unshare -m` (a private mount namespace)")
def test_a_name_server_that_never_answers_is_bounded_by_the_deadline(cli, add_sub, config_path, db_path, tmp_path,
                                                                    silent_name_server):
    """emit runs in a private mount namespace whose /etc/resolv.conf names only the silent server, with
    `timeout:30`: glibc's getaddrinfo would wait 30 s. Every delivery gives up at its 2 s deadline; two
    deliveries to one name share one lookup; 65 names at once make 64 lookups (threads), the 65th is refused."""
    resolv_conf = tmp_path / "resolv.conf"
    resolv_conf.write_text(f"nameserver {SILENT_DNS}\noptions timeout:30 attempts:1\n")
    config_path.write_text(config_path.read_text() + "[delivery]\ntimeout_seconds = 2\nconcurrency = 66\n")
    for path in ("/a", "/b"):
        add_sub(f"http://shared.alpana-dns.test:8080{path}", "dashboard.added")
    for n in range(64):
        add_sub(f"http://n{n}.alpana-dns.test/hook", "dashboard.added")
    script = 'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"'
    emit = [sys.executable, "-m", "alpana_hooks", "emit", "dashboard.added", "--tenant", "t1", "--id", "1",
            "--name", "D", "--item-url", "https://bi/d/1"]

    done = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", str(resolv_conf), *emit],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)

    assert done.returncode == 4, done.stderr
    attempts = db_rows(db_path, "SELECT url, error_class, error, duration_ms FROM attempts")
    assert len(attempts) == 66 and {a["error_class"] for a in attempts} == {"dns"}
    assert max(a["duration_ms"] for a in attempts) < 10_000  # the resolver alone would take 30 s
    refused = [a for a in attempts if a["error"].endswith("64 DNS lookups are still pending")]
    assert 1 <= len(refused) <= 2  # the name that came 65th (two deliveries if it was the shared one)
    for attempt in attempts:
        host = attempt["url"].split("/")[2].split(":")[0]
        if attempt not in refused:
            assert attempt["error"] == f"DNS lookup of {host} did not finish within 2 s"
    asked = asked_names(silent_name_server)
    assert len(set(asked)) == 64  # 64 lookups ran: one thread each
    assert asked.count("shared.alpana-dns.test") <= 2  # one A and one AAAA query for its two deliveries
