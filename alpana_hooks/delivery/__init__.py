"""Build a signed webhook request (no network), then send it under the safety rules.

Safety rules: redirects are never followed; no proxies or
~/.netrc from the environment; no cookies kept or sent; every resolved address is checked by
netpolicy at connect time and only an allowed one is dialled; a watchdog enforces one wall-clock
deadline over the whole exchange, and the DNS lookup is waited for within it; the response body is
read raw (never inflated) and capped, and so are the response headers kept. The request headers
reported are those written on the wire.

Modules: request (policy, request, result; no network), sender (Sender), pool (idle connections),
guard (the connection and response, http.client's overrides), deadline (the deadline and its watchdog), resolver (bounded DNS lookups),
outcome (what an exchange produced), errors (exception to error class).
"""

from alpana_hooks.delivery.guard import MAX_RESPONSE_HEADER_BYTES, MAX_RESPONSE_HEADERS
from alpana_hooks.delivery.request import OutgoingRequest, SendPolicy, SendResult, build_request
from alpana_hooks.delivery.resolver import MAX_PENDING_LOOKUPS
from alpana_hooks.delivery.sender import Sender

__all__ = [
    "MAX_PENDING_LOOKUPS",
    "MAX_RESPONSE_HEADERS",
    "MAX_RESPONSE_HEADER_BYTES",
    "OutgoingRequest",
    "SendPolicy",
    "SendResult",
    "Sender",
    "build_request",
]
