"""WalletService: the trading wallet's lifecycle and proven connected wallets.

SECURITY (DESIGN.md invariants 4 and 6): the trading key is generated here,
inside the daemon, and its address is returned only after the sealed key is
durably committed (``WalletStore.create_trading`` is one fsync'd transaction).
A connected wallet is registered only with a valid EIP-191 signature by that
address over a daemon-issued EIP-4361 message that is bound to the principal,
expires, and is consumed once. Every write and every refusal is audited.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time

from coincurve import PrivateKey

from signer.audit import AuditLog
from signer.domain import Caller, Mode, Principal
from signer.errors import (
    InvalidRequestError,
    NoTradingWalletError,
    PolicyDeniedError,
    SignerError,
    TradingWalletNotReadyError,
)
from signer.keystore.handles import Secret
from signer.keystore.wallets import Challenge, WalletRecord, WalletStore
from signer.schemes import siwe
from signer.schemes.secp256k1 import Secp256k1Key, to_checksum_address

# Chains a link challenge may name, per mode (the chain only tells the user's
# wallet which network to show; it grants nothing).
LINK_CHAINS = {
    Mode.LIVE: frozenset({1, 10, 137, 8453, 42161}),
    Mode.SANDBOX: frozenset({11155111, 11155420, 80002, 84532, 421614}),
}
MAX_LABEL = 64


class WalletManager:
    def __init__(self, store: WalletStore, audit: AuditLog, domain: str, ttl_s: int) -> None:
        self._store = store
        self._audit = audit
        self._domain = domain
        self._ttl_s = ttl_s

    def list(self, principal: Principal) -> list[WalletRecord]:
        return self._store.wallets(principal)

    def trading(self, principal: Principal) -> WalletRecord:
        wallet = self._store.trading(principal)
        if wallet is None:
            raise NoTradingWalletError("no trading wallet exists for this principal")
        if wallet.status != "ready":
            raise TradingWalletNotReadyError("the trading wallet is not ready yet")
        return wallet

    async def create_trading(
        self, caller: Caller, principal: Principal, label: str
    ) -> WalletRecord:
        _check_label(label)
        try:
            wallet = await asyncio.to_thread(self._generate_and_store, principal, label)
        except SignerError as exc:
            await self._record(
                caller, principal, "create_trading_wallet", "refused", exc.reason or ""
            )
            raise
        await self._record(
            caller, principal, "create_trading_wallet", "allow", "wallet.create", wallet.address
        )
        return wallet

    def _generate_and_store(self, principal: Principal, label: str) -> WalletRecord:
        key = Secret(PrivateKey(secrets.token_bytes(32)).secret)
        try:
            address = Secp256k1Key.from_secret(key).address
            return self._store.create_trading(principal, address, key, label)
        finally:
            key.wipe()

    async def challenge(self, principal: Principal, address: str, chain_id: int) -> tuple[str, int]:
        checksummed = _address(address)
        if chain_id not in LINK_CHAINS[principal.mode]:
            raise InvalidRequestError(
                f"chain_id {chain_id} is not a {principal.mode.value} chain", field="chain_id"
            )
        now = int(time.time())
        expires = now + self._ttl_s
        message = siwe.build_message(
            domain=self._domain, address=checksummed, chain_id=chain_id, nonce=siwe.new_nonce(),
            issued_at=now, expires_at=expires, client_id=principal.client_id,
            mode=principal.mode.value,
        )  # fmt: skip
        record = Challenge(
            _sha256(message), principal.client_id, principal.mode.value, checksummed, chain_id,
            expires, False,
        )  # fmt: skip
        await asyncio.to_thread(self._store.put_challenge, record)
        return message, expires

    async def link(
        self, caller: Caller, principal: Principal, message: str, signature: bytes
    ) -> WalletRecord:
        try:
            challenge = self._verified_challenge(principal, message, signature)
            wallet = await asyncio.to_thread(self._store.link, principal, challenge, "")
        except SignerError as exc:
            await self._record(caller, principal, "link_connected_wallet", "deny", _rule(exc))
            raise
        await self._record(
            caller, principal, "link_connected_wallet", "allow", "link.proven", wallet.address
        )
        return wallet

    def _verified_challenge(
        self, principal: Principal, message: str, signature: bytes
    ) -> Challenge:
        challenge = self._store.challenge(_sha256(message))
        # SECURITY: one answer for unknown, tampered and other-principal messages.
        if challenge is None or (challenge.client_id, challenge.mode) != (
            principal.client_id, principal.mode.value,
        ):  # fmt: skip
            raise PolicyDeniedError(
                "this message is not a link challenge issued to this principal",
                rule_id="link.unknown-challenge",
            )
        if challenge.used:
            raise PolicyDeniedError("this link challenge was already used", rule_id="link.replay")
        if challenge.expires_at < time.time():
            raise PolicyDeniedError("this link challenge has expired", rule_id="link.expired")
        if siwe.signer_of(message, signature) != challenge.address:
            raise PolicyDeniedError(
                f"the signature is not by {challenge.address}", rule_id="link.bad-signature"
            )
        return challenge

    async def unlink(self, caller: Caller, principal: Principal, address: str) -> bool:
        checksummed = _address(address)
        removed = await asyncio.to_thread(self._store.unlink, principal, checksummed)
        await self._record(
            caller, principal, "unlink_connected_wallet", "allow", "link.remove", checksummed
        )
        return removed

    async def _record(
        self,
        caller: Caller,
        principal: Principal,
        action: str,
        decision: str,
        rule: str,
        address: str = "",
    ) -> None:
        await self._audit.append(
            {
                "action": action, "caller": caller.identity, "client_id": principal.client_id,
                "mode": principal.mode.value, "venue": "", "address": address,
                "decision": decision, "rule": rule,
            }
        )  # fmt: skip


def _rule(exc: SignerError) -> str:
    return exc.metadata.get("rule_id", exc.reason.value if exc.reason else "")


def _address(value: str) -> str:
    try:
        return to_checksum_address(value)
    except ValueError:
        raise InvalidRequestError(
            "address: not a 0x-prefixed 20-byte address", field="address"
        ) from None


def _check_label(label: str) -> None:
    if len(label) > MAX_LABEL or not label.isprintable():
        raise InvalidRequestError(f"label: at most {MAX_LABEL} printable characters", field="label")


def _sha256(message: str) -> str:
    return hashlib.sha256(message.encode("utf-8")).hexdigest()
