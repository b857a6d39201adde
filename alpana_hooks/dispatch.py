"""The delivery engine: claim attempts from the outbox, send them concurrently, record each result,
schedule retries and disable dead endpoints. No printing; the CLI renders what it returns."""

import concurrent.futures
import json
import os
import queue
import random
import re
import secrets as secrets_module
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

from alpana_hooks.config import Settings
from alpana_hooks.errors import HooksError, StoreUnavailable
from alpana_hooks.headers import shown
from alpana_hooks.model import NOT_RETRIED, ErrorClass, SendingContext, State, Status
from alpana_hooks.store import Store
from alpana_hooks.timeutil import to_iso, utcnow

JITTER = 0.2
OVERLOAD_PENALTY = timedelta(seconds=60)
LEASE_MARGIN = timedelta(seconds=30)  # a claim outlives its send's deadline by this: several missed renewals
RENEW_EVERY = 5.0  # seconds between renewals of the leases a working process holds
LONGEST_WAIT = 60.0  # seconds: deliver --loop waits at most this long after rounds that found the store unwritable
RECORD_PATIENCE = 300.0  # seconds the results of sends that went out wait for a store that is locked or full
FIRST_PAUSE, LONGEST_PAUSE = 0.5, 5.0  # seconds between tries to write them, doubling


def retry_delay(attempt_number: int, schedule: tuple[timedelta, ...], status_code: int | None,
                error_class: str | None, retry_after: str | None, rng: random.Random) -> timedelta | None:
    """The wait before the next try after attempt `attempt_number` failed; None when the schedule is used up."""
    if attempt_number > len(schedule):
        return None
    step = schedule[attempt_number - 1]
    asked = _retry_after_seconds(retry_after)
    if asked is not None:
        delay = min(max(timedelta(seconds=asked), step), 2 * step)
    else:
        delay = step * rng.uniform(1 - JITTER, 1 + JITTER)
    if status_code == 429 or error_class == "timeout":
        delay = max(delay, OVERLOAD_PENALTY)
    return delay


def _retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"[0-9]{1,9}", value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return min(max(0.0, (when - utcnow()).total_seconds()), 1e9)


class StoreUnwritable(HooksError):
    """The store stayed locked or full (or failed) longer than RECORD_PATIENCE. `held` names the attempts that were
    sent and whose results are not written (kept in memory: a later round of the same dispatcher writes them);
    `interrupted` says the process is stopping (Ctrl-C, SIGTERM), so they will not be."""

    def __init__(self, reason: str, held: list[int], *, interrupted: bool = False):
        self.reason, self.held, self.interrupted = reason, held, interrupted
        if held:
            super().__init__(f"the store cannot be written ({reason}): attempts {', '.join(map(str, held))} were sent "
                             "and are not recorded; a later deliver will send them again")
        else:
            super().__init__(f"the store cannot be written: {reason}")


