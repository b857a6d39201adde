"""Per-destination limits of the engine (issue 14, points 1 and 2): the circuit breaker per host:port and the
per-host concurrency limit, against real receivers on 127.0.0.1 and a real store."""

import random
import socket
import threading
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from conftest import db_rows

from alpana_hooks import Hooks
from alpana_hooks.config import Settings, load_settings
from alpana_hooks.dispatch import Dispatcher
from alpana_hooks.errors import ConfigError
from alpana_hooks.events import event_body, new_event_id
from alpana_hooks.model import ErrorClass
from alpana_hooks.pacing import Breaker, HostGate, destination
from alpana_hooks.signing import generate_secret
from alpana_hooks.store import Store
from alpana_hooks.timeutil import utcnow


class Blackhole:
    """A real endpoint on 127.0.0.1 that accepts connections and never answers, until answer() is called: from
    then on it answers every request 200 (and those it was holding)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.connections = 0
        self.answering = threading.Event()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}{path}"

    def answer(self) -> None:
        self.answering.set()

    def _accept(self) -> None:
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            self.answering.wait()
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
            except OSError:
                pass

    def close(self) -> None:
        self.closed = True
        self.answering.set()
        self.sock.close()


@pytest.fixture
def blackhole():
    made = Blackhole()
    yield made
    made.close()


class Clock:
    def __init__(self):
        self.now = utcnow()

    def __call__(self):
        return self.now


def settings_for(db_path, timeout: float = 1, **limits) -> Settings:
    return Settings(database=db_path, config_file=None, tenant="t1", allowed_networks=("127.0.0.0/8",),
                    timeout_seconds=timeout, connect_timeout_seconds=1, **limits)


def add(store: Store, url: str) -> int:
    return store.add_subscription(tenant="t1", event_type="widget.deleted", url=url, description="", state="active",
                                  headers=[], secret=generate_secret(), now=utcnow())


def emit_pending(store: Store, count: int) -> None:
    """`emit --no-send` count times: one pending attempt per event and subscription."""
    for n in range(count):
        now = utcnow()
        event_id = new_event_id(now)
        data = {"widget_id": str(n), "name": "W"}
        body = event_body(event_type="widget.deleted", event_id=event_id, tenant="t1", data=data, now=now)
        store.record_event(tenant="t1", event_id=event_id, event_type="widget.deleted", data=data, body=body, now=now)


def attempts_of(db_path, sub_id: int) -> list[dict]:
    return db_rows(db_path, "SELECT id, status, error_class, error, next_attempt_at, finished_at FROM attempts"
                            " WHERE subscription_id = ? ORDER BY id", (sub_id,))


def test_a_dead_endpoint_among_twenty_opens_its_breaker_and_does_not_hold_the_others(db_path, receiver, blackhole):
    store = Store.open(db_path)
    live = [receiver() for _ in range(19)]  # 19 ports: 19 destinations
    live_ids = [add(store, rx.url()) for rx in live]
    dead_id = add(store, blackhole.url())
    emit_pending(store, 12)
    dispatcher = Dispatcher(store, settings_for(db_path, 3, per_host_concurrency=4, breaker_failures=3),
                            rng=random.Random(1))
    try:
        dispatcher.deliver_due()
    finally:
        dispatcher.close()
        store.close()
    dead = attempts_of(db_path, dead_id)
    timed_out = [a for a in dead if a["error_class"] == ErrorClass.TIMEOUT]
    kept_back = [a for a in dead if a["error_class"] == ErrorClass.CIRCUIT_OPEN]
    # 3 timeouts in a row open it; at most 4 were on the wire then, and each finishing one lets one more in first
    assert 3 <= blackhole.connections == len(timed_out) <= 4 + 3 - 1
    assert len(timed_out) + len(kept_back) == 12
    host = blackhole.url().split("/")[2]
    assert {a["error"] for a in kept_back} <= {
        f"circuit open: {k} connection failures or timeouts in a row to {host}; not sent, retried as scheduled "
        "(one probe after 30 s)" for k in range(3, len(timed_out) + 1)}
    assert all(a["status"] == "failed" and a["next_attempt_at"] for a in dead)  # retried as usual
    # the 19 others all went through, and none waited for the dead one's deadline
    first_timeout = min(a["finished_at"] for a in timed_out)
    for sub_id, rx in zip(live_ids, live, strict=True):
        rows = attempts_of(db_path, sub_id)
        assert [a["status"] for a in rows] == ["succeeded"] * 12 and len(rx.requests) == 12
        assert max(a["finished_at"] for a in rows) <= first_timeout


def test_an_open_breaker_sends_nothing_until_the_cooldown_then_one_probe_closes_it(db_path, blackhole):
    store = Store.open(db_path)
    sub_id = add(store, blackhole.url())
    emit_pending(store, 6)
    clock = Clock()
    settings = settings_for(db_path, per_host_concurrency=1, breaker_failures=3)
    dispatcher = Dispatcher(store, settings, clock=clock, rng=random.Random(1))
    try:
        dispatcher.deliver_due()  # one at a time: 3 time out, then the breaker keeps the other 3 back
        assert [a["error_class"] for a in attempts_of(db_path, sub_id)] == ["timeout"] * 3 + ["circuit_open"] * 3
        assert blackhole.connections == 3

        clock.now += timedelta(seconds=10)  # the kept-back ones' retries are due (5 s ±20%); the cooldown is not over
        assert dispatcher.deliver_due() == []
        assert [a["error_class"] for a in attempts_of(db_path, sub_id)][6:] == ["circuit_open"] * 3
        assert blackhole.connections == 3

        blackhole.answer()
        dispatcher.settings = replace(settings, per_host_concurrency=8)  # all at once: only the probe may go
        clock.now += timedelta(minutes=2)  # past the cooldown: the 3 timeouts' retries (60 s) are due
        assert len(dispatcher.deliver_due()) == 1
        latest = attempts_of(db_path, sub_id)[9:]
        assert sorted(a["error_class"] or a["status"] for a in latest) == ["circuit_open"] * 2 + ["succeeded"]
        assert blackhole.connections == 4

        clock.now += timedelta(hours=1)  # the probe closed it: the 5 retries kept back (5 min) all go
        assert len(dispatcher.deliver_due()) == 5
        assert [a["status"] for a in attempts_of(db_path, sub_id)][12:] == ["succeeded"] * 5
    finally:
        dispatcher.close()
        store.close()


def test_per_host_concurrency_caps_exchanges_at_once_to_each_destination(config_path, receiver, add_sub):
    config_path.write_text(config_path.read_text() + "\n[delivery]\nper_host_concurrency = 3\n")
    slow = [receiver(lambda *a: time.sleep(0.2)) for _ in range(2)]  # two destinations
    for rx in slow:
        for n in range(12):  # twelve subscriptions on each: one destination, whatever the path
            add_sub(rx.url(f"/s{n}"), "widget.deleted")
    with Hooks.open() as hooks:
        result = hooks.emit("t1", "widget.deleted", {"widget_id": "7", "name": "W"})
    assert [a.status for a in result.attempts] == ["succeeded"] * 24
    assert [len(rx.requests) for rx in slow] == [12, 12]
    assert [rx.max_in_flight for rx in slow] == [3, 3]  # global concurrency is 64: 12 at once without the limit


def test_limits_out_of_range_are_refused_with_the_key_named(config_path):
    config_path.write_text("[delivery]\nper_host_concurrency = 0\n")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == f"config {config_path}: key 'delivery.per_host_concurrency': must be greater than 0"
    config_path.write_text('[delivery]\nbreaker_cooldown = "soon"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith(f"config {config_path}: key 'delivery.breaker_cooldown': ")


def test_breaker_opens_after_failures_in_a_row_and_any_answer_resets_the_count():
    breaker, now = Breaker(3, timedelta(seconds=30)), utcnow()
    for n, error_class in enumerate(["timeout", "connect", None, "timeout", "reset"]):
        breaker.record("h:80", n, error_class, now)
    assert breaker.admit("h:80", 10, now)  # 2 in a row after the answer
    breaker.record("h:80", 10, "timeout", now)
    assert not breaker.admit("h:80", 11, now + timedelta(seconds=29))
    assert breaker.admit("other:80", 12, now)  # per destination
    assert breaker.admit("h:80", 13, now + timedelta(seconds=30))  # the probe
    assert not breaker.admit("h:80", 14, now + timedelta(seconds=31))  # one probe at a time
    breaker.record("h:80", 13, "timeout", now + timedelta(seconds=31))  # failed: open for a new cooldown
    assert not breaker.admit("h:80", 15, now + timedelta(seconds=60))
    assert breaker.admit("h:80", 16, now + timedelta(seconds=61))
    breaker.record("h:80", 16, None, now + timedelta(seconds=61))  # an HTTP answer (even a 5xx) closes it
    assert breaker.admit("h:80", 17, now + timedelta(seconds=61)) and breaker.admit("h:80", 18, now)


def test_a_probe_dropped_by_a_wound_down_round_does_not_close_its_destination_for_good():
    breaker, now = Breaker(1, timedelta(seconds=30)), utcnow()
    breaker.record("h:80", 1, "timeout", now)
    assert breaker.admit("h:80", 2, now + timedelta(seconds=30))  # the probe goes; its round is interrupted
    assert not breaker.admit("h:80", 3, now + timedelta(seconds=90))  # one probe at a time...
    breaker.forget_probes()  # ...until the wind-down says no send is on the wire
    assert breaker.admit("h:80", 3, now + timedelta(seconds=90))


def test_host_gate_lets_limit_through_per_destination_and_the_rest_wait_in_order():
    gate: HostGate[str] = HostGate(2)
    assert [gate.offer("a:80", x) for x in ("a1", "a2", "a3", "a4")] == ["a1", "a2", None, None]
    assert gate.offer("b:80", "b1") == "b1" and gate.waiting == 2
    assert gate.done("a:80") == "a3" and gate.done("a:80") == "a4" and gate.waiting == 0
    assert gate.done("a:80") is None and gate.done("a:80") is None
    assert gate.offer("a:80", "a5") == "a5" and gate.offer("a:80", "a6") == "a6" and gate.offer("a:80", "a7") is None


@pytest.mark.parametrize(("url", "host"), [
    ("http://Example.com/x", "example.com:80"), ("https://example.com/x", "example.com:443"),
    ("https://example.com:8443/x", "example.com:8443"), ("http://[::1]:9/x", "::1:9"),
])
def test_destination_is_host_and_port(url, host):
    assert destination(url) == host
