"""When and how fast the engine sends: the wait before a retry, at most N exchanges at once per destination,
a circuit breaker per destination, and the spacing of a subscription's rate limit. Pure: no I/O, no threads; the
dispatcher's main thread drives them (the store applies the rate limit inside its claim transaction)."""

from __future__ import annotations

import functools
import re
from collections import defaultdict, deque
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Generic, TypeVar
from urllib.parse import urlsplit

from alpana_hooks.model import ErrorClass
from alpana_hooks.timeutil import utcnow

if TYPE_CHECKING:  # the engine makes the generator: the store's readers (the UI's first screen) need not import it
    import random

JITTER = 0.2
OVERLOAD_PENALTY = timedelta(seconds=60)
# what opens a breaker: the destination did not answer at all (any HTTP answer, even a 5xx, closes it)
UNREACHABLE = (ErrorClass.CONNECT, ErrorClass.TIMEOUT, ErrorClass.RESET)

_Item = TypeVar("_Item")


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
    from email.utils import parsedate_to_datetime  # only for a Retry-After date: not on every import

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return min(max(0.0, (when - utcnow()).total_seconds()), 1e9)


def rate_spacing(rate_limit: str) -> timedelta:
    """The least time between two sends of a subscription limited to rate_limit ('10/s', '600/m', '5000/h'):
    sends spaced so, any window of one period holds at most count + 1 of them."""
    count, unit = rate_limit.split("/")
    return timedelta(seconds={"s": 1, "m": 60, "h": 3600}[unit]) / int(count)


def next_send_at(allowed_at: datetime | None, now: datetime, rate_limit: str) -> datetime:
    """A subscription's next allowed send time after one send now: the budget never banks idle time."""
    return max(allowed_at or now, now) + rate_spacing(rate_limit)


@functools.lru_cache(maxsize=4096)  # a subscription's URL is parsed once, not on every attempt
def destination(url: str | None) -> str:
    """The host:port a URL's exchanges go to (lower case, the scheme's port when none is given)."""
    try:
        parts = urlsplit(url or "")
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        return url or ""
    return f"{(parts.hostname or '').lower()}:{port}"


class HostGate(Generic[_Item]):
    """At most `limit` exchanges at once per destination; the items over it wait in line, in order."""

    def __init__(self, limit: int):
        self.limit = limit
        self._busy: dict[str, int] = defaultdict(int)
        self._waiting: dict[str, deque[_Item]] = defaultdict(deque)
        self.waiting = 0  # items in line, all destinations

    def offer(self, host: str, item: _Item) -> _Item | None:
        """The item back if it may go now (it takes a slot), None if it waits in line."""
        if self._busy[host] < self.limit:
            self._busy[host] += 1
            return item
        self._waiting[host].append(item)
        self.waiting += 1
        return None

    def done(self, host: str) -> _Item | None:
        """An exchange to host finished: the next item in its line (which takes over the slot), or None."""
        line = self._waiting.get(host)
        if line:
            self.waiting -= 1
            return line.popleft()
        self._busy[host] -= 1
        if not self._busy[host]:
            del self._busy[host]
            self._waiting.pop(host, None)
        return None


class Breaker:
    """A circuit breaker per destination. After `failures` unreachable results in a row it opens: nothing is sent
    there; once `cooldown` has passed since it opened, one probe goes (half-open); an answer closes it, another
    unreachable result opens it again for a new cooldown."""

    def __init__(self, failures: int, cooldown: timedelta):
        self.failures, self.cooldown = failures, cooldown
        self._in_a_row: dict[str, int] = {}
        self._opened_at: dict[str, datetime] = {}
        self._probe: dict[str, int] = {}  # destination -> the attempt sent as its probe, while on the wire

    def admit(self, host: str, attempt_id: int, now: datetime) -> bool:
        """Whether this attempt may be sent to host now; when the breaker is half-open it becomes the probe."""
        opened_at = self._opened_at.get(host)
        if opened_at is None:
            return True
        if host in self._probe or now < opened_at + self.cooldown:
            return False
        self._probe[host] = attempt_id
        return True

    def record(self, host: str, attempt_id: int, error_class: str | None, now: datetime) -> None:
        """A send to host finished with this error class (None: the destination answered)."""
        if self._probe.get(host) == attempt_id:
            del self._probe[host]
        if error_class not in UNREACHABLE:
            self._in_a_row.pop(host, None)
            self._opened_at.pop(host, None)
            return
        self._in_a_row[host] = self._in_a_row.get(host, 0) + 1
        if self._in_a_row[host] >= self.failures:
            self._opened_at[host] = now

    def forget_probes(self) -> None:
        """The sends in flight were dropped unrecorded (a round wound down): no probe is on the wire any more."""
        self._probe.clear()

    def why_open(self, host: str) -> str:
        """The error text of an attempt the open breaker kept back."""
        return (f"circuit open: {self._in_a_row.get(host, 0)} connection failures or timeouts in a row to {host}; "
                f"not sent, retried as scheduled (one probe after {self.cooldown.total_seconds():g} s)")