class Dispatcher:
    """Sends claimed attempts `concurrency` at a time, with one thread pool and one connection pool for its whole
    life; renews its claims' leases while it works; holds results in memory until the store takes them."""

    def __init__(self, store: Store, settings: Settings, *, clock: Callable[[], datetime] = utcnow,
                 rng: random.Random | None = None):
        from alpana_hooks.delivery import Sender, SendPolicy

        self.store = store
        self.settings = settings
        self.clock = clock
        self.rng = rng or random.Random()
        # one owner per engine, not per process: another thread's engine never releases this one's claims
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets_module.token_hex(4)}"
        self.sender = Sender(SendPolicy.from_settings(settings))
        self.recorded = {Status.SUCCEEDED: 0, Status.FAILED: 0}  # sends whose results this dispatcher wrote
        self.on_recorded: Callable[[list[int]], None] | None = None  # told the ids of each batch of them
        self._held: list[tuple] = []  # results of sends that went out, not written yet
        self._pool: ThreadPoolExecutor | None = None
        self._keeper: _LeaseKeeper | None = None

    def close(self) -> None:
        """Stop renewing leases, end the worker threads, close the pooled connections."""
        if self._keeper is not None:
            self._keeper.stop()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self.sender.close()

    def claim_ticket(self) -> tuple[str, datetime]:
        """(owner, lease_until) for Store.record_event and add_resend: attempts stored already claimed by this
        process, whose leases it renews from now on."""
        self._workers()
        return self.owner, self._lease_until()

    def send_claimed(self, attempt_ids: list[int]) -> list[int]:
        """Send attempts this process already claimed (stored with claim_ticket)."""
        queue_ = list(attempt_ids)

        def take(count: int, lease_until: datetime) -> list[int]:
            batch, queue_[:] = queue_[:count], queue_[count:]
            return batch

        return self._run(take)

    def hand_back(self, give_up_at: float | None = None) -> None:
        """Hand every claim this dispatcher holds and has not sent back as pending (call it when nothing is in
        flight), retrying while the store is locked or full; if it stays so, their leases expire instead
        (within one lease, as nobody renews them)."""
        keep = self._held_ids()
        try:
            _patiently(lambda: self.store.release_all(owner=self.owner, keep=keep),
                       time.monotonic() + RECORD_PATIENCE if give_up_at is None else give_up_at)
        except (sqlite3.OperationalError, KeyboardInterrupt):
            pass

    def deliver_due(self) -> list[int]:
        """Send everything due: pending attempts, expired claims, retries whose time has come (after writing
        the results a failed round still holds)."""

        def claim(count: int, lease_until: datetime) -> list[int]:
            now = self.clock()
            ids = self.store.claim(None, now=now, lease_until=lease_until, owner=self.owner, limit=count)
            if len(ids) < count:
                ids += self.store.claim_due_retries(now=now, lease_until=lease_until, owner=self.owner,
                                                    limit=count - len(ids))
            return ids

        self._flush()
        return self._run(claim)

    def rounds(self, loop: bool, interval: float, on_failed_round: Callable[[str], None]) -> None:
        """One round, or one every interval until interrupted, waiting longer after rounds that found the store
        unwritable."""
        wait = interval
        while True:
            try:
                self.deliver_due()
                wait = interval
            except StoreUnwritable as exc:
                if not loop or exc.interrupted:
                    raise
                wait = min(2 * wait, max(LONGEST_WAIT, interval))
                held = f"; results of attempts {', '.join(map(str, exc.held))} held until it can" if exc.held else ""
                on_failed_round(f"round failed, the store cannot be written: {exc.reason}{held}; next round in {wait:g} s")
            except StoreUnavailable as exc:  # PostgreSQL went away: nothing half-written; the loop waits
                if not loop:
                    raise
                wait = min(2 * wait, max(LONGEST_WAIT, interval))
                on_failed_round(f"round failed: {exc}; next round in {wait:g} s")
            if not loop:
                return
            time.sleep(wait)

    def record_held(self) -> None:
        """Write the results a failed round left in memory, before the process ends; StoreUnwritable if it
        cannot (Ctrl-C or SIGTERM meanwhile gives up at once)."""
        try:
            self._flush()
        except KeyboardInterrupt:
            raise StoreUnwritable("interrupted while waiting for it", self._held_ids(), interrupted=True) from None

    def _run(self, claim: Callable[[int, datetime], list[int]]) -> list[int]:
        """Keep up to 2×concurrency sends queued, claiming more as they finish; record results as they come.
        Interrupted or failing, it sends nothing more, records what went out and hands every unsent claim back
        (queued, not started yet, or stored claimed by the caller: all claims of this owner)."""
        pool = self._workers()
        width = self.settings.concurrency
        sent: list[int] = []
        in_flight: dict = {}
        done: queue.SimpleQueue = queue.SimpleQueue()  # futures put themselves here when they finish
        exhausted = False
        claim_failure: sqlite3.OperationalError | None = None
        try:
            while True:
                while not exhausted and len(in_flight) < 2 * width:
                    try:
                        claimed = claim(width, self._lease_until())
                    except sqlite3.OperationalError as exc:
                        if not in_flight or not Store.unwritable_for_now(exc):
                            raise
                        claim_failure, claimed = exc, []  # claim no more; finish what is on the wire first
                    exhausted = not claimed
                    for attempt_id in claimed:
                        self._start(pool, in_flight, done, attempt_id)
                if not in_flight:
                    if claim_failure is not None:
                        raise StoreUnwritable(str(claim_failure), [])
                    return sent
                futures = [done.get()]
                while not done.empty():
                    futures.append(done.get_nowait())
                sent += self._finish(in_flight, futures)
        except BaseException as exc:
            self._wind_down(exc, in_flight)
            raise

    def _workers(self) -> ThreadPoolExecutor:
        """Start (once) the lease keeper and the worker threads that live as long as this dispatcher."""
        if self._keeper is None:
            self._keeper = _LeaseKeeper(self.store.location(), self.owner, self._lease_until)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.settings.concurrency, thread_name_prefix="alpana-send")
        return self._pool

    def _wind_down(self, cause: BaseException, in_flight: dict) -> None:
        """Start nothing more, wait for the sends on the wire, record them and hand the rest back. Raises
        StoreUnwritable when results of sends that went out cannot be written (the store was locked or full
        for RECORD_PATIENCE, or a second interrupt gave up waiting for it)."""
        reason = cause.reason if isinstance(cause, StoreUnwritable) else str(cause)
        give_up_at = time.monotonic() + (0 if isinstance(cause, StoreUnwritable) else RECORD_PATIENCE)
        try:
            for future in in_flight:
                future.cancel()
            concurrent.futures.wait(list(in_flight))
            self._hold(in_flight, [future for future in in_flight if not future.cancelled()])
            self._flush(give_up_at)
        except StoreUnwritable as exc:
            reason = exc.reason
        except KeyboardInterrupt:
            reason = "interrupted while waiting for it"
        finally:
            self.hand_back(give_up_at)
        if self._held or Store.unwritable_for_now(cause):
            raise StoreUnwritable(reason, self._held_ids(), interrupted=isinstance(cause, KeyboardInterrupt))

    def _finish(self, in_flight: dict, futures: list) -> list[int]:
        """Record these finished sends."""
        sent = self._hold(in_flight, futures)
        self._flush()
        return sent

    def _hold(self, in_flight: dict, futures: list) -> list[int]:
        """Turn finished sends into results held in memory, and forget them as in flight."""
        finished = [(in_flight[future], future.result()) for future in futures]
        self._held += self._outcomes(finished)
        for future in futures:
            in_flight.pop(future)
        return [context.id for context, _ in finished]

    def _flush(self, give_up_at: float | None = None) -> None:
        """Write the results held in memory, retrying while the store is locked or full (RECORD_PATIENCE, or
        until give_up_at). If it gives up they stay held and StoreUnwritable names them."""
        held = self._held
        if not held:
            return
        try:
            written = _patiently(
                lambda: self.store.record_results(held, now=self.clock(), disable_after=self.settings.disable_after,
                                                  owner=self.owner),
                time.monotonic() + RECORD_PATIENCE if give_up_at is None else give_up_at)
        except sqlite3.OperationalError as exc:
            raise StoreUnwritable(str(exc), self._held_ids()) from None
        self._held = []
        sent = [(attempt_id, outcome["status"]) for attempt_id, outcome, _ in held
                if attempt_id in written and outcome["error_class"] != ErrorClass.DISCARDED]
        for _, status in sent:
            self.recorded[status] += 1
        if sent and self.on_recorded is not None:
            self.on_recorded([attempt_id for attempt_id, _ in sent])

    def _held_ids(self) -> list[int]:
        """The attempts whose sends went out and whose results are held (discarded ones were never sent)."""
        return sorted(attempt_id for attempt_id, outcome, _ in self._held
                      if outcome["error_class"] != ErrorClass.DISCARDED)

    def _lease_until(self) -> datetime:
        """A claim outlives its send's deadline by a margin; the lease keeper renews it while the work goes on."""
        return self.clock() + timedelta(seconds=self.settings.timeout_seconds) + LEASE_MARGIN

    def _start(self, pool, in_flight: dict, done, attempt_id: int) -> None:
        context = self.store.sending_context(attempt_id, self.clock())
        deleted = context.state is None
        if deleted or (context.state != State.ACTIVE and context.trigger not in NOT_RETRIED):
            # resends and pings were asked for by a person (resend checked --force): they go out regardless
            self._discard(context, f"subscription {context.subscription_id} "
                                   f"{'was deleted' if deleted else 'is disabled'}; not sent")
            return
        future = pool.submit(self._send, context)
        in_flight[future] = context
        future.add_done_callback(done.put)

    def _send(self, context: SendingContext):
        """In a worker thread: sign with a fresh timestamp and send."""
        from alpana_hooks.delivery import build_request

        started = self.clock()
        request = build_request(
            url=context.url or "", body=context.body, msg_id=context.event_id, secrets=list(context.secrets),
            custom_headers=list(context.headers), timestamp=int(started.timestamp()), user_agent=self.settings.user_agent,
        )
        return started, request, self.sender.send(request)

    def _discard(self, context: SendingContext, why: str) -> None:
        outcome = {"status": Status.FAILED, "error_class": ErrorClass.DISCARDED, "error": why, "finished_at": to_iso(self.clock())}
        self._held.append((context.id, outcome, None))
        self._flush()

    def _outcomes(self, finished: list) -> list[tuple]:
        """(attempt id, columns to set, reason to disable) for each finished send, its retry scheduled."""
        now = self.clock()
        items = []
        for context, (started, request, result) in finished:
            outcome = {
                "status": Status.SUCCEEDED if result.succeeded else Status.FAILED,
                "started_at": to_iso(started),
                "finished_at": to_iso(now),
                "duration_ms": result.duration_ms,
                "url": request.url,
                "request_headers": json.dumps([[n, shown(n, v)] for n, v in result.request_headers]),
                "status_code": result.status_code,
                "response_headers": json.dumps(list(result.response_headers.items())),
                "response_headers_truncated": int(result.headers_truncated),
                "response_body": result.response_body,
                "response_truncated": int(result.truncated),
                "error_class": result.error_class,
                "error": result.error,
                "next_attempt_at": None,
            }
            disable_reason = None
            if result.status_code == 410:
                disable_reason = "the endpoint answered 410 Gone"
            elif not result.succeeded and context.trigger not in NOT_RETRIED:
                retry_after = next((v for k, v in result.response_headers.items() if k.lower() == "retry-after"), None)
                delay = retry_delay(context.attempt_number, self.settings.retry_schedule, result.status_code,
                                    result.error_class, retry_after, self.rng)
                if delay is not None:
                    outcome["next_attempt_at"] = to_iso(now + delay)
            items.append((context.id, outcome, disable_reason))
        return items


