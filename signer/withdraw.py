"""Withdraw: funds leave the trading wallet only to a proven wallet of the principal.

    parse (chain, token, Decimal amount, recipient, gas fields)    strict, typed errors
    policy.withdraw.decide_withdraw(document, intent)               pure; before any key
    wallet store: unseal the trading key                            only after allow
    signer.evm.tx.sign(..., expected_from=trading address)          EIP-1559
    audit.append(record)                                            before returning

SECURITY (DESIGN.md invariant 4): the recipient must be a connected wallet of
the same (client, mode), registered only through a signed EIP-4361 challenge;
the gas fields are capped by the policy document so a hostile front end cannot
burn the wallet's native balance; the chain must belong to the principal's mode.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from policy.withdraw import WithdrawIntent, decide_withdraw
from signer.audit import AuditLog
from signer.domain import Caller, Principal
from signer.errors import InvalidRequestError, NoTradingWalletError, PolicyDeniedError, SignerError
from signer.evm import tx as evm_tx
from signer.evm.address import parse_address, to_checksum
from signer.evm.amounts import to_base_units
from signer.evm.calldata import encode_transfer
from signer.evm.chains import chain_by_name
from signer.evm.tokens import token as find_token
from signer.keystore.wallets import CONNECTED, WalletStore
from signer.pipeline import PolicyHolder
from signer.schemes.secp256k1 import Secp256k1Key

_WEI = re.compile(r"0|[1-9][0-9]{0,77}")


@dataclass(frozen=True, slots=True)
class WithdrawRequest:
    principal: Principal
    chain: str
    token: str
    amount: str
    recipient: str
    nonce: int
    max_fee_per_gas: str
    max_priority_fee_per_gas: str
    gas_limit: int


class WithdrawService:
    def __init__(self, wallets: WalletStore, policy: PolicyHolder, audit: AuditLog) -> None:
        self._wallets = wallets
        self._policy = policy
        self._audit = audit

    async def withdraw(self, caller: Caller, req: WithdrawRequest) -> evm_tx.SignedTransaction:
        intent: WithdrawIntent | None = None
        try:
            intent, fields = self._parse(req)
            decision = decide_withdraw(self._policy.document, intent)
            if not decision.allowed:
                reason = decision.reasons[0] if decision.reasons else "not allowed"
                raise PolicyDeniedError(
                    f"denied by policy rule {decision.rule_id}: {reason}", rule_id=decision.rule_id
                )
            signed = self._sign(req.principal, fields)
        except SignerError as exc:
            await self._record(
                caller, req, intent, "deny", exc.metadata.get("rule_id", str(exc.reason or ""))
            )
            raise
        await self._record(
            caller, req, intent, "allow", "withdraw.to-linked-wallet", signed.tx_hash
        )
        return signed

    def _parse(self, req: WithdrawRequest) -> tuple[WithdrawIntent, evm_tx.Eip1559Fields]:
        chain = chain_by_name(req.chain)
        token = find_token(chain, req.token)
        amount = to_base_units(req.amount, token.decimals)
        recipient_raw = parse_address(req.recipient, field="recipient")
        recipient = to_checksum(recipient_raw)
        linked = any(
            w.role == CONNECTED and w.address == recipient
            for w in self._wallets.wallets(req.principal)
        )
        max_fee, tip = (
            _wei(req.max_fee_per_gas, "max_fee_per_gas"),
            _wei(req.max_priority_fee_per_gas, "max_priority_fee_per_gas"),
        )
        intent = WithdrawIntent(
            req.principal.client_id, req.principal.mode.value, chain.name, chain.mode.value,
            token.symbol, amount, recipient, linked, max_fee, tip, req.gas_limit,
        )  # fmt: skip
        if token.address is None:  # the native gas token moves as value
            to, value, data = recipient_raw, amount, b""
        else:
            to, value, data = parse_address(token.address), 0, encode_transfer(recipient, amount)
        fields = evm_tx.Eip1559Fields(
            chain.chain_id, req.nonce, tip, max_fee, req.gas_limit, to, value, data
        )
        return intent, fields

    def _sign(self, principal: Principal, fields: evm_tx.Eip1559Fields) -> evm_tx.SignedTransaction:
        wallet = self._wallets.trading(principal)
        secret = self._wallets.trading_key(principal) if wallet else None
        if wallet is None or secret is None:
            raise NoTradingWalletError("no trading wallet exists for this principal")
        key = Secp256k1Key.from_secret(secret)
        secret.wipe()

        def sign_digest(digest: bytes) -> tuple[int, int, int]:
            sig = key.sign_digest(digest)
            return sig.v, sig.r, sig.s

        return evm_tx.sign(fields, sign_digest, expected_from=wallet.address)

    async def _record(
        self, caller: Caller, req: WithdrawRequest, intent: WithdrawIntent | None,
        decision: str, rule: str, tx_hash: str = "",
    ) -> None:  # fmt: skip
        await self._audit.append(
            {
                "action": "withdraw", "caller": caller.identity,
                "client_id": req.principal.client_id, "mode": req.principal.mode.value,
                "venue": "", "chain": intent.chain if intent else "",
                "token": intent.token if intent else "",
                "amount": str(intent.amount) if intent else "",
                "recipient": intent.recipient if intent else "",
                "decision": decision, "rule": rule, "tx_hash": tx_hash,
                "policy_sha256": self._policy.document.sha256,
            }
        )  # fmt: skip


def _wei(value: str, field: str) -> int:
    if not _WEI.fullmatch(value):
        raise InvalidRequestError(f"tx.{field}: a decimal integer string in wei", field=field)
    return int(value)
