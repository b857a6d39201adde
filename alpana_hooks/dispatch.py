"""The delivery engine: claim attempts from the outbox, send them concurrently, record each result,
schedule retries and disable dead endpoints. No printing; the CLI renders what it returns."""

import json
import os
import queue
import random
import re
import secrets as secrets_module
import socket
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Callable

from alpana_hooks.config import Settings
from alpana_hooks.output import header_value
from alpana_hooks.store import Store
from alpana_hooks.timeutil import to_iso, utcnow

JITTER = 0.2
OVERLOAD_PENALTY = timedelta(seconds=60)
LEASE_MARGIN = timedelta(seconds=30)  # more than the store's busy timeout: a result waiting for the lock still holds its claim
NOT_RETRIED = ("resend", "ping")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_event_id(now: datetime) -> str:
    """'evt_' + a ULID: 48 bits of milliseconds then 80 random bits, so ids sort by time; no '.'."""
    value = (int(now.timestamp() * 1000) << 80) | secrets_module.randbits(80)
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_CROCKFORD[digit])
    return "evt_" + "".join(reversed(chars))


def event_body(*, event_type: str, event_id: str, tenant: str, data: dict, now: datetime) -> bytes:
    """The exact bytes every delivery of an event carries (and signs)."""
    envelope = {"type": event_type, "id": event_id, "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "tenant": tenant, "data": data}
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


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


class Dispatcher:
    """Sends claimed attempts with a shared connection pool, `concurrency` at a time."""

    def __init__(self, store: Store, settings: Settings, *, clock: Callable[[], datetime] = utcnow,
                 rng: random.Random | None = None):
        from alpana_hooks.delivery import Sender, SendPolicy

        self.store = store
        self.settings = settings
        self.clock = clock
        self.rng = rng or random.Random()
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.sender = Sender(SendPolicy(
            timeout_seconds=settings.timeout_seconds, connect_timeout_seconds=settings.connect_timeout_seconds,
            max_response_bytes=settings.max_response_bytes, allowed_networks=settings.allowed_networks,
            user_agent=settings.user_agent,
        ))

    def close(self) -> None:
        """Close the pooled connections."""
        self.sender.close()

    def send_attempts(self, attempt_ids: list[int]) -> list[int]:
        """Claim and send these attempts (emit, resend, ping); returns the ids this process sent."""
        queue_ = list(attempt_ids)

        def claim(count: int, lease_until: datetime) -> list[int]:
            won: list[int] = []
            while queue_ and not won:  # another process may have taken a whole batch: go on with the rest
                batch, queue_[:] = queue_[:count], queue_[count:]
                won = self.store.claim(batch, now=self.clock(), lease_until=lease_until, owner=self.owner)
            return won

        return self._run(claim)

    @property
    def claim_ticket(self) -> tuple:
        """(owner, lease_for(count)) for Store.record_event: attempts stored already claimed by this process."""
        return self.owner, self._lease_until

    def send_claimed(self, attempt_ids: list[int]) -> list[int]:
        """Send attempts this process already claimed (stored with claim_ticket)."""
        queue_ = list(attempt_ids)

        def take(count: int, lease_until: datetime) -> list[int]:
            batch, queue_[:] = queue_[:count], queue_[count:]
            return batch

        return self._run(take, still_claimed=lambda: queue_)

    def deliver_due(self) -> list[int]:
        """Send everything due: pending attempts, expired claims, retries whose time has come."""

        def claim(count: int, lease_until: datetime) -> list[int]:
            now = self.clock()
            ids = self.store.claim(None, now=now, lease_until=lease_until, owner=self.owner, limit=count)
            if len(ids) < count:
                ids += self.store.claim_due_retries(now=now, lease_until=lease_until, owner=self.owner,
                                                    limit=count - len(ids))
            return ids

        return self._run(claim)

    def _run(self, claim: Callable[[int, datetime], list[int]],
             still_claimed: Callable[[], list[int]] = list) -> list[int]:
        """Keep up to 2×concurrency sends queued, claiming more as they finish; record results in batches.
        Interrupted, it sends nothing more, records what finished and hands every unsent claim back
        (those in the pool's queue, those not started yet, and still_claimed(): the caller's own)."""
        width = self.settings.concurrency
        sent: list[int] = []
        in_flight: dict = {}
        unstarted: list[int] = []
        done: queue.SimpleQueue = queue.SimpleQueue()  # futures put themselves here when they finish
        exhausted = False
        pool = ThreadPoolExecutor(max_workers=width)
        try:
            while True:
                while not exhausted and len(in_flight) < 2 * width:
                    unstarted = claim(width, self._lease_until(len(in_flight) + width))
                    exhausted = not unstarted
                    while unstarted:
                        self._start(pool, in_flight, done, unstarted[0])
                        unstarted.pop(0)
                if not in_flight:
                    return sent
                futures = [done.get()]
                while not done.empty():
                    futures.append(done.get_nowait())
                sent += self._finish(in_flight, futures)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            self._finish(in_flight, [f for f in list(in_flight) if f.done() and not f.cancelled()])
            unsent = [context["id"] for context in in_flight.values()] + unstarted + list(still_claimed())
            self.store.release(unsent, owner=self.owner)
            raise
        finally:
            pool.shutdown(wait=True)

    def _finish(self, in_flight: dict, futures: list) -> list[int]:
        """Record these finished sends, then forget them (so an interrupted record still releases them)."""
        finished = [(in_flight[future], future.result()) for future in futures]
        self._record(finished)
        for future in futures:
            in_flight.pop(future)
        return [context["id"] for context, _ in finished]

    def _lease_until(self, queued: int) -> datetime:
        """A claim outlives every send queued ahead of it: rounds × the hard deadline, plus a margin."""
        rounds = -(-queued // self.settings.concurrency)
        return self.clock() + rounds * timedelta(seconds=self.settings.timeout_seconds) + LEASE_MARGIN

    def _start(self, pool, in_flight: dict, done, attempt_id: int) -> None:
        context = self.store.sending_context(attempt_id, self.clock())
        deleted = context["state"] is None
        if deleted or (context["state"] != "active" and context["trigger"] in ("emit", "retry")):
            # resends and pings were asked for by a person (resend checked --force): they go out regardless
            self._discard(context, f"subscription {context['subscription_id']} "
                                   f"{'was deleted' if deleted else 'is disabled'}; not sent")
            return
        future = pool.submit(self._send, context)
        in_flight[future] = context
        future.add_done_callback(done.put)

    def _send(self, context: dict):
        """In a worker thread: sign with a fresh timestamp and send."""
        from alpana_hooks.delivery import build_request

        started = self.clock()
        request = build_request(
            url=context["url"], body=bytes(context["body"]), msg_id=context["event_id"], secrets=context["secrets"],
            custom_headers=context["headers"], timestamp=int(started.timestamp()), user_agent=self.settings.user_agent,
        )
        return started, request, self.sender.send(request)

    def _discard(self, context: dict, why: str) -> None:
        outcome = {"status": "failed", "error_class": "discarded", "error": why, "finished_at": to_iso(self.clock())}
        self.store.record_results([(context["id"], outcome, None)], now=self.clock(),
                                  disable_after=self.settings.disable_after, owner=self.owner)

    def _record(self, finished: list) -> None:
        now = self.clock()
        items = []
        for context, (started, request, result) in finished:
            outcome = {
                "status": "succeeded" if result.succeeded else "failed",
                "started_at": to_iso(started),
                "finished_at": to_iso(now),
                "duration_ms": result.duration_ms,
                "url": request.url,
                "request_headers": json.dumps([[n, header_value(n, v)] for n, v in result.request_headers]),
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
            elif not result.succeeded and context["trigger"] not in NOT_RETRIED:
                retry_after = next((v for k, v in result.response_headers.items() if k.lower() == "retry-after"), None)
                delay = retry_delay(context["attempt_number"], self.settings.retry_schedule, result.status_code,
                                    result.error_class, retry_after, self.rng)
                if delay is not None:
                    outcome["next_attempt_at"] = to_iso(now + delay)
            items.append((context["id"], outcome, disable_reason))
        self.store.record_results(items, now=now, disable_after=self.settings.disable_after, owner=self.owner)
