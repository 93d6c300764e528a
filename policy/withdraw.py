"""Withdraw decisions: funds leave the trading wallet only to a proven wallet of
the same principal, on an enabled chain of the principal's mode, under the gas caps.

Rule ids (stable; tests and audit records refer to them):

=================================  =====  ==========================================
``withdraw.chain-disabled``        deny   the chain is absent or ``enabled = false``
``withdraw.mode-mismatch``         deny   a sandbox principal on a live chain or back
``call.not-allowlisted``           deny   SignTransaction calldata that is not a
                                          plain value send or an ERC-20 transfer /
                                          transferFrom (permit, unknown), or an
                                          approve whose spender the chain's
                                          ``approve_spenders`` does not list
``withdraw.recipient-not-linked``  deny   the recipient is not a connected wallet of
                                          this principal (DESIGN.md invariant 4) nor
                                          the Hyperliquid bridge (a deposit there is
                                          credited to the sender's own account)
``withdraw.gas-cap``               deny   a gas field exceeds the chain's cap
``withdraw.no-cap``                deny   no ``[limits.withdraw.<chain>.<token>]``
                                          cap exists for a send to a connected
                                          wallet (amounts are then checked against
                                          it by ``signer.limits``, durably)
``withdraw.to-linked-wallet``      allow  every check above passed
``call.approve-allowlisted``       allow  an ERC-20 approve for a listed spender,
                                          on an enabled chain of the principal's
                                          mode, under the gas caps
``engine.error``                   deny   evaluation raised
=================================  =====  ==========================================
"""

from __future__ import annotations

from dataclasses import dataclass

from policy.decision import Decision
from policy.document import PolicyDocument

RULE_CHAIN_DISABLED = "withdraw.chain-disabled"
RULE_MODE_MISMATCH = "withdraw.mode-mismatch"
RULE_NOT_LINKED = "withdraw.recipient-not-linked"
RULE_CALL = "call.not-allowlisted"
ALLOWED_CALLS = frozenset({"native", "transfer", "transferFrom"})
RULE_GAS_CAP = "withdraw.gas-cap"
RULE_NO_CAP = "withdraw.no-cap"
RULE_ALLOWED = "withdraw.to-linked-wallet"
RULE_APPROVE_ALLOWED = "call.approve-allowlisted"


@dataclass(frozen=True, slots=True)
class WithdrawIntent:
    """A withdrawal as the policy sees it (amounts in base units, gas in wei)."""

    client_id: str
    mode: str
    chain: str
    chain_mode: str
    token: str
    amount: int
    recipient: str
    recipient_linked: bool
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    gas_limit: int
    call: str = "transfer"
    recipient_is_bridge: bool = False
    spender: str = ""


def decide_withdraw(document: PolicyDocument, intent: WithdrawIntent) -> Decision:
    """Never raises; any failure is a deny."""
    try:
        return _decide(document, intent)
    except Exception:  # noqa: BLE001 - SECURITY: an evaluation error is a deny
        return Decision.deny("engine.error", "policy evaluation failed")


def _decide(document: PolicyDocument, intent: WithdrawIntent) -> Decision:
    chain = document.chain(intent.chain)
    if chain is None or not chain.enabled:
        return Decision.deny(RULE_CHAIN_DISABLED, f"chain {intent.chain} is not enabled")
    if intent.chain_mode != intent.mode:
        return Decision.deny(
            RULE_MODE_MISMATCH, f"a {intent.mode} principal cannot send on {intent.chain}"
        )
    # SECURITY: an approve lets the spender move the token later; only the
    # exact contracts the document lists (DESIGN.md invariant 4).
    approve = intent.call == "approve" and intent.spender.lower() in chain.approve_spenders
    if intent.call not in ALLOWED_CALLS and not approve:
        spender = f" for spender {intent.spender[:42]}" if intent.spender else ""
        return Decision.deny(RULE_CALL, f"{intent.call[:40]} calls{spender} are not signable")
    linked = intent.recipient_linked is True or intent.recipient_is_bridge is True
    if not approve and not linked:
        return Decision.deny(
            RULE_NOT_LINKED, f"{intent.recipient} is not a connected wallet of this principal"
        )
    checks = (
        (intent.max_fee_per_gas, chain.max_fee_per_gas_wei, "max_fee_per_gas"),
        (intent.max_priority_fee_per_gas, chain.max_priority_fee_per_gas_wei, "priority fee"),
        (intent.gas_limit, chain.max_gas_limit, "gas_limit"),
    )
    for value, cap, name in checks:
        if not 0 <= value <= cap:
            return Decision.deny(
                RULE_GAS_CAP, f"{name} {value} exceeds the cap {cap} on {intent.chain}"
            )
    if approve:
        return Decision.allow(RULE_APPROVE_ALLOWED, f"approve for spender {intent.spender[:42]}")
    # SECURITY: a bridge deposit is credited to the sender's own Hyperliquid
    # account (value stays with the principal), so only sends to a connected
    # wallet need, and are counted against, a withdraw cap.
    if intent.recipient_is_bridge is not True and (
        document.limits.withdraw_cap(intent.chain, intent.token) is None
    ):
        return Decision.deny(
            RULE_NO_CAP, f"no withdraw cap is configured for {intent.token} on {intent.chain}"
        )
    return Decision.allow(RULE_ALLOWED, f"to connected wallet {intent.recipient}")
