"""Checks of user input (tenants, URLs; headers are in headers.py); pure. Each raises UsageError with one line."""

import re
from urllib.parse import urlsplit

from alpana_hooks.errors import UsageError

TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


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
