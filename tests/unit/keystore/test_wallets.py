"""WalletStore invariants (signer/keystore/wallets.py docstring), on a real SQLite file."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from signer.domain import Mode, Principal
from signer.errors import PolicyDeniedError, TradingWalletExistsError, UnsealError
from signer.keystore.handles import Secret
from signer.keystore.sealing import MasterKey
from signer.keystore.store import Store
from signer.keystore.wallets import WALLET, Challenge, WalletStore

ALICE = Principal("alice", Mode.LIVE)
BOB = Principal("bob", Mode.LIVE)
ADDR = "0x" + "ab" * 20
ADDR2 = "0x" + "cd" * 20


def _store(tmp_path: Path, master: MasterKey | None = None) -> tuple[Store, WalletStore]:
    store = Store(tmp_path / "db")
    return store, WalletStore(store, master or MasterKey.from_bytes(b"\x07" * 32))


def test_create_stores_row_and_sealed_key_together(tmp_path: Path) -> None:
    store, wallets = _store(tmp_path)
    key = secrets.token_bytes(32)
    row = wallets.create_trading(ALICE, ADDR, Secret(key), "main")
    assert row.wallet_id == f"turnkey:{ADDR}"
    assert store.get_sealed(WALLET, "alice", "live", ADDR) is not None
    opened = wallets.trading_key(ALICE)
    assert opened is not None and opened.expose() == key
    assert key not in (tmp_path / "db").read_bytes()


def test_second_trading_wallet_refused_and_nothing_half_written(tmp_path: Path) -> None:
    store, wallets = _store(tmp_path)
    wallets.create_trading(ALICE, ADDR, Secret(b"\x01" * 32), "")
    with pytest.raises(TradingWalletExistsError):
        wallets.create_trading(ALICE, ADDR2, Secret(b"\x02" * 32), "")
    assert [w.address for w in wallets.wallets(ALICE)] == [ADDR]
    assert store.get_sealed(WALLET, "alice", "live", ADDR2) is None  # rolled back with the row
    wallets.create_trading(BOB, ADDR2, Secret(b"\x02" * 32), "")  # other principal: fine


def test_sealed_key_cannot_move_to_another_principal(tmp_path: Path) -> None:
    store, wallets = _store(tmp_path)
    wallets.create_trading(ALICE, ADDR, Secret(b"\x01" * 32), "")
    wallets.create_trading(BOB, ADDR, Secret(b"\x02" * 32), "")
    with store._write() as cur:  # swap the two sealed keys
        rows = cur.execute(
            "SELECT client_id, wrap_nonce, wrapped_key, nonce, ciphertext FROM sealed_records"
            " WHERE kind = 'wallet' ORDER BY client_id"
        ).fetchall()
        for (client, *_), (_, *blob) in zip(rows, reversed(rows), strict=True):
            cur.execute(
                "UPDATE sealed_records SET wrap_nonce=?, wrapped_key=?, nonce=?, ciphertext=?"
                " WHERE kind = 'wallet' AND client_id = ?",
                (*blob, client),
            )
    with pytest.raises(UnsealError):
        wallets.trading_key(ALICE)


def test_challenge_is_consumed_once(tmp_path: Path) -> None:
    _, wallets = _store(tmp_path)
    ch = Challenge("h" * 64, "alice", "live", ADDR, 1, 2**40, False)
    wallets.put_challenge(ch)
    assert wallets.challenge("h" * 64) == ch
    first = wallets.link(ALICE, ch, "")
    assert first.wallet_id == f"connected:{ADDR}"
    with pytest.raises(PolicyDeniedError):
        wallets.link(ALICE, ch, "")
    stored = wallets.challenge("h" * 64)
    assert stored is not None and stored.used
    assert wallets.unlink(ALICE, ADDR) and not wallets.unlink(ALICE, ADDR)
