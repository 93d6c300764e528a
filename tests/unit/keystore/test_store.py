"""The SQLite store: durability settings, permissions, versions, errors."""

from __future__ import annotations

import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from signer.errors import StorageError
from signer.keystore.sealing import SealedRecord
from signer.keystore.store import Store


def _rec(tag: int) -> SealedRecord:
    return SealedRecord(f"kid{tag}", bytes([tag]) * 12, bytes([tag]) * 48, b"n" * 12, b"c" * tag)


def _put(store: Store, name: str, tag: int = 1, kind: str = "credential") -> int:
    return store.put_sealed(kind, "client-a", "live", name, lambda _v: _rec(tag))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "state.db")
    yield opened
    opened.close()


def test_creates_private_files_and_directory(tmp_path: Path) -> None:
    path = tmp_path / "new" / "state" / "state.db"
    store = Store(path)
    _put(store, "kraken")
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for name in ("state.db", "state.db-wal", "state.db-shm"):
        assert stat.S_IMODE((path.parent / name).stat().st_mode) == 0o600, name
    store.close()


def test_durability_pragmas(store: Store) -> None:
    conn = store._conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA trusted_schema").fetchone()[0] == 0


def test_schema_version_is_recorded(store: Store) -> None:
    assert store.meta_get("schema_version") == b"1"


def test_unknown_schema_version_is_refused(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    store.meta_put("schema_version", b"99")
    store.close()
    with pytest.raises(StorageError, match="initialise"):
        Store(tmp_path / "state.db")


def test_garbage_file_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"definitely not sqlite " * 100)
    with pytest.raises(StorageError):
        Store(path)


def test_put_sealed_binds_the_next_version(store: Store) -> None:
    seen: list[int] = []

    def seal_fn(version: int) -> SealedRecord:
        seen.append(version)
        return _rec(version)

    for _ in range(3):
        store.put_sealed("credential", "client-a", "live", "kraken", seal_fn)
    assert seen == [1, 2, 3]
    assert store.get_sealed("credential", "client-a", "live", "kraken") == (3, _rec(3))


def test_failed_seal_rolls_back(store: Store) -> None:
    _put(store, "kraken", tag=1)

    def boom(_version: int) -> SealedRecord:
        raise RuntimeError("seal failed")

    with pytest.raises(RuntimeError):
        store.put_sealed("credential", "client-a", "live", "kraken", boom)
    assert store.get_sealed("credential", "client-a", "live", "kraken") == (1, _rec(1))
    assert _put(store, "kraken", tag=2) == 2


def test_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    first = Store(path)
    _put(first, "kraken", tag=1)
    _put(first, "kraken", tag=2)
    first.counter_set_max("c", 7)
    # No close(): a crash after acknowledgement must not lose the write.
    second = Store(path)
    assert second.get_sealed("credential", "client-a", "live", "kraken") == (2, _rec(2))
    assert second.counter_get("c") == 7
    second.close()
    first.close()


def test_delete_list_and_count(store: Store) -> None:
    for name in ("okx", "binance", "kraken"):
        _put(store, name)
    store.put_sealed("credential", "client-a", "sandbox", "bybit", lambda _v: _rec(1))
    store.put_sealed("credential", "client-b", "live", "coinbase", lambda _v: _rec(1))
    _put(store, "audit", kind="daemon")
    assert store.list_names("credential", "client-a", "live") == ["binance", "kraken", "okx"]
    assert store.list_names("credential", "client-a", "sandbox") == ["bybit"]
    assert store.count("credential") == 5 and store.count("daemon") == 1
    assert store.delete("credential", "client-a", "live", "okx") is True
    assert store.delete("credential", "client-a", "live", "okx") is False
    assert store.get_sealed("credential", "client-a", "live", "okx") is None
    assert store.list_names("credential", "client-a", "live") == ["binance", "kraken"]
    assert _put(store, "okx") == 1  # a deleted record starts over


def test_meta_and_counters(store: Store) -> None:
    assert store.meta_get("policy") is None
    store.meta_put("policy", b"v1")
    store.meta_put("policy", b"v2")
    assert store.meta_get("policy") == b"v2"
    assert store.counter_get("n") is None
    assert store.counter_set_max("n", 10) == 10
    assert store.counter_set_max("n", 5) == 10
    assert store.counter_get("n") == 10
    assert store.counter_set_max("n", 2**63 - 1) == 2**63 - 1
    with pytest.raises(ValueError, match="range"):
        store.counter_set_max("n", 2**63)


def test_iter_records_pages_through_everything(store: Store) -> None:
    names = [f"venue{i:04d}" for i in range(600)]
    for name in names:
        _put(store, name, tag=len(name))
    _put(store, "x", kind="daemon")
    _put(store, "venue0000", tag=3)  # an overwrite is still seen once
    rows = list(store.iter_records())
    assert [r[3] for r in rows] == [*names, "x"]
    assert rows[0] == ("credential", "client-a", "live", "venue0000", 2, _rec(3))
    assert rows[-1][0] == "daemon"


def test_malformed_row_is_a_storage_error(store: Store) -> None:
    _put(store, "kraken")
    store._conn.execute("UPDATE sealed_records SET ciphertext = 'text, not a blob'")
    with pytest.raises(StorageError, match="malformed"):
        store.get_sealed("credential", "client-a", "live", "kraken")


def test_sqlite_errors_are_wrapped_without_values(store: Store) -> None:
    store.close()
    with pytest.raises(StorageError) as info:
        store.get_sealed("credential", "client-a", "live", "secret-name")
    assert "secret-name" not in str(info.value)
    with pytest.raises(StorageError):
        _put(store, "kraken")
    store.close()  # idempotent


def test_concurrent_puts_get_distinct_versions(store: Store) -> None:
    versions: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(25):
            v = _put(store, "kraken")
            with lock:
                versions.append(v)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(versions) == list(range(1, 201))


def test_write_from_another_connection_is_seen(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = Store(path)
    _put(store, "kraken", tag=1)
    other = sqlite3.connect(path)
    other.execute("UPDATE sealed_records SET version = 9")
    other.commit()
    other.close()
    got = store.get_sealed("credential", "client-a", "live", "kraken")
    assert got is not None and got[0] == 9
    assert _put(store, "kraken") == 10
    store.close()


def test_counter_advance_only_goes_up_with_its_meta(tmp_path: Path) -> None:
    from signer.keystore.store import CounterNotAdvancedError

    store = Store(tmp_path / "state.db")
    assert store.counter_advance("policy.version", 3, ("policy.document", b"v3")) is None
    assert store.counter_advance("policy.version", 5, ("policy.document", b"v5")) == 3
    for value in (5, 4, -1):
        with pytest.raises(CounterNotAdvancedError) as err:
            store.counter_advance("policy.version", value, ("policy.document", b"bad"))
        assert err.value.current == 5
    assert store.meta_get("policy.document") == b"v5"  # refused writes wrote nothing
    assert (
        store.counter_advance("policy.version", 5, ("policy.document", b"v5b"), allow_equal=True)
        == 5
    )
    store.close()
    reopened = Store(tmp_path / "state.db")  # durable across a restart
    assert reopened.counter_get("policy.version") == 5
    assert reopened.meta_get("policy.document") == b"v5b"
    with pytest.raises(ValueError, match="out of range"):
        reopened.counter_advance("policy.version", 2**63, ("policy.document", b"x"))
    reopened.close()
