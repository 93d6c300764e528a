"""policy.chains loader and policy.withdraw rules: one test per rule."""

from __future__ import annotations

import dataclasses

import pytest

from policy.chains import KNOWN_CHAINS
from policy.document import PolicyDocumentError, default_document_bytes, load_document
from policy.withdraw import WithdrawIntent, decide_withdraw

DOC = load_document(default_document_bytes())
OK = WithdrawIntent(
    "alice", "live", "arbitrum", "live", "USDC", 10**8, "0xR", True, 10**8, 10**6, 300_000
)


def test_known_chains_match_the_evm_registry() -> None:
    from signer.evm.chains import CHAINS

    assert set(KNOWN_CHAINS) == {c.name for c in CHAINS}


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({}, "withdraw.to-linked-wallet"),
        ({"chain": "optimism"}, "withdraw.chain-disabled"),
        ({"chain": "arbitrum-sepolia", "chain_mode": "sandbox"}, "withdraw.mode-mismatch"),
        ({"mode": "sandbox"}, "withdraw.mode-mismatch"),
        ({"recipient_linked": False}, "withdraw.recipient-not-linked"),
        ({"max_fee_per_gas": 10**9 + 1}, "withdraw.gas-cap"),
        ({"max_priority_fee_per_gas": 10**8 + 1}, "withdraw.gas-cap"),
        ({"gas_limit": 2_000_001}, "withdraw.gas-cap"),
        ({"gas_limit": -1}, "withdraw.gas-cap"),
        ({"recipient_linked": 1}, "withdraw.recipient-not-linked"),  # truthy is not True
        ({"max_fee_per_gas": "1"}, "engine.error"),
    ],
)
def test_rules(change: dict[str, object], rule: str) -> None:
    decision = decide_withdraw(DOC, dataclasses.replace(OK, **change))  # type: ignore[arg-type]
    assert decision.rule_id == rule
    assert decision.allowed is (rule == "withdraw.to-linked-wallet")


def test_disabled_chain_denies() -> None:
    raw = default_document_bytes().replace(
        b"[chains.arbitrum]\nenabled = true", b"[chains.arbitrum]\nenabled = false"
    )
    assert decide_withdraw(load_document(raw), OK).rule_id == "withdraw.chain-disabled"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("[chains.solana]\nenabled = true\n", "chains.solana: unknown chain"),
        ("[chains.base]\nenabled = true\n", "chains.base.max_fee_per_gas_wei: required"),
        (
            "[chains.base]\nenabled = true\nmax_fee_per_gas_wei = 1\nmax_priority_fee_per_gas_wei = 2\nmax_gas_limit = 1\n",
            "must not exceed",
        ),
        (
            "[chains.base]\nenabled = true\nmax_fee_per_gas_wei = 1.5\nmax_priority_fee_per_gas_wei = 1\nmax_gas_limit = 1\n",
            "max_fee_per_gas_wei",
        ),
        (
            "[chains.base]\nenabled = true\nmax_fee_per_gas_wei = 2\nmax_priority_fee_per_gas_wei = 1\nmax_gas_limit = 1\nbogus = 1\n",
            "chains.base.bogus: unknown key",
        ),
        ('[chains.base]\nenabled = "yes"\n', "chains.base.enabled"),
    ],
)
def test_invalid_chain_tables_are_refused(table: str, message: str) -> None:
    with pytest.raises(PolicyDocumentError, match=message.replace(".", r"\.")):
        load_document(b"version = 1\n[venues]\n" + table.encode())


def test_disabled_chain_needs_no_caps() -> None:
    doc = load_document(b"version = 1\n[venues]\n[chains.base]\nenabled = false\n")
    chain = doc.chain("base")
    assert chain is not None and not chain.enabled
