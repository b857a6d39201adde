"""DNS lookups in bounded daemon threads, waited for no longer than a send's deadline allows."""

from __future__ import annotations

import socket
import threading

from alpana_hooks.delivery.errors import DNSTimeout, ResolverBusy

# DNS lookups running at once. A lookup the deadline gave up on goes on in its thread until the system
# resolver gives up (10-40 s); lookups of the same name share one thread, and past this many a send fails.
MAX_PENDING_LOOKUPS = 64

_Key = tuple[str, int, int]  # host, port, address family


class _Lookup:
    """One getaddrinfo call running in a resolver thread, and its outcome once `done` is set."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.addresses: list[tuple] = []
        self.error: Exception | None = None


class Resolver:
    """getaddrinfo in daemon threads, so that a send waits for it no longer than it may: the system
    resolver cannot be interrupted and retries a silent name server for 10-40 s. Lookups of the same
    name share one thread; at most `max_pending` run at once."""

    def __init__(self, max_pending: int):
        self._lock = threading.Lock()
        self._pending: dict[_Key, _Lookup] = {}
        self._max_pending = max_pending

    def resolve(self, host: str, port: int, family: int, wait: float | None) -> tuple[list[tuple], Exception | None]:
        """(addresses, None) of getaddrinfo(host, port, family, SOCK_STREAM), or ([], the error) if it
        failed or did not finish within `wait` seconds."""
        key = (host, port, family)
        with self._lock:
            lookup = self._pending.get(key)
            if lookup is None:
                if len(self._pending) >= self._max_pending:
                    return [], ResolverBusy(f"{len(self._pending)} DNS lookups are still pending")
                lookup = self._pending[key] = _Lookup()
                threading.Thread(target=self._run, args=(key, lookup), name="alpana-hooks-resolver",
                                 daemon=True).start()
        if not lookup.done.wait(wait):
            return [], DNSTimeout(f"DNS lookup of {host} did not finish within {wait:.3g} s")
        return lookup.addresses, lookup.error

    def _run(self, key: _Key, lookup: _Lookup) -> None:
        host, port, family = key
        try:
            lookup.addresses = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
        except Exception as exc:  # noqa: BLE001 - handed to every send waiting for this lookup
            lookup.error = exc
        finally:
            with self._lock:
                del self._pending[key]
            lookup.done.set()


RESOLVER = Resolver(MAX_PENDING_LOOKUPS)
