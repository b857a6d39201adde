"""PostgreSQL (psycopg 3) under the same store: the mixins' `?`-placeholder SQL runs unchanged; only what
must differ differs here. Rows read like sqlite3.Row, timestamptz comes back as our ISO text (timeutil.to_iso),
bytea as bytes, jsonb as its text; write() is a transaction (savepoints nested); migrations run once under an
advisory lock; claims lock with FOR UPDATE SKIP LOCKED; a lost connection is one clear error, and the next
statement outside a transaction reconnects with backoff."""

from __future__ import annotations

import os
import re
import socket
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg.errors
from psycopg.pq import TransactionStatus
from psycopg.types.datetime import TimestamptzLoader
from psycopg.types.string import TextLoader

from alpana_hooks.config import masked_url
from alpana_hooks.errors import StoreUnavailable, UsageError
from alpana_hooks.store import Store
from alpana_hooks.store.connection import SCHEMA_VERSION, TABLES, Connection
from alpana_hooks.timeutil import to_iso

MIGRATION_LOCK = 0x616C70616E61  # "alpana": the advisory lock that lets one process migrate at a time
CONNECT_TIMEOUT_SECONDS = 10
RECONNECT_SECONDS = 30.0  # how long a statement outside a transaction keeps retrying a lost connection
_TOKENS = re.compile(r"'(?:[^']|'')*'|\?|%")


def translate(sql: str) -> str:
    """`?` placeholders become %s; a literal % becomes %% (psycopg's format), also inside quoted strings."""
    def token(match: re.Match) -> str:
        text = match.group()
        if text == "?":
            return "%s"
        return text.replace("%", "%%")

    return _TOKENS.sub(token, sql)


class Row:
    """A row read by name or by position, like sqlite3.Row (keys(), dict(row), row[0], row["id"])."""

    __slots__ = ("_index", "_values")

    def __init__(self, index: dict[str, int], values: Sequence):
        self._index = index
        self._values = values

    def __getitem__(self, key):
        return self._values[key] if isinstance(key, int) else self._values[self._index[key]]

    def keys(self) -> list[str]:
        return list(self._index)

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other) -> bool:
        return isinstance(other, Row) and tuple(self) == tuple(other) and self.keys() == other.keys()

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._index, self._values, strict=False))!r})"


def _rows(cursor):
    names = [column.name for column in cursor.description or ()]
    index = {name: i for i, name in reversed(list(enumerate(names)))}  # the first of a repeated name, as SQLite
    return lambda values: Row(index, values)


class _IsoTimestamptz(TimestamptzLoader):
    """timestamptz as the text the SQLite store keeps: 2026-11-28T17:48:17.123456Z."""

    def load(self, data):
        return to_iso(super().load(data))


class PgConnection:
    """A psycopg connection that takes the store's SQL as SQLite's module does: execute(sql, params) with `?`."""

    def __init__(self, url: str):
        self.url = url
        self.pinned = False  # inside write(): a lost connection fails the transaction, never reconnects mid-way
        self.raw = self._connect()

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            raw = psycopg.connect(self.url, autocommit=True, row_factory=_rows, connect_timeout=CONNECT_TIMEOUT_SECONDS,
                                  fallback_application_name=f"alpana-hooks {socket.gethostname()}:{os.getpid()}")
        except psycopg.Error as exc:
            raise StoreUnavailable(f"cannot connect to {masked_url(self.url)}: {_one_line(exc)}") from None
        raw.adapters.register_loader("timestamptz", _IsoTimestamptz)
        raw.adapters.register_loader("jsonb", TextLoader)
        raw.execute("SET TIME ZONE 'UTC'")
        return raw

    def _usable(self) -> psycopg.Connection[Any]:
        """The connection; a lost one is replaced (with backoff) when no transaction was open on it."""
        if self.pinned or not (self.raw.closed or self.raw.broken):
            return self.raw
        deadline, wait = time.monotonic() + RECONNECT_SECONDS, 0.25
        while True:
            try:
                self.raw = self._connect()
                return self.raw
            except StoreUnavailable:
                if time.monotonic() + wait > deadline:
                    raise
                time.sleep(wait)
                wait = min(wait * 2, 5.0)

    def execute(self, sql: str, params: Sequence = ()) -> Any:
        raw = self._usable()
        with self._exchange(raw):
            try:
                return raw.execute(translate(sql), tuple(params))
            except (psycopg.errors.UntranslatableCharacter, psycopg.errors.CharacterNotInRepertoire) as exc:
                raise UsageError(f"PostgreSQL cannot store this input: {_one_line(exc).split(' DETAIL:')[0]}"
                                 " (text there cannot hold the NUL character)") from None
            except psycopg.DataError as exc:
                if "NUL" not in str(exc):
                    raise
                raise UsageError(f"PostgreSQL cannot store this input: {_one_line(exc)}") from None

    def executemany(self, sql: str, rows) -> None:
        raw = self._usable()
        with self._exchange(raw), raw.cursor() as cursor:
            cursor.executemany(translate(sql), [tuple(r) for r in rows])

    @contextmanager
    def _exchange(self, raw: psycopg.Connection[Any]) -> Iterator[None]:
        """One statement on `raw`: a connection lost meanwhile is StoreUnavailable; an interrupt mid-exchange
        closes it (see _abandon_if_mid_exchange)."""
        try:
            yield
        except psycopg.OperationalError as exc:
            if raw.broken or raw.closed:
                raise StoreUnavailable(f"lost the connection to {masked_url(self.url)}: {_one_line(exc)}") from None
            raise
        except KeyboardInterrupt:
            _abandon_if_mid_exchange(raw)
            raise

    @property
    def in_transaction(self) -> bool:
        if self.raw.closed or self.raw.broken:
            return False  # the server rolled it back when the connection went
        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def close(self) -> None:
        self.raw.close()


