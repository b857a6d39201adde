"""Delivery against real local servers: headers, signatures, redirects, address policy,
deadlines, capped bodies, error classes, connection reuse and threads."""

import gzip
import http.client
import http.server
import io
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import certifi
import pytest
import requests
import standardwebhooks
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

from alpana_hooks import delivery
from alpana_hooks.config import Settings
from alpana_hooks.delivery import Sender, SendPolicy
from alpana_hooks.delivery.deadline import Deadline
from alpana_hooks.delivery.guard import GuardedConnection, header_message, read_header_block
from alpana_hooks.delivery.pool import Pool
from alpana_hooks.delivery.sender import _destination_and_target

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OLD_SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
BODY = b'{"type": "dashboard.published", "data": {"title": "Ventes \xc3\xa9t\xc3\xa9"}}'
LOOPBACK = ("127.0.0.0/8",)
SETTING = "[security] allowed_networks"


def make_request(url, body=BODY, custom_headers=(), secrets=(SECRET,)):
    return delivery.build_request(
        url=url,
        body=body,
        msg_id="msg_2kZ9",
        secrets=list(secrets),
        custom_headers=list(custom_headers),
        timestamp=int(time.time()),
        user_agent="alpana-hooks/test",
    )


def make_policy(**overrides):
    """The policy of the default Settings, with these fields changed."""
    defaults = SendPolicy.from_settings(Settings(database=Path("unused.db"), config_file=None, tenant=None))
    return replace(defaults, **overrides)


def make_sender(**overrides):
    settings = dict(timeout_seconds=1.0, connect_timeout_seconds=0.5, allowed_networks=LOOPBACK)
    return Sender(make_policy(**(settings | overrides)))


@pytest.fixture
def sender():
    with make_sender() as instance:
        yield instance


@pytest.fixture(scope="module")
def http_servers():
    """Two pytest-httpservers on 127.0.0.1, started once for the module (stopping one is slow)."""
    instances = [HTTPServer(host="127.0.0.1", port=0) for _ in range(2)]
    for instance in instances:
        instance.start()
    yield instances
    for instance in instances:
        instance.stop()


@pytest.fixture
def server(http_servers):
    yield http_servers[0]
    http_servers[0].clear()


@pytest.fixture
def second_server(http_servers):
    yield http_servers[1]
    http_servers[1].clear()


# ---------------------------------------------------------------- raw socket servers


