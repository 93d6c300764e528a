"""The Keystore cache: lazy start-up, LRU bound, invalidation, wiping, races."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from signer.domain import Mode, Principal
from signer.keystore import Keystore, MasterKey, SealedRecord, Store, sealing
from signer.keystore.handles import VenueCredentials

MASTER = MasterKey.from_bytes(bytes(range(32)))
A_LIVE = Principal("client-a", Mode.LIVE)


def payload(tag: str) -> dict[str, object]:
    return {
        "api_key": f"key-{tag}",
        "api_secret": f"secret-{tag}",
        "passphrase": f"pass-{tag}",
        "extra": {"signer_private_key": f"pk-{tag}"},
    }


def assert_creds(creds: VenueCredentials | None, venue: str, tag: str) -> None:
    assert creds is not None
    assert creds.venue == venue
    assert creds.api_key == f"key-{tag}"
    assert creds.secret.expose() == f"secret-{tag}".encode()
    assert creds.passphrase.expose() == f"pass-{tag}".encode()
    assert {k: v.expose() for k, v in creds.extra.items()} == {
        "signer_private_key": f"pk-{tag}".encode()
    }


def is_wiped(creds: VenueCredentials) -> bool:
    return not any(creds.secret.expose()) and not any(creds.passphrase.expose())


class CountingStore(Store):
    """A real Store that counts reads of sealed rows."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.gets = 0

    def get_sealed(
        self, kind: str, client_id: str, mode: str, name: str
    ) -> tuple[int, SealedRecord] | None:
        self.gets += 1
        return super().get_sealed(kind, client_id, mode, name)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "state.db"


@pytest.fixture
def ks(db: Path) -> Iterator[Keystore]:
    keystore = Keystore(Store(db), MASTER)
    yield keystore
    keystore.close()


def reopen(db: Path, master: MasterKey = MASTER) -> Keystore:
    return Keystore(Store(db), master)


def test_startup_unseals_nothing(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ks = reopen(db)
    for i in range(20):
        ks.put_credentials(Principal(f"c{i}", Mode.LIVE), "kraken", payload(str(i)))
    ks.close()
    opened: list[object] = []

    def counting_open(*args: Any) -> bytes:
        opened.append(args)
        return sealing.open_sealed(*args)

    monkeypatch.setattr("signer.keystore.keystore.open_sealed", counting_open)
    store = CountingStore(db)
    fresh = Keystore(store, MASTER)
    assert (store.gets, opened) == (0, [])
    assert fresh.list_venues(Principal("c3", Mode.LIVE)) == ["kraken"]
    assert (store.gets, opened) == (0, [])
    assert_creds(fresh.credentials(Principal("c3", Mode.LIVE), "kraken"), "kraken", "3")
    assert (store.gets, len(opened)) == (1, 1)
    fresh.close()


def test_second_lookup_is_served_from_cache(db: Path) -> None:
    store = CountingStore(db)
    ks = Keystore(store, MASTER)
    ks.put_credentials(A_LIVE, "kraken", payload("1"))
    first = ks.credentials(A_LIVE, "kraken")
    second = ks.credentials(A_LIVE, "kraken")
    assert first is second and store.gets == 1
    assert ks.credentials(A_LIVE, "okx") is None and ks.credentials(A_LIVE, "okx") is None
    assert store.gets == 3  # absences are not cached
    ks.close()


def test_put_evicts_and_wipes_the_cached_handle(db: Path) -> None:
    store = CountingStore(db)
    ks = Keystore(store, MASTER)
    ks.put_credentials(A_LIVE, "kraken", payload("1"))
    old = ks.credentials(A_LIVE, "kraken")
    assert old is not None
    ks.put_credentials(A_LIVE, "kraken", payload("2"))
    assert is_wiped(old)
    assert_creds(ks.credentials(A_LIVE, "kraken"), "kraken", "2")
    assert store.gets == 2
    ks.close()


def test_delete_evicts_and_wipes_the_cached_handle(ks: Keystore) -> None:
    ks.put_credentials(A_LIVE, "kraken", payload("1"))
    old = ks.credentials(A_LIVE, "kraken")
    assert old is not None
    assert ks.delete_credentials(A_LIVE, "kraken")
    assert is_wiped(old)
    assert ks.credentials(A_LIVE, "kraken") is None


def test_lru_eviction_wipes_the_evicted_handle(db: Path) -> None:
    store = CountingStore(db)
    ks = Keystore(store, MASTER, cache_size=2)
    for venue in ("a", "b", "c"):
        ks.put_credentials(A_LIVE, venue, payload(venue))
    ha, hb = ks.credentials(A_LIVE, "a"), ks.credentials(A_LIVE, "b")
    assert ha is not None and hb is not None
    assert ks.credentials(A_LIVE, "a") is ha  # "a" is now most recently used
    hc = ks.credentials(A_LIVE, "c")  # evicts "b"
    assert hc is not None and is_wiped(hb) and not is_wiped(ha)
    assert hb.extra["signer_private_key"].expose() == bytes(len("pk-b"))
    gets = store.gets
    assert ks.credentials(A_LIVE, "a") is ha and store.gets == gets
    assert_creds(ks.credentials(A_LIVE, "b"), "b", "b")  # reloaded, evicting "c"
    assert store.gets == gets + 1 and is_wiped(hc)
    ks.close()


def test_load_racing_a_write_is_never_cached(db: Path) -> None:
    """A handle unsealed from the old row while a put lands must not stay cached."""

    class RacingStore(CountingStore):
        ks: Keystore | None = None

        def get_sealed(
            self, kind: str, client_id: str, mode: str, name: str
        ) -> tuple[int, SealedRecord] | None:
            row = super().get_sealed(kind, client_id, mode, name)
            if self.gets == 1 and self.ks is not None:
                self.ks.put_credentials(A_LIVE, "kraken", payload("new"))
            return row

    store = RacingStore(db)
    ks = Keystore(store, MASTER)
    ks.put_credentials(A_LIVE, "kraken", payload("old"))
    store.ks = ks
    assert_creds(ks.credentials(A_LIVE, "kraken"), "kraken", "old")  # served once
    assert_creds(ks.credentials(A_LIVE, "kraken"), "kraken", "new")  # never cached stale
    ks.close()


def test_close_wipes_cached_handles(db: Path) -> None:
    ks = reopen(db)
    ks.put_credentials(A_LIVE, "kraken", payload("1"))
    handle = ks.credentials(A_LIVE, "kraken")
    assert handle is not None
    ks.close()
    assert is_wiped(handle)


def test_concurrent_lookups_share_one_handle(db: Path) -> None:
    ks = reopen(db)
    venues = [f"v{i}" for i in range(20)]
    for venue in venues:
        ks.put_credentials(A_LIVE, venue, payload(venue))
    fresh = reopen(db)
    seen: dict[str, set[int]] = {v: set() for v in venues}
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            for i in range(400):
                venue = venues[i % len(venues)]
                creds = fresh.credentials(A_LIVE, venue)
                assert_creds(creds, venue, venue)
                with lock:
                    seen[venue].add(id(creds))
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all(len(ids) == 1 for ids in seen.values())
    fresh.close()
    ks.close()
