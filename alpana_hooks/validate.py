"""Checks of user input (tenants, URLs, headers); pure. Each raises UsageError with one line."""

import re
from urllib.parse import urlsplit

from alpana_hooks.errors import UsageError

TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
MAX_HEADER_VALUE_BYTES = 4096
RESERVED_HEADERS = frozenset(
    {"host", "content-length", "content-type", "content-encoding", "transfer-encoding", "connection",
     "keep-alive", "te", "trailer", "trailers", "upgrade", "expect", "user-agent", "accept-encoding"}
)
RESERVED_PREFIXES = ("proxy-", "webhook-")


def tenant(name: str | None) -> str:
    """A tenant name, or an error saying how to give one."""
    if name is None or name == "":
        raise UsageError("no tenant: give --tenant NAME, set ALPANA_HOOKS_TENANT, or set default_tenant in the config file")
    if not TENANT.fullmatch(name):
        raise UsageError(f"invalid tenant {name!r}: use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit")
    return name


def url(value: str, *, require_https: bool) -> str:
    """An endpoint URL: http(s), with a host, no credentials, no fragment."""
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in value):
        raise UsageError(f"invalid URL {value!r}: it contains spaces or control characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise UsageError(f"invalid URL {value!r}: {exc}") from None
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
    return value


def header_name(name: str) -> str:
    """An RFC 9110 token that is not one of the headers this tool sets itself, also not once '_' reads as '-'."""
    if not HEADER_NAME.fullmatch(name):
        raise UsageError(f"invalid header name {name!r}: use letters, digits and !#$%&'*+-.^_`|~ only")
    lower = name.lower()
    if _reserved(lower):
        raise UsageError(f"header {name!r} is set by alpana-hooks itself and cannot be overridden")
    hyphenated = lower.replace("_", "-")
    if _reserved(hyphenated):  # WSGI/CGI receivers read both spellings as the same HTTP_… variable
        raise UsageError(f"header {name!r} is refused: WSGI and CGI receivers read it as {hyphenated!r}, "
                         "which alpana-hooks sets itself")
    return name


def _reserved(lower_name: str) -> bool:
    return lower_name in RESERVED_HEADERS or lower_name.startswith(RESERVED_PREFIXES)


def header_value(name: str, value: str) -> str:
    """A header value with no control characters (C0, DEL, C1), latin-1, at most 4,096 bytes, no edge spaces."""
    if any((ord(ch) < 0x20 and ch != "\t") or 0x7F <= ord(ch) <= 0x9F for ch in value):
        raise UsageError(f"invalid value for header {name!r}: it contains control characters (CR, LF, NUL, …)")
    if value != value.strip(" \t"):
        raise UsageError(f"invalid value for header {name!r}: it starts or ends with whitespace")
    try:
        encoded = value.encode("latin-1")
    except UnicodeEncodeError:
        raise UsageError(f"invalid value for header {name!r}: only latin-1 characters can be sent") from None
    if len(encoded) > MAX_HEADER_VALUE_BYTES:
        raise UsageError(f"invalid value for header {name!r}: {len(encoded)} bytes, at most {MAX_HEADER_VALUE_BYTES}")
    return value


def header(name: str, value: str) -> tuple[str, str]:
    """A (name, value) pair, both checked."""
    name = header_name(name)
    return name, header_value(name, value)


def header_line(line: str) -> tuple[str, str]:
    """'Key: Value' from --header, checked."""
    name, sep, value = line.partition(":")
    if not sep:
        raise UsageError(f"invalid --header {line!r}: use 'Key: Value'")
    name = header_name(name.strip())
    return name, header_value(name, value.strip(" "))


def unique_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Refuse the same header name twice (names are case-insensitive)."""
    seen: set[str] = set()
    for name, _ in headers:
        if name.lower() in seen:
            raise UsageError(f"header {name!r} is given twice")
        seen.add(name.lower())
    return headers
