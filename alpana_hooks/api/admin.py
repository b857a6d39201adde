"""What an administrator asks of `Hooks` about the store as a whole: its status (`db status`), a copy of it
keeping ids (`db copy`, SQLite to PostgreSQL), and a tenant's subscriptions as code (export / apply).
`Hooks` inherits these methods."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alpana_hooks import validate
from alpana_hooks.errors import HooksError, UsageError
from alpana_hooks.timeutil import utcnow

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from alpana_hooks.apply import Step, SubscriptionsFile
    from alpana_hooks.config import Settings
    from alpana_hooks.model import Subscription
    from alpana_hooks.results import CopyResult, DatabaseStatus
    from alpana_hooks.store import Store


class AdminMethods:
    """db status / db copy, export / apply."""

    settings: Settings

    if TYPE_CHECKING:
        @property
        def store(self) -> Store: ...

        def subscriptions(self, tenant: str) -> list[Subscription]: ...

    # -- the database ----------------------------------------------------------------------

    def database_status(self) -> DatabaseStatus:
        """The backend, location, schema version and row counts of this store."""
        from alpana_hooks.results import DatabaseStatus

        with self.store.snapshot():
            rows = self.store.table_counts()
        return DatabaseStatus(self.store.backend, self.store.describe(), self.store.schema_version(), rows)

    def copy_to(self, target: str | Path, *, force: bool = False,
                progress: Callable[[str, int, int], None] | None = None) -> CopyResult:
        """Copy every row of this store (subscriptions, headers, secrets, events, remembered resources,
        attempts) into another store, keeping ids, in one transaction on the target. A target that already
        holds data is refused (UsageError) unless force, which replaces it. progress(table, copied, total) is
        called as rows go. The counts per table are compared on both sides afterwards."""
        from alpana_hooks.config import check_database_folder, display_database
        from alpana_hooks.results import CopyResult
        from alpana_hooks.store import TABLES, open_store

        source = self.store
        if display_database(target) == source.describe() or str(target) == str(self.settings.database):
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
                    _copy_table(source, destination, table, totals[table], progress)
                destination.after_copy(source.id_counters())
            after = destination.table_counts()
            rows = {table: (totals[table], after[table]) for table in TABLES}
            if any(a != b for a, b in rows.values()):
                raise HooksError(f"copy to {destination.describe()} ended with other counts: {rows}")
            return CopyResult(source.describe(), destination.describe(), rows)
        finally:
            destination.close()

    # -- subscriptions as code ---------------------------------------------------------------

    def export(self, tenant: str, *, reveal: bool = False) -> dict:
        """The tenant's subscriptions as the document `apply` reads (no secrets)."""
        from alpana_hooks import apply as plans

        return plans.export_document(validate.tenant(tenant), self.subscriptions(tenant), reveal=reveal)

    def apply(self, tenant: str, wanted: SubscriptionsFile, *, prune: bool = False, dry_run: bool = False,
              agreed: set[int] | None = None) -> tuple[list[Step], list[Subscription]]:
        """Make the tenant's subscriptions match a parsed file in one transaction (all or nothing).
        Returns the steps and the subscriptions the file does not list. With `agreed` (the ids a person
        agreed to delete), a deletion outside it refuses the whole apply."""
        from alpana_hooks.apply import carry_out, plan, refuse_unagreed_deletions, unlisted

        tenant = validate.tenant(tenant)
        if dry_run:
            current = self.store.list_subscriptions(tenant)
            return plan(wanted.subscriptions, current, prune=prune), unlisted(wanted.subscriptions, current)
        with self.store.write():  # the plan is made and carried out on the same state
            current = self.store.list_subscriptions(tenant)
            steps = plan(wanted.subscriptions, current, prune=prune)
            refuse_unagreed_deletions(steps, agreed)
            steps = [carry_out(self.store, tenant, step, utcnow()) for step in steps]
        return steps, unlisted(wanted.subscriptions, current)


def _copy_table(source: Store, destination: Store, table: str, total: int,
                progress: Callable[[str, int, int], None] | None) -> None:
    """One table's rows, in batches, telling progress(table, copied, total) as they go."""
    copied = 0
    if progress:
        progress(table, copied, total)
    for batch in source.read_table(table):
        destination.insert_rows(table, batch)
        copied += len(batch)
        if progress:
            progress(table, copied, total)
