"""Master key rotation (signer/keystore/rotate.py invariants), on a real SQLite file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from signer.domain import Mode, Principal
from signer.errors import StateError, UnsealError
from signer.keystore import Keystore, MasterKey, Store
from signer.keystore import rotate as rotate_mod
from signer.keystore.rotate import (
    ROTATION_META,
    RotationPlan,
    check_rows,
    check_startup,
    pending_rotation,
    rotate,
)
from signer.keystore.sealing import RecordAad, open_sealed
from signer.keystore.wallets import WalletStore
from tests.unit.keystore.populate import key_ids, open_all, populate

OLD = MasterKey.from_bytes(b"\x01" * 32)
NEW = MasterKey.from_bytes(b"\x02" * 32)
THIRD = MasterKey.from_bytes(b"\x03" * 32)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "signer.db"
    populate(path, OLD, bulk=40)
    return path


def _rotate(
    db: Path, old: MasterKey = OLD, new: MasterKey = NEW, batch_size: int = 100
) -> RotationPlan:
    store = Store(db)
    try:
        return rotate(store, old, new, batch_size=batch_size)
    finally:
        store.close()


def _pending(db: Path) -> tuple[str, str] | None:
    store = Store(db)
    try:
        return pending_rotation(store)
    finally:
        store.close()


def test_rewrap_keeps_ciphertext_and_moves_every_record_to_the_new_key(db: Path) -> None:
    before = open_all(db, [OLD])
    plan = _rotate(db, batch_size=7)
    assert (plan.pending, plan.done, plan.resumed) == (len(before), 0, False)
    assert key_ids(db) == {NEW.key_id: len(before)}
    # Same plaintext, and the nonce and ciphertext bytes are untouched.
    assert open_all(db, [NEW]) == before
    assert _pending(db) is None


def test_old_key_no_longer_opens_anything(db: Path) -> None:
    _rotate(db)
    store = Store(db)
    try:
        for kind, client, mode, name, version, rec in store.iter_records():
            aad = RecordAad(kind, client, mode, name, version)
            with pytest.raises(UnsealError):
                open_sealed(OLD, dataclasses.replace(rec, master_key_id=OLD.key_id), aad)
        with pytest.raises(StateError, match="not a given key"):
            check_rows(store.iter_records(), {OLD.key_id: OLD})
    finally:
        store.close()


def test_aad_binding_survives_rotation(db: Path) -> None:
    _rotate(db)
    store = Store(db)
    try:
        found = store.get_sealed("credential", "api-0", "live", "kraken")
        assert found is not None
        version, rec = found
        assert version == 2  # rotation keeps the version (it is in the AAD)
        good = RecordAad("credential", "api-0", "live", "kraken", version)
        assert open_sealed(NEW, rec, good)
        for other in (
            dataclasses.replace(good, client_id="api-1"),
            dataclasses.replace(good, mode="sandbox"),
            dataclasses.replace(good, name="binance"),
            dataclasses.replace(good, version=1),
            dataclasses.replace(good, kind="wallet"),
        ):
            with pytest.raises(UnsealError):
                open_sealed(NEW, rec, other)
    finally:
        store.close()


def test_daemon_classes_read_the_rotated_store(db: Path) -> None:
    _rotate(db)
    store = Store(db)
    try:
        check_startup(store, NEW)
        keystore = Keystore(store, NEW)
        creds = keystore.credentials(Principal("api-1", Mode.SANDBOX), "kraken")
        assert creds is not None and creds.api_key == "key-1"
        assert WalletStore(store, NEW).trading_key(Principal("api-0", Mode.LIVE)) is not None
        with pytest.raises(StateError, match="did not seal this store") as err:
            check_startup(store, OLD)
        assert OLD.key_id in str(err.value) and NEW.key_id in str(err.value)
        assert (b"\x01" * 32).hex() not in str(err.value)
    finally:
        store.close()


class _Crash(Exception):
    pass


def _crash_after(monkeypatch: pytest.MonkeyPatch, batches: int) -> None:
    real = rotate_mod._rewrap_batch
    calls = [0]

    def failing(*args: object) -> None:
        if calls[0] == batches:
            raise _Crash
        calls[0] += 1
        real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(rotate_mod, "_rewrap_batch", failing)


def test_interrupted_rotation_is_recorded_refused_at_start_and_resumes(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = open_all(db, [OLD])
    _crash_after(monkeypatch, 2)
    with pytest.raises(_Crash):
        _rotate(db, batch_size=5)
    monkeypatch.undo()
    assert key_ids(db) == {NEW.key_id: 10, OLD.key_id: len(before) - 10}
    assert open_all(db, [OLD, NEW]) == before  # each row opens with the key it names
    assert _pending(db) == (OLD.key_id, NEW.key_id)
    store = Store(db)
    try:
        for key in (OLD, NEW):  # the daemon starts with neither key until it is finished
            with pytest.raises(StateError, match=r"rotation in progress.*rerun"):
                check_startup(store, key)
    finally:
        store.close()
    with pytest.raises(StateError, match="unfinished rotation"):
        _rotate(db, OLD, THIRD)
    with pytest.raises(StateError, match="unfinished rotation"):
        _rotate(db, NEW, OLD)
    plan = _rotate(db)
    assert (plan.pending, plan.done, plan.resumed) == (len(before) - 10, 10, True)
    assert open_all(db, [NEW]) == before
    assert _pending(db) is None


def test_rerun_after_the_end_changes_nothing(db: Path) -> None:
    _rotate(db)
    image = db.read_bytes()
    wal = db.with_name(db.name + "-wal")
    plan = _rotate(db)
    assert (plan.pending, plan.done) == (0, sum(key_ids(db).values()))
    assert db.read_bytes() == image and not wal.exists()


def test_refused_runs_write_nothing(db: Path) -> None:
    before = open_all(db, [OLD])
    with pytest.raises(StateError, match="is the current key"):
        _rotate(db, OLD, MasterKey.from_bytes(b"\x01" * 32))
    with pytest.raises(StateError, match="not a given key"):
        _rotate(db, THIRD, NEW)  # the store is not under the given "old" key
    store = Store(db)
    with store.transaction() as cur:  # one row whose wrapped key no longer authenticates
        cur.execute(
            "UPDATE sealed_records SET wrapped_key = zeroblob(48)"
            " WHERE kind = 'credential' AND client_id = 'bulk-7'"
        )
    store.close()
    with pytest.raises(StateError, match=r"bulk-7.*does not open"):
        _rotate(db)
    assert key_ids(db) == {OLD.key_id: len(before)} and _pending(db) is None


def test_malformed_rotation_record_is_refused(db: Path) -> None:
    store = Store(db)
    try:
        store.meta_put(ROTATION_META, b"{not json")
        with pytest.raises(StateError, match="malformed"):
            check_startup(store, OLD)
    finally:
        store.close()


def test_bad_batch_size(db: Path) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        _rotate(db, batch_size=0)
