"""ERC-20 approve from the trading wallet: only for a spender the chain's
``approve_spenders`` lists (policy/chains.py, policy/withdraw.py)."""

from __future__ import annotations

import dataclasses

import pytest

from policy.document import PolicyDocumentError, default_document_bytes, load_document
from policy.withdraw import WithdrawIntent, decide_withdraw
from signer.evm.calldata import encode_approve, encode_transfer
from signer.withdraw import approve_spender

SPENDER = "0xE111180000d2663C0091e4f400237545B87B996B"
ATTACKER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
LISTED = default_document_bytes().replace(
    b"[chains.arbitrum]\nenabled = true\n",
    b'[chains.arbitrum]\nenabled = true\napprove_spenders = ["'
    + SPENDER.lower().encode()
    + b'"]\n',
)
APPROVE = WithdrawIntent(
    "alice", "live", "arbitrum", "live", "USDC", 0, "", False, 10**8, 10**6, 300_000,
    call="approve", spender=SPENDER,
)  # fmt: skip


def test_listed_spender_is_allowed_any_case() -> None:
    assert default_document_bytes() != LISTED
    decision = decide_withdraw(load_document(LISTED), APPROVE)
    assert (decision.allowed, decision.rule_id) == (True, "call.approve-allowlisted")


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"spender": ATTACKER}, "call.not-allowlisted"),
        ({"spender": ""}, "call.not-allowlisted"),
        ({"chain": "ethereum"}, "call.not-allowlisted"),  # listed on arbitrum only
        ({"call": "permit"}, "call.not-allowlisted"),  # a spender does not open other calls
        ({"mode": "sandbox"}, "withdraw.mode-mismatch"),
        ({"gas_limit": 2_000_001}, "withdraw.gas-cap"),
        ({"spender": None}, "engine.error"),
    ],
)
def test_everything_else_is_denied(change: dict[str, object], rule: str) -> None:
    decision = decide_withdraw(load_document(LISTED), dataclasses.replace(APPROVE, **change))  # type: ignore[arg-type]
    assert (decision.allowed, decision.rule_id) == (False, rule)


def test_shipped_policy_lists_no_spender() -> None:
    decision = decide_withdraw(load_document(default_document_bytes()), APPROVE)
    assert (decision.allowed, decision.rule_id) == (False, "call.not-allowlisted")
    assert all(
        not chain.approve_spenders for chain in load_document(default_document_bytes()).chains
    )


def test_a_spender_does_not_turn_a_transfer_into_an_approve() -> None:
    # A transfer to an unlinked address stays denied even if that address is a listed spender.
    transfer = dataclasses.replace(APPROVE, call="transfer", recipient=SPENDER, spender=SPENDER)
    assert (
        decide_withdraw(load_document(LISTED), transfer).rule_id == "withdraw.recipient-not-linked"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"0xabc"', "must be a list of at most 32 addresses"),
        ('["0xabc"]', "approve_spenders[0]: must be a non-zero 0x address"),
        ('["0x' + "0" * 40 + '"]', "approve_spenders[0]: must be a non-zero 0x address"),
        (
            '["' + SPENDER + '", "' + SPENDER.lower() + '"]',
            "approve_spenders[1]: duplicate address",
        ),
        ("[" + ", ".join(f'"0x{i:040x}"' for i in range(1, 34)) + "]", "at most 32"),
    ],
)
def test_spender_list_is_strict_and_names_the_line(value: str, message: str) -> None:
    raw = default_document_bytes().replace(
        b"[chains.base]\nenabled = true\n",
        b"[chains.base]\nenabled = true\napprove_spenders = " + value.encode() + b"\n",
    )
    line = raw.decode().split("\n").index("approve_spenders = " + value) + 1
    with pytest.raises(PolicyDocumentError) as err:
        load_document(raw)
    assert message in str(err.value) and f"(line {line})" in str(err.value)


def test_approve_spender_decodes_only_approve_calldata() -> None:
    assert approve_spender(encode_approve(SPENDER.lower(), 2**256 - 1)) == SPENDER
    assert approve_spender(encode_transfer(SPENDER, 1)) == ""
    assert approve_spender(b"\x09\x5e\xa7\xb3" + bytes(10)) == ""
