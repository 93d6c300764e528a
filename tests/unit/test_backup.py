"""Backup and restore (signer/backup.py, signer/restore.py invariants) on real SQLite files."""

from __future__ import annotations

import base64
import json
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from signer.backup import MAGIC, create_backup, open_backup
from signer.domain import Mode, Principal
from signer.errors import BackupError, StateError
from signer.keystore import Keystore, MasterKey, Store
from signer.keystore.keystore import NONCE_FLOOR
from signer.keystore.lock import StateLock
from signer.keystore.rotate import ROTATION_META
from signer.restore import NONCE_MARGIN_MS, restore_backup
from tests.unit.keystore.populate import open_all, populate

KEY_BYTES = b"\x05" * 32
MASTER = MasterKey.from_bytes(KEY_BYTES)
OTHER = MasterKey.from_bytes(b"\x06" * 32)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "old" / "signer.db"
    populate(path, MASTER, bulk=20)
    return path


@pytest.fixture
def backup(db: Path, tmp_path: Path) -> Path:
    out = tmp_path / "signer.backup"
    info = create_backup(db, MASTER, out)
    assert info.records == {"credential": 22, "wallet": 2, "daemon": 2}
    assert info.master_key_id == MASTER.key_id and info.size == out.stat().st_size
    return out


def test_round_trip_into_a_fresh_directory(db: Path, backup: Path, tmp_path: Path) -> None:
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    target = tmp_path / "new" / "state" / "signer.db"
    done = restore_backup(backup, target, MASTER)
    assert done.set_aside is None and done.backup.records["wallet"] == 2
    assert open_all(target, [MASTER]) == open_all(db, [MASTER])
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["signer.db", "signer.lock"]


def test_backup_adds_no_plaintext(db: Path, backup: Path) -> None:
    data = backup.read_bytes()
    for plaintext, _nonce, _ciphertext in open_all(db, [MASTER]).values():
        assert plaintext not in data
    assert KEY_BYTES not in data and KEY_BYTES.hex().encode() not in data


def _refused(data: bytes, key: MasterKey = MASTER) -> str:
    with pytest.raises(BackupError) as err:
        open_backup(data, key)
    message = str(err.value)
    for secret in (KEY_BYTES.hex(), base64.b64encode(KEY_BYTES).decode(), repr(KEY_BYTES)):
        assert secret not in message
    return message


def test_every_changed_byte_region_is_refused(backup: Path) -> None:
    data = backup.read_bytes()
    header_end = len(MAGIC) + 4 + int.from_bytes(data[len(MAGIC) : len(MAGIC) + 4], "big")
    for offset in (
        len(MAGIC) + 5,  # header
        header_end + 100,  # database image
        header_end + 4096 + 17,  # database image, a data page
        len(data) - 1,  # tag
    ):
        changed = bytearray(data)
        changed[offset] ^= 0x01
        assert "integrity check" in _refused(bytes(changed))


def test_tampered_header_fields_are_refused(backup: Path) -> None:
    data = backup.read_bytes()
    start = len(MAGIC) + 4
    size = int.from_bytes(data[len(MAGIC) : start], "big")
    header = json.loads(data[start : start + size])
    changes = (
        {"records": {"credential": 1}},
        {"created_at": 1},
        {"format": 2},
        {"master_key_id": "\u001b]0;evil\u0007"},  # never printed: not a key id
    )
    for change in changes:
        head = json.dumps(header | change, sort_keys=True, separators=(",", ":")).encode()
        forged = MAGIC + len(head).to_bytes(4, "big") + head + data[start + size :]
        message = _refused(forged)
        assert "integrity" in message or "unsupported backup format 2" in message
        assert "evil" not in message


