"""The only package that speaks SQL: a store that opens and migrates itself and offers domain methods,
one module per thing stored, on a SQLite file or a PostgreSQL database (picked by the location)."""

from __future__ import annotations

from pathlib import Path

from alpana_hooks.config import is_postgres_url
from alpana_hooks.store.attempts import AttemptStore
from alpana_hooks.store.claims import ClaimStore
from alpana_hooks.store.connection import BUSY_TIMEOUT_SECONDS, SCHEMA_VERSION, TABLES
from alpana_hooks.store.outbox import OutboxStore
from alpana_hooks.store.stats import StatsStore
from alpana_hooks.store.subscriptions import SubscriptionStore

__all__ = ["BUSY_TIMEOUT_SECONDS", "SCHEMA_VERSION", "TABLES", "Store", "is_postgres_url", "open_store"]

def open_store(location: Path | str) -> Store:
    """The store at a location: a postgresql:// URL (psycopg 3, the `postgres` extra) or a SQLite file path."""
    if is_postgres_url(location):
        assert isinstance(location, str)
        try:
            from alpana_hooks.store.postgres import PostgresStore
        except ImportError as exc:
            from alpana_hooks.errors import UsageError

            raise UsageError(f"a PostgreSQL database needs psycopg: pip install 'alpana-hooks[postgres]' ({exc})") from None
        return PostgresStore.connect(location)
    return Store.open_file(Path(location))


class Store(SubscriptionStore, OutboxStore, AttemptStore, ClaimStore, StatsStore):
    """A tenant-aware view of one SQLite file or PostgreSQL database."""

    @classmethod
    def open(cls, location: Path | str) -> Store:
        """Open (create and migrate) the store at a path or a postgresql:// URL."""
        return open_store(location)

    @classmethod
    def open_file(cls, path: Path) -> Store:
        """Open (create and migrate) a SQLite file."""
        return super().open(path)
