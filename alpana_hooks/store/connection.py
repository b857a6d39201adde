"""The SQLite connection: opened safely, migrated once, and transactions that are safe across processes."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from alpana_hooks.errors import UsageError
from alpana_hooks.timeutil import to_iso

SCHEMA_VERSION = 3  # the number of migrations in migrations.py; each sets PRAGMA user_version
BUSY_TIMEOUT_SECONDS = 10.0
_UNWRITABLE = ("locked", "busy", "full", "I/O error")  # SQLite's words for a store that may be writable again soon


class Connection:
    """One SQLite file: WAL, synchronous=FULL, foreign keys, a busy timeout, write() transactions."""

    def __init__(self, conn: sqlite3.Connection):
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
        store = cls(conn)
        store.migrate()
        return store

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def path(self) -> Path:
        """The database file (to open a second connection, for another thread)."""
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

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A BEGIN IMMEDIATE transaction: safe for read-then-write across processes. Inside another
        write() it is a savepoint, so several domain methods can commit (or fail) as one."""
        depth = self._write_depth
        self._write_depth += 1
        try:
            if depth:
                with self._savepoint(f"write_{depth}"):
                    yield self.conn
                return
            try:
                self.conn.execute("BEGIN IMMEDIATE")
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
    """JSON for a TEXT column."""
    return json.dumps(value, separators=(",", ":"))


def iso_or_none(moment: datetime | None) -> str | None:
    return to_iso(moment) if moment is not None else None