def read_request(conn):
    """Read one request (headers and Content-Length body) from a socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
         if line.lower().startswith(b"content-length:")),
        0,
    )
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class RawServer:
    """A TCP server on 127.0.0.1 that runs handler(conn, stop_event) for each connection."""

    def __init__(self, handler):
        self.handler = handler
        self.stop = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def url(self, scheme="http", host="127.0.0.1"):
        return f"{scheme}://{host}:{self.port}/hook"

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn):
        with conn:
            try:
                self.handler(conn, self.stop)
            except OSError:
                pass

    def close(self):
        self.stop.set()
        self.thread.join()
        self.listener.close()


@pytest.fixture
def raw_server():
    servers = []

    def start(handler):
        servers.append(RawServer(handler))
        return servers[-1]

    yield start
    for instance in servers:
        instance.close()


def drip(conn, stop, data):
    """Send data every 0.2 s, for 5 s at most (so a broken deadline fails instead of hanging)."""
    for _ in range(25):
        if stop.wait(0.2):
            return
        conn.sendall(data)


def drip_headers(conn, stop):
    read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    drip(conn, stop, b"X-Drip: 1\r\n")


def drip_body(conn, stop):
    read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
    drip(conn, stop, b"x")


def drip_body_until_close(conn, stop):
    read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
    drip(conn, stop, b"x")


def answer_then_drip(conn, stop):
    read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    drip_body(conn, stop)


def endless_body(conn, stop):
    read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n")
    chunk = b"e" * 65536
    while not stop.is_set():
        conn.sendall(chunk)


def never_answer(conn, stop):
    read_request(conn)
    stop.wait(5)


def close_without_answer(conn, stop):
    read_request(conn)


def answer_garbage(conn, stop):
    read_request(conn)
    conn.sendall(b"SPEAKING NONSENSE\r\n\r\n")


def answer_plain_http(conn, stop):
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")


# ---------------------------------------------------------------- threaded http.server


class CountingHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        state = self.server.state
        with state["lock"]:
            state["ports"].append(self.client_address[1])
            state["in_flight"] += 1
            state["max_in_flight"] = max(state["max_in_flight"], state["in_flight"])
        time.sleep(state["delay"])
        with state["lock"]:
            state["in_flight"] -= 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


class CountingServer(http.server.ThreadingHTTPServer):
    request_queue_size = 64  # a backlog of 5 drops a burst of connects: their SYN is retried after 1 s


@pytest.fixture
def counting_server():
    instance = CountingServer(("127.0.0.1", 0), CountingHandler)
    instance.daemon_threads = True
    instance.state = {"lock": threading.Lock(), "ports": [], "in_flight": 0,
                      "max_in_flight": 0, "delay": 0.0}
    thread = threading.Thread(target=instance.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield instance
    instance.shutdown()
    instance.server_close()


def counting_url(instance):
    return f"http://127.0.0.1:{instance.server_address[1]}/hook"


# ---------------------------------------------------------------- socket.connect audit


_CONNECT_LOGS = []


def _audit(event, args):
    if event == "socket.connect":
        for log in _CONNECT_LOGS:
            log.append(args[1])


@pytest.fixture
def socket_connects():
    """Every address socket.connect is called with while the test runs."""
    if not getattr(sys, "_alpana_test_audit", False):
        sys.addaudithook(_audit)
        sys._alpana_test_audit = True
    log = []
    _CONNECT_LOGS.append(log)
    yield log
    _CONNECT_LOGS.remove(log)


# ================================================================= build_request


def test_build_request_header_order_and_exact_body():
    request = delivery.build_request(
        url="https://example.com/hook",
        body=b'{"a": 1}',
        msg_id="msg_1",
        secrets=[SECRET, OLD_SECRET],
        custom_headers=[("Authorization", "Bearer t"), ("X-Team", "bi")],
        timestamp=1614265330,
        user_agent="alpana-hooks/0.1.0",
    )
    assert list(request.headers) == [
        "Authorization", "X-Team", "Content-Type", "User-Agent", "Accept-Encoding",
        "webhook-id", "webhook-timestamp", "webhook-signature",
    ]
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == "alpana-hooks/0.1.0"
    assert request.headers["Accept-Encoding"] == "identity"
    assert request.headers["webhook-timestamp"] == "1614265330"
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert request.body == b'{"a": 1}'


def test_build_request_reproduces_the_spec_vector():
    request = delivery.build_request(
        url="https://example.com/", body=b'{"test": 2432232314}',
        msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek", secrets=[SECRET], custom_headers=[],
        timestamp=1614265330, user_agent="ua",
    )
    assert request.headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_our_headers_win_case_insensitively():
    request = make_request("http://x/", custom_headers=[
        ("content-type", "text/plain"), ("WEBHOOK-ID", "forged"), ("user-agent", "evil"),
        ("Host", "internal.admin"), ("Transfer-Encoding", "chunked"), ("content-length", "1"),
        ("X-Token", "a"), ("x-token", "b"),
    ])
    lowered = [name.lower() for name in request.headers]
    assert len(lowered) == len(set(lowered))
    assert "host" not in lowered and "transfer-encoding" not in lowered
    assert "content-length" not in lowered
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["webhook-id"] == "msg_2kZ9"
    assert request.headers["User-Agent"] == "alpana-hooks/test"
    assert request.headers["x-token"] == "b"


def test_policy_refuses_nonsense_limits():
    with pytest.raises(ValueError):
        make_policy(timeout_seconds=0)
    with pytest.raises(ValueError):
        make_policy(max_response_bytes=-1)


def test_policy_takes_its_values_from_settings():
    settings = Settings(database=Path("unused.db"), config_file=None, tenant=None, timeout_seconds=7.0,
                        connect_timeout_seconds=9.0, max_response_bytes=10, allowed_networks=LOOPBACK,
                        require_https=True, concurrency=64, per_host_concurrency=3)
    policy = SendPolicy.from_settings(settings)
    assert (policy.timeout_seconds, policy.connect_timeout_seconds, policy.max_response_bytes) == (7.0, 9.0, 10)
    assert (policy.allowed_networks, policy.require_https, policy.connections_per_host) == (LOOPBACK, True, 3)
    assert policy.connect_timeout == 7.0  # never longer than the whole deadline
    with pytest.raises(TypeError):
        SendPolicy()  # no defaults of its own: Settings holds them


def test_sender_refuses_bad_allowed_networks():
    with pytest.raises(ValueError, match="'127.0.0.1/8'"):
        Sender(make_policy(allowed_networks=("127.0.0.1/8",)))


# ================================================================= what arrives


def test_request_arrives_exactly_and_verifies(server, sender):
    server.expect_oneshot_request("/hook", method="POST").respond_with_data("thanks")
    custom = [("Authorization", "Bearer sub-token"), ("X-Team", "Finance  BI"), ("Accept", "x/y")]
    request = make_request(server.url_for("/hook"), custom_headers=custom,
                           secrets=[SECRET, OLD_SECRET])

    result = sender.send(request)

    assert result.succeeded, result
    assert (result.status_code, result.response_body, result.error_class) == (200, b"thanks", None)
    received, _ = server.log[0]
    assert received.get_data() == BODY
    headers = dict(received.headers)
    assert {name.lower() for name in headers} == (
        {name.lower() for name in request.headers} | {"host", "content-length"}
    )
    for name, value in request.headers.items():
        assert received.headers[name] == value
    assert headers["Content-Length"] == str(len(BODY))
    for secret in (SECRET, OLD_SECRET):
        standardwebhooks.Webhook(secret).verify(received.get_data(), headers)


def test_the_request_is_written_byte_for_byte(raw_server, sender):
    """The request line with the target percent-encoded as UTF-8, Host, the subscription's headers, ours,
    Content-Length last; then the body."""
    received = []

    def record(conn, stop):
        received.append(read_request(conn))
        conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")

    receiver = raw_server(record)
    request = make_request(f"http://127.0.0.1:{receiver.port}/caf\u00e9/h%20k/100%?q=\u00e4 b&r=%zz#frag",
                           custom_headers=[("X-Team", "BI")])

    result = sender.send(request)

    assert (result.status_code, result.error) == (204, None)
    ours = "".join(f"{name}: {value}\r\n" for name, value in request.headers.items()).encode()
    assert received == [b"POST /caf%C3%A9/h%20k/100%25?q=%C3%A4%20b&r=%25zz HTTP/1.1\r\n"
                        + f"Host: 127.0.0.1:{receiver.port}\r\n".encode() + ours
                        + f"Content-Length: {len(BODY)}\r\n\r\n".encode() + BODY]
    assert list(request.headers)[0] == "X-Team"
    assert result.request_headers == [("Host", f"127.0.0.1:{receiver.port}"), *request.headers.items(),
                                      ("Content-Length", str(len(BODY)))]


def test_repeated_and_folded_response_headers_are_joined(raw_server, sender):
    def answer(conn, stop):
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX-Fold: one \r\n  two\r\nset-cookie: b=2\r\n"
                     b"Content-Length: 0\r\n\r\n")

    result = sender.send(make_request(raw_server(answer).url()))

    assert result.response_headers == {"Set-Cookie": "a=1, b=2", "X-Fold": "one two", "Content-Length": "0"}


def test_a_body_shorter_than_its_content_length_is_a_reset(raw_server, sender):
    def answer(conn, stop):
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")

    receiver = raw_server(answer)
    result = sender.send(make_request(receiver.url()))

    assert (result.status_code, result.error_class, result.response_body) == (200, "reset", b"hello")
    assert result.error == f"connection to 127.0.0.1:{receiver.port} broken: IncompleteRead(5 bytes read, 5 more expected)"


def test_response_headers_are_recorded(server, sender):
    server.expect_request("/hook").respond_with_data(
        "", status=202, headers={"X-Receiver": "alpana-test", "Retry-After": "30"})
    result = sender.send(make_request(server.url_for("/hook")))
    assert result.status_code == 202 and result.succeeded
    assert result.response_headers["X-Receiver"] == "alpana-test"
    assert result.response_headers["Retry-After"] == "30"
    assert result.duration_ms >= 0


@pytest.mark.parametrize(
    ("status", "succeeded"),
    [(200, True), (204, True), (299, True), (301, False), (304, False), (400, False),
     (410, False), (429, False), (500, False), (503, False)],
)
def test_only_2xx_succeeds(server, sender, status, succeeded):
    server.expect_request("/hook").respond_with_data("", status=status)
    result = sender.send(make_request(server.url_for("/hook")))
    assert (result.status_code, result.succeeded, result.error_class) == (status, succeeded, None)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_never_followed(server, second_server, sender, status):
    target = second_server.url_for("/stolen")
    server.expect_request("/hook").respond_with_data("", status=status, headers={"Location": target})
    second_server.expect_request("/stolen").respond_with_data("should not be reached")

    result = sender.send(make_request(server.url_for("/hook"),
                                      custom_headers=[("X-Api-Key", "k")]))

    assert result.status_code == status and not result.succeeded
    assert result.response_headers["Location"] == target
    assert len(server.log) == 1
    assert second_server.log == []


# ================================================================= ambient configuration


def poison_environment(monkeypatch, tmp_path):
    dead = socket.create_server(("127.0.0.1", 0))
    dead_port = dead.getsockname()[1]
    dead.close()
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{dead_port}")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login intruder password hunter2\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))


def test_environment_proxies_are_ignored(server, sender, monkeypatch, tmp_path):
    poison_environment(monkeypatch, tmp_path)
    url = server.url_for("/hook")
    with pytest.raises(requests.exceptions.ProxyError):  # what requests' defaults would do
        requests.post(url, data=b"{}", timeout=1)
    server.expect_request("/hook").respond_with_data("ok")

    result = sender.send(make_request(url, custom_headers=[("Authorization", "Bearer sub")]))

    assert result.succeeded, result
    assert server.log[0][0].headers["Authorization"] == "Bearer sub"


def test_netrc_does_not_replace_authorization(server, sender, monkeypatch, tmp_path):
    poison_environment(monkeypatch, tmp_path)
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name)
    url = server.url_for("/hook")
    server.expect_request("/hook").respond_with_data("ok")
    requests.post(url, data=b"{}", headers={"Authorization": "Bearer sub"}, timeout=1)
    assert server.log[0][0].headers["Authorization"].startswith("Basic ")  # requests' defaults

    result = sender.send(make_request(url, custom_headers=[("Authorization", "Bearer sub")]))

    assert result.succeeded, result
    assert server.log[1][0].headers["Authorization"] == "Bearer sub"


# ================================================================= address policy


@pytest.mark.parametrize(
    ("host", "address"),
    [("127.0.0.1", "127.0.0.1"), ("127.1", "127.0.0.1"), ("2130706433", "127.0.0.1"),
     ("0x7f.1", "127.0.0.1"), ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1"),
     ("localhost", None)],
)
def test_loopback_spellings_are_blocked_by_default(server, host, address, socket_connects):
    server.expect_request("/hook").respond_with_data("should not be reached")
    url = f"http://{host}:{server.port}/hook"
    with make_sender(allowed_networks=()) as strict:
        result = strict.send(make_request(url))

    assert (result.status_code, result.error_class) == (None, "blocked")
    assert SETTING in result.error and "(loopback)" in result.error
    if address is not None:
        assert f"address {address} is blocked" in result.error
    assert server.log == []
    assert socket_connects == []


@pytest.mark.parametrize("host", ["127.1", "2130706433", "0x7f.1", "localhost"])
def test_allowed_networks_open_loopback(server, sender, host):
    server.expect_request("/hook").respond_with_data("ok")
    result = sender.send(make_request(f"http://{host}:{server.port}/hook"))
    assert result.succeeded, result
    assert len(server.log) == 1


def test_allowed_networks_open_only_what_they_name(server):
    server.expect_request("/hook").respond_with_data("ok")
    with make_sender(allowed_networks=("10.0.0.0/8",)) as other:
        result = other.send(make_request(server.url_for("/hook")))
    assert result.error_class == "blocked"
    assert server.log == []


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/",
                                 "https://169.254.169.254/",
                                 "http://[fd00:ec2::254]/",
                                 "http://[::ffff:169.254.169.254]/",
                                 "http://[64:ff9b::a9fe:a9fe]/"])
def test_metadata_endpoint_is_blocked_without_connecting(sender, socket_connects, url):
    result = sender.send(make_request(url))
    assert (result.status_code, result.error_class) == (None, "blocked")
    assert "(link-local" in result.error or "(private)" in result.error
    assert SETTING in result.error
    assert socket_connects == []


# ================================================================= deadlines


@pytest.mark.parametrize("handler", [drip_headers, drip_body, drip_body_until_close])
def test_hard_deadline_over_the_whole_exchange(raw_server, sender, handler):
    receiver = raw_server(handler)
    started = time.monotonic()
    result = sender.send(make_request(receiver.url()))
    elapsed = time.monotonic() - started

    assert elapsed < 2.5
    assert (result.error_class, result.error) == ("timeout", "deadline of 1 s exceeded")
    assert not result.succeeded


def test_deadline_covers_a_reused_connection(raw_server, sender):
    receiver = raw_server(answer_then_drip)
    assert sender.send(make_request(receiver.url())).succeeded
    started = time.monotonic()
    result = sender.send(make_request(receiver.url()))
    assert time.monotonic() - started < 2.5
    assert result.error_class == "timeout"
    assert receiver.accepted == 1


def test_connect_timeout(sender):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):  # fill the accept queue until the kernel drops SYNs
            filler = socket.socket()
            filler.settimeout(0.2)
            fillers.append(filler)
            try:
                filler.connect(("127.0.0.1", port))
            except TimeoutError:
                break
        else:
            pytest.skip("could not fill the accept queue")
        result = sender.send(make_request(f"http://127.0.0.1:{port}/hook"))
    finally:
        for sock in [listener, *fillers]:
            sock.close()
    assert (result.status_code, result.error_class) == (None, "timeout")
    assert result.error == f"no connection to 127.0.0.1:{port} within 0.5 s"
    assert 400 <= result.duration_ms < 900


def test_silent_receiver_times_out(raw_server, sender):
    receiver = raw_server(never_answer)
    started = time.monotonic()
    result = sender.send(make_request(receiver.url()))
    assert time.monotonic() - started < 2.5
    assert (result.status_code, result.error_class) == (None, "timeout")


def test_sender_recovers_after_a_deadline(raw_server, server, sender):
    server.expect_request("/hook").respond_with_data("ok")
    assert sender.send(make_request(raw_server(drip_body).url())).error_class == "timeout"
    assert sender.send(make_request(server.url_for("/hook"))).succeeded


# ================================================================= response bodies


def test_large_body_is_capped(server, sender):
    pattern = bytes(range(256)) * (5 * 1024 * 1024 // 256)
    server.expect_request("/hook").respond_with_data(pattern)
    result = sender.send(make_request(server.url_for("/hook")))
    assert result.status_code == 200 and result.error_class is None
    assert result.response_body == pattern[:20000]
    assert result.truncated is True


def test_endless_body_is_not_read_past_the_cap(raw_server, sender):
    started = time.monotonic()
    result = sender.send(make_request(raw_server(endless_body).url()))
    assert time.monotonic() - started < 0.9  # well before the 1 s deadline
    assert (result.status_code, result.error_class, result.truncated) == (200, None, True)
    assert result.response_body == b"e" * 20000


@pytest.mark.parametrize(("size", "truncated"), [(19999, False), (20000, False), (20001, True)])
def test_cap_boundary(server, sender, size, truncated):
    server.expect_request("/hook").respond_with_data(b"z" * size)
    result = sender.send(make_request(server.url_for("/hook")))
    assert (len(result.response_body), result.truncated) == (min(size, 20000), truncated)


def test_gzip_body_is_stored_compressed(server, sender):
    compressed = gzip.compress(b"A" * 1_000_000)
    server.expect_request("/hook").respond_with_data(
        compressed, headers={"Content-Encoding": "gzip"})
    result = sender.send(make_request(server.url_for("/hook")))
    assert result.response_body == compressed
    assert result.truncated is False
    assert server.log[0][0].headers["Accept-Encoding"] == "identity"


def test_non_utf8_body_is_stored_as_bytes(server, sender):
    server.expect_request("/hook").respond_with_data(b"\xff\xfe\x00abc")
    result = sender.send(make_request(server.url_for("/hook")))
    assert result.response_body == b"\xff\xfe\x00abc"


# ================================================================= errors without an answer


def test_connection_refused(sender):
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    result = sender.send(make_request(f"http://127.0.0.1:{port}/hook"))
    assert (result.status_code, result.error_class) == (None, "connect")
    assert f"127.0.0.1:{port}" in result.error and "\n" not in result.error


def test_server_closing_without_answer_is_a_reset(raw_server, sender):
    result = sender.send(make_request(raw_server(close_without_answer).url()))
    assert (result.status_code, result.error_class) == (None, "reset")


def test_garbage_answer_is_an_invalid_response(raw_server, sender):
    result = sender.send(make_request(raw_server(answer_garbage).url()))
    assert (result.status_code, result.error_class) == (None, "invalid_response")


def answer_nul_status(conn, stop):
    read_request(conn)
    conn.sendall(b"\x00evil status\r\n\r\n")


def test_a_control_character_in_an_answer_is_escaped_in_the_error(raw_server, sender):
    """PostgreSQL cannot store a NUL in text: one such answer made the whole batch of results unwritable."""
    result = sender.send(make_request(raw_server(answer_nul_status).url()))
    assert result.error_class == "invalid_response"
    assert result.error.endswith(": \\x00evil status") and "\x00" not in result.error


def test_an_expired_deadline_leaves_a_pooled_connection_another_send_took(server):
    """Threads share one pool: a send's deadline that passes after its connection went back to the pool (and to
    another thread's send) must not shut that connection under the other send."""
    server.expect_request("/hook").respond_with_data("ok")
    mine, theirs = Deadline(10), Deadline(10)
    taken = http.client.HTTPConnection("127.0.0.1", server.port)
    taken.connect()
    mine.watch(taken)
    theirs.watch(taken)  # the pool handed it to the other send
    mine.expire()
    taken.request("POST", "/hook", body=b"{}")
    assert taken.getresponse().read() == b"ok"
    kept = http.client.HTTPConnection("127.0.0.1", server.port)
    kept.connect()
    mine = Deadline(10)
    mine.watch(kept)
    mine.expire()  # still this deadline's: shut
    with pytest.raises(OSError):
        kept.request("POST", "/hook", body=b"{}")
        kept.getresponse()


