"""Flat claim cost (issue 14, point 4): every query the delivery path runs on SQLite searches an index (or walks a
partial index that holds only the rows it wants), on a store with a finished history and statistics about it,
where SQLite's planner used to scan the attempts table in rowid order."""

import random
import re
import sqlite3
from datetime import timedelta

from alpana_hooks.config import Settings
from alpana_hooks.dispatch import Dispatcher
from alpana_hooks.events import event_body, new_event_id
from alpana_hooks.signing import generate_secret
from alpana_hooks.store import Store
from alpana_hooks.timeutil import utcnow

STATEMENTS = ("SELECT", "UPDATE", "INSERT", "DELETE", "WITH")


class Clock:
    def __init__(self):
        self.now = utcnow()

    def __call__(self):
        return self.now


def record(store: Store, n: int, claim=None) -> list[int]:
    now = utcnow()
    event_id = new_event_id(now)
    data = {"widget_id": str(n), "name": "W"}
    body = event_body(event_type="widget.deleted", event_id=event_id, tenant="t1", data=data, now=now)
    return store.record_event(tenant="t1", event_id=event_id, event_type="widget.deleted", data=data, body=body,
                              now=now, claim=claim)["attempt_ids"]


def plans(db_path, statements: list[str]) -> dict[str, list[str]]:
    """EXPLAIN QUERY PLAN of each distinct statement (values inlined), on a connection of its own."""
    conn = sqlite3.connect(db_path)
    try:
        return {sql: [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}")]
                for sql in dict.fromkeys(statements) if sql.lstrip().split(None, 1)[0].upper() in STATEMENTS}
    finally:
        conn.close()


def partial_indexes(db_path) -> set[str]:
    conn = sqlite3.connect(db_path)
    try:
        return {name for name, sql in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'")
                if sql and " WHERE " in sql}
    finally:
        conn.close()


def test_every_query_of_the_delivery_path_searches_an_index(db_path, receiver):
    rx = receiver(lambda path, headers, body: (500, {}, b"no") if path == "/fail" else None)
    store = Store.open(db_path)
    for path in ("/ok", "/fail"):
        store.add_subscription(tenant="t1", event_type="widget.deleted", url=rx.url(path), description="",
                               state="active", headers=[("X-Team", "bi")], secret=generate_secret(), now=utcnow())
    for n in range(100):  # other subscriptions, with their headers and secrets
        store.add_subscription(tenant=f"t{n}", event_type="widget.updated", url=rx.url("/other"), description="",
                               state="active", headers=[("X-Team", "bi"), ("X-Id", str(n))], secret=generate_secret(),
                               now=utcnow(), rate_limit="10/s" if n % 10 == 0 else None)
    for n in range(400):  # 800 attempts, of which the first 760 finished long ago: a store in use
        record(store, n)
    store.conn.execute("UPDATE attempts SET status = 'succeeded' WHERE id <= 760")
    store.conn.execute("ANALYZE")  # what PRAGMA optimize or an operator does: statistics that favour a rowid scan
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    clock = Clock()
    dispatcher = Dispatcher(store, Settings(database=db_path, config_file=None, tenant="t1",
                                            allowed_networks=("127.0.0.0/8",)), clock=clock, rng=random.Random(1))
    try:
        assert len(dispatcher.deliver_due()) == 40  # pending ones: half fail and schedule a retry
        clock.now += timedelta(hours=1)
        assert len(dispatcher.deliver_due()) == 20  # the retries
        dispatcher.send_claimed(record(store, 400, claim=dispatcher.claim_ticket()))  # emit
        store.extend_leases(dispatcher.owner, clock.now)  # the lease keeper's renewal
        store.release_all(owner=dispatcher.owner)  # the hand-back at the end
        assert store.rate_limited_backlog(clock.now) == (0, None)  # a one-shot deliver's wait for a rate limit
    finally:
        store.conn.set_trace_callback(None)
        dispatcher.close()
        store.close()
    planned = plans(db_path, statements)
    assert len(planned) >= 10
    partial = partial_indexes(db_path)
    scans = {sql: plan for sql, plan in planned.items() for line in plan if line.startswith("SCAN")
             and not (re.search(r" USING (COVERING )?INDEX (\w+)", line) and
                      re.search(r" USING (COVERING )?INDEX (\w+)", line).group(2) in partial)}
    assert scans == {}
    claim = next(plan for sql, plan in planned.items() if sql.startswith("SELECT a.id, a.subscription_id FROM attempts a"))
    # in id order, stops at the LIMIT; each attempt's subscription (its rate limit's next send time) by its key
    assert claim == ["SCAN a USING INDEX attempts_unfinished_by_id", "SEARCH s USING INTEGER PRIMARY KEY (rowid=?) LEFT-JOIN"]


def test_a_backlog_without_statistics_is_claimed_in_id_order_without_sorting_it(db_path):
    # deliver's store in the benchmark: every attempt pending and no ANALYZE. SQLite's planner then took the status
    # index and sorted every unfinished attempt by id for each claim of a few (27 ms a claim at 100,000 pending)
    store = Store.open(db_path)
    store.add_subscription(tenant="t1", event_type="widget.deleted", url="http://127.0.0.1:9/hook", description="",
                           state="active", headers=[], secret=generate_secret(), now=utcnow())
    pending = [record(store, n)[0] for n in range(50)]
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    now = utcnow()
    try:
        claimed = store.claim(None, now=now, lease_until=now + timedelta(minutes=1), owner="me", limit=10)
    finally:
        store.conn.set_trace_callback(None)
        store.close()
    assert claimed == pending[:10]
    claim = next(plan for sql, plan in plans(db_path, statements).items()
                 if sql.startswith("SELECT a.id, a.subscription_id FROM attempts a"))
    assert claim == ["SCAN a USING INDEX attempts_unfinished_by_id", "SEARCH s USING INTEGER PRIMARY KEY (rowid=?) LEFT-JOIN"]
