"""listen and verify against real processes and real HTTP: signatures checked on arrival and after the fact."""

import http.client
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from alpana_hooks import signing

from conftest import Receiver, limit_memory, run_cli

EMIT = ("emit", "widget.added", "--tenant", "t1", "--id", "7", "--name", "W", "--item-url", "https://bi/w/7")
LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)/ ")
UNUSED_URL = "http://127.0.0.1:9/hook"


class Listener:
    """A real `alpana-hooks listen` process; threads read its output so that no test can block forever."""

    def __init__(self, *args: str, env: dict | None = None, stdin: str | None = None):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "alpana_hooks", "listen", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
        )
        if stdin is not None:
            self.proc.stdin.write(stdin)
            self.proc.stdin.close()
        self.stdout: queue.Queue = queue.Queue()
        self.stderr: queue.Queue = queue.Queue()
        for stream, lines in ((self.proc.stdout, self.stdout), (self.proc.stderr, self.stderr)):
            threading.Thread(target=_pump, args=(stream, lines), daemon=True).start()
        self.port: int | None = None

    def wait_until_listening(self) -> None:
        first = self.stderr.get(timeout=10)
        match = LISTENING.match(first)
        assert match, first
        self.port = int(match.group(1))

    def line(self) -> str:
        return self.stdout.get(timeout=10)

    def block(self) -> list[str]:
        """One human-readable delivery block: the lines up to the blank line after 'body:'."""
        lines = [self.line().rstrip("\n")]
        while "body:" not in lines or lines[-1]:
            lines.append(self.line().rstrip("\n"))
        return lines

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=5)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=5)


def _pump(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)


@pytest.fixture
def listen():
    """Start `listen --port 0 ARGS…` and wait for its port; every process is killed at the end."""
    started: list[Listener] = []

    def start(*args: str, **options) -> Listener:
        listener = Listener(*args, **options)
        started.append(listener)
        listener.wait_until_listening()
        return listener

    try:
        yield start
    finally:
        for listener in started:
            listener.kill()


@pytest.fixture
def subscription(add_sub):
    """A widget.added subscription of t1 (URL set later, once a port is known): (id, secret)."""
    sub = add_sub(UNUSED_URL, "widget.added")
    return sub["id"], sub["secret"]


def point(cli, sub_id: int, port: int) -> None:
    result = cli("edit", sub_id, "--tenant", "t1", "--url", f"http://127.0.0.1:{port}/hook")
    assert result.exit_code == 0, result.stderr


def emit(cli, expected_exit: int = 0) -> dict:
    result = cli(*EMIT, "--json")
    assert result.exit_code == expected_exit, result.stdout + result.stderr
    return json.loads(result.stdout)


def lowered(headers: dict) -> dict:
    return {name.lower(): value for name, value in headers.items()}


# -- listen --------------------------------------------------------------------------------

def test_listen_reports_a_valid_delivery_as_one_json_line_and_stops_on_sigint(cli, subscription, listen):
    sub_id, secret = subscription
    listener = listen("--json", "--secret", secret)
    point(cli, sub_id, listener.port)
    event_id = emit(cli)["event_id"]
    record = json.loads(listener.line())
    assert record["signature"] == "valid" and record["signature_error"] is None
    assert record["event_type"] == "widget.added"
    assert record["webhook_id"] == event_id
    assert (record["method"], record["path"]) == ("POST", "/hook")
    assert record["body"]["data"] == {"widget_id": "7", "name": "W", "url": "https://bi/w/7"}
    assert lowered(record["headers"])["webhook-signature"].startswith("v1,")
    assert listener.interrupt() == 0
    assert listener.stderr.get(timeout=5) == "stopped\n"


def test_listen_says_invalid_when_the_secret_is_not_the_subscriptions(cli, subscription, listen):
    sub_id, _ = subscription
    listener = listen("--json", "--secret", signing.generate_secret())
    point(cli, sub_id, listener.port)
    event_id = emit(cli)["event_id"]
    record = json.loads(listener.line())
    assert (record["signature"], record["signature_error"]) == ("invalid", "no signature matches")
    assert record["webhook_id"] == event_id


