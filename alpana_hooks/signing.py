"""Standard Webhooks signatures (HMAC-SHA256, `v1,` scheme): sign and verify; pure, no I/O."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets as _random
from collections.abc import Mapping

SECRET_PREFIX = "whsec_"
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
DEFAULT_TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """A secret, an id or a signed request failed a check; the message says which."""


def generate_secret() -> str:
    """Return a new secret: `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(_random.token_bytes(32)).decode("ascii")


def parse_secret(secret: str) -> bytes:
    """Return the key bytes of a `whsec_` secret, or raise SignatureError."""
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise SignatureError("secret is not whsec_ + base64 (missing whsec_ prefix)")
    encoded = secret[len(SECRET_PREFIX):]
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("secret is not whsec_ + base64") from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise SignatureError(
            f"secret decodes to {len(key)} bytes; it must be "
            f"{MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes"
        )
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Return the `v1,<base64>` signature of `msg_id.timestamp.body`."""
    if "." in msg_id:
        raise SignatureError(f"webhook id {msg_id!r} contains '.'")
    signed = f"{msg_id}.{int(timestamp)}.".encode() + bytes(body)
    digest = hmac.new(parse_secret(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """Return the webhook-signature value: one `v1,…` per secret, space-separated."""
    if not secrets:
        raise SignatureError("no signing secret")
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets)


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: int,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """Check a received webhook's headers and body; raise SignatureError with the reason."""
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = _required(lowered, "webhook-id")
    timestamp = _timestamp(_required(lowered, "webhook-timestamp"), now, tolerance_seconds)
    received = _required(lowered, "webhook-signature").split()
    expected = sign(secret, msg_id, timestamp, body).encode("ascii")
    for entry in received:
        if entry.startswith("v1,") and hmac.compare_digest(
            entry.encode("utf-8", "replace"), expected
        ):
            return
    if not any(entry.startswith("v1,") for entry in received):
        raise SignatureError("no v1 signature in webhook-signature header")
    raise SignatureError("no signature matches")


def _required(lowered: Mapping[str, str], name: str) -> str:
    """Return a header value, or raise SignatureError naming the missing header."""
    value = lowered.get(name)
    if not value:
        raise SignatureError(f"missing {name} header")
    return value


def _timestamp(value: str, now: int, tolerance: int) -> int:
    """Parse webhook-timestamp and check it lies within ±tolerance seconds of now."""
    if not re.fullmatch(r"[0-9]{1,15}", value.strip()):
        raise SignatureError(f"webhook-timestamp {value!r} is not an integer")
    timestamp = int(value)
    if now - timestamp > tolerance:
        raise SignatureError(
            f"timestamp too old ({now - timestamp} s > {tolerance} s tolerance)"
        )
    if timestamp - now > tolerance:
        raise SignatureError(
            f"timestamp too new ({timestamp - now} s ahead > {tolerance} s tolerance)"
        )
    return timestamp