def _abandon_if_mid_exchange(raw: psycopg.Connection[Any]) -> None:
    """Ctrl-C or SIGTERM can land between sending a statement and reading its answer, where psycopg cannot
    cancel it: the connection then refuses every later statement ("another command is already in progress").
    Close it, so the next statement reconnects (a transaction on it is rolled back by the server)."""
    if not raw.closed and raw.info.transaction_status == TransactionStatus.ACTIVE:
        raw.close()


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


class PostgresConnection(Connection):
    """The PostgreSQL flavour of the connection layer."""

    backend = "postgresql"
    BEGIN = "BEGIN"  # READ COMMITTED; the rows a read-then-write depends on are locked explicitly (for_update)
    BEGIN_SNAPSHOT = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"

    conn: PgConnection

    @classmethod
    def connect(cls, url: str):
        """Connect and migrate (once, under an advisory lock, however many processes start at once)."""
        store = cls(PgConnection(url))
        try:
            store.migrate()
        except BaseException:
            store.close()
            raise
        return store

    def migrate(self) -> None:
        if self.schema_version() >= SCHEMA_VERSION:
            return
        from alpana_hooks.migrations import POSTGRES

        with self.write() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS alpana_hooks_schema (version integer PRIMARY KEY,"
                         " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
            done = self.schema_version()
            for name, statements in POSTGRES:
                version = int(name[1:4])  # mNNN_…: numbers may have gaps while branches are merged
                if version <= done:
                    continue
                for statement in statements:
                    conn.execute(statement)
                conn.execute("INSERT INTO alpana_hooks_schema (version, name) VALUES (?, ?)", (version, name))
                if name == "m001_initial":
                    for statement in _NOTIFY_TRIGGER:
                        conn.execute(statement)

    def schema_version(self) -> int:
        row = self.conn.execute("SELECT to_regclass('alpana_hooks_schema') IS NOT NULL AS present").fetchone()
        if not row["present"]:
            return 0
        return self.conn.execute("SELECT coalesce(max(version), 0) FROM alpana_hooks_schema").fetchone()[0]

    @contextmanager
    def write(self) -> Iterator:
        """BEGIN … COMMIT on one connection: a connection lost inside is an error (the server rolls the
        transaction back: nothing half-written), never a silent reconnect."""
        if self._write_depth:
            with super().write() as conn:
                yield conn
            return
        self.conn._usable()
        self.conn.pinned = True
        try:
            with super().write() as conn:
                yield conn
        finally:
            self.conn.pinned = False

    @staticmethod
    def unwritable_for_now(exc: BaseException) -> bool:
        """A connection lost (the next write reconnects), the server short of disk, memory or connections
        (SQLSTATE class 53), a lock wait that gave up (55P03), or a transaction rolled back as a deadlock's or a
        serialization's victim (40P01, 40001): a later try may succeed."""
        if isinstance(exc, StoreUnavailable):
            return True
        sqlstate = getattr(exc, "sqlstate", None) or ""
        return isinstance(exc, psycopg.Error) and (sqlstate.startswith("53") or sqlstate in ("55P03", "40P01", "40001"))

    def for_update(self, of: str | None = None, *, skip_locked: bool = False) -> str:
        return " FOR UPDATE" + (f" OF {of}" if of else "") + (" SKIP LOCKED" if skip_locked else "")

    def in_index_order(self, conn, index: str) -> str:
        conn.execute("SET LOCAL enable_sort = off")  # this transaction only: the planner walks an index in order
        return ""

    def bucket_number(self) -> str:
        return "floor(extract(epoch FROM (created_at - ?::timestamptz)) / ?)::bigint"

    def serialize(self, conn, key: str) -> None:
        conn.execute("SELECT pg_advisory_xact_lock(?)", (zlib.crc32(key.encode("utf-8")),))

    def lock_subscriptions_of(self, conn, attempt_ids: Sequence[int]) -> None:
        ids = list(attempt_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            conn.execute(
                "SELECT s.id FROM subscriptions s WHERE s.id IN (SELECT a.subscription_id FROM attempts a"
                f" WHERE a.id IN ({','.join('?' * len(chunk))})) ORDER BY s.id FOR UPDATE OF s",
                chunk,
            ).fetchall()

    def describe(self) -> str:
        return masked_url(self.conn.url)

    def location(self) -> str:
        return self.conn.url

    def attempt_listener(self) -> Listener | None:
        try:
            return Listener(self.conn.url)
        except psycopg.Error:
            return None  # LISTEN not allowed (a transaction-pooling proxy, say): the watcher polls

    def commits_in_id_order(self) -> bool:
        return False

    def table_columns(self, table: str) -> list[str]:
        return [row["column_name"] for row in self.conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND table_name = ? ORDER BY ordinal_position", (table,))]

    def insert_rows(self, table: str, rows: list[dict]) -> None:
        if not rows:
            return
        columns = list(rows[0])
        overriding = " OVERRIDING SYSTEM VALUE" if "id" in columns else ""
        self.conn.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}){overriding} VALUES ({', '.join('?' * len(columns))})",
            [tuple(row[c] for c in columns) for row in rows],
        )

    def id_counters(self) -> dict[str, int]:
        counters = {}
        for table in TABLES:
            if table != "resources":
                row = self.conn.execute("SELECT last_value FROM pg_sequences WHERE"
                                        " quote_ident(schemaname) || '.' || quote_ident(sequencename)"
                                        " = pg_get_serial_sequence(?, 'id')", (table,)).fetchone()
                if row is not None and row[0] is not None:
                    counters[table] = row[0]
        return counters

    def after_copy(self, counters: dict[str, int]) -> None:
        for table in TABLES:
            if table == "resources":
                continue
            self.conn.execute(  # is_called false when nothing was ever given: the next id is 1
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), greatest(coalesce(max(id), 0), ?, 1),"
                f" greatest(coalesce(max(id), 0), ?) > 0) FROM {table}",
                (counters.get(table, 0), counters.get(table, 0)))


