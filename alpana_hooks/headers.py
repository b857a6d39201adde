"""Extra headers: what a subscription may set (RFC 9110 names, safe values, not ours), and which values are
credentials to mask wherever they are shown or recorded; pure. Checks raise UsageError with one line."""

import re

from alpana_hooks.errors import UsageError

HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
MAX_HEADER_VALUE_BYTES = 4096
RESERVED_HEADERS = frozenset(
    {"host", "content-length", "content-type", "content-encoding", "transfer-encoding", "connection",
     "keep-alive", "te", "trailer", "trailers", "upgrade", "expect", "user-agent", "accept-encoding"}
)
RESERVED_PREFIXES = ("proxy-", "webhook-")
MASK = "********"
SENSITIVE_WORDS = ("authorization", "cookie", "token", "secret", "key", "password", "passwd", "auth", "session",
                   "credential", "signature")


def is_sensitive(header_name: str) -> bool:
    """Whether a header's value is a credential to be masked."""
    lower = header_name.lower()
    return any(word in lower for word in SENSITIVE_WORDS)


def shown(name: str, value: str, reveal: bool = False) -> str:
    """A header value as shown or recorded: masked when sensitive unless revealed."""
    return value if reveal or not is_sensitive(name) else MASK


def header_name(name: str) -> str:
    """An RFC 9110 token that is not one of the headers this tool sets itself, also not once '_' reads as '-'."""
    if not HEADER_NAME.fullmatch(name):
        raise UsageError(f"invalid header name {name!r}: use ASCII letters, digits and !#$%&'*+-.^_`|~ only")
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
