"""`db status` and `db copy`: which database, its schema and rows; moving a store to PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from alpana_hooks.cli.app import ConfigOpt, DbOpt, JsonOpt, _group, app, lazy
from alpana_hooks.cli.context import opened, settings_for

output = lazy("alpana_hooks.output")

db_app = _group("The database: status, and copying a store (to PostgreSQL, say).")
app.add_typer(db_app, name="db")


@db_app.command("status")
def db_status(db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False):
    """Print the backend, the database (password masked), the schema version and the rows per table."""
    import sqlite3

    from alpana_hooks.cli.settings import sqlite_warning

    settings = settings_for(db, config)
    with opened(settings) as hooks:
        status = hooks.database_status()
    warning = sqlite_warning(sqlite3.sqlite_version_info) if status.backend == "sqlite" else None
    if json:
        output.print_json({"backend": status.backend, "database": status.location,
                           "schema_version": status.schema_version, "rows": status.rows,
                           "sqlite_version": sqlite3.sqlite_version if status.backend == "sqlite" else None,
                           "sqlite_warning": warning})
        return
    _lines(f"backend: {status.backend}", f"database: {status.location}", f"schema version: {status.schema_version}")
    grid = output.table("Table", "Rows")
    for table, count in status.rows.items():
        grid.add_row(table, str(count))
    output.show(grid)
    if warning:
        output.message(f"warning: SQLite {sqlite3.sqlite_version}: {warning}")


@db_app.command("copy")
def db_copy(
    to: Annotated[str, typer.Option("--to", help="The target: a postgresql:// URL (or a SQLite file).", show_default=False)],
    force: Annotated[bool, typer.Option("--force", help="Replace what the target already holds.")] = False,
    db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False,
):
    """Copy every subscription, header, secret, event, remembered resource and attempt to another database,
    keeping ids, in one transaction; refuses a target that holds data unless --force. Prints the rows per
    table on both sides."""
    from alpana_hooks.config import display_database, is_postgres_url

    settings = settings_for(db, config)
    target = to if is_postgres_url(to) else Path(to).expanduser()
    shown: dict[str, int] = {}

    def progress(table: str, copied: int, total: int) -> None:
        step = max(1000, total // 10)
        if copied == total or copied - shown.get(table, 0) >= step:
            shown[table] = copied
            output.message(f"{table}: {copied}/{total}")

    output.message(f"copying to {display_database(target)}")
    with opened(settings) as hooks:
        result = hooks.copy_to(target, force=force, progress=progress)
    if json:
        output.print_json({"source": result.source, "target": result.target,
                           "rows": {t: {"source": s, "target": d} for t, (s, d) in result.rows.items()}})
        return
    _lines(f"from: {result.source}", f"to: {result.target}")
    grid = output.table("Table", "Source", "Target")
    for table, (source_rows, target_rows) in result.rows.items():
        grid.add_row(table, str(source_rows), str(target_rows))
    output.show(grid)
    output.message("copied: every table has the same rows on both sides")


def _lines(*lines: str) -> None:
    for line in lines:
        output.print_text(output.escape(line) + "\n")
