"""Wallets at rest: the trading wallet (sealed secp256k1 key + public row),
connected wallets (public rows only) and single-use link challenges.

Invariants (tests: tests/unit/keystore/test_wallets.py):

1. Durable before revealed: ``create_trading`` writes the wallet row and its
   sealed key in ONE transaction (fsync'd on COMMIT, ``synchronous=FULL``), so
   an address is only ever returned for a key that is stored, and a crash
   leaves either both or neither.
2. At most one trading wallet per (client, mode): a partial unique index, so
   two concurrent creates cannot both succeed (the second is TRADING_WALLET_EXISTS).
3. A link challenge is consumed at most once: ``UPDATE ... WHERE used = 0`` in
   the same transaction that inserts the connected wallet.
4. The key is sealed like a credential (AAD binds kind "wallet", client, mode,
   address and version), so a sealed key cannot be moved to another principal.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from signer.domain import Principal
from signer.errors import PolicyDeniedError, StorageError, TradingWalletExistsError
from signer.keystore.handles import Secret, VenueCredentials
from signer.keystore.sealing import MasterKey, RecordAad, open_sealed, seal
from signer.keystore.store import Store

WALLET = "wallet"
TRADING, CONNECTED = "trading", "connected"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS wallets (client_id TEXT NOT NULL, mode TEXT NOT NULL,"
    " address TEXT NOT NULL, role TEXT NOT NULL, status TEXT NOT NULL, label TEXT NOT NULL,"
    " created_at INTEGER NOT NULL, PRIMARY KEY (client_id, mode, role, address))",
    "CREATE UNIQUE INDEX IF NOT EXISTS one_trading_wallet ON wallets (client_id, mode)"
    " WHERE role = 'trading'",
    "CREATE TABLE IF NOT EXISTS link_challenges (message_sha256 TEXT PRIMARY KEY,"
    " client_id TEXT NOT NULL, mode TEXT NOT NULL, address TEXT NOT NULL,"
    " chain_id INTEGER NOT NULL, expires_at INTEGER NOT NULL, used INTEGER NOT NULL)",
)
_INSERT = (
    "INSERT INTO wallets (client_id, mode, address, role, status, label, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_SELECT = "SELECT client_id, mode, address, role, status, label, created_at FROM wallets"


@dataclass(frozen=True, slots=True)
class WalletRecord:
    """A wallet's public row. ``address`` is EIP-55 checksummed."""

    client_id: str
    mode: str
    address: str
    role: str
    status: str
    label: str
    created_at: int

    @property
    def wallet_id(self) -> str:
        return f"{'turnkey' if self.role == TRADING else 'connected'}:{self.address}"


@dataclass(frozen=True, slots=True)
class Challenge:
    """An issued link challenge (the message itself is identified by its SHA-256)."""

    message_sha256: str
    client_id: str
    mode: str
    address: str
    chain_id: int
    expires_at: int
    used: bool


