"""The exceptions a send raises of its own, and the mapping of any exception from an exchange to
(error class, one line of text)."""

from __future__ import annotations

import http.client
import re
import socket
import ssl
from urllib.parse import urlsplit

from alpana_hooks import netpolicy
from alpana_hooks.delivery.request import SendPolicy
from alpana_hooks.model import ErrorClass

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class ExchangeError(Exception):
    """A connection could not be made; the exception it comes from is its __cause__."""


class NameNotResolved(ExchangeError):
    """The host's name did not resolve."""


class ConnectFailed(ExchangeError):
    """No allowed address of the host accepted the connection."""


class ConnectTimeout(ExchangeError):
    """No allowed address of the host answered within the connect timeout."""


class HandshakeTimeout(ConnectTimeout):
    """The TLS handshake did not complete within the connect timeout."""


class DNSTimeout(Exception):
    """The DNS lookup did not finish within the connect timeout (it goes on in its resolver thread)."""


class ResolverBusy(Exception):
    """Too many DNS lookups are still pending to start another."""


# What Sender.send catches from an exchange and reports as a failed attempt.
NETWORK_ERRORS = (ExchangeError, http.client.HTTPException, netpolicy.BlockedAddress, OSError, ValueError)


_BROKEN = "connection to {target} broken: {leaf}"

# (exception types, error class, message) walked in order: the first rule with a type anywhere in the
# exception's chain names the error. Messages are str.format templates over the fields of _fields().
_RULES: tuple[tuple[tuple[type[BaseException], ...], ErrorClass, str], ...] = (
    ((DNSTimeout,), ErrorClass.DNS, "DNS lookup of {host} did not finish within {connect_timeout:g} s"),
    ((HandshakeTimeout,), ErrorClass.TIMEOUT,
     "TLS handshake with {target} did not complete within {connect_timeout:g} s"),
    ((NameNotResolved, socket.gaierror), ErrorClass.DNS, "cannot resolve {target}: {leaf}"),
    ((ssl.SSLError, ssl.CertificateError), ErrorClass.TLS, "TLS failure with {target}: {leaf}"),
    ((ConnectFailed, ConnectionRefusedError), ErrorClass.CONNECT, "cannot connect to {target}: {leaf}"),
    ((ConnectTimeout,), ErrorClass.TIMEOUT, "no connection to {target} within {connect_timeout:g} s"),
    ((TimeoutError,), ErrorClass.TIMEOUT, "no data from {target} for {timeout:g} s"),
    ((ConnectionError, http.client.IncompleteRead), ErrorClass.RESET, _BROKEN),
    ((http.client.HTTPException,), ErrorClass.INVALID_RESPONSE, "invalid HTTP response from {target}: {leaf}"),
)


def classify(exc: BaseException, url: str, policy: SendPolicy) -> tuple[ErrorClass, str]:
    """Map an exception from an exchange to (error_class, one line of text)."""
    chain = exception_chain(exc)
    blocked = next((item for item in chain if isinstance(item, netpolicy.BlockedAddress)), None)
    if blocked is not None:
        host = _host(url)
        prefix = "" if host == blocked.address else f"{host} resolves to {blocked.address}: "
        return ErrorClass.BLOCKED, _one_line(prefix + str(blocked))
    fields = _fields(chain[-1], url, policy)
    for types, error_class, template in _RULES:
        if any(isinstance(item, types) for item in chain):
            return error_class, _one_line(template.format(**fields))
    return ErrorClass.ERROR, _one_line("{kind}: {leaf}".format(**fields))


def names_its_timer(exc: BaseException | None) -> bool:
    """True if the exchange failed on a connect-phase timer whose message says which (DNS, TLS handshake)."""
    return exc is not None and any(isinstance(item, (DNSTimeout, HandshakeTimeout)) for item in exception_chain(exc))


def exception_chain(exc: BaseException) -> list[BaseException]:
    """The exception and the causes it wraps, outermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and not any(current is seen for seen in chain):
        chain.append(current)
        current = _wrapped(current)
    return chain


def _fields(leaf: BaseException, url: str, policy: SendPolicy) -> dict[str, object]:
    """What the messages of _RULES may name."""
    return {
        "target": _target(url),
        "host": _host(url),
        "leaf": _text(leaf),
        "kind": type(leaf).__name__,
        "connect_timeout": policy.connect_timeout,
        "timeout": policy.timeout_seconds,
    }


def _wrapped(exc: BaseException) -> BaseException | None:
    """The exception that `exc` wraps (its cause, argument or context)."""
    if exc.__cause__ is not None:
        return exc.__cause__
    inner = next((arg for arg in exc.args if isinstance(arg, BaseException)), None)
    if inner is not None:
        return inner
    return None if exc.__suppress_context__ else exc.__context__


def _text(exc: BaseException) -> str:
    """The human part of an exception's message."""
    strerror = getattr(exc, "strerror", None)
    return str(strerror) if strerror else (str(exc) or type(exc).__name__)


def _target(url: str) -> str:
    """host:port of a URL (host alone if the URL names no port), IPv6 in brackets, for messages."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    host = _host(url)
    host = f"[{host}]" if ":" in host else host
    return host if port is None else f"{host}:{port}"


def _host(url: str) -> str:
    """The host of a URL without IPv6 brackets, for messages."""
    try:
        return str(urlsplit(url).hostname)
    except ValueError:
        return url


def _one_line(text: str, limit: int = 500) -> str:
    """Collapse whitespace so the text fits on one line, escape control characters (a receiver's NUL would make
    PostgreSQL refuse the whole batch of results) and cap its length."""
    line = _CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", " ".join(text.split()))
    return line if len(line) <= limit else line[: limit - 1] + "…"
