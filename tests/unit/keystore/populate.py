"""A store with every kind of sealed record, and a way to open them all (rotation, backup tests)."""

from __future__ import annotations

import os
import secrets
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from signer.domain import Mode, Principal
from signer.keystore import Keystore, MasterKey, Store
from signer.keystore.handles import Secret
from signer.keystore.keystore import CREDENTIAL
from signer.keystore.sealing import RecordAad, open_sealed, seal
from signer.keystore.wallets import WalletStore

Opened = dict[tuple[str, str, str, str], tuple[bytes, bytes, bytes]]


def populate(db: Path, master: MasterKey, bulk: int = 0) -> None:
    """Daemon secrets, credentials and trading wallets written through the daemon's own
    classes, then ``bulk`` more credentials inserted in one transaction (fast)."""
    store = Store(db)
    try:
        keystore = Keystore(store, master)
        wallets = WalletStore(store, master)
        for name in ("sealing-x25519", "audit-ed25519"):
            keystore.daemon_secret(name, lambda: os.urandom(32))
        for i, mode in enumerate((Mode.LIVE, Mode.SANDBOX)):
            principal = Principal(f"api-{i}", mode)
            payload = {"api_key": f"key-{i}", "api_secret": secrets.token_urlsafe(32)}
            keystore.put_credentials(principal, "kraken", payload)
            keystore.put_credentials(principal, "kraken", payload | {"passphrase": "v2"})
            address = "0x" + secrets.token_hex(20)
            wallets.create_trading(principal, address, Secret(os.urandom(32)), "main")
        with store.transaction() as cur:
            for i in range(bulk):
                where = (CREDENTIAL, f"bulk-{i}", "live", "binance")
                rec = seal(master, secrets.token_bytes(48), RecordAad(*where, 1))
                cur.execute(
                    "INSERT INTO sealed_records VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)",
                    (*where, rec.master_key_id, rec.wrap_nonce,
                     rec.wrapped_key, rec.nonce, rec.ciphertext, int(time.time())),
                )  # fmt: skip
    finally:
        store.close()


def open_all(db: Path, keys: Iterable[MasterKey]) -> Opened:
    """Every record opened with the key its ``master_key_id`` names:
    ``(kind, client, mode, name) -> (plaintext, nonce, ciphertext)``. Raises if one fails."""
    by_id = {key.key_id: key for key in keys}
    store = Store(db)
    try:
        out = {}
        for kind, client, mode, name, version, rec in store.iter_records():
            aad = RecordAad(kind, client, mode, name, version)
            plaintext = open_sealed(by_id[rec.master_key_id], rec, aad)
            out[(kind, client, mode, name)] = (plaintext, rec.nonce, rec.ciphertext)
        return out
    finally:
        store.close()


def key_ids(db: Path) -> Counter[str]:
    """Records per master key id."""
    store = Store(db)
    try:
        return Counter(rec.master_key_id for *_, rec in store.iter_records())
    finally:
        store.close()