def test_dns_failure(sender):
    result = sender.send(make_request("http://nonexistent.invalid/hook"))
    assert (result.status_code, result.error_class) == (None, "dns")
    assert "nonexistent.invalid" in result.error


def test_plain_http_on_https_port_is_a_tls_error(raw_server, sender):
    result = sender.send(make_request(raw_server(answer_plain_http).url("https")))
    assert (result.status_code, result.error_class) == (None, "tls")


def self_signed(directory, san=True):
    """A self-signed certificate for localhost (its name in subjectAltName, or only in the subject's CN) and
    its key, made by the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    cert, key = directory / f"cert-{san}.pem", directory / f"key-{san}.pem"
    names = ["-addext", "subjectAltName=DNS:localhost"] if san else []
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    *names, "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


class TLSReceiver(RawServer):
    """A receiver on 127.0.0.1 that shakes hands with a certificate for `localhost` and answers 200 "ok" to
    each request, noting the server names clients ask for."""

    def __init__(self, cert, key):
        self.cert, self.server_names = cert, []
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        self.context.sni_callback = lambda sock, name, ctx: self.server_names.append(name)
        super().__init__(self.answer)

    def answer(self, conn, stop):
        with self.context.wrap_socket(conn, server_side=True) as tls:
            read_request(tls)
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


@pytest.fixture
def tls_receiver(tmp_path):
    receiver = TLSReceiver(*self_signed(tmp_path))
    yield receiver
    receiver.close()


def test_tls_uses_the_hostname_while_dialling_the_checked_address(tls_receiver, sender):
    result = sender.send(make_request(f"https://localhost:{tls_receiver.port}/hook"))

    assert (result.status_code, result.error_class) == (None, "tls")
    assert "certificate verify failed" in result.error
    assert tls_receiver.server_names == ["localhost"]


def test_https_delivers_to_a_certificate_that_names_the_host(tls_receiver, sender):
    sender.tls_context().load_verify_locations(tls_receiver.cert)  # as if a public CA had signed it

    result = sender.send(make_request(f"https://localhost:{tls_receiver.port}/hook"))

    assert (result.status_code, result.error, result.response_body) == (200, None, b"ok")


def test_a_host_named_only_in_the_certificates_cn_is_refused(tmp_path, sender):
    receiver = TLSReceiver(*self_signed(tmp_path, san=False))
    sender.tls_context().load_verify_locations(receiver.cert)
    try:
        result = sender.send(make_request(f"https://localhost:{receiver.port}/hook"))
    finally:
        receiver.close()

    assert (result.status_code, result.error_class) == (None, "tls")
    assert "Hostname mismatch, certificate is not valid for 'localhost'" in result.error


def test_https_trusts_certifis_authorities_not_the_environments(tls_receiver, monkeypatch):
    # the receiver's own certificate named as the CA file and directory: a sender that read them would trust it
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_receiver.cert))
    monkeypatch.setenv("SSL_CERT_DIR", str(tls_receiver.cert.parent))
    with make_sender() as sender:
        result = sender.send(make_request(f"https://localhost:{tls_receiver.port}/hook"))

    assert (result.status_code, result.error_class) == (None, "tls")
    assert result.error.startswith(f"TLS failure with localhost:{tls_receiver.port}: [SSL: CERTIFICATE_VERIFY_FAILED]")
    trusted = sender.tls_context().get_ca_certs()
    assert len(trusted) == open(certifi.where()).read().count("BEGIN CERTIFICATE")


def test_port_zero_is_not_taken_for_the_default_port(sender):
    result = sender.send(make_request("http://127.0.0.1:0/hook"))
    assert (result.status_code, result.error_class) == (None, "connect")
    assert result.error.startswith("cannot connect to 127.0.0.1:0: ")


@pytest.mark.parametrize(("url", "destination", "target"), [
    ("https://Stra\u00dfe.Example/in", ("https", "xn--strae-oqa.example", 443), "/in"),  # IDNA 2008: not strasse
    ("HTTP://h.example.:8080?", ("http", "h.example.", 8080), "/"),
    ("http://[::1]/a/../b?x=/y", ("http", "::1", 80), "/a/../b?x=/y"),  # sent as given: the receiver resolves dots
])
def test_destination_and_target_of_a_url(url, destination, target):
    assert _destination_and_target(url) == (destination, target)


def test_a_host_that_is_no_valid_internationalised_name_is_not_sent(server, sender):
    result = sender.send(make_request(f"http://localho\u017ft:{server.port}/hook"))  # ſ: IDNA 2003 made it an s

    assert (result.status_code, result.error_class) == (None, "error")
    assert result.error.startswith("ValueError: 'localho\u017ft' is not a valid internationalised host name")
    assert server.log == []


def test_a_fully_qualified_hosts_dot_is_for_dns_only():
    connection = GuardedConnection("h.example.", 8080, networks=LOOPBACK, connect_timeout=1, read_timeout=1, tls=None)
    connection.putrequest("POST", "/", skip_accept_encoding=True)
    assert (connection.dns_host, connection.host, connection.noted) == ("h.example.", "h.example",
                                                                       [("Host", "h.example:8080")])


def test_invalid_url_is_reported_not_raised(sender):
    result = sender.send(make_request("ftp://example.com/hook"))
    assert (result.status_code, result.error_class) == (None, "error")


# ================================================================= connections and threads


def test_connections_are_reused(counting_server, server, sender):
    url = counting_url(counting_server)
    assert sender.send(make_request(url)).succeeded
    assert sender.send(make_request(url)).succeeded
    assert len(set(counting_server.state["ports"])) == 1


def test_a_kept_connection_the_receiver_closed_is_not_reused(raw_server, sender):
    def answer_once(conn, stop):
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")  # keep-alive, then hangs up

    receiver = raw_server(answer_once)
    first = sender.send(make_request(receiver.url()))
    time.sleep(0.2)  # the receiver's FIN arrives
    second = sender.send(make_request(receiver.url()))

    assert (first.status_code, second.status_code, second.error) == (200, 200, None)
    assert receiver.accepted == 2


def test_the_pool_keeps_a_few_connections_of_the_destinations_used_last(counting_server):
    port = counting_server.server_address[1]

    def opened():
        connection = http.client.HTTPConnection("127.0.0.1", port)
        connection.connect()
        return connection

    pool = Pool(keep=2, destinations=2)
    a1, a2, a3, b, c = (opened() for _ in range(5))
    for connection in (a1, a2, a3):
        pool.give(("http", "a", 1), connection)
    pool.give(("http", "b", 1), b)
    assert a3.sock is None and a1.sock is not None  # past `keep`: closed
    assert pool.take(("http", "a", 1)) is a2  # the newest first; `a` is now the destination used last
    pool.give(("http", "c", 1), c)
    assert b.sock is None and a1.sock is not None  # `b`, used least recently, closed
    assert pool.take(("http", "b", 1)) is None
    pool.close()
    assert (a1.sock, c.sock) == (None, None)
    a2.close()


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",  # a chunk size that is none
    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\n",  # which one ends the body?
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",  # the connection speaks something else now
])
def test_a_connection_whose_answer_went_wrong_is_not_reused(raw_server, sender, answer):
    def answer_then_serve(conn, stop):
        read_request(conn)
        conn.sendall(answer)
        while read_request(conn):  # a request that came on this connection again would be answered 200
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    receiver = raw_server(answer_then_serve)
    first = sender.send(make_request(receiver.url()))
    second = sender.send(make_request(receiver.url()))

    assert (first.status_code, second.status_code) == ((101, 101) if b"101" in answer else (None, None)) \
        or (first.succeeded, second.succeeded) == (False, False)
    assert receiver.accepted == 2


def test_a_content_length_given_twice_differently_is_an_invalid_answer(raw_server, sender):
    receiver = raw_server(lambda conn, stop: (read_request(conn), conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\n")))

    result = sender.send(make_request(receiver.url()))

    assert (result.status_code, result.error_class) == (None, "invalid_response")
    assert result.error == f"invalid HTTP response from 127.0.0.1:{receiver.port}: Content-Length given 2 different values"


def test_truncated_answer_does_not_poison_the_pool(counting_server, server, sender):
    server.expect_request("/big").respond_with_data(b"b" * 100_000)
    server.expect_request("/small").respond_with_data(b"ok")
    assert sender.send(make_request(server.url_for("/big"))).truncated
    assert sender.send(make_request(server.url_for("/small"))).response_body == b"ok"


def test_sender_is_shared_between_threads(counting_server, sender):
    counting_server.state["delay"] = 0.3
    url = counting_url(counting_server)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: sender.send(make_request(url)), range(16)))
    assert all(result.succeeded for result in results)
    assert len(counting_server.state["ports"]) == 16
    assert counting_server.state["max_in_flight"] > 1
    assert len(set(counting_server.state["ports"])) <= 8


# ================================================================= interim answers, TLS handshake timer, header caps


@pytest.mark.parametrize("interim", [b"HTTP/1.1 102 Processing\r\n\r\n",
                                     b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n",
                                     b"HTTP/1.1 103 Early Hints\r\nLink: <" + b"l" * 30000 + b">\r\n\r\n",
                                     b"HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"])
def test_interim_answers_are_skipped_for_the_final_one(raw_server, sender, interim):
    def answer(conn, stop):
        read_request(conn)
        conn.sendall(interim)
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Final: yes\r\nContent-Length: 2\r\n\r\nok")

    result = sender.send(make_request(raw_server(answer).url()))

    assert (result.status_code, result.succeeded, result.response_body) == (200, True, b"ok")
    assert result.response_headers == {"X-Final": "yes", "Content-Length": "2"}
    assert result.headers_truncated is False


def test_a_stalled_tls_handshake_names_the_handshake_timer(raw_server):
    receiver = raw_server(lambda conn, stop: stop.wait(5))  # accepts TCP, never answers the ClientHello
    with make_sender(timeout_seconds=3.0) as patient:
        result = patient.send(make_request(receiver.url("https")))
    assert (result.status_code, result.error_class) == (None, "timeout")
    assert result.error == f"TLS handshake with 127.0.0.1:{receiver.port} did not complete within 0.5 s"


HEADERS_KEPT, HEADER_BYTES_KEPT = 64, 16384  # the README's caps on stored response headers


def answer_with_headers(lines):
    def answer(conn, stop):
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n" + b"".join(lines) + b"\r\n")

    return answer


@pytest.mark.parametrize(("extra", "truncated"), [(0, False), (1, True)])
def test_response_headers_are_capped_by_bytes(raw_server, sender, extra, truncated):
    # the header lines ("name: value\r\n") fill the 16 KiB exactly, or one byte more
    fill = HEADER_BYTES_KEPT - len("Content-Length: 0\r\n") - len("X-Big: \r\n")
    big = b"X-Big: " + b"b" * (fill + extra) + b"\r\n"

    result = sender.send(make_request(raw_server(answer_with_headers([big])).url()))

    assert result.status_code == 200 and result.headers_truncated is truncated
    assert result.response_headers == {"Content-Length": "0", "X-Big": "b" * fill}


@pytest.mark.parametrize(("count", "truncated"), [(HEADERS_KEPT, False),
                                                  (HEADERS_KEPT + 1, True)])
def test_response_headers_are_capped_by_count(raw_server, sender, count, truncated):
    lines = [f"X-H{n}: {n}\r\n".encode() for n in range(count - 1)]  # and Content-Length first

    result = sender.send(make_request(raw_server(answer_with_headers(lines)).url()))

    assert result.status_code == 200 and result.headers_truncated is truncated
    kept = ["Content-Length"] + [f"X-H{n}" for n in range(count - 1)]
    assert list(result.response_headers) == kept[:HEADERS_KEPT]


@pytest.mark.parametrize("framing", [b"Content-Length: 5\r\n\r\nhello",
                                     b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"])
def test_framing_headers_past_the_cap_are_kept(raw_server, sender, framing):
    def answer(conn, stop):  # keeps the connection open: without its framing header the body never ends
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-Big-%d: %s\r\n" % (n, b"b" * 60000) for n in range(3))
                     + framing)
        stop.wait(5)

    result = sender.send(make_request(raw_server(answer).url()))

    assert (result.status_code, result.error, result.response_body) == (200, None, b"hello")
    assert result.headers_truncated is True
    assert list(result.response_headers) == ["X-Big-0", framing.split(b":")[0].decode()]



def test_a_status_line_of_another_protocol_is_refused_before_any_header_is_awaited(raw_server, sender):
    def answer(conn, stop):  # then holds the connection open: no header block ever ends
        read_request(conn)
        conn.sendall(b"HTTP/2 200 OK\r\nX-A: 1\r\n")
        stop.wait(5)

    receiver = raw_server(answer)
    result = sender.send(make_request(receiver.url()))

    assert (result.status_code, result.error_class) == (None, "invalid_response")
    assert result.error == f"invalid HTTP response from 127.0.0.1:{receiver.port}: HTTP/2"


def test_a_folded_line_does_not_pass_for_the_framing_header(raw_server, sender):
    # " Transfer-Encoding: x" only continues X-A; the real Transfer-Encoding comes past the 64-line cap
    fillers = [b"X-F%d: f\r\n" % n for n in range(70)]

    def answer(conn, stop):
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-A: a\r\n Transfer-Encoding: x\r\n" + b"".join(fillers)
                     + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        stop.wait(5)

    result = sender.send(make_request(raw_server(answer).url()))

    assert (result.status_code, result.error, result.response_body) == (200, None, b"hello")
    assert result.headers_truncated is True
    assert result.response_headers["X-A"] == "a Transfer-Encoding: x"  # the fold, as urllib3 joins it
    assert result.response_headers["Transfer-Encoding"] == "chunked"

HEADER_PIECES = [b"X-A", b"content-length", b"From ", b"From", b":", b": ", b"v", b" ", b"\t", b"\r\n", b"\n", b"\r",
                 b"\r\r\n", b"\xff\xe9", b"\x00", b"a b", b"\x7f", b"[", b"\x85"]


@settings(max_examples=400, deadline=None, database=None)
@given(st.lists(st.sampled_from(HEADER_PIECES), max_size=24).map(b"".join))
def test_header_lines_are_read_as_http_clients_email_parser_reads_them(block):
    # header_message replaces http.client.parse_headers (the email package's parser) for speed: on any header
    # block, folded, malformed, with bare CRs or Latin-1 bytes, both give the same fields in the same order
    lines, cut = read_header_block(io.BytesIO(block + b"\r\n\r\n"))
    expected = http.client.parse_headers(io.BytesIO(block + b"\r\n\r\n"))
    assert cut is False
    assert header_message(lines).items() == expected.items()


@pytest.mark.parametrize(("lines", "fields"), [
    ([b"X-Folded: one\r\n", b"  two\r\n", b"\tthree\r\n"], [("X-Folded", "one\r\n  two\r\n\tthree")]),
    ([b"  orphan continuation\r\n", b"X-A:  a  \r\n"], [("X-A", "a  ")]),
    ([b"X-A: 1\r\n", b"no colon here\r\n", b"X-B: 2\r\n"], [("X-A", "1")]),
    ([b"X-A: 1\r\n", b": nameless\r\n", b"From x\r\n", b"X-B: 2\r\n"], [("X-A", "1"), ("X-B", "2")]),
    ([b"X-A: 1\rX-B: 2\r\n"], [("X-A", "1"), ("X-B", "2")]),
])
def test_header_lines_fold_end_and_skip_as_http_client_reads_them(lines, fields):
    assert header_message(lines).items() == fields
    assert http.client.parse_headers(io.BytesIO(b"".join(lines) + b"\r\n")).items() == fields


@pytest.mark.parametrize("count", [100, 101])
def test_more_than_100_header_lines_make_the_answer_invalid(raw_server, sender, count):
    lines = [f"X-H{n}: {n}\r\n".encode() for n in range(count - 1)]  # and Content-Length
    receiver = raw_server(answer_with_headers(lines))

    result = sender.send(make_request(receiver.url()))

    if count == 100:
        assert (result.status_code, result.headers_truncated, len(result.response_headers)) == (200, True, 64)
    else:
        assert (result.status_code, result.error_class) == (None, "invalid_response")
        assert result.error == f"invalid HTTP response from 127.0.0.1:{receiver.port}: got more than 100 headers"
