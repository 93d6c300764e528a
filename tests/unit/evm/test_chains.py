"""signer/evm/chains.py: one test per registry invariant, and the mode check."""

from __future__ import annotations

import pytest

from signer.domain import Mode
from signer.errors import InvalidRequestError, ModeMismatchError
from signer.evm import chains
from signer.evm.chains import CHAINS, Chain

EXPECTED = {
    "ethereum": (1, Mode.LIVE, "ETH"),
    "arbitrum": (42161, Mode.LIVE, "ETH"),
    "polygon": (137, Mode.LIVE, "POL"),
    "base": (8453, Mode.LIVE, "ETH"),
    "sepolia": (11155111, Mode.SANDBOX, "ETH"),
    "arbitrum-sepolia": (421614, Mode.SANDBOX, "ETH"),
    "polygon-amoy": (80002, Mode.SANDBOX, "POL"),
    "base-sepolia": (84532, Mode.SANDBOX, "ETH"),
}


def test_registry_contents() -> None:
    assert {c.name: (c.chain_id, c.mode, c.native_symbol) for c in CHAINS} == EXPECTED


def test_names_and_ids_are_unique() -> None:
    assert len({c.name for c in CHAINS}) == len(CHAINS)
    assert len({c.chain_id for c in CHAINS}) == len(CHAINS)


@pytest.mark.parametrize("chain", CHAINS, ids=lambda c: c.name)
def test_lookup_by_name_and_id(chain: Chain) -> None:
    assert chains.chain_by_name(chain.name) is chain
    assert chains.chain_by_id(chain.chain_id) is chain


def test_each_live_chain_has_a_sandbox_twin() -> None:
    live = [c for c in CHAINS if c.mode is Mode.LIVE]
    twins = [chains.sandbox_twin(c) for c in live]
    assert all(t.mode is Mode.SANDBOX and t in CHAINS for t in twins)
    assert all(t.native_symbol == c.native_symbol for c, t in zip(live, twins, strict=True))
    assert sorted(t.name for t in twins) == sorted(c.name for c in CHAINS if c.mode is Mode.SANDBOX)


@pytest.mark.parametrize(
    "chain",
    [chains.SEPOLIA, Chain("ethereum", 5, Mode.LIVE, "ETH")],
    ids=["sandbox-has-no-twin", "forged-chain"],
)
def test_expfail_sandbox_twin(chain: Chain) -> None:
    with pytest.raises(InvalidRequestError):
        chains.sandbox_twin(chain)


@pytest.mark.parametrize(
    "name",
    [
        "Ethereum",
        "ETHEREUM",
        " ethereum",
        "ethereum ",
        "mainnet",
        "arbitrum_sepolia",
        "",
        "goerli",
        "1",
    ],
)
def test_expfail_unknown_or_disguised_names(name: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        chains.chain_by_name(name)
    assert info.value.metadata["field"] == "chain"


@pytest.mark.parametrize("chain_id", [0, 5, 10, -1, 2**64, 42161.0, "42161", None])
def test_expfail_unknown_chain_ids(chain_id: object) -> None:
    with pytest.raises(InvalidRequestError):
        chains.chain_by_id(chain_id)  # type: ignore[arg-type]


def test_expfail_bool_is_not_chain_one() -> None:
    with pytest.raises(InvalidRequestError):
        chains.chain_by_id(True)


@pytest.mark.parametrize("chain", CHAINS, ids=lambda c: c.name)
def test_require_mode(chain: Chain) -> None:
    assert chains.require_mode(chain, chain.mode) is chain
    other = Mode.SANDBOX if chain.mode is Mode.LIVE else Mode.LIVE
    with pytest.raises(ModeMismatchError):
        chains.require_mode(chain, other)


def test_chains_are_frozen() -> None:
    with pytest.raises(AttributeError):
        chains.ETHEREUM.chain_id = 5  # type: ignore[misc]
