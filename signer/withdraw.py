"""Withdraw: funds leave the trading wallet only to a proven wallet of the principal.

    parse (chain, token, Decimal amount, recipient, gas fields)    strict, typed errors
    policy.withdraw.decide_withdraw(document, intent)               pure; before any key
    limits: reserve the amount in the durable 24 h window           only after allow
    wallet store: unseal the trading key                            only after the reservation
    signer.evm.tx.sign(..., expected_from=trading address)          EIP-1559
    audit.append(record)                                            before returning

SECURITY (DESIGN.md invariant 4): the recipient must be a connected wallet of
the same (client, mode), registered only through a signed EIP-4361 challenge;
the gas fields are capped by the policy document so a hostile front end cannot
burn the wallet's native balance; the chain must belong to the principal's mode.
Value sent to a connected wallet (Withdraw, and SignTransaction value sends and
ERC-20 transfers) counts against the ``[limits.withdraw]`` caps; a reservation
is given back if the withdrawal then fails before anything is returned.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from policy.document import PolicyDocument
from policy.withdraw import RULE_NO_CAP, WithdrawIntent, decide_withdraw
from signer.audit import AuditLog
from signer.domain import Caller, Principal
from signer.errors import (
    BrowserSignatureRequiredError,
    InvalidRequestError,
    NoTradingWalletError,
    PolicyDeniedError,
    SignerError,
)
from signer.evm import tx as evm_tx
from signer.evm.address import parse_address, to_checksum
from signer.evm.amounts import to_base_units
from signer.evm.calldata import (
    Erc20Approve,
    Erc20Transfer,
    Erc20TransferFrom,
    decode_erc20_call,
    encode_transfer,
)
from signer.evm.chains import chain_by_id, chain_by_name
from signer.evm.tokens import HYPERLIQUID_BRIDGE2, token_by_contract
from signer.evm.tokens import token as find_token
from signer.keystore.wallets import CONNECTED, WalletStore
from signer.limits.spend import Spend, SpendLedger
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
    def __init__(
        self, wallets: WalletStore, policy: PolicyHolder, audit: AuditLog, ledger: SpendLedger
    ) -> None:
        self._wallets = wallets
        self._policy = policy
        self._audit = audit
        self._ledger = ledger

    async def withdraw(self, caller: Caller, req: WithdrawRequest) -> evm_tx.SignedTransaction:
        """Withdraw: a native or ERC-20 transfer to a connected wallet."""
        return await self._run(caller, req.principal, "withdraw", lambda: self._parse(req))

    async def _run(
        self,
        caller: Caller,
        principal: Principal,
        action: str,
        parse: Callable[[], tuple[WithdrawIntent, evm_tx.Eip1559Fields]],
    ) -> evm_tx.SignedTransaction:
        """Parse, decide (before any key), sign, audit; refusals are audited too."""
        intent: WithdrawIntent | None = None
        spend: Spend | None = None
        document = self._policy.document
        try:
            intent, fields = parse()
            decision = decide_withdraw(document, intent)
            if not decision.allowed:
                reason = decision.reasons[0] if decision.reasons else "not allowed"
                raise PolicyDeniedError(
                    f"denied by policy rule {decision.rule_id}: {reason}", rule_id=decision.rule_id
                )
            spend = self._reserve(document, principal, intent)
            signed = self._sign(principal, fields)
        except SignerError as exc:
            self._ledger.refund(spend)
            rule = exc.metadata.get("rule_id", str(exc.reason or ""))
            await self._record(caller, principal, action, intent, "deny", rule)
            raise
        except BaseException:
            self._ledger.refund(spend)
            raise
        try:
            await self._record(
                caller, principal, action, intent, "allow", decision.rule_id, signed.tx_hash
            )
        except BaseException:
            self._ledger.refund(spend)  # the transaction was never returned
            raise
        return signed

    def _reserve(
        self, document: PolicyDocument, principal: Principal, intent: WithdrawIntent
    ) -> Spend | None:
        """Count the amount against the principal's caps, durably, or raise RATE_LIMITED.

        SECURITY: after the decision, so a withdrawal refused for any other
        reason never consumes the allowance; before the key is unsealed, so an
        over-limit request touches no key. The check-and-add is one SQLite
        transaction (``SpendLedger.consume``): two racing withdrawals cannot
        both fit under a cap only one fits under. A bridge deposit stays with
        the principal (credited to its own Hyperliquid account) and is not
        counted; neither is an approve to an allowlisted spender (no value moves).
        """
        if intent.recipient_is_bridge is True or intent.call == "approve":
            return None
        cap = document.limits.withdraw_cap(intent.chain, intent.token)
        if cap is None:  # decide_withdraw denied this already; never reached
            raise PolicyDeniedError("no withdraw cap is configured", rule_id=RULE_NO_CAP)
        return self._ledger.consume(principal, cap, intent.amount)

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
            "native" if token.address is None else "transfer",
        )  # fmt: skip
        if token.address is None:  # the native gas token moves as value
            to, value, data = recipient_raw, amount, b""
        else:
            to, value, data = parse_address(token.address), 0, encode_transfer(recipient, amount)
        fields = evm_tx.Eip1559Fields(
            chain.chain_id, req.nonce, tip, max_fee, req.gas_limit, to, value, data
        )
        return intent, fields

    async def sign_transaction(
        self, caller: Caller, req: ContractCallRequest
    ) -> evm_tx.SignedTransaction:
        """SignTransaction: an allowlisted call from the trading wallet (see ``describe_call``)."""

        def parse() -> tuple[WithdrawIntent, evm_tx.Eip1559Fields]:
            if req.wallet_id.startswith("connected:"):
                raise BrowserSignatureRequiredError(
                    "connected wallets are signed in the browser, not by the daemon"
                )
            wallet = self._wallets.trading(req.principal)
            if req.wallet_id and (wallet is None or req.wallet_id != wallet.wallet_id):
                raise InvalidRequestError(
                    "wallet_id does not name this principal's trading wallet", field="wallet_id"
                )
            return self._parse_call(req)

        return await self._run(caller, req.principal, "sign_transaction", parse)

    def _parse_call(self, req: ContractCallRequest) -> tuple[WithdrawIntent, evm_tx.Eip1559Fields]:
        chain = chain_by_id(req.chain_id)
        to = parse_address(req.to, field="to")
        value = _wei(req.value or "0", "value")
        kind, symbol, recipient_raw, amount = describe_call(chain.name, to, value, req.data)
        recipient = to_checksum(recipient_raw) if recipient_raw else ""
        linked = bool(recipient) and any(
            w.role == CONNECTED and w.address == recipient
            for w in self._wallets.wallets(req.principal)
        )
        bridge = (
            kind == "transfer"
            and symbol == "USDC"
            and HYPERLIQUID_BRIDGE2.chain == chain
            and recipient == HYPERLIQUID_BRIDGE2.address
        )
        max_fee = _wei(req.max_fee_per_gas, "max_fee_per_gas")
        tip = _wei(req.max_priority_fee_per_gas, "max_priority_fee_per_gas")
        intent = WithdrawIntent(
            req.principal.client_id, req.principal.mode.value, chain.name, chain.mode.value,
            symbol, amount, recipient, linked, max_fee, tip, req.gas_limit, kind, bridge,
            spender=approve_spender(req.data) if kind == "approve" else "",
        )  # fmt: skip
        fields = evm_tx.Eip1559Fields(
            chain.chain_id, req.nonce, tip, max_fee, req.gas_limit, to, value, bytes(req.data)
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
        self,
        caller: Caller,
        principal: Principal,
        action: str,
        intent: WithdrawIntent | None,
        decision: str,
        rule: str,
        tx_hash: str = "",
    ) -> None:
        await self._audit.append(
            {
                "action": action, "caller": caller.identity,
                "client_id": principal.client_id, "mode": principal.mode.value,
                "venue": "", "chain": intent.chain if intent else "",
                "call": intent.call if intent else "",
                "token": intent.token if intent else "",
                "amount": str(intent.amount) if intent else "",
                "recipient": intent.recipient if intent else "",
                "spender": intent.spender if intent else "",
                "decision": decision, "rule": rule, "tx_hash": tx_hash,
                "policy_sha256": self._policy.document.sha256,
            }
        )  # fmt: skip


def _wei(value: str, field: str) -> int:
    if not _WEI.fullmatch(value):
        raise InvalidRequestError(f"tx.{field}: a decimal integer string in wei", field=field)
    return int(value)


@dataclass(frozen=True, slots=True)
class ContractCallRequest:
    """SignTransaction after conversion: a call from the trading wallet."""

    principal: Principal
    wallet_id: str
    chain_id: int
    to: str
    value: str
    data: bytes
    nonce: int
    max_fee_per_gas: str
    max_priority_fee_per_gas: str
    gas_limit: int


def describe_call(
    chain_name: str, to: bytes, value: int, data: bytes
) -> tuple[str, str, bytes, int]:
    """(call kind, token symbol, recipient, amount in base units) of a decoded call.

    SECURITY: only a plain value send (empty data) or an ERC-20 ``transfer`` /
    ``transferFrom`` of a registered token carries a recipient; anything else
    (approve, permit, unknown selectors, value sent to a contract) is "unknown"
    or its own kind, which the policy denies (an approve unless its spender is
    allowlisted, see ``approve_spender``). The amount is what leaves (the
    value, or the decoded token amount), so the withdraw caps see it.
    """
    chain = chain_by_name(chain_name)
    if not data:
        return "native", chain.native_symbol, to, value
    token = token_by_contract(chain, to)
    call = decode_erc20_call(data)
    if token is None or value != 0:
        return "unknown", "", b"", 0
    if isinstance(call, Erc20Transfer | Erc20TransferFrom):
        kind = "transfer" if isinstance(call, Erc20Transfer) else "transferFrom"
        return kind, token.symbol, parse_address(call.to), call.amount
    if isinstance(call, Erc20Approve):
        return "approve", token.symbol, b"", 0
    return "unknown", token.symbol, b"", 0


def approve_spender(data: bytes) -> str:
    """The checksummed spender of ERC-20 ``approve`` calldata ("" for anything else).

    SECURITY: the policy allows an approve only for a spender its chain lists
    (``approve_spenders``); the amount is not limited here.
    """
    call = decode_erc20_call(data)
    return call.spender if isinstance(call, Erc20Approve) else ""
