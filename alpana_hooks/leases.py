"""The leases of a working engine's claims, kept alive: a thread with its own store connection renews them while
the process works, so a claim outlives a long queue, and a dead process's claims expire within one lease."""

import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from alpana_hooks.store import Store

RENEW_EVERY = 5.0  # seconds between renewals of the leases a working process holds


class LeaseKeeper:
    """A thread with its own connection that moves the owner's leases forward every RENEW_EVERY seconds: a
    working process keeps its claims however long its queue (or a store it waits for) holds them, and a dead
    one's expire within one lease."""

    def __init__(self, location: Path | str, owner: str, lease_until: Callable[[], datetime]):
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(location, owner, lease_until), daemon=True,
                                        name="alpana-hooks-leases")
        self._thread.start()

    def stop(self) -> None:
        """Stop renewing (the claims left are released or recorded by then)."""
        self._stopped.set()
        self._thread.join()

    def _run(self, location: Path | str, owner: str, lease_until: Callable[[], datetime]) -> None:
        store = None
        try:
            while not self._stopped.wait(RENEW_EVERY):
                try:
                    store = store or Store.open(location)
                    store.extend_leases(owner, lease_until())
                except Exception:  # noqa: BLE001 - locked, full or unreachable: the next tick tries again
                    pass
        finally:
            if store is not None:
                store.close()
