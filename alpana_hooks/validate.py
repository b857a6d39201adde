"""Checks of user input (tenants, URLs; headers are in headers.py); pure. Each raises UsageError with one line."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from alpana_hooks.errors import UsageError

if TYPE_CHECKING:
    from alpana_hooks.model import State, Status

TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def tenant(name: str | None) -> str:
    """A tenant name, or an error saying how to give one."""
    if name is None or name == "":
        raise UsageError("no tenant: give --tenant NAME, set ALPANA_HOOKS_TENANT, or set default_tenant in the config file")
    if not TENANT.fullmatch(name):
        raise UsageError(f"invalid tenant {name!r}: use 1-64 ASCII letters, digits, '_', '.' or '-', starting with a letter or digit")
    return name


def url(value: str, *, require_https: bool) -> str:
    """An endpoint URL: http(s), with a host, no credentials, no fragment."""
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in value):
        raise UsageError(f"invalid URL {value!r}: it contains spaces or control characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise UsageError(f"invalid URL {value!r}: {_url_problem(str(exc))}") from None
    if parts.scheme not in ("http", "https"):
        raise UsageError(f"invalid URL {value!r}: the scheme must be http or https")
    if require_https and parts.scheme != "https":
        raise UsageError(f"invalid URL {value!r}: https is required ([security] require_https = true)")
    if not parts.hostname:
        raise UsageError(f"invalid URL {value!r}: it has no host")
    if parts.username is not None or parts.password is not None:
        raise UsageError(f"invalid URL {value!r}: credentials in the URL are not allowed; use --header 'Authorization: …'")
    if parts.fragment:
        raise UsageError(f"invalid URL {value!r}: a fragment (#…) is never sent; remove it")
    return normal_url(value)


DEFAULT_PORTS = {"http": 80, "https": 443}


def normal_url(value: str) -> str:
    """The one spelling of an endpoint URL that subscriptions are stored and compared by: scheme and host in
    lower case, no default port, an empty path as `/` (`HTTPS://X.EXAMPLE:443` is `https://x.example/`).
    Path and query stay as given. A URL that does not parse is returned as it is."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return value
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or port == DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def _url_problem(python_says: str) -> str:
    """What urllib's ValueError means, in this tool's words."""
    if python_says.startswith("Port"):
        return "the port must be a number from 0 to 65535"
    if "IPv6" in python_says or "IPv4" in python_says:
        return "the host in [brackets] must be a valid IPv6 address, closed by ]"
    if "NFKC" in python_says:
        return "the host has characters that change under Unicode normalization"
    return "it cannot be read as a URL"


def event_type(name: str, *, ping: bool = False) -> str:
    """The catalog name of an event type (UsageError when unknown)."""
    from alpana_hooks import events  # the catalog: imported when a command checks a type, not at --help

    try:
        return events.get_event_type(name, include_ping=ping).name
    except events.UnknownEventType as exc:
        raise UsageError(str(exc)) from None


def event_type_filter(name: str | None) -> str | None:
    """An optional event-type filter (ping included)."""
    return None if name is None else event_type(name, ping=True)


def state(value: State | str | None) -> State | None:
    """A --state value as a State (None stays None)."""
    from alpana_hooks.model import State

    if value is None:
        return None
    try:
        return State(value)
    except ValueError:
        raise UsageError(f"invalid --state {value!r}: use active or disabled") from None


def status(value: Status | str | None) -> Status | None:
    """A --status value as a Status (None stays None)."""
    from alpana_hooks.model import Status

    if value is None:
        return None
    try:
        return Status(value)
    except ValueError:
        raise UsageError(f"invalid --status {value!r}: use one of {', '.join(Status)}") from None


RATE = re.compile(r"([0-9]{1,6})/([smh])")
RATE_LIMIT_HELP = "use a count per second, minute or hour, e.g. 10/s, 600/m or 5000/h (none: no limit)"


def rate_limit(value: str) -> str | None:
    """A subscription's rate limit in its normal form ('10/s', '600/m', '5000/h'), or None for 'none'."""
    cleaned = value.strip().lower()
    if cleaned == "none":
        return None
    match = RATE.fullmatch(cleaned)
    if not match or int(match.group(1)) == 0:
        raise UsageError(f"invalid rate limit {value!r}: {RATE_LIMIT_HELP}")
    return f"{int(match.group(1))}/{match.group(2)}"