class WalletStore:
    """Wallet rows, sealed trading keys and link challenges over the daemon's ``Store``."""

    def __init__(self, store: Store, master: MasterKey) -> None:
        self._store = store
        self._master = master
        with store._write() as cur:
            for ddl in _SCHEMA:
                cur.execute(ddl)

    def create_trading(
        self, principal: Principal, address: str, key: Secret, label: str
    ) -> WalletRecord:
        """Store a new trading wallet (row + sealed key) atomically; durable on return.

        Raises:
            TradingWalletExistsError: the principal already has one.
        """
        row = WalletRecord(
            principal.client_id, principal.mode.value, address, TRADING, "ready", label,
            int(time.time()),
        )  # fmt: skip
        aad = RecordAad(WALLET, row.client_id, row.mode, address, 1)
        rec = seal(self._master, key.expose(), aad)
        try:
            with self._store._write() as cur:
                cur.execute(_INSERT, _t(row))
                cur.execute(
                    "INSERT INTO sealed_records (kind, client_id, mode, name, version,"
                    " master_key_id, wrap_nonce, wrapped_key, nonce, ciphertext, updated_at)"
                    " VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)",
                    (WALLET, row.client_id, row.mode, address, rec.master_key_id,
                     rec.wrap_nonce, rec.wrapped_key, rec.nonce, rec.ciphertext, row.created_at),
                )  # fmt: skip
        except StorageError as exc:
            if isinstance(exc.__cause__, sqlite3.IntegrityError):
                raise TradingWalletExistsError(
                    "a trading wallet already exists for this principal"
                ) from None
            raise
        return row

    def wallets(self, principal: Principal) -> list[WalletRecord]:
        """Every wallet of the principal: the trading wallet first, then connected ones."""
        rows = self._store._read(
            _SELECT + " WHERE client_id = ? AND mode = ?"
            " ORDER BY role = 'connected', created_at, address",
            (principal.client_id, principal.mode.value),
        )
        return [WalletRecord(*r) for r in rows]

    def trading(self, principal: Principal) -> WalletRecord | None:
        return next((w for w in self.wallets(principal) if w.role == TRADING), None)

    def trading_key(self, principal: Principal) -> Secret | None:
        """Unseal the trading wallet's private key (only after a policy allow)."""
        wallet = self.trading(principal)
        if wallet is None:
            return None
        found = self._store.get_sealed(WALLET, wallet.client_id, wallet.mode, wallet.address)
        if found is None:
            return None
        version, rec = found
        aad = RecordAad(WALLET, wallet.client_id, wallet.mode, wallet.address, version)
        return Secret(open_sealed(self._master, rec, aad))

    def trading_handle(self, principal: Principal, venue: str) -> VenueCredentials | None:
        """The trading wallet as a venue credential handle (after a policy allow).

        Hyperliquid reads the signer from ``api_key``/``secret``; Polymarket
        from ``extra["signer_private_key"]``. The key is "0x" + hex text, the
        form ``signer/venues/credentials.py`` stores for both venues.
        """
        wallet = self.trading(principal)
        key = self.trading_key(principal) if wallet is not None else None
        if wallet is None or key is None:
            return None
        text = "0x" + key.expose().hex()
        key.wipe()
        if venue == "polymarket":
            extra = {"signer_private_key": Secret(text)}
            return VenueCredentials(venue, "", Secret(b""), Secret(b""), extra)
        return VenueCredentials(venue, wallet.address, Secret(text), Secret(b""), {})

    def put_challenge(self, challenge: Challenge) -> None:
        with self._store._write() as cur:
            cur.execute(
                "DELETE FROM link_challenges WHERE expires_at < ?", (int(time.time()) - 86400,)
            )
            cur.execute(
                "INSERT INTO link_challenges VALUES (?, ?, ?, ?, ?, ?, 0)",
                (challenge.message_sha256, challenge.client_id, challenge.mode,
                 challenge.address, challenge.chain_id, challenge.expires_at),
            )  # fmt: skip

    def challenge(self, message_sha256: str) -> Challenge | None:
        rows = self._store._read(
            "SELECT * FROM link_challenges WHERE message_sha256 = ?", (message_sha256,)
        )
        if not rows:
            return None
        r = rows[0]
        return Challenge(
            str(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4]), int(r[5]), bool(r[6])
        )

    def link(self, principal: Principal, challenge: Challenge, label: str) -> WalletRecord:
        """Consume ``challenge`` and register its address, in one transaction."""
        row = WalletRecord(
            principal.client_id, principal.mode.value, challenge.address, CONNECTED, "ready",
            label, int(time.time()),
        )  # fmt: skip
        with self._store._write() as cur:
            cur.execute(
                "UPDATE link_challenges SET used = 1 WHERE message_sha256 = ? AND used = 0",
                (challenge.message_sha256,),
            )
            if cur.rowcount != 1:
                raise PolicyDeniedError(
                    "this link challenge was already used", rule_id="link.replay"
                )
            existing = cur.execute(
                _SELECT + " WHERE client_id = ? AND mode = ? AND role = ? AND address = ?",
                (row.client_id, row.mode, CONNECTED, row.address),
            ).fetchone()
            if existing:
                return WalletRecord(*existing)
            cur.execute(_INSERT, _t(row))
        return row

    def unlink(self, principal: Principal, address: str) -> bool:
        with self._store._write() as cur:
            cur.execute(
                "DELETE FROM wallets WHERE client_id = ? AND mode = ? AND role = ? AND address = ?",
                (principal.client_id, principal.mode.value, CONNECTED, address),
            )
            return cur.rowcount > 0


def _t(row: WalletRecord) -> tuple[object, ...]:
    return (row.client_id, row.mode, row.address, row.role, row.status, row.label, row.created_at)
