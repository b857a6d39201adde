"""The delivery engine: claim attempts from the outbox, send them concurrently, record each result,
schedule retries and disable dead endpoints. No printing; the CLI renders what it returns."""

import json
import os
import random
import secrets as secrets_module
import socket
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from alpana_hooks import signals
from alpana_hooks.config import Settings
from alpana_hooks.errors import HooksError, StoreUnavailable
from alpana_hooks.headers import shown
from alpana_hooks.leases import LeaseKeeper
from alpana_hooks.model import NOT_RETRIED, NOT_SENT, ErrorClass, SendingContext, State, Status
from alpana_hooks.pacing import Breaker, HostGate, destination, retry_delay
from alpana_hooks.store import Store
from alpana_hooks.timeutil import to_iso, utcnow
from alpana_hooks.workers import Workers

LEASE_MARGIN = timedelta(seconds=30)  # a claim outlives its send's deadline by this: several missed renewals
LONGEST_WAIT = 60.0  # seconds: the longest wait of deliver --loop after failed rounds, of deliver for a rate limit
RECORD_PATIENCE = 300.0  # seconds the results of sends that went out wait for a store that is locked or full
FIRST_PAUSE, LONGEST_PAUSE = 0.5, 5.0  # seconds between tries to write them, doubling
# Results are written in batches: when this many are held, when the oldest has waited WRITE_EVERY seconds, and when
# a round's sends are done. One transaction per finished send cost a third of the CPU of a send to a fast receiver;
# 128 rather than 32 took ~7% off deliver's CPU per attempt (fewer commits, each index page written once per batch).
WRITE_AT, WRITE_EVERY = 128, 0.25


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
        self.breaker = Breaker(settings.breaker_failures, settings.breaker_cooldown)  # for its whole life
        self.on_recorded: Callable[[list[int]], None] | None = None  # told the ids of each batch of them
        # results of sends that went out, not written yet: workers append, the main thread copies it and deletes
        # the prefix it wrote, each one list operation (atomic under the GIL), so no interrupt can lose one
        self._held: list[tuple] = []
        self._pool: Workers[tuple[SendingContext, str]] | None = None  # sends (with their destinations)
        self._write_by: float | None = None  # monotonic time by which the results held are written
        self._claims_left = False  # a wind-down could not hand its unsent claims back: the next round does
        self._keeper: LeaseKeeper | None = None

    def close(self) -> None:
        """Stop renewing leases, end the worker threads, close the pooled connections."""
        if self._keeper is not None:
            self._keeper.stop()
        if self._pool is not None:
            self._pool.join()
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

        sent: list[int] = []
        self._run(take, sent.extend)
        return sent

    def hand_back(self, give_up_at: float | None = None) -> None:
        """Hand every claim this dispatcher holds and has not sent back as pending (call it when nothing is in
        flight), retrying while the store is locked or full; if it stays so, the next round of this dispatcher
        hands them back (the lease keeper renews them meanwhile), or, if the process ends, their leases expire."""
        keep = self._held_ids()
        self._claims_left = True
        try:
            _patiently(lambda: self.store.release_all(owner=self.owner, keep=keep),
                       time.monotonic() + RECORD_PATIENCE if give_up_at is None else give_up_at,
                       self.store.unwritable_for_now)
            self._claims_left = False
        except KeyboardInterrupt:
            pass
        except Exception as exc:
            if not self.store.unwritable_for_now(exc):
                raise

    def deliver_due(self) -> list[int]:
        """Send everything due: pending attempts, expired claims, retries whose time has come (after writing
        the results a failed round still holds); the ids of the attempts sent."""
        sent: list[int] = []
        self._deliver_due(sent.extend)
        return sent

    def _deliver_due(self, on_sent: Callable[[list[int]], object]) -> None:
        """deliver_due, telling on_sent the ids of each batch sent (rounds keeps none: a backlog of 100,000
        would be a list of 100,000 ids)."""

        def claim(count: int, lease_until: datetime) -> list[int]:
            now = self.clock()
            ids = self.store.claim(None, now=now, lease_until=lease_until, owner=self.owner, limit=count)
            if len(ids) < count:
                ids += self.store.claim_due_retries(now=now, lease_until=lease_until, owner=self.owner,
                                                    limit=count - len(ids))
            return ids

        self._flush()
        if self._claims_left:
            self.hand_back()
        self._run(claim, on_sent)

    def rounds(self, loop: bool, interval: float, on_failed_round: Callable[[str], None]) -> None:
        """One round, or one every interval until interrupted, waiting longer after rounds that found the store
        unwritable. Attempts waiting for a subscription's rate limit bring the next round forward to when it
        allows a send; a one-shot run goes on for them while that is at most LONGEST_WAIT away."""
        wait = interval
        while True:
            budget: float | None = None  # seconds until a rate limit lets a waiting attempt go
            try:
                self._deliver_due(lambda ids: None)
                wait = interval
                _, allowed_at = self.store.rate_limited_backlog(self.clock())
                budget = None if allowed_at is None else max((allowed_at - self.clock()).total_seconds(), 0.01)
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
            if not loop and (budget is None or budget > LONGEST_WAIT):
                return
            time.sleep(wait if budget is None else (min(wait, budget) if loop else budget))

    def record_held(self) -> None:
        """Write the results a failed round left in memory, before the process ends; StoreUnwritable if it
        cannot (Ctrl-C or SIGTERM meanwhile gives up at once)."""
        try:
            self._flush()
        except KeyboardInterrupt:
            raise StoreUnwritable("interrupted while waiting for it", self._held_ids(), interrupted=True) from None

    def _run(self, claim: Callable[[int, datetime], list[int]], on_sent: Callable[[list[int]], object]) -> None:
        """Keep up to 2×concurrency sends queued or waiting for their destination, claiming more as they finish;
        record results as they come. Interrupted or failing, it sends nothing more, records what went out and
        hands every unsent claim back (queued, waiting, or stored claimed by the caller: all claims of this owner).
        on_sent is told the ids of the sends that went out, as they finish."""
        round_ = _Round(self._workers(), self.settings.per_host_concurrency)
        width = self.settings.concurrency
        exhausted = False
        claim_failure: Exception | None = None
        try:
            while True:
                while not exhausted and round_.pool.outstanding + round_.gate.waiting < 2 * width:
                    try:
                        claimed = claim(width, self._lease_until())
                    except Exception as exc:
                        if not round_.pool.outstanding or not self.store.unwritable_for_now(exc):
                            raise
                        claim_failure, claimed = exc, []  # claim no more; finish what is on the wire first
                    exhausted = not claimed
                    now = self.clock()
                    for context in self.store.sending_contexts(claimed, now):
                        self._start(round_, context, now)
                if not round_.pool.outstanding:
                    self._flush()  # attempts the breaker kept back
                    if claim_failure is not None:
                        raise StoreUnwritable(str(claim_failure), [])
                    return
                on_sent(self._finish(round_, round_.pool.take(WRITE_EVERY)))
        except BaseException as exc:
            self._wind_down(exc)
            raise

    def _workers(self) -> Workers[tuple[SendingContext, str]]:
        """Start (once) the lease keeper and the worker threads that live as long as this dispatcher."""
        if self._keeper is None:
            with signals.held():  # its thread never takes a Ctrl-C meant for the main thread
                self._keeper = LeaseKeeper(self.store.location(), self.owner, self._lease_until)
        if self._pool is None:
            self._pool = Workers(self.settings.concurrency, self._send, "alpana-send")
        return self._pool

    def _wind_down(self, cause: BaseException) -> None:
        """Start nothing more, wait for the sends on the wire, record them and hand the rest back. Raises
        StoreUnwritable when results of sends that went out cannot be written (the store was locked or full
        for RECORD_PATIENCE, or a second interrupt gave up waiting for it).

        It waits for every send the workers began, not for those _run counted: an interrupt can land just after
        a send was queued, and that send may still happen."""
        reason = cause.reason if isinstance(cause, StoreUnwritable) else str(cause)
        give_up_at = time.monotonic() + (0 if isinstance(cause, StoreUnwritable) else RECORD_PATIENCE)
        try:
            pool, self._pool = self._pool, None  # the next round starts new workers
            if pool is not None:
                pool.stop()
            self.breaker.forget_probes()  # the finished sends' results are held, their breaker records dropped
            self._flush(give_up_at)
        except StoreUnwritable as exc:
            reason = exc.reason
        except KeyboardInterrupt:
            reason = "interrupted while waiting for it"
        finally:
            self.hand_back(give_up_at)
        if self._held or Store.unwritable_for_now(cause):
            raise StoreUnwritable(reason, self._held_ids(), interrupted=isinstance(cause, KeyboardInterrupt))

    def _finish(self, round_: "_Round", finished: list[tuple[tuple[SendingContext, str], object]]) -> list[int]:
        """Tell the breaker how these finished sends went and start the next in line for each destination; write
        the results held (their workers hold them) when a batch is due. The ids of the sends that went out."""
        sent, now = [], self.clock()
        for (context, host), error_class in finished:
            if isinstance(error_class, BaseException):
                raise error_class
            self.breaker.record(host, context.id, error_class, now)  # type: ignore[arg-type]
            sent.append(context.id)
            self._go(round_, host, round_.gate.done(host), now)
        if self._held:
            ticks = time.monotonic()
            self._write_by = self._write_by or ticks + WRITE_EVERY
            if len(self._held) >= WRITE_AT or not round_.pool.outstanding or ticks >= self._write_by:
                self._flush()
        return sent

    def _flush(self, give_up_at: float | None = None) -> None:
        """Write the results held in memory, retrying while the store is locked or full (RECORD_PATIENCE, or
        until give_up_at). If it gives up they stay held and StoreUnwritable names them."""
        held = self._held[:]
        self._write_by = None
        if not held:
            return
        try:
            written = _patiently(
                lambda: self.store.record_results(held, now=self.clock(), disable_after=self.settings.disable_after,
                                                  owner=self.owner),
                time.monotonic() + RECORD_PATIENCE if give_up_at is None else give_up_at, self.store.unwritable_for_now)
        except Exception as exc:
            if not self.store.unwritable_for_now(exc):
                raise
            raise StoreUnwritable(str(exc), self._held_ids()) from None
        del self._held[:len(held)]  # workers only append: what was written is the prefix
        sent = [(attempt_id, outcome["status"]) for attempt_id, outcome, _ in held
                if attempt_id in written and outcome["error_class"] != ErrorClass.DISCARDED]  # circuit_open: failed
        for _, status in sent:
            self.recorded[status] += 1
        if sent and self.on_recorded is not None:
            self.on_recorded([attempt_id for attempt_id, _ in sent])

    def _held_ids(self) -> list[int]:
        """The attempts whose sends went out and whose results are held (discarded and circuit_open ones were
        never sent: their claims are handed back)."""
        return sorted(attempt_id for attempt_id, outcome, _ in self._held[:] if outcome["error_class"] not in NOT_SENT)

    def _lease_until(self) -> datetime:
        """A claim outlives its send's deadline by a margin; the lease keeper renews it while the work goes on."""
        return self.clock() + timedelta(seconds=self.settings.timeout_seconds) + LEASE_MARGIN

    def _start(self, round_: "_Round", context: SendingContext, now: datetime) -> None:
        deleted = context.state is None
        if deleted or (context.state != State.ACTIVE and context.trigger not in NOT_RETRIED):
            # resends and pings were asked for by a person (resend checked --force): they go out regardless
            self._discard(context, f"subscription {context.subscription_id} "
                                   f"{'was deleted' if deleted else 'is disabled'}; not sent")
            return
        host = destination(context.url)
        self._go(round_, host, round_.gate.offer(host, context), now)

    def _go(self, round_: "_Round", host: str, context: SendingContext | None, now: datetime) -> None:
        """Send this attempt, which holds a slot of its destination's; if that destination's breaker is open, fail
        it as circuit_open instead and hand the slot to the next in line."""
        while context is not None:
            if self.breaker.admit(host, context.id, now):
                round_.pool.put((context, host))
                return
            outcome = {"status": Status.FAILED, "error_class": ErrorClass.CIRCUIT_OPEN, "error": self.breaker.why_open(host),
                       "finished_at": to_iso(now), "next_attempt_at": self._next_try(context, now, None, None, None)}
            self._held.append((context.id, outcome, None))
            context = round_.gate.done(host)

    def _send(self, send: tuple[SendingContext, str]) -> str | None:
        """In a worker thread: sign with a fresh timestamp, send and hold the result; its error class."""
        from alpana_hooks.delivery import build_request

        context = send[0]
        started = self.clock()
        request = build_request(
            url=context.url or "", body=context.body, msg_id=context.event_id, secrets=list(context.secrets),
            custom_headers=list(context.headers), timestamp=int(started.timestamp()),
            user_agent=self.settings.user_agent,
        )
        result = self.sender.send(request)
        self._held.append(self._outcome(context, started, request, result))
        return result.error_class

    def _discard(self, context: SendingContext, why: str) -> None:
        outcome = {"status": Status.FAILED, "error_class": ErrorClass.DISCARDED, "error": why, "finished_at": to_iso(self.clock())}
        self._held.append((context.id, outcome, None))
        self._flush()

    def _outcome(self, context: SendingContext, started: datetime, request, result) -> tuple:
        """(attempt id, columns to set, reason to disable) for a finished send, its retry scheduled."""
        now = self.clock()
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
        elif not result.succeeded:
            retry_after = next((v for k, v in result.response_headers.items() if k.lower() == "retry-after"), None)
            outcome["next_attempt_at"] = self._next_try(context, now, result.status_code, result.error_class, retry_after)
        return context.id, outcome, disable_reason

    def _next_try(self, context: SendingContext, now: datetime, status_code: int | None, error_class: str | None,
                  retry_after: str | None) -> str | None:
        """When a failed attempt is tried again (None: it is not: asked for by a person, or the schedule is used up)."""
        if context.trigger in NOT_RETRIED:
            return None
        delay = retry_delay(context.attempt_number, self.settings.retry_schedule, status_code, error_class,
                            retry_after, self.rng)
        return None if delay is None else to_iso(now + delay)


def _patiently(write: Callable, give_up_at: float, for_now: Callable[[BaseException], bool]):
    """Run a store write, retrying with doubling pauses while the store is locked, full or (PostgreSQL)
    unreachable — errors `for_now` says may pass — until give_up_at; then (or at once for any other error) the
    error is raised. Each try waits up to the busy timeout for a lock."""
    pause = FIRST_PAUSE
    while True:
        try:
            return write()
        except Exception as exc:
            if not for_now(exc) or time.monotonic() + pause > give_up_at:
                raise
        time.sleep(pause)
        pause = min(2 * pause, LONGEST_PAUSE)


class _Round:
    """One _run's sends: the workers and the line per destination (HostGate)."""

    def __init__(self, pool: Workers[tuple[SendingContext, str]], per_host: int):
        self.pool = pool
        self.gate: HostGate[SendingContext] = HostGate(per_host)