# attempts list --watch listens on this channel: the new or changed attempt's tenant and id.
NOTIFY_CHANNEL = "alpana_hooks_attempts"
_NOTIFY_TRIGGER = [
    f"""CREATE FUNCTION alpana_hooks_notify_attempt() RETURNS trigger AS $$
    BEGIN
        PERFORM pg_notify('{NOTIFY_CHANNEL}', NEW.tenant || ' ' || NEW.id);
        RETURN NULL;
    END $$ LANGUAGE plpgsql""",
    "CREATE TRIGGER attempts_notify AFTER INSERT OR UPDATE ON attempts FOR EACH ROW"
    " EXECUTE FUNCTION alpana_hooks_notify_attempt()",
]


class Listener:
    """LISTEN on its own connection for the attempts trigger's notifications."""

    def __init__(self, url: str):
        self.conn = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS)
        self.conn.execute(f"LISTEN {NOTIFY_CHANNEL}")

    def wait(self, timeout: float, tenant: str) -> list[int] | None:
        """The ids of this tenant's attempts added or changed: waits up to timeout for the first, then takes
        what else arrives within 50 ms. None when the connection was lost (the caller falls back to polling)."""
        try:
            notes = list(self.conn.notifies(timeout=timeout, stop_after=1))
            if notes:
                notes += self.conn.notifies(timeout=0.05)
        except psycopg.Error:
            return None
        return sorted(set(_ids(notes, tenant)))

    def close(self) -> None:
        self.conn.close()


def _ids(notifications, tenant: str) -> list[int]:
    found = []
    for note in notifications:
        owner, _, attempt_id = note.payload.rpartition(" ")
        if owner == tenant and attempt_id.isdigit():
            found.append(int(attempt_id))
    return found


class PostgresStore(PostgresConnection, Store):
    """The store on a PostgreSQL database."""
