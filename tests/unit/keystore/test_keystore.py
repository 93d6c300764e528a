"""The Keystore: credentials round trip, namespacing, payload shape, daemon secrets."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from signer.domain import Mode, Principal
from signer.keystore import Keystore, MasterKey, SealedRecord, Store
from signer.keystore.handles import VenueCredentials

MASTER = MasterKey.from_bytes(bytes(range(32)))
A_LIVE = Principal("client-a", Mode.LIVE)
A_SANDBOX = Principal("client-a", Mode.SANDBOX)
B_LIVE = Principal("client-b", Mode.LIVE)


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


# --- round trip, versions, namespacing -------------------------------------------------


def test_round_trip_and_missing(ks: Keystore) -> None:
    assert ks.put_credentials(A_LIVE, "kraken", payload("1")) == 1
    assert_creds(ks.credentials(A_LIVE, "kraken"), "kraken", "1")
    assert ks.credentials(A_LIVE, "binance") is None


def test_optional_fields_default(ks: Keystore) -> None:
    ks.put_credentials(A_LIVE, "binance", {"api_key": "k", "api_secret": "s"})
    creds = ks.credentials(A_LIVE, "binance")
    assert creds is not None and creds.passphrase.expose() == b"" and creds.extra == {}


def test_overwrite_increments_version_and_survives_reopen(ks: Keystore, db: Path) -> None:
    assert [ks.put_credentials(A_LIVE, "okx", payload(str(i))) for i in range(3)] == [1, 2, 3]
    assert_creds(ks.credentials(A_LIVE, "okx"), "okx", "2")
    fresh = reopen(db)  # the first Keystore is still open: no close() needed for durability
    assert_creds(fresh.credentials(A_LIVE, "okx"), "okx", "2")
    fresh.close()


def test_delete_and_list_venues(ks: Keystore) -> None:
    for venue in ("okx", "binance", "kraken"):
        ks.put_credentials(A_LIVE, venue, payload(venue))
    assert ks.list_venues(A_LIVE) == ["binance", "kraken", "okx"]
    assert ks.delete_credentials(A_LIVE, "binance") is True
    assert ks.delete_credentials(A_LIVE, "binance") is False
    assert ks.credentials(A_LIVE, "binance") is None
    assert ks.list_venues(A_LIVE) == ["kraken", "okx"]


def test_live_and_sandbox_never_see_each_other(ks: Keystore) -> None:
    ks.put_credentials(A_LIVE, "bybit", payload("live"))
    ks.put_credentials(A_SANDBOX, "bybit", payload("sandbox"))
    ks.put_credentials(A_SANDBOX, "kalshi", payload("sandbox-only"))
    assert_creds(ks.credentials(A_LIVE, "bybit"), "bybit", "live")
    assert_creds(ks.credentials(A_SANDBOX, "bybit"), "bybit", "sandbox")
    assert ks.credentials(A_LIVE, "kalshi") is None
    assert ks.list_venues(A_LIVE) == ["bybit"]
    assert ks.list_venues(A_SANDBOX) == ["bybit", "kalshi"]
    assert ks.list_venues(B_LIVE) == []
    ks.delete_credentials(A_SANDBOX, "bybit")
    assert_creds(ks.credentials(A_LIVE, "bybit"), "bybit", "live")


@pytest.mark.parametrize(
    "bad",
    [
        {"api_key": "k", "api_secret": "s", "wallet": "w"},
        {"api_key": "k"},
        {"api_key": 1, "api_secret": "s"},
        {"api_key": "k", "api_secret": b"s"},
        {"api_key": "k", "api_secret": "s", "passphrase": None},
        {"api_key": "k", "api_secret": "s", "extra": ["x"]},
        {"api_key": "k", "api_secret": "s", "extra": {"x": 1}},
    ],
)
def test_malformed_payload_is_refused_without_values(ks: Keystore, bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="credential") as info:
        ks.put_credentials(A_LIVE, "kraken", bad)
    assert "'s'" not in str(info.value) and "wallet" not in str(info.value)
    assert ks.list_venues(A_LIVE) == []


def test_invalid_sizes_are_refused(db: Path) -> None:
    store = Store(db)
    with pytest.raises(ValueError, match="positive"):
        Keystore(store, MASTER, cache_size=0)
    with pytest.raises(ValueError, match="positive"):
        Keystore(store, MASTER, nonce_block=0)
    store.close()


# --- daemon secrets -----------------------------------------------------------------


def test_daemon_secret_is_created_once_and_durable(ks: Keystore, db: Path) -> None:
    calls: list[bytes] = []

    def generate() -> bytes:
        calls.append(bytes([len(calls) + 1]) * 32)
        return calls[-1]

    first = ks.daemon_secret("x25519", generate)
    second = ks.daemon_secret("x25519", generate)
    assert first.expose() == second.expose() == bytes([1]) * 32 and first is not second
    first.wipe()
    assert second.expose() == bytes([1]) * 32  # each caller owns its Secret
    fresh = reopen(db)  # without closing the first: creation was durable on return
    assert fresh.daemon_secret("x25519", generate).expose() == bytes([1]) * 32
    assert fresh.daemon_secret("ed25519-audit", generate).expose() == bytes([2]) * 32
    assert len(calls) == 2
    assert fresh.list_venues(Principal("-", Mode.LIVE)) == []
    fresh.close()


def test_daemon_secret_concurrent_creation_agrees(ks: Keystore) -> None:
    results: list[bytes] = []
    counter = iter(range(1, 1000))

    def generate() -> bytes:
        return bytes([next(counter)]) * 32

    def worker() -> None:
        results.append(ks.daemon_secret("audit", generate).expose())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and len(set(results)) == 1


def test_daemon_secret_created_elsewhere_meanwhile_is_kept(db: Path) -> None:
    """If another writer creates the secret between our read and write, keep theirs."""
    writer = reopen(db)
    writer.daemon_secret("audit", lambda: b"T" * 32)

    class BlindStore(Store):
        blind = True

        def get_sealed(
            self, kind: str, client_id: str, mode: str, name: str
        ) -> tuple[int, SealedRecord] | None:
            if self.blind:
                self.blind = False
                return None
            return super().get_sealed(kind, client_id, mode, name)

    ks = Keystore(BlindStore(db), MASTER)
    assert ks.daemon_secret("audit", lambda: b"M" * 32).expose() == b"T" * 32
    ks.close()
    writer.close()


def test_empty_generated_daemon_secret_is_refused(ks: Keystore) -> None:
    with pytest.raises(ValueError, match="empty"):
        ks.daemon_secret("audit", lambda: b"")
    assert ks.daemon_secret("audit", lambda: b"k" * 32).expose() == b"k" * 32
