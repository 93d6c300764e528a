"""The embedded SQLite store: sealed records, public metadata and monotonic counters.

Invariants:

1. The store holds only ciphertext, wrapped data keys, public metadata and
   counters (nonces, rate marks, the withdraw ledger of ``signer.limits``); it
   never sees plaintext (sealing happens in ``seal_fn``).
2. Every write is one transaction committed with ``synchronous=FULL`` in WAL
   mode, so when a write method returns its effect is on disk.
3. A record's version only grows: ``put_sealed`` reads it, seals for the next
   one and writes in the same ``BEGIN IMMEDIATE`` transaction.
4. sqlite3 errors leave as ``StorageError`` with a message that holds no values.
5. Counters never go down: ``counter_set_max`` keeps the maximum and
   ``counter_advance`` (the policy version) refuses a value that is not higher,
   writing its meta value in the same transaction.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from signer.durable import fsync_dir
from signer.errors import StorageError
from signer.keystore.sealing import SealedRecord

SCHEMA_VERSION = 1
_PAGE = 256
_SQL_UPSERT = (
    "INSERT INTO sealed_records (kind, client_id, mode, name, version, master_key_id,"
    " wrap_nonce, wrapped_key, nonce, ciphertext, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (kind, client_id, mode, name) DO UPDATE SET"
    " version = excluded.version, master_key_id = excluded.master_key_id,"
    " wrap_nonce = excluded.wrap_nonce, wrapped_key = excluded.wrapped_key,"
    " nonce = excluded.nonce, ciphertext = excluded.ciphertext,"
    " updated_at = excluded.updated_at"
)
_SQL_GET = (
    "SELECT version, master_key_id, wrap_nonce, wrapped_key, nonce, ciphertext"
    " FROM sealed_records WHERE kind = ? AND client_id = ? AND mode = ? AND name = ?"
)
_SQL_ITER = (
    "SELECT rowid, kind, client_id, mode, name, version, master_key_id, wrap_nonce,"
    " wrapped_key, nonce, ciphertext FROM sealed_records WHERE rowid > ? ORDER BY rowid LIMIT ?"
)
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB)",
    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sealed_records (kind TEXT, client_id TEXT, mode TEXT,"
    " name TEXT, version INTEGER, master_key_id TEXT, wrap_nonce BLOB, wrapped_key BLOB,"
    " nonce BLOB, ciphertext BLOB, updated_at INTEGER,"
    " PRIMARY KEY (kind, client_id, mode, name))",
)


class CounterNotAdvancedError(Exception):
    """``counter_advance`` found the counter already at or above the value.

    Attributes:
        current: the stored value.
    """

    def __init__(self, current: int) -> None:
        super().__init__(f"counter is already at {current}")
        self.current = current


class Store:
    """One SQLite connection, serialised by a lock, over the daemon's state file."""

    def __init__(self, path: Path) -> None:
        """Open (creating with mode 0600, directory 0700) and migrate the state file.

        Raises:
            StorageError: the file cannot be opened, is not WAL-capable or has
                an unknown schema version.
        """
        self._lock = threading.Lock()
        try:
            _create_private(path)
            self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StorageError("cannot open the state database") from exc
        try:
            self._init_schema()
            fsync_dir(path.parent)
        except (OSError, sqlite3.Error, StorageError) as exc:
            self._conn.close()
            raise StorageError("cannot initialise the state database") from exc

    def _init_schema(self) -> None:
        conn = self._conn
        if conn.execute("PRAGMA journal_mode=WAL").fetchone()[0] != "wal":
            raise StorageError("state database does not support WAL")
        # SECURITY: synchronous=FULL makes each WAL commit fsync before COMMIT
        # returns; trusted_schema=OFF stops a tampered schema from running functions.
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA trusted_schema=OFF")
        with self._write() as cur:
            for ddl in _SCHEMA:
                cur.execute(ddl)
            row = cur.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                cur.execute(
                    "INSERT INTO meta(key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION).encode(),),
                )
            elif row[0] != str(SCHEMA_VERSION).encode():
                raise StorageError("unsupported state schema version")

    def _write(self) -> _Transaction:
        return _Transaction(self)

    def transaction(self) -> _Transaction:
        """``with store.transaction() as cur``: BEGIN IMMEDIATE .. COMMIT under the lock.

        For modules that own a table (``signer.limits.spend``): a read-decide-write
        inside it is atomic against every other writer of the file.
        """
        return _Transaction(self)

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StorageError("state database read failed") from exc

    def put_sealed(
        self,
        kind: str,
        client_id: str,
        mode: str,
        name: str,
        seal_fn: Callable[[int], SealedRecord],
    ) -> int:
        """Seal and upsert one record with the next version, in one transaction.

        ``seal_fn(version)`` is called inside the transaction so the version it
        binds into the AAD is exactly the version written. Returns that version.
        """
        key = (kind, client_id, mode, name)
        with self._write() as cur:
            row = cur.execute(
                "SELECT version FROM sealed_records"
                " WHERE kind = ? AND client_id = ? AND mode = ? AND name = ?",
                key,
            ).fetchone()
            version = (row[0] if row else 0) + 1
            rec = seal_fn(version)
            cur.execute(
                _SQL_UPSERT,
                (
                    *key,
                    version,
                    rec.master_key_id,
                    rec.wrap_nonce,
                    rec.wrapped_key,
                    rec.nonce,
                    rec.ciphertext,
                    int(time.time()),
                ),
            )
        # SECURITY: durable before acknowledged. In WAL mode with
        # synchronous=FULL, COMMIT (in _Transaction.__exit__) fsyncs the WAL
        # before it returns, so the caller may reveal/acknowledge the record.
        return version

    def get_sealed(
        self, kind: str, client_id: str, mode: str, name: str
    ) -> tuple[int, SealedRecord] | None:
        """Return ``(version, record)`` or None."""
        rows = self._read(_SQL_GET, (kind, client_id, mode, name))
        return (rows[0][0], _record(rows[0][1:])) if rows else None

    def delete(self, kind: str, client_id: str, mode: str, name: str) -> bool:
        """Delete one record; True if it existed."""
        with self._write() as cur:
            cur.execute(
                "DELETE FROM sealed_records"
                " WHERE kind = ? AND client_id = ? AND mode = ? AND name = ?",
                (kind, client_id, mode, name),
            )
            return cur.rowcount > 0

    def list_names(self, kind: str, client_id: str, mode: str) -> list[str]:
        """Sorted record names of one (kind, client, mode) namespace."""
        rows = self._read(
            "SELECT name FROM sealed_records WHERE kind = ? AND client_id = ? AND mode = ?"
            " ORDER BY name",
            (kind, client_id, mode),
        )
        return [row[0] for row in rows]

    def count(self, kind: str) -> int:
        """Number of records of ``kind``."""
        return int(self._read("SELECT count(*) FROM sealed_records WHERE kind = ?", (kind,))[0][0])

    def meta_get(self, key: str) -> bytes | None:
        """Public metadata value, or None."""
        rows = self._read("SELECT value FROM meta WHERE key = ?", (key,))
        return bytes(rows[0][0]) if rows else None

    def meta_put(self, key: str, value: bytes) -> None:
        """Durably set a public metadata value."""
        with self._write() as cur:
            cur.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def counter_get(self, name: str) -> int | None:
        """Current value of a counter, or None."""
        rows = self._read("SELECT value FROM counters WHERE name = ?", (name,))
        return int(rows[0][0]) if rows else None

    def counter_set_max(self, name: str, value: int) -> int:
        """Durably store ``max(old, value)``; return the stored value. Never goes down."""
        return self.counters_set_max({name: value})[name]

    def counters_set_max(self, values: Mapping[str, int]) -> dict[str, int]:
        """``counter_set_max`` for several counters in one transaction (one fsync)."""
        if not all(-(2**63) <= value < 2**63 for value in values.values()):
            raise ValueError("counter value out of range")
        stored = {}
        with self._write() as cur:
            for name, value in values.items():
                cur.execute(
                    "INSERT INTO counters(name, value) VALUES (?, ?)"
                    " ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)",
                    (name, value),
                )
                row = cur.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
                stored[name] = int(row[0])
        return stored

    def counter_advance(
        self, name: str, value: int, meta: tuple[str, bytes], *, allow_equal: bool = False
    ) -> int | None:
        """Raise counter ``name`` to ``value`` and set one meta value, atomically.

        In one ``BEGIN IMMEDIATE`` transaction: if the counter is absent or
        below ``value`` (or equal, with ``allow_equal``), write both and return
        the previous value (None when absent); otherwise write nothing and
        raise ``CounterNotAdvancedError``. Durable when it returns.
        """
        if not -(2**63) <= value < 2**63:
            raise ValueError("counter value out of range")
        with self._write() as cur:
            row = cur.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
            previous = None if row is None else int(row[0])
            if previous is not None and (
                value < previous or (value == previous and not allow_equal)
            ):
                raise CounterNotAdvancedError(previous)
            cur.execute(
                "INSERT INTO counters(name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, value),
            )
            cur.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                meta,
            )
        return previous

    def iter_records(self) -> Iterator[tuple[str, str, str, str, int, SealedRecord]]:
        """Every record as ``(kind, client_id, mode, name, version, record)``.

        Reads in pages so the lock is not held while the caller works (rotation, backup).
        """
        rows = self._read(_SQL_ITER, (-(2**63), _PAGE))
        while rows:
            for row in rows:
                yield row[1], row[2], row[3], row[4], row[5], _record(row[6:])
            rows = self._read(_SQL_ITER, (rows[-1][0], _PAGE))

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._conn.close()