def _patiently(write: Callable, give_up_at: float):
    """Run a store write, retrying with doubling pauses while the store is locked or full, until give_up_at;
    then (or at once for any other error) the error is raised. Each try waits up to the busy timeout for a lock."""
    pause = FIRST_PAUSE
    while True:
        try:
            return write()
        except sqlite3.OperationalError as exc:
            if not Store.unwritable_for_now(exc) or time.monotonic() + pause > give_up_at:
                raise
        time.sleep(pause)
        pause = min(2 * pause, LONGEST_PAUSE)


class _LeaseKeeper:
    """A thread with its own connection that moves the owner's leases forward every RENEW_EVERY seconds: a
    working process keeps its claims however long its queue (or a store it waits for) holds them, and a dead
    one's expire within one lease."""

    def __init__(self, location: Path | str, owner: str, lease_until: Callable[[], datetime]):
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(location, owner, lease_until), daemon=True,
                                        name="alpana-hooks-leases")
        self._thread.start()

    def stop(self) -> None:
        """Stop renewing (the claims left are released or recorded by then)."""
        self._stopped.set()
        self._thread.join()

    def _run(self, location: Path | str, owner: str, lease_until: Callable[[], datetime]) -> None:
        store = None
        try:
            while not self._stopped.wait(RENEW_EVERY):
                try:
                    store = store or Store.open(location)
                    store.extend_leases(owner, lease_until())
                except Exception:  # noqa: BLE001 - locked, full or unreachable: the next tick tries again
                    pass
        finally:
            if store is not None:
                store.close()
