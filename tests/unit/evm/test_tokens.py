"""signer/evm/tokens.py: registry invariants and exact lookups."""

from __future__ import annotations

import pytest
from eth_utils.address import is_checksum_address, to_checksum_address

from signer.errors import InvalidRequestError
from signer.evm import chains, tokens
from signer.evm.address import parse_address
from signer.evm.tokens import CONTRACTS, TOKENS, Token

ALL_ADDRESSES = [t.address for t in TOKENS if t.address is not None] + [
    c.address for c in CONTRACTS
]

# The addresses as the sources print them (see the comments in tokens.py).
USDC = {
    "ethereum": "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
    "arbitrum": "0xaf88d065e77c8cC2239327C5EDb3A432268e5831",
    "polygon": "0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359",
    "base": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
    "sepolia": "0x1c7d4b196cb0c7b01d743fbc6116a902379c7238",
    "arbitrum-sepolia": "0x75faf114eafb1BDbe2F0316DF893fd58CE46AA4d",
    "polygon-amoy": "0x41E94Eb019C0762f9Bfcf9Fb1E58725BfB0e7582",
    "base-sepolia": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
}


@pytest.mark.parametrize("address", ALL_ADDRESSES)
def test_every_address_is_eip55_checksummed(address: str) -> None:
    assert is_checksum_address(address)
    assert to_checksum_address(address) == address
    parse_address(address)


def test_usdc_addresses_match_sources() -> None:
    for chain in chains.CHAINS:
        usdc = tokens.token(chain, "USDC")
        assert usdc.address is not None
        assert usdc.address.lower() == USDC[chain.name].lower()
        assert usdc.decimals == 6


def test_each_chain_has_exactly_one_native_token() -> None:
    for chain in chains.CHAINS:
        natives = [t for t in TOKENS if t.chain == chain and t.is_native]
        assert len(natives) == 1
        assert natives[0].symbol == chain.native_symbol
        assert natives[0].decimals == 18
    assert tokens.token(chains.POLYGON, "POL").is_native
    assert tokens.token(chains.POLYGON_AMOY, "POL").is_native
    assert tokens.token(chains.ARBITRUM, "ETH").is_native


def test_symbols_and_addresses_unique_per_chain() -> None:
    keys = [(t.chain.name, t.symbol) for t in TOKENS]
    assert len(keys) == len(set(keys))
    addresses = [(t.chain.name, t.address) for t in TOKENS if t.address is not None]
    assert len(addresses) == len(set(addresses))
    assert len(set(ALL_ADDRESSES)) == len(ALL_ADDRESSES)


@pytest.mark.parametrize("symbol", ["usdc", "Usdc", " USDC", "USDC.e", "USDT", "WETH", "MATIC", ""])
def test_expfail_unknown_or_disguised_symbols(symbol: str) -> None:
    with pytest.raises(InvalidRequestError):
        tokens.token(chains.ARBITRUM, symbol)


def test_expfail_wrong_chain_for_symbol() -> None:
    with pytest.raises(InvalidRequestError):
        tokens.token(chains.ETHEREUM, "POL")


def test_token_by_contract() -> None:
    usdc = tokens.token(chains.ARBITRUM, "USDC")
    assert tokens.token_by_contract(chains.ARBITRUM, tokens.contract_address(usdc)) is usdc
    # The same address on another chain is not that token.
    assert tokens.token_by_contract(chains.BASE, tokens.contract_address(usdc)) is None
    # Bridged USDC.e on Arbitrum is not "USDC".
    bridged = parse_address("0xFF970A61A04b1cA14834A43f5dE4533eBDDB5CC8")
    assert tokens.token_by_contract(chains.ARBITRUM, bridged) is None
    assert tokens.token_by_contract(chains.ARBITRUM, b"") is None
    assert tokens.token_by_contract(chains.ARBITRUM, bytearray(20)) is None  # type: ignore[arg-type]


def test_native_token_has_no_contract() -> None:
    with pytest.raises(InvalidRequestError):
        tokens.contract_address(tokens.token(chains.BASE, "ETH"))


def test_hyperliquid_bridge() -> None:
    bridge = tokens.known_contract(chains.ARBITRUM, "hyperliquid-bridge2")
    assert bridge.address == "0x2Df1c51E09aECF9cacB7bc98cB1742757f163dF7"
    assert tokens.contract_address(bridge) == bytes.fromhex(
        "2df1c51e09aecf9cacb7bc98cb1742757f163df7"
    )


@pytest.mark.parametrize(
    ("chain", "name"),
    [
        (chains.ARBITRUM_SEPOLIA, "hyperliquid-bridge2"),  # no confirmed testnet twin yet
        (chains.ETHEREUM, "hyperliquid-bridge2"),
        (chains.ARBITRUM, "Hyperliquid-Bridge2"),
        (chains.ARBITRUM, "bridge"),
    ],
)
def test_expfail_unknown_contracts(chain: chains.Chain, name: str) -> None:
    with pytest.raises(InvalidRequestError):
        tokens.known_contract(chain, name)


def test_forged_token_chain_is_not_registered() -> None:
    forged = chains.Chain("arbitrum", 1, chains.ARBITRUM.mode, "ETH")
    with pytest.raises(InvalidRequestError):
        tokens.token(forged, "USDC")
    assert isinstance(tokens.token(chains.ARBITRUM, "USDC"), Token)
