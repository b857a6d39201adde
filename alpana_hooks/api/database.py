"""The store itself: `db status` and `db copy` (SQLite to PostgreSQL, keeping ids)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from alpana_hooks.errors import UsageError
from alpana_hooks.model import CopyResult, DatabaseStatus

if TYPE_CHECKING:
    from alpana_hooks.api.hooks import Hooks


def database_status(hooks: Hooks) -> DatabaseStatus:
    """The backend, location, schema version and row counts of this store."""
    store = hooks.store
    with store.snapshot():
        rows = store.table_counts()
    return DatabaseStatus(store.backend, store.describe(), store.schema_version(), rows)

def copy_to(hooks: Hooks, target: str | Path, *, force: bool = False,
            progress: Callable[[str, int, int], None] | None = None) -> CopyResult:
    """Copy every row of this store (subscriptions, headers, secrets, events, remembered resources,
    attempts) into another store, keeping ids, in one transaction on the target. A target that already
    holds data is refused (UsageError) unless force, which replaces it. progress(table, copied, total) is
    called as rows go. The counts per table are compared on both sides afterwards."""
    from alpana_hooks.config import check_database_folder, display_database
    from alpana_hooks.errors import HooksError
    from alpana_hooks.store import TABLES, open_store

    source = hooks.store
    if display_database(target) == source.describe() or str(target) == str(hooks.settings.database):
        raise UsageError("--to names the database being copied")
    check_database_folder(target)
    destination = open_store(target)
    try:
        with source.snapshot(), destination.write():
            totals = source.table_counts()
            held = {table: n for table, n in destination.table_counts().items() if n}
            if held and not force:
                listed = ", ".join(f"{table} {n}" for table, n in held.items())
                raise UsageError(f"{destination.describe()} already holds data ({listed}): "
                                 "give --force to replace it")
            destination.empty_tables()
            for table in TABLES:
                copied = 0
                if progress:
                    progress(table, copied, totals[table])
                for batch in source.read_table(table):
                    destination.insert_rows(table, batch)
                    copied += len(batch)
                    if progress:
                        progress(table, copied, totals[table])
            destination.after_copy(source.id_counters())
        after = destination.table_counts()
        rows = {table: (totals[table], after[table]) for table in TABLES}
        if any(a != b for a, b in rows.values()):
            raise HooksError(f"copy to {destination.describe()} ended with other counts: {rows}")
        return CopyResult(source.describe(), destination.describe(), rows)
    finally:
        destination.close()
