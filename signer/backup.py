"""Backups of the store: a consistent SQLite snapshot in an authenticated file.

File layout (format 1)::

    MAGIC | header length (4 bytes, big-endian) | header (JSON) | database image | tag

The tag is HMAC-SHA256 over everything before it, under a random 32-byte key
sealed in the header with the master key (the AES-256-GCM envelope of
``signer.keystore.sealing``), so only the master key's holder can write or
check a backup.

Invariants (tests: tests/unit/test_backup.py, tests/integration/test_backup.py):

1. The snapshot is taken with SQLite's online backup API in one read
   transaction: consistent while the daemon keeps writing.
2. Every secret in it is already sealed under the master key; the file adds no
   plaintext. Before a backup is written, every sealed row is checked to
   unwrap under the given key, and a half-rotated store is refused.
3. ``open_backup`` refuses a foreign file, another format, a truncated or
   extended file, another master key and any changed byte, each with its own
   message that echoes neither file nor key bytes.
4. A backup file is created 0600 and never replaces an existing file.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signer.durable import write_new
from signer.errors import BackupError, StateError, UnsealError
from signer.keystore.rotate import ROTATION_META, Row, check_rows
from signer.keystore.sealing import MasterKey, RecordAad, SealedRecord, open_sealed, seal
from signer.keystore.store import SCHEMA_VERSION

MAGIC = b"sequence-signer backup\n"
FORMAT = 1
_LEN = 4
_TAG = 32
_MAX_HEADER = 64 * 1024
_MAC_AAD = ("backup", "-", "-")
_ROWS = (
    "SELECT kind, client_id, mode, name, version, master_key_id, wrap_nonce, wrapped_key,"
    " nonce, ciphertext FROM sealed_records ORDER BY rowid"
)
_REFUSED = "backup failed its integrity check (tampered or corrupt)"
_SEALED_FIELDS = ("wrap_nonce", "wrapped_key", "nonce", "ciphertext")
_KEY_ID = re.compile(r"[0-9a-f]{16}")


@dataclass(frozen=True, slots=True)
class BackupInfo:
    """What a backup holds (public): when, under which key, how many records of each kind."""

    created_at: int
    master_key_id: str
    records: dict[str, int]
    size: int


def create_backup(db_path: Path, master: MasterKey, out: Path) -> BackupInfo:
    """Snapshot the store at ``db_path`` into a new file ``out`` (works while the daemon runs).

    Raises:
        BackupError: no store, ``out`` exists, or the snapshot is unusable.
        StateError: mid-rotation, or a row does not unwrap under ``master``.
    """
    if not db_path.is_file():
        raise BackupError(f"no store at {db_path}")
    image = _snapshot(db_path)
    with open_image(image) as conn:
        records = dict(check_image(conn, master))
    created = int(time.time())
    mac_key = os.urandom(32)
    salt = os.urandom(16).hex()
    sealed = seal(master, mac_key, RecordAad(*_MAC_AAD, salt, 1))
    header = {
        "format": FORMAT,
        "created_at": created,
        "master_key_id": master.key_id,
        "mac_key": {"salt": salt} | {k: _b64(getattr(sealed, k)) for k in _SEALED_FIELDS},
        "records": records,
        "db_size": len(image),
    }
    head = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("ascii")
    body = MAGIC + len(head).to_bytes(_LEN, "big") + head + image
    data = body + hmac.new(mac_key, body, hashlib.sha256).digest()
    _write_new(out, data)
    return BackupInfo(created, master.key_id, records, len(data))


def open_backup(data: bytes, master: MasterKey) -> tuple[BackupInfo, bytes]:
    """Authenticate a backup file's bytes; return its info and the database image.

    Raises:
        BackupError: not a backup, unsupported format, truncated/extended, made
            under another master key, or any byte changed.
    """
    if not data.startswith(MAGIC):
        raise BackupError("not a sequence-signer backup file")
    start = len(MAGIC) + _LEN
    if len(data) < start + _TAG:
        raise BackupError("backup is truncated")
    size = int.from_bytes(data[len(MAGIC) : start], "big")
    if size > _MAX_HEADER or len(data) < start + size + _TAG:
        raise BackupError("backup is truncated or corrupt")
    header = _header(data[start : start + size])
    end = start + size + header["db_size"]
    if len(data) != end + _TAG:
        raise BackupError("backup is truncated" if len(data) < end + _TAG else _REFUSED)
    if header["master_key_id"] != master.key_id:
        raise BackupError(
            f"backup was made under master key id {header['master_key_id']};"
            f" the given key has id {master.key_id}"
        )
    mac = header["mac_key"]
    sealed = SealedRecord(master.key_id, *(_unb64(mac[k]) for k in _SEALED_FIELDS))
    try:
        mac_key = open_sealed(master, sealed, RecordAad(*_MAC_AAD, mac["salt"], 1))
    except UnsealError:
        raise BackupError(_REFUSED) from None
    tag = hmac.new(mac_key, data[:end], hashlib.sha256).digest()
    if not hmac.compare_digest(tag, data[end:]):
        raise BackupError(_REFUSED)
    info = BackupInfo(header["created_at"], master.key_id, header["records"], len(data))
    return info, data[start + size : end]


def check_image(conn: sqlite3.Connection, master: MasterKey) -> Counter[str]:
    """Check a database image: intact, our schema, not mid-rotation, every row opens.

    Returns the number of records per kind.
    """
    try:
        ok = conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        schema = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
        rotating = conn.execute("SELECT 1 FROM meta WHERE key = ?", (ROTATION_META,)).fetchall()
        rows = list(_rows(conn))
    except sqlite3.Error:
        raise BackupError("the database in the backup is unreadable") from None
    if not ok or schema != [(str(SCHEMA_VERSION).encode(),)]:
        raise BackupError("the database in the backup is corrupt or of another schema")
    if rotating:
        raise StateError("master key rotation in progress; finish `keys rotate` first")
    check_rows(rows, {master.key_id: master})
    return Counter(row[0] for row in rows)


@contextmanager
def open_image(image: bytes) -> Iterator[sqlite3.Connection]:
    """``with open_image(image) as conn``: an in-memory, query-only connection over an image."""
    conn = sqlite3.connect(":memory:")
    try:
        try:
            conn.deserialize(image)
            conn.execute("PRAGMA query_only=ON")
            conn.execute("PRAGMA trusted_schema=OFF")
        except sqlite3.Error:
            raise BackupError("the database in the backup is unreadable") from None
        yield conn
    finally:
        conn.close()


def _snapshot(db_path: Path) -> bytes:
    try:
        # mode=rw: never create a database that is not there.
        src = sqlite3.connect(db_path.resolve().as_uri() + "?mode=rw", uri=True)
        try:
            src.execute("PRAGMA query_only=ON")
            dst = sqlite3.connect(":memory:")
            try:
                src.backup(dst)  # all pages in one step: one read transaction
                image = bytearray(dst.serialize())
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error:
        raise BackupError(f"cannot read the store at {db_path}") from None
    # Header bytes 18-19 are the file format versions: 2 (WAL) cannot be opened
    # in memory; 1 is the rollback journal. Store switches the restored file to WAL.
    image[18:20] = b"\x01\x01"
    return bytes(image)


def _rows(conn: sqlite3.Connection) -> Iterator[Row]:
    for row in conn.execute(_ROWS):
        kind, client_id, mode, name, version, key_id, *blobs = row
        texts = (kind, client_id, mode, name, key_id)
        if not all(isinstance(t, str) for t in texts) or not isinstance(version, int):
            raise BackupError("malformed sealed record row")
        if not all(isinstance(b, bytes) for b in blobs):
            raise BackupError("malformed sealed record row")
        yield kind, client_id, mode, name, version, SealedRecord(key_id, *blobs)


def _header(raw: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        doc = None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        fmt = doc.get("format") if isinstance(doc, dict) else None
        raise BackupError(f"unsupported backup format {fmt}" if isinstance(fmt, int) else _REFUSED)
    mac = doc.get("mac_key")
    valid = (
        isinstance(doc.get("created_at"), int)
        and isinstance(doc.get("master_key_id"), str)
        and _KEY_ID.fullmatch(doc["master_key_id"]) is not None  # it is printed unverified
        and isinstance(doc.get("db_size"), int)
        and doc["db_size"] >= 0
        and isinstance(doc.get("records"), dict)
        and all(type(v) is int for v in doc["records"].values())
        and isinstance(mac, dict)
        and set(mac) == {"salt", *_SEALED_FIELDS}
        and all(isinstance(v, str) for v in mac.values())
    )
    if not valid:
        raise BackupError(_REFUSED)
    return doc


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise BackupError(_REFUSED) from None


def _write_new(out: Path, data: bytes) -> None:
    if out.exists():
        raise BackupError(f"{out} exists; a backup never replaces a file")
    try:
        write_new(out, data, prefix=".backup-")  # never replaces a file created meanwhile
    except FileExistsError:
        raise BackupError(f"{out} exists; a backup never replaces a file") from None
