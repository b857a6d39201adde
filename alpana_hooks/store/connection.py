"""The connection layer: the SQLite file (opened safely, migrated once, transactions safe across processes),
and the few pieces of SQL that must differ between backends. The store mixins hold the one set of SQL, written
so that SQLite (3.39+) and PostgreSQL both accept it; store/postgres.py overrides what differs."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from alpana_hooks.errors import UsageError
from alpana_hooks.timeutil import to_iso

SCHEMA_VERSION = 7  # the number of migrations in migrations.py; each sets PRAGMA user_version (PostgreSQL: a table)
BUSY_TIMEOUT_SECONDS = 10.0
# SQLite's page cache per connection (its default is 2 MiB). 512 KiB holds the pages a delivery revisits (index
# interiors, subscriptions, secrets): `deliver` on a backlog used the 2 MiB in full, 1.5 MiB more resident memory
# for no measurable CPU saved (benchmarks/memory.py); a one-shot command reads far fewer pages than either.
CACHE_KIB = 512
_UNWRITABLE = ("locked", "busy", "full", "I/O error")  # SQLite's words for a store that may be writable again soon
TABLES = ("subscriptions", "subscription_headers", "subscription_secrets", "events", "resources", "attempts")


class Connection:
    """One SQLite file: WAL, synchronous=FULL, foreign keys, a busy timeout, a small page cache, write()
    transactions."""

    backend = "sqlite"
    BEGIN = "BEGIN IMMEDIATE"  # takes the write lock at once: a read-then-write never races another process
    BEGIN_SNAPSHOT = "BEGIN"  # deferred: in WAL mode a reader's snapshot blocks no writer

    def __init__(self, conn):
        self.conn = conn
        self._write_depth = 0  # write() blocks open: the outermost one owns the transaction

    @classmethod
    def open(cls, path: Path):
        """Open (creating it 0600, with its folder) and migrate the database file."""
        _create_private_file(path)
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        conn.row_factory = sqlite3.Row
        _set_wal(conn)
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        store = cls(conn)
        store.migrate()
        return store

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def location(self) -> Path | str:
        """Where the store is, as Store.open takes it (to open a second connection, for another thread)."""
        return Path(self.conn.execute("PRAGMA database_list").fetchone()["file"])

    @staticmethod
    def unwritable_for_now(exc: BaseException) -> bool:
        """Whether a failed write may succeed later: the store was locked by another process, or the disk was
        full or failing (not a broken file or a bug)."""
        return isinstance(exc, sqlite3.OperationalError) and any(word in str(exc) for word in _UNWRITABLE)

    def migrate(self) -> None:
        """Apply pending migrations under one write lock, so racing processes apply each once."""
        if self.schema_version() >= SCHEMA_VERSION:
            return
        from sqlite_utils import Database

        from alpana_hooks.migrations import migrations

        with self.write():
            if self.schema_version() < SCHEMA_VERSION:
                migrations.apply(Database(self.conn))

    def schema_version(self) -> int:
        """PRAGMA user_version: how many migrations were applied."""
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    # -- what differs between backends (SQLite: nothing to add, the write lock covers it) -------------------

    def for_update(self, of: str | None = None, *, skip_locked: bool = False) -> str:
        """A suffix for a SELECT inside write() whose rows are about to be changed: PostgreSQL locks them
        (FOR UPDATE [OF alias] [SKIP LOCKED]); SQLite's write transaction already holds the whole database."""
        return ""

    def in_index_order(self, conn, index: str) -> str:
        """Make the next SELECT of this transaction walk `index` in its order instead of sorting what it finds:
        without statistics (a new store, a big emit since the last ANALYZE) both planners sorted every unfinished
        attempt for each claim of a few (27 ms a claim at 100,000 pending). SQLite: a suffix for the table in FROM
        (INDEXED BY)."""
        return f" INDEXED BY {index}"

    def serialize(self, conn, key: str) -> None:
        """Make writers that check-then-insert the same key wait for each other until commit (PostgreSQL: a
        transaction advisory lock); SQLite's BEGIN IMMEDIATE already lets one writer in at a time."""

    def lock_subscriptions_of(self, conn, attempt_ids: Sequence[int]) -> None:
        """Before recording results: lock the subscriptions of these attempts, in id order, so two hosts'
        result batches never deadlock nor lose a failure-clock update (PostgreSQL); nothing to do on SQLite."""

    def attempt_listener(self):
        """A listener woken when attempts are added or change (PostgreSQL LISTEN/NOTIFY), or None where the
        backend has no notifications (SQLite) or they are not allowed: then watchers poll."""
        return None

    def commits_in_id_order(self) -> bool:
        """Whether a reader that saw id N can never see a smaller id commit later (SQLite: one writer at a
        time; PostgreSQL: not so, identity values are taken before commit)."""
        return True

    def describe(self) -> str:
        """Where the data is, for messages: the file path (PostgreSQL: the URL, password masked)."""
        return self.conn.execute("PRAGMA database_list").fetchone()["file"]

    # -- transactions --------------------------------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator:
        """A write transaction (SQLite: BEGIN IMMEDIATE, safe for read-then-write across processes). Inside
        another write() it is a savepoint, so several domain methods can commit (or fail) as one."""
        depth = self._write_depth
        self._write_depth += 1
        try:
            if depth:
                with self._savepoint(f"write_{depth}"):
                    yield self.conn
                return
            try:
                self.conn.execute(self.BEGIN)
                yield self.conn
            except BaseException:
                if self.conn.in_transaction:  # also after an interrupt that landed during BEGIN itself
                    self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
        finally:
            self._write_depth = depth

    @contextmanager
    def _savepoint(self, name: str):
        self.conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self.conn.execute(f"ROLLBACK TO {name}")
            self.conn.execute(f"RELEASE {name}")
            raise
        self.conn.execute(f"RELEASE {name}")

    # -- whole tables: db status and db copy ---------------------------------------------------------------

    @contextmanager
    def snapshot(self) -> Iterator:
        """A read-only transaction: every read inside sees the same moment; writers go on meanwhile."""
        self.conn.execute(self.BEGIN_SNAPSHOT)
        try:
            yield self.conn
        finally:
            if self.conn.in_transaction:
                self.conn.execute("COMMIT")

    def table_counts(self) -> dict[str, int]:
        """Rows per table."""
        return {table: self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in TABLES}

    def table_columns(self, table: str) -> list[str]:
        """The columns of a table, in order."""
        return [row["name"] for row in self.conn.execute(f"PRAGMA table_info({table})")]

    def read_table(self, table: str, batch: int = 1000) -> Iterator[list[dict]]:
        """Every row of a table as dicts, in batches, in primary-key order."""
        columns = self.table_columns(table)
        cursor = self.conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {_key(table)}")
        while rows := cursor.fetchmany(batch):
            yield [dict(zip(columns, row, strict=True)) for row in rows]

    def insert_rows(self, table: str, rows: list[dict]) -> None:
        """Insert rows keeping their ids (inside write())."""
        if not rows:
            return
        columns = list(rows[0])
        self.conn.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            [tuple(row[c] for c in columns) for row in rows],
        )

    def empty_tables(self) -> None:
        """Delete every row of every table (inside write()); db copy --force on a target that holds data."""
        for table in reversed(TABLES):
            self.conn.execute(f"DELETE FROM {table}")

    def id_counters(self) -> dict[str, int]:
        """Per table, the largest id ever given (deleted rows included): ids are never reused, also in a copy."""
        return {row["name"]: row["seq"] for row in self.conn.execute("SELECT name, seq FROM sqlite_sequence")}

    def after_copy(self, counters: dict[str, int]) -> None:
        """After rows were inserted with their ids (inside write()): the next ids follow the source's
        counters, so an id deleted there is not handed out here either."""
        for table, seq in counters.items():
            if not self.conn.execute("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?",
                                     (seq, table)).rowcount:
                self.conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, seq))