class _Transaction:
    """``with store._write() as cur``: lock, BEGIN IMMEDIATE, then COMMIT or ROLLBACK.

    IMMEDIATE takes the write lock up front, so a read-then-write (the version
    bump) cannot interleave with another connection's write.
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    def __enter__(self) -> sqlite3.Cursor:
        self._store._lock.acquire()
        try:
            cur = self._store._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self._store._lock.release()
            raise StorageError("state database write failed") from exc
        return cur

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        conn = self._store._conn
        try:
            if exc is None:
                conn.execute("COMMIT")
            elif conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error as err:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StorageError("state database write failed") from err
        finally:
            self._store._lock.release()
        if isinstance(exc, sqlite3.Error):
            raise StorageError("state database write failed") from exc


def _record(row: Sequence[Any]) -> SealedRecord:
    key_id, wrap_nonce, wrapped_key, nonce, ciphertext = row
    if not isinstance(key_id, str) or not all(
        isinstance(b, bytes) for b in (wrap_nonce, wrapped_key, nonce, ciphertext)
    ):
        raise StorageError("malformed sealed record row")
    return SealedRecord(key_id, wrap_nonce, wrapped_key, nonce, ciphertext)


def _create_private(path: Path) -> None:
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
        os.chmod(path.parent, 0o700)
    try:
        # SECURITY: created 0600 before SQLite opens it; SQLite gives the -wal
        # and -shm files the permissions of the database file.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return
    os.close(fd)
