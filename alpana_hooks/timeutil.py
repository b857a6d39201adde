"""Durations, timestamps and the clock; pure, no I/O."""

import re
from datetime import datetime, timedelta, timezone

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+)([smhdw])")
_DURATION = re.compile(r"(?:\d+[smhdw])+")
MAX_DURATION_SECONDS = 36500 * 86400


def utcnow() -> datetime:
    """The current time, in UTC."""
    return datetime.now(timezone.utc)


def parse_duration(text: str) -> timedelta:
    """'90s', '5m', '2h', '5d', '1w' or combinations such as '1h30m'; raises ValueError."""
    cleaned = text.strip().lower()
    if not _DURATION.fullmatch(cleaned):
        raise ValueError(f"invalid duration {text!r}: use a number and a unit (s, m, h, d, w), e.g. 30m or 2h")
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(cleaned))
    if seconds > MAX_DURATION_SECONDS:  # larger ones overflow datetime arithmetic (OverflowError, a traceback)
        raise ValueError(f"invalid duration {text!r}: at most 100 years (36500d)")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The shortest exact form of a duration: 300 s -> '5m'."""
    seconds = int(delta.total_seconds())
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def to_iso(moment: datetime) -> str:
    """A UTC timestamp that sorts as text: 2026-11-28T17:48:17.123456Z."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_iso(text: str) -> datetime:
    """Parse a timestamp written by to_iso (or any ISO-8601 form with an offset)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment


def parse_since(text: str, now: datetime) -> datetime:
    """'--since' values: a duration back from now ('2h') or an ISO-8601 time."""
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        return from_iso(text.strip()).astimezone(timezone.utc)
    except (ValueError, OverflowError):  # OverflowError: an offset pushes it out of datetime's range
        raise ValueError(f"invalid --since {text!r}: give a duration such as 2h or a time such as 2026-11-28T09:00:00Z") from None
