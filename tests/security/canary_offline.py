"""Canaries known only after the run: keys the daemon generated, read offline from
its stopped state with its own keystore code (as tests/integration/crash_harness.py
does), and the deployment's own secrets (master key, TLS server key)."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization

from signer.domain import Mode, Principal
from signer.keystore import Keystore, MasterKey, Store
from signer.keystore.wallets import WalletStore
from tests.integration.conftest import Pki
from tests.security.canaries import Canary, canary, key_forms, raw_forms, text_forms
from tests.security.canary_world import LIVE, Account_


def _principal(client: str, mode: int) -> Principal:
    return Principal(client, Mode.LIVE if mode == LIVE else Mode.SANDBOX)


def _never() -> bytes:
    raise AssertionError("a daemon key is missing from the state directory")


def generated_canaries(state: Path, key_file: Path, holders: list[tuple[str, int]],
                       stored: list[Account_], deleted: list[Account_]) -> list[Canary]:  # fmt: skip
    """Trading wallet keys of ``holders`` and the daemon's sealing and audit keys.

    Also checks that every ``stored`` canary credential is exactly what the daemon
    stores (so its absence elsewhere means something) and ``deleted`` ones are gone.
    """
    store = Store(state / "signer.db")
    out = []
    try:
        master = MasterKey.load(key_file)
        keystore, wallets = Keystore(store, master, 16), WalletStore(store, master)
        for client, mode in holders:
            key = wallets.trading_key(_principal(client, mode))
            assert key is not None, f"no trading key for {client}"
            raw = key.expose()
            forms = {**raw_forms(raw, chunks=True), **text_forms("0x" + raw.hex())}
            out.append(canary(f"trading_wallet.{client}.{mode}", forms))
        for name in ("sealing-x25519", "audit-ed25519"):
            seed = keystore.daemon_secret(name, _never).expose()
            out.append(canary(f"daemon.{name}", raw_forms(seed, chunks=True)))
        for acct in stored:
            creds = keystore.credentials(_principal(acct.client, acct.mode), acct.venue)
            # A bool, not a comparison: pytest's assertion diff would print the secrets.
            same = creds is not None and creds.secret.expose() == acct.api_secret.strip().encode()
            assert same, f"{acct.client}: the stored secret is not the canary"
        for acct in deleted:
            assert keystore.credentials(_principal(acct.client, acct.mode), acct.venue) is None
    finally:
        store.close()
    return out


def deployment_canaries(key_file: Path, pki: Pki) -> list[Canary]:
    """The master key file's content and the TLS server's private key."""
    master = key_file.read_text().strip()
    tls_pem = (pki.dir / "server.key").read_text()
    tls_key = serialization.load_pem_private_key(tls_pem.encode(), None)
    decoded = raw_forms(bytes.fromhex(master), "decoded-", chunks=True)
    return [
        canary("master_key", {**text_forms(master), **decoded}),
        canary("tls.server_key", key_forms(tls_key, tls_pem)),
    ]
