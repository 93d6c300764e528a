"""Restore a backup (``signer.backup``) into a state directory, on this or a new machine.

Invariants (tests: tests/unit/test_backup.py, tests/integration/test_backup.py):

1. Nothing in the state directory changes until the backup has been
   authenticated with the master key and its database checked (intact, our
   schema, every sealed row opens): a refused backup leaves no trace.
2. The restored database appears atomically (temp file, fsync, rename, fsync
   of the directory). An existing store is never overwritten without
   ``force``, and with it is kept beside as ``signer.db.before-restore-<time>``
   (with its WAL, checkpointed first) rather than deleted.
3. Offline: the state-directory lock is held throughout (no daemon on it).
4. Nonces never go backwards: a backup is older than the nonces the lost
   store handed out after it, so the ``nonce-floor`` counter is raised to the
   wall clock plus ``NONCE_MARGIN_MS`` and every nonce scope starts above it
   (``Keystore.next_nonce``). Venues stamp millisecond-time nonces, which a
   daemon may run up to a minute ahead of the clock (its durable nonce block).
5. The audit log is not part of a backup: it stays where it is (see README).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from signer.backup import BackupInfo, check_image, open_backup, open_image
from signer.durable import fsync_dir
from signer.errors import BackupError
from signer.keystore.keystore import NONCE_FLOOR
from signer.keystore.lock import StateLock
from signer.keystore.sealing import MasterKey

NONCE_MARGIN_MS = 10 * 60 * 1000
_MAX_BACKUP = 1 << 34
_WAL_FILES = ("-wal", "-shm")


@dataclass(frozen=True, slots=True)
class RestoreInfo:
    """What a restore did (public)."""

    backup: BackupInfo
    nonce_floor: int
    set_aside: Path | None


def restore_backup(
    src: Path,
    db_path: Path,
    master: MasterKey,
    *,
    force: bool = False,
    now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
) -> RestoreInfo:
    """Restore the backup file ``src`` as the store ``db_path`` (its directory is the state dir).

    Raises:
        BackupError: unreadable, refused (format, integrity, key), or a store exists.
        StateError: the state directory is in use, or the database fails its checks.
    """
    try:
        with open(src, "rb") as fh:
            data = fh.read(_MAX_BACKUP + 1)
    except OSError as exc:
        raise BackupError(f"cannot read {src}: {type(exc).__name__}") from None
    if len(data) > _MAX_BACKUP:
        raise BackupError("backup is larger than 16 GiB")
    info, image = open_backup(data, master)
    with open_image(image) as conn:
        check_image(conn, master)
    with StateLock.acquire(db_path.parent):
        if _exists(db_path) and not force:
            raise BackupError(
                f"{db_path} exists; pass --force to replace it (it is kept beside, not deleted)"
            )
        tmp = db_path.with_name(f".{db_path.name}.restore-{os.getpid()}")
        floor = now_ms() + NONCE_MARGIN_MS
        try:
            _write_private(tmp, image)
            _raise_floor(tmp, floor)
            aside = _set_aside(db_path) if _exists(db_path) else None
            os.rename(tmp, db_path)
            fsync_dir(db_path.parent)
        finally:
            for leftover in (tmp, *(Path(f"{tmp}{s}") for s in _WAL_FILES)):
                leftover.unlink(missing_ok=True)
    return RestoreInfo(info, floor, aside)


def _exists(db_path: Path) -> bool:
    return any(Path(f"{db_path}{s}").exists() for s in ("", *_WAL_FILES))


def _write_private(path: Path, image: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(image)
        fh.flush()
        os.fsync(fh.fileno())


def _raise_floor(path: Path, floor: int) -> None:
    # The image is in rollback-journal mode (signer.backup): no WAL files appear here.
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA trusted_schema=OFF")
        conn.execute(
            "INSERT INTO counters(name, value) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)",
            (NONCE_FLOOR, floor),
        )
    except sqlite3.Error:
        raise BackupError("cannot prepare the restored database") from None
    finally:
        conn.close()


def _set_aside(db_path: Path) -> Path:
    """Checkpoint the current store into its main file, then move it (and any WAL) aside."""
    if db_path.exists():
        conn = sqlite3.connect(db_path.resolve().as_uri() + "?mode=rw", uri=True)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            raise BackupError(f"cannot checkpoint the existing store {db_path}") from None
        finally:
            conn.close()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = db_path.with_name(f"{db_path.name}.before-restore-{stamp}")
    # SECURITY: move the -wal/-shm too: a stale WAL beside the restored file
    # would be replayed into it on the next open.
    for suffix in (*_WAL_FILES, ""):
        current = Path(f"{db_path}{suffix}")
        if current.exists():
            os.rename(current, Path(f"{aside}{suffix}"))
    return aside