def test_listen_status_500_makes_the_delivery_fail_and_it_is_recorded(cli, subscription, listen):
    sub_id, _ = subscription
    listener = listen("--json", "--status", "500")
    point(cli, sub_id, listener.port)
    attempt = emit(cli, expected_exit=4)["attempts"][0]
    assert (attempt["status"], attempt["status_code"]) == ("failed", 500)
    shown = cli.json("attempts", "show", attempt["id"], "--tenant", "t1")
    assert shown["status_code"] == 500 and shown["response_body"] == '{"ok": true}'
    assert json.loads(listener.line())["signature"] == "not checked"


def test_listen_human_block_shows_the_delivery_and_escapes_what_it_received(cli, subscription, listen):
    sub_id, secret = subscription
    listener = listen("-v", "--secret", secret)
    point(cli, sub_id, listener.port)
    event_id = emit(cli)["event_id"]
    block = listener.block()
    assert block[1:4] == ["event type:  widget.added", f"webhook-id:  {event_id}", "signature:   valid"]
    assert any(line.startswith("  webhook-signature: v1,") for line in block)
    assert '  "data": {' in block and '    "widget_id": "7",' in block

    hostile = json.dumps({"type": "x\u202e\x1b[31m", "note": "bell\x07"}).encode()
    answer = post(listener.port, hostile, {"X-Evil": "a\x1b[2Jb"})
    assert answer.status == 200
    text = "\n".join(listener.block())
    assert "event type:  x\\u202e\\x1b[31m" in text and "  X-Evil: a\\x1b[2Jb" in text
    assert '  "type": "x\\u202e\\u001b[31m",' in text and '  "note": "bell\\u0007"' in text
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f\u202e]", text)


def post(port: int, body: bytes, headers: dict | None = None, connection=None):
    connection = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("POST", "/hook", body=body, headers=headers or {})
    answer = connection.getresponse()
    answer.body = answer.read()
    return answer


def test_listen_keeps_connections_alive_and_refuses_bodies_over_1_mib(listen):
    listener = listen("--json")
    connection = http.client.HTTPConnection("127.0.0.1", listener.port, timeout=5)
    first = post(listener.port, b"not json", connection=connection)
    sock = connection.sock
    second = post(listener.port, b'{"type": "t"}', connection=connection)
    assert (first.status, first.body, first.getheader("Content-Length")) == (200, b'{"ok": true}', "12")
    assert second.status == 200 and sock is not None and connection.sock is sock
    assert json.loads(listener.line())["body"] == "not json"
    assert json.loads(listener.line())["event_type"] == "t"
    too_big = post(listener.port, b"x", {"Content-Length": str(1024 * 1024 + 1)})
    assert too_big.status == 413
    assert listener.stderr.get(timeout=5).startswith("refused POST /hook: body of 1048577 bytes")


def test_listen_rejects_a_bad_secret_before_listening(cli):
    result = cli("listen", "--port", "0", "--secret", "not-a-secret")
    assert result.exit_code == 2
    assert result.stderr == "error: invalid --secret: secret is not whsec_ + base64 (missing whsec_ prefix)\n"