def _key(table: str) -> str:
    return "tenant, kind, resource_id" if table == "resources" else "id"


def _create_private_file(path: Path) -> None:
    """Create the database file mode 0600 and each missing folder 0700, whatever the umask, also through a
    symlink to a file that does not exist yet; a path that cannot be created is bad input (exit 2)."""
    target = Path(os.path.realpath(path))  # where a symlink really leads: O_EXCL on the link itself fails
    try:
        _create_private_folders(target.parent)
        fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        if target.is_dir():
            raise UsageError(f"cannot use the database {path}: it is a folder") from None
        return
    except OSError as exc:
        raise UsageError(f"cannot create the database {path}: {exc.filename or target}: {exc.strerror or exc}") from None
    try:
        os.fchmod(fd, 0o600)  # a umask such as 0277 would have left it unwritable
    finally:
        os.close(fd)


def _create_private_folders(folder: Path) -> None:
    """Create folder and its missing parents, each 0700 (Path.mkdir gives the parents 0777 minus the umask)."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for each in reversed(missing):
        try:
            os.mkdir(each, 0o700)
        except FileExistsError:
            continue  # made by another process meanwhile: its mode is not ours to change
        os.chmod(each, 0o700)


def _set_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL, retrying while another process holds the lock on a fresh file."""
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def dumps(value) -> str:
    """JSON for a TEXT (PostgreSQL: jsonb) column."""
    return json.dumps(value, separators=(",", ":"))


def iso_or_none(moment: datetime | None) -> str | None:
    return to_iso(moment) if moment is not None else None