def test_truncated_or_extended_backups_are_refused(backup: Path) -> None:
    data = backup.read_bytes()
    for cut in (0, 5, len(MAGIC) + 2, len(MAGIC) + 40, len(data) // 2, len(data) - 1):
        message = _refused(data[:cut])
        assert "truncated" in message or "not a sequence-signer backup" in message
    assert "integrity" in _refused(data + b"\x00")


def test_foreign_file_is_refused(tmp_path: Path) -> None:
    assert "not a sequence-signer backup" in _refused(b"SQLite format 3\x00" + b"\x00" * 200)


def test_wrong_master_key_is_refused_by_name_without_key_bytes(backup: Path) -> None:
    message = _refused(backup.read_bytes(), OTHER)
    assert MASTER.key_id in message and OTHER.key_id in message


def test_wrong_key_with_a_forged_key_id_still_fails_integrity(backup: Path) -> None:
    data = backup.read_bytes()
    forged = data.replace(MASTER.key_id.encode(), OTHER.key_id.encode(), 1)
    assert "integrity" in _refused(forged, OTHER)


_CRASHED_WRITER = """
import os, pathlib, sys
from signer.domain import Mode, Principal
from signer.keystore import Keystore, MasterKey, Store
store = Store(pathlib.Path(sys.argv[1]))
keystore = Keystore(store, MasterKey.from_bytes(bytes.fromhex(sys.argv[2])))
keystore.put_credentials(Principal("in-wal", Mode.LIVE), "okx",
                         {"api_key": "k", "api_secret": "s", "passphrase": "p"})
os._exit(0)  # like a killed daemon: the commit is in the WAL, never checkpointed
"""


def test_existing_store_needs_force_and_is_kept_aside_with_its_wal(
    db: Path, backup: Path, tmp_path: Path
) -> None:
    target = tmp_path / "t" / "signer.db"
    populate(target, MASTER)
    subprocess.run(
        [sys.executable, "-c", _CRASHED_WRITER, str(target), KEY_BYTES.hex()], check=True
    )
    assert Path(f"{target}-wal").stat().st_size > 0
    with pytest.raises(BackupError, match="exists; pass --force"):
        restore_backup(backup, target, MASTER)
    reader = sqlite3.connect(target)  # a concurrent reader (backup, keys status) keeps the WAL
    try:
        reader.execute("SELECT count(*) FROM sealed_records").fetchall()
        done = restore_backup(backup, target, MASTER, force=True)
    finally:
        reader.close()
    assert done.set_aside is not None and done.set_aside.parent == target.parent
    assert open_all(target, [MASTER]) == open_all(db, [MASTER])  # no stale WAL replayed
    kept = {key[1] for key in open_all(done.set_aside, [MASTER])}
    assert {"in-wal", "api-0", "bulk-0"} - kept == {"bulk-0"}  # the WAL's commit kept


def test_refused_restore_leaves_the_state_directory_untouched(backup: Path, tmp_path: Path) -> None:
    target = tmp_path / "t" / "signer.db"
    target.parent.mkdir()
    with pytest.raises(BackupError):
        restore_backup(backup, target, OTHER)
    bad = tmp_path / "bad.backup"
    bad.write_bytes(backup.read_bytes()[:-3])
    with pytest.raises(BackupError, match="truncated"):
        restore_backup(bad, target, MASTER)
    assert list(target.parent.iterdir()) == []


def test_restore_refuses_a_locked_state_directory(backup: Path, tmp_path: Path) -> None:
    with StateLock.acquire(tmp_path / "busy"), pytest.raises(StateError, match="in use"):
        restore_backup(backup, tmp_path / "busy" / "signer.db", MASTER)
    assert not (tmp_path / "busy" / "signer.db").exists()


def test_nonces_never_go_backwards_after_restoring_an_older_backup(
    tmp_path: Path,
) -> None:
    db = tmp_path / "old" / "signer.db"
    store = Store(db)
    keystore = Keystore(store, MASTER, nonce_block=10)
    now_ms = time.time_ns() // 1_000_000
    keystore.next_nonce("kraken:k", floor=now_ms)
    out = tmp_path / "b"
    create_backup(db, MASTER, out)
    # After the backup the old daemon ran ahead of the clock (restarts skip a nonce block).
    used = [keystore.next_nonce("kraken:k", floor=now_ms + 300_000) for _ in range(3)]
    used.append(keystore.next_nonce("hyperliquid:new", floor=now_ms + 300_000))
    store.close()
    target = tmp_path / "new" / "signer.db"
    done = restore_backup(out, target, MASTER, now_ms=lambda: now_ms)
    assert done.nonce_floor == now_ms + NONCE_MARGIN_MS
    restored = Store(target)
    try:
        assert restored.counter_get(NONCE_FLOOR) == done.nonce_floor
        fresh = Keystore(restored, MASTER)
        for scope in ("kraken:k", "hyperliquid:new", "cryptocom-id:x"):
            assert fresh.next_nonce(scope, floor=now_ms) > max(used)
    finally:
        restored.close()


def test_backup_refuses_a_half_rotated_or_foreign_store(db: Path, tmp_path: Path) -> None:
    with pytest.raises(StateError, match="not a given key"):
        create_backup(db, OTHER, tmp_path / "x")
    store = Store(db)
    store.meta_put(ROTATION_META, b'{"from": "a", "to": "b"}')
    store.close()
    with pytest.raises(StateError, match="rotation in progress"):
        create_backup(db, MASTER, tmp_path / "y")
    with pytest.raises(BackupError, match="no store"):
        create_backup(tmp_path / "absent.db", MASTER, tmp_path / "z")
    assert not any((tmp_path / n).exists() for n in ("x", "y", "z", "absent.db"))


def test_backup_never_replaces_a_file(db: Path, backup: Path) -> None:
    data = backup.read_bytes()
    with pytest.raises(BackupError, match="exists"):
        create_backup(db, MASTER, backup)
    assert backup.read_bytes() == data


def test_backup_is_consistent_while_a_writer_continues(db: Path, tmp_path: Path) -> None:
    store = Store(db)  # an open writer, as a running daemon would be
    keystore = Keystore(store, MASTER)
    try:
        keystore.put_credentials(Principal("during", Mode.LIVE), "okx", {
            "api_key": "k", "api_secret": "s", "passphrase": "p"})  # fmt: skip
        out = tmp_path / "live.backup"
        create_backup(db, MASTER, out)
        keystore.put_credentials(Principal("after", Mode.LIVE), "okx", {
            "api_key": "k", "api_secret": "s", "passphrase": "p"})  # fmt: skip
    finally:
        store.close()
    target = tmp_path / "r" / "signer.db"
    restore_backup(out, target, MASTER)
    names = {key[1] for key in open_all(target, [MASTER])}
    assert "during" in names and "after" not in names