# -- verify --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def receiver():
    """A pytest-httpserver on 127.0.0.1 for the module (stopping one is slow)."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def delivery(cli, subscription, receiver, tmp_path):
    """A real delivery as received: (secret, headers.json, raw headers dict, body file, body bytes)."""
    sub_id, secret = subscription
    captured = []

    def capture(request):
        captured.append((dict(request.headers), request.get_data()))
        return Response("ok")

    receiver.clear()
    receiver.expect_request("/hook", method="POST").respond_with_handler(capture)
    point(cli, sub_id, receiver.port)
    emit(cli)
    assert len(captured) == 1
    headers, body = captured[0]
    (tmp_path / "headers.json").write_text(json.dumps(headers))
    (tmp_path / "body.bin").write_bytes(body)
    return secret, tmp_path / "headers.json", headers, tmp_path / "body.bin", body


def verify(cli, secret, headers, body, *extra):
    return cli("verify", "--secret", secret, "--headers", headers, "--body", body, *extra)


def test_verify_accepts_a_real_delivery(cli, delivery):
    secret, headers_file, _, body_file, _ = delivery
    result = verify(cli, secret, headers_file, body_file)
    assert (result.exit_code, result.stdout, result.stderr) == (0, "signature valid\n", "")
    result = verify(cli, secret, headers_file, body_file, "--json")
    assert (result.exit_code, json.loads(result.stdout)) == (0, {"valid": True, "error": None})


def test_verify_reads_raw_header_lines_too(cli, delivery, tmp_path):
    secret, _, headers, body_file, _ = delivery
    raw = tmp_path / "headers.txt"
    lines = ["POST /hook HTTP/1.1", *(f"{name}: {value}" for name, value in headers.items()), "", "Webhook-Id: x"]
    raw.write_text("\r\n".join(lines) + "\r\n")
    result = verify(cli, secret, raw, body_file)
    assert (result.exit_code, result.stdout) == (0, "signature valid\n")


def test_verify_fails_with_5_when_one_body_byte_changed(cli, delivery, tmp_path):
    secret, headers_file, _, _, body = delivery
    changed = tmp_path / "changed.bin"
    changed.write_bytes(body.replace(b'"W"', b'"V"', 1))
    assert changed.read_bytes() != body and len(changed.read_bytes()) == len(body)
    result = verify(cli, secret, headers_file, changed)
    assert (result.exit_code, result.stderr) == (5, "error: signature does not verify: no signature matches\n")
    result = verify(cli, secret, headers_file, changed, "--json")
    assert (result.exit_code, json.loads(result.stdout)) == (5, {"valid": False, "error": "no signature matches"})


def test_verify_fails_with_5_for_another_secret(cli, delivery):
    _, headers_file, _, body_file, _ = delivery
    result = verify(cli, signing.generate_secret(), headers_file, body_file)
    assert (result.exit_code, result.stdout) == (5, "")
    assert result.stderr == "error: signature does not verify: no signature matches\n"


def test_verify_fails_with_5_when_the_timestamp_is_older_than_the_tolerance(cli, tmp_path):
    secret = signing.generate_secret()
    body = b'{"type": "widget.added"}'
    timestamp = int(time.time()) - 600
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(timestamp),
               "webhook-signature": signing.sign(secret, "msg_1", timestamp, body)}
    (tmp_path / "h.json").write_text(json.dumps(headers))
    (tmp_path / "b.bin").write_bytes(body)
    result = verify(cli, secret, tmp_path / "h.json", tmp_path / "b.bin", "--tolerance", "5m")
    assert result.exit_code == 5
    assert re.fullmatch(r"error: signature does not verify: timestamp too old \(60\d s > 300 s tolerance\)\n",
                        result.stderr), result.stderr
    assert verify(cli, secret, tmp_path / "h.json", tmp_path / "b.bin", "--tolerance", "15m").exit_code == 0


@pytest.mark.parametrize("flag", ["--headers", "--body"])
def test_verify_exits_2_when_a_file_cannot_be_read(cli, delivery, tmp_path, flag):
    secret, headers_file, _, body_file, _ = delivery
    missing = tmp_path / "missing"
    files = {"--headers": headers_file, "--body": body_file} | {flag: missing}
    result = verify(cli, secret, files["--headers"], files["--body"])
    assert result.exit_code == 2
    assert result.stderr == f"error: cannot read {flag} file '{missing}': No such file or directory\n"


@pytest.mark.parametrize("args, message", [
    (("--secret", "whsec_c2hvcnQ="), "invalid --secret: secret decodes to 5 bytes; it must be 24 to 64 bytes"),
    (("--secret", "not-a-secret"), "invalid --secret: secret is not whsec_ + base64 (missing whsec_ prefix)"),
    (("--tolerance", "5 minutes"), "invalid --tolerance '5 minutes': use a number and a unit (s, m, h, d, w), e.g. 5m"),
])
def test_verify_exits_2_on_a_bad_secret_or_tolerance(cli, tmp_path, args, message):
    (tmp_path / "h.json").write_text("{}")
    (tmp_path / "b.bin").write_bytes(b"{}")
    options = {"--secret": signing.generate_secret(), "--tolerance": "5m"} | dict([args])
    result = verify(cli, options["--secret"], tmp_path / "h.json", tmp_path / "b.bin", "--tolerance", options["--tolerance"])
    assert (result.exit_code, result.stderr) == (2, f"error: {message}\n")


def test_verify_exits_2_on_a_header_line_without_a_colon(cli, tmp_path):
    (tmp_path / "h.txt").write_text("webhook-id: msg_1\nwebhook-timestamp 1700000000\n")
    (tmp_path / "b.bin").write_bytes(b"{}")
    result = verify(cli, signing.generate_secret(), tmp_path / "h.txt", tmp_path / "b.bin")
    assert result.exit_code == 2
    assert result.stderr == (f"error: --headers file '{tmp_path / 'h.txt'}' line 2: "
                             "expected 'Name: value', got 'webhook-timestamp 1700000000'\n")


# -- secrets never on the command line (issue 15, point 7) -------------------------------------

def argv_of(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as handle:
        return handle.read().replace(b"\0", b" ").decode()


@pytest.mark.parametrize("way", ["env", "file", "stdin"])
def test_listen_takes_its_secret_from_the_environment_a_file_or_stdin(cli, subscription, listen, tmp_path, way):
    sub_id, secret = subscription
    (tmp_path / "secret").write_text(secret + "\n")  # as `echo` writes it
    options = {"env": ([], {"env": {"ALPANA_HOOKS_SECRET": secret}}),
               "file": (["--secret-file", str(tmp_path / "secret")], {}),
               "stdin": (["--secret-file", "-"], {"stdin": secret + "\n"})}[way]
    listener = listen("--json", *options[0], **options[1])
    assert secret not in argv_of(listener.proc.pid)
    point(cli, sub_id, listener.port)
    emit(cli)
    assert json.loads(listener.line())["signature"] == "valid"  # the secret that was read is the one used


def test_verify_takes_its_secret_from_the_environment_a_file_or_stdin(delivery, tmp_path):
    secret, headers_file, _, body_file, _ = delivery
    (tmp_path / "secret").write_text(secret + "\n")
    files = ["--headers", str(headers_file), "--body", str(body_file)]
    ways = [(["--secret-file", str(tmp_path / "secret")], {}, None),
            (["--secret-file", "-"], {}, secret),
            ([], {"ALPANA_HOOKS_SECRET": secret}, None)]
    for args, env, stdin in ways:
        result = subprocess.run([sys.executable, "-m", "alpana_hooks", "verify", *files, *args],
                                env={**os.environ, **env}, input=stdin, capture_output=True, text=True, timeout=60)
        assert (result.returncode, result.stdout) == (0, "signature valid\n"), (args, result.stderr)
    wrong = subprocess.run([sys.executable, "-m", "alpana_hooks", "verify", *files],
                           env={**os.environ, "ALPANA_HOOKS_SECRET": signing.generate_secret()},
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 5  # the variable's value is really the one checked


def test_verify_without_any_secret_or_with_two_exits_2(cli, tmp_path):
    (tmp_path / "h.json").write_text("{}")
    (tmp_path / "b.bin").write_bytes(b"{}")
    files = ("--headers", tmp_path / "h.json", "--body", tmp_path / "b.bin")
    result = cli("verify", *files)
    assert (result.exit_code, result.stderr) == (
        2, "error: no signing secret: give --secret-file FILE (- for stdin), set ALPANA_HOOKS_SECRET, or --secret\n")
    result = cli("verify", *files, "--secret", signing.generate_secret(), "--secret-file", tmp_path / "h.json")
    assert (result.exit_code, result.stderr) == (2, "error: give either --secret or --secret-file, not both\n")


# -- unbounded input (issue 15, point 9) --------------------------------------------------------

@pytest.mark.parametrize("flag, limit", [("--body", 1024 * 1024), ("--headers", 64 * 1024)])
def test_verify_reads_no_further_than_its_limit(tmp_path, flag, limit):
    (tmp_path / "h.json").write_text("{}")
    (tmp_path / "b.bin").write_bytes(b"{}")
    files = {"--headers": str(tmp_path / "h.json"), "--body": str(tmp_path / "b.bin"), flag: "/dev/zero"}
    result = run_cli("verify", "--headers", files["--headers"], "--body", files["--body"],
                     "--secret", signing.generate_secret(), preexec_fn=limit_memory(1))
    assert result.returncode == 2
    assert result.stderr == f"error: {flag} file '/dev/zero' is larger than the limit of {limit} bytes\n"


# -- idle connections and replays (issue 15, point 13) ------------------------------------------

def threads_of(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("Threads:"))


def test_listen_closes_idle_connections_and_holds_at_most_128(listen):
    from alpana_hooks.receiver import BUSY, MAX_CONNECTIONS

    listener = listen("--json", "--idle-timeout", "3")
    pid, baseline = listener.proc.pid, threads_of(listener.proc.pid)
    sockets = [socket.create_connection(("127.0.0.1", listener.port), timeout=15) for _ in range(MAX_CONNECTIONS + 20)]
    most, deadline = baseline, time.monotonic() + 2
    while time.monotonic() < deadline:  # while the idle connections are held
        most = max(most, threads_of(pid))
        time.sleep(0.02)
    assert baseline + MAX_CONNECTIONS // 2 <= most <= baseline + MAX_CONNECTIONS
    answers = [sock.recv(200) for sock in sockets]  # b"" once the idle timeout closed it, BUSY when turned away
    assert sorted(set(answers)) == [b"", BUSY]  # every connection is closed: by the timeout, or at once with a 503
    for sock in sockets:
        sock.close()
    deadline = time.monotonic() + 20
    while threads_of(pid) > baseline and time.monotonic() < deadline:
        time.sleep(0.1)
    assert threads_of(pid) == baseline
    assert post(listener.port, b"{}").status == 200  # still serving


def test_listen_flags_a_webhook_id_it_has_seen_before_and_still_answers(cli, subscription, listen):
    sub_id, secret = subscription
    listener = listen("--secret", secret)
    point(cli, sub_id, listener.port)
    first = emit(cli)
    assert listener.block()[2] == f"webhook-id:  {first['event_id']}"
    resent = cli.json("resend", first["attempts"][0]["id"], "--tenant", "t1")
    block = listener.block()
    assert block[2] == f"webhook-id:  {first['event_id']}  (seen before: a replay, retry or resend)"
    assert block[3] == "signature:   valid"
    assert resent["status"] == "succeeded"  # answered per --status all the same


def test_listen_json_marks_replays_but_a_forged_request_marks_nothing(cli, listen):
    secret = signing.generate_secret()
    listener = listen("--json", "--secret", secret)
    timestamp = int(time.time())
    signed = {"webhook-id": "msg_1", "webhook-timestamp": str(timestamp),
              "webhook-signature": signing.sign(secret, "msg_1", timestamp, b"{}")}
    forged = {**signed, "webhook-id": "msg_2"}  # the signature does not cover this id
    for headers in (forged, signed, forged, signed):
        assert post(listener.port, b"{}", headers).status == 200
    records = [json.loads(listener.line()) for _ in range(4)]
    assert [(r["webhook_id"], r["signature"], r["replay"]) for r in records] == [
        ("msg_2", "invalid", False), ("msg_1", "valid", False), ("msg_2", "invalid", False), ("msg_1", "valid", True)]


def test_listen_remembers_a_bounded_number_of_ids():
    from alpana_hooks.receiver import SeenIds

    seen = SeenIds(limit=2)
    assert [seen.seen_before(i, remember=True) for i in ("a", "b", "a", "c", "b", "c")] == [
        False, False, True, False, False, True]  # c pushed out b (a was seen later), so b is new again
    assert len(seen.ids) == 2


def test_listen_status_sequence_fails_then_recovers(cli, subscription, listen):
    """Issue 13 point 17: `--status-sequence 500,500,200` answers in turn, then repeats the last."""
    sub_id, _ = subscription
    listener = listen("--json", "--status-sequence", "500,500,200")
    point(cli, sub_id, listener.port)
    attempt = emit(cli, expected_exit=4)["attempts"][0]
    codes = [attempt["status_code"]]
    for expected_exit in (4, 0, 0):
        result = cli("resend", attempt["id"], "--tenant", "t1", "--json")
        assert result.exit_code == expected_exit, result.stderr
        codes.append(json.loads(result.stdout)["status_code"])
    assert codes == [500, 500, 200, 200]


@pytest.mark.parametrize("args, message", [
    (["--status-sequence", "500,abc"], "invalid --status-sequence '500,abc': use HTTP statuses 200-599 separated by "
                                       "commas, e.g. 500,500,200"),
    (["--status-sequence", "500,700"], "invalid --status-sequence '500,700': use HTTP statuses 200-599 separated by "
                                       "commas, e.g. 500,500,200"),
    (["--status-sequence", "500", "--status", "503"], "give --status or --status-sequence, not both"),
])
def test_listen_refuses_a_bad_status_sequence(cli, args, message):
    result = cli("listen", "--port", "0", *args)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", f"error: {message}\n")


def test_listen_forward_to_passes_the_delivery_on_and_answers_with_its_status(cli, subscription, listen):
    """Issue 13 point 17: `listen --forward-to URL` (as `stripe listen --forward-to`): the app gets the delivery
    as sent, signature headers included, and its status is what the sender sees."""
    sub_id, secret = subscription
    app = Receiver(lambda *a: (503, {}, b"busy"))
    try:
        listener = listen("--json", "--secret", secret, "--forward-to", app.url("/app"))
        point(cli, sub_id, listener.port)
        attempt = emit(cli, expected_exit=4)["attempts"][0]
        assert (attempt["status"], attempt["status_code"]) == ("failed", 503)
        record = json.loads(listener.line())
        assert record["signature"] == "valid"
        assert listener.stderr.get(timeout=5) == f"forwarded to {app.url('/app')}: 503\n"
        (got,) = app.requests
        assert json.loads(got["body"]) == record["body"]
        signing.verify(secret, got["headers"], got["body"], now=int(time.time()))  # the exact bytes that were signed
        assert lowered(got["headers"])["webhook-id"] == attempt["event_id"]
    finally:
        app.close()


def test_listen_forward_to_a_target_that_does_not_answer_is_502(cli, subscription, listen):
    sub_id, _ = subscription
    listener = listen("--json", "--forward-to", "http://127.0.0.1:9/down")
    point(cli, sub_id, listener.port)
    attempt = emit(cli, expected_exit=4)["attempts"][0]
    assert attempt["status_code"] == 502
    listener.line()
    assert listener.stderr.get(timeout=10) == "forwarding to http://127.0.0.1:9/down failed: ConnectionError; answered 502\n"


def test_verify_attempt_checks_a_recorded_delivery_with_the_receivers_secret(cli, delivery, tmp_path):
    """Issue 13 point 17: `verify --attempt ID` needs no copied headers or body; exit 5 for the wrong secret."""
    secret = delivery[0]
    (attempt,) = cli.json("attempts", "list", "--tenant", "t1")
    (tmp_path / "secret.txt").write_text(secret + "\n")
    result = cli("verify", "--attempt", attempt["id"], "--secret-file", tmp_path / "secret.txt", "--tenant", "t1")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "signature valid\n", "")
    cli("secret", "rotate", "1", "--tenant", "t1", "--grace", "0s")  # a later rotation does not change what was sent
    assert cli("verify", "--attempt", attempt["id"], "--secret", secret, "--tenant", "t1").exit_code == 0
    other = cli("verify", "--attempt", attempt["id"], "--secret", signing.generate_secret(), "--tenant", "t1")
    assert (other.exit_code, other.stderr) == (5, "error: signature does not verify: no signature matches\n")
    for args, code, message in (
        (["--attempt", "99"], 3, "attempt 99 not found in tenant t1"),
        (["--attempt", "1", "--body", "x"], 2, "give --headers FILE and --body FILE, or --attempt ID"),
    ):
        result = cli("verify", *args, "--secret", secret, "--tenant", "t1")
        assert (result.exit_code, result.stderr) == (code, f"error: {message}\n"), args
