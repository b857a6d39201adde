"""The only package that speaks SQL: a store that opens and migrates itself and offers domain methods,
one module per thing stored."""

from alpana_hooks.store.attempts import AttemptStore
from alpana_hooks.store.claims import ClaimStore
from alpana_hooks.store.connection import BUSY_TIMEOUT_SECONDS, SCHEMA_VERSION
from alpana_hooks.store.outbox import OutboxStore
from alpana_hooks.store.subscriptions import SubscriptionStore

__all__ = ["BUSY_TIMEOUT_SECONDS", "SCHEMA_VERSION", "Store"]


class Store(SubscriptionStore, OutboxStore, AttemptStore, ClaimStore):
    """A tenant-aware view of one SQLite file."""
