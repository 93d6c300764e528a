"""Durable monotonic nonces: unique, increasing, above the floor, across restarts."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import pytest

from signer.errors import StorageError
from signer.keystore import Keystore, MasterKey, Store

MASTER = MasterKey.from_bytes(bytes(range(32)))


class CountingStore(Store):
    """A real Store that counts (durable) high-water-mark writes."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.persists = 0

    def counter_set_max(self, name: str, value: int) -> int:
        self.persists += 1
        return super().counter_set_max(name, value)


def test_strictly_increasing_across_threads(tmp_path: Path) -> None:
    ks = Keystore(Store(tmp_path / "state.db"), MASTER, nonce_block=500)
    per_thread: list[list[int]] = [[] for _ in range(4)]

    def worker(out: list[int]) -> None:
        for _ in range(2500):
            out.append(ks.next_nonce("kraken:client-a:live", 0))

    threads = [threading.Thread(target=worker, args=(out,)) for out in per_thread]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [v for out in per_thread for v in out]
    assert len(everything) == 10_000 and len(set(everything)) == 10_000
    for out in per_thread:
        assert all(a < b for a, b in itertools.pairwise(out))
    ks.close()


def test_restart_continues_above_everything_returned(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    first = Keystore(Store(path), MASTER, nonce_block=100)
    returned = [first.next_nonce("s", 0) for _ in range(250)]
    # Simulated crash: the first Keystore is never closed.
    second = Keystore(Store(path), MASTER, nonce_block=100)
    after = second.next_nonce("s", 0)
    assert after > max(returned)
    third = Keystore(Store(path), MASTER, nonce_block=100)
    assert third.next_nonce("s", 0) > after
    for ks in (first, second, third):
        ks.close()


def test_persisted_mark_always_covers_returned_values(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    ks = Keystore(store, MASTER, nonce_block=7)
    for floor in [0] * 30 + [1_000, 0, 0, 5_000, 4_000]:
        value = ks.next_nonce("s", floor)
        mark = store.counter_get("nonce:s")
        assert mark is not None and mark >= value
    ks.close()


def test_no_fsync_per_call(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "state.db")
    ks = Keystore(store, MASTER, nonce_block=1_000)
    for _ in range(5_000):
        ks.next_nonce("s", 0)
    assert store.persists == 5
    ks.close()


def test_floor_is_respected_and_never_goes_back(tmp_path: Path) -> None:
    ks = Keystore(Store(tmp_path / "state.db"), MASTER)
    now_ms = 1_750_000_000_000
    assert ks.next_nonce("s", now_ms) == now_ms
    assert ks.next_nonce("s", now_ms) == now_ms + 1
    assert ks.next_nonce("s", now_ms - 10_000) == now_ms + 2  # clock stepped back
    assert ks.next_nonce("s", now_ms + 5) == now_ms + 5
    ks.close()


def test_restart_with_time_floor(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    now_ms = 1_750_000_000_000
    first = Keystore(Store(path), MASTER)
    last = max(first.next_nonce("s", now_ms + i) for i in range(10))
    second = Keystore(Store(path), MASTER)
    nxt = second.next_nonce("s", now_ms + 10)
    assert last < nxt <= last + 60_000 + 1  # bounded jump ahead after a restart
    first.close()
    second.close()


def test_scopes_are_independent(tmp_path: Path) -> None:
    ks = Keystore(Store(tmp_path / "state.db"), MASTER)
    assert [ks.next_nonce("a", 0) for _ in range(3)] == [1, 2, 3]
    assert ks.next_nonce("b", 0) == 1
    ks.close()


@pytest.mark.parametrize(("scope", "floor"), [("", 0), ("s", -1), ("s", 2**62)])
def test_invalid_arguments_are_refused(tmp_path: Path, scope: str, floor: int) -> None:
    ks = Keystore(Store(tmp_path / "state.db"), MASTER)
    with pytest.raises(ValueError, match="nonce"):
        ks.next_nonce(scope, floor)
    ks.close()


def test_failed_persist_returns_nothing(tmp_path: Path) -> None:
    class FailingStore(Store):
        fail = False

        def counter_set_max(self, name: str, value: int) -> int:
            if self.fail:
                raise StorageError("state database write failed")
            return super().counter_set_max(name, value)

    store = FailingStore(tmp_path / "state.db")
    ks = Keystore(store, MASTER, nonce_block=3)
    got = [ks.next_nonce("s", 0) for _ in range(5)]  # persists at 1 (mark 4) and 5 (mark 8)
    store.fail = True
    got += [ks.next_nonce("s", 0) for _ in range(3)]  # 6, 7, 8 are under the mark
    with pytest.raises(StorageError):
        ks.next_nonce("s", 0)  # 9 would exceed the durable mark
    store.fail = False
    assert ks.next_nonce("s", 0) == 9
    assert got == list(range(1, 9))
    ks.close()
