"""Wiping: the buffers a test holds on to are all zero after eviction, drop or close.

Each test keeps references to the very bytearrays that held the secrets
(private attributes, on purpose: that memory is what must be zeroed), then
triggers the wipe the daemon relies on and looks at those buffers.
"""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from signer.domain import Mode, Principal
from signer.keystore import Keystore, MasterKey, Store
from signer.keystore.handles import Secret, VenueCredentials
from signer.keystore.wallets import WalletStore
from signer.schemes.secp256k1 import Secp256k1Key

ALICE = Principal("alice", Mode.LIVE)
PAYLOAD = {
    "api_key": "key-alice",
    "api_secret": "s3cret-alice-value",
    "passphrase": "pass-alice",
    "extra": {"signer_private_key": "0x" + "ab" * 32, "memo": "memo-alice"},
}


def buffers(creds: VenueCredentials) -> list[bytearray]:
    return [creds.secret._buf, creds.passphrase._buf, *(v._buf for v in creds.extra.values())]


def all_zero(bufs: list[bytearray]) -> bool:
    return all(len(b) > 0 and not any(b) for b in bufs)


@pytest.fixture
def ks(tmp_path: Path) -> Keystore:
    return Keystore(Store(tmp_path / "s.db"), MasterKey.from_bytes(bytes(range(32))), cache_size=1)


def test_secret_wipe_zeroes_the_same_buffer_in_place() -> None:
    secret = Secret("correct horse battery staple")
    buf = secret._buf
    secret.wipe()
    assert secret._buf is buf and len(buf) == 28 and not any(buf)


def test_a_dropped_secret_zeroes_its_buffer() -> None:
    secret = Secret(b"\x01" * 40)
    buf = secret._buf
    del secret
    gc.collect()
    assert buf == bytearray(40)


def test_borrow_is_read_only_and_released() -> None:
    secret = Secret(b"abc")
    with secret.borrow() as view:
        assert view.tobytes() == b"abc"
        with pytest.raises(TypeError):
            view[0] = 0
    with pytest.raises(ValueError, match="released"):
        view.tobytes()
    secret.wipe()  # no export left behind
    assert secret.expose() == bytes(3)


def test_credentials_wipe_zeroes_everything_and_drops_derived() -> None:
    creds = VenueCredentials(
        "bitget", "k", Secret("s"), Secret("p"), {"a": Secret("x"), "b": Secret("y")}
    )
    derived = creds.derived("hmac", lambda: object())
    bufs = buffers(creds)
    creds.wipe()
    assert all_zero(bufs)
    assert creds.derived("hmac", lambda: object()) is not derived  # rebuilt, not kept


def test_lru_eviction_zeroes_the_evicted_buffers(ks: Keystore) -> None:
    ks.put_credentials(ALICE, "bitget", PAYLOAD)
    ks.put_credentials(ALICE, "okx", PAYLOAD)
    first = ks.credentials(ALICE, "bitget")
    assert first is not None
    bufs = buffers(first)
    assert not any(all_zero([b]) for b in bufs)
    ks.credentials(ALICE, "okx")  # cache_size=1: bitget is evicted
    assert all_zero(bufs)
    ks.close()


def test_close_zeroes_cached_buffers_and_counts_them(ks: Keystore) -> None:
    ks.put_credentials(ALICE, "bitget", PAYLOAD)
    creds = ks.credentials(ALICE, "bitget")
    assert creds is not None
    bufs = buffers(creds)
    assert ks.close() == 1
    assert all_zero(bufs)


def test_uncached_trading_wallet_handle_is_zeroed_when_dropped(tmp_path: Path) -> None:
    store = Store(tmp_path / "w.db")
    wallets = WalletStore(store, MasterKey.from_bytes(bytes(range(32))))
    key = Secret(bytes(range(1, 33)))
    wallets.create_trading(ALICE, Secp256k1Key.from_secret(key).address, key, "")
    for venue in ("hyperliquid", "polymarket"):
        handle = wallets.trading_handle(ALICE, venue)
        assert handle is not None
        bufs = [b for b in buffers(handle) if b]
        assert len(bufs) == 1 and bytes(bufs[0]).startswith(b"0x0102")
        del handle
        gc.collect()
        assert all_zero(bufs)
    store.close()


def test_master_key_wipe_zeroes_its_buffer() -> None:
    master = MasterKey.from_bytes(bytes(range(1, 33)))
    buf = master._buf
    master.wipe()
    assert buf == bytearray(32)
