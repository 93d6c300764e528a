"""The tokens and contracts the daemon knows, per chain, as a frozen registry.

Invariants (tested in ``tests/unit/evm/test_tokens.py``):

- Every address is written in EIP-55 checksum form and is checked against it,
  so a one-character typo in this file fails the test suite.
- ``(chain, symbol)`` and ``(chain, address)`` are unique; every chain has
  exactly one native token (``address`` None, 18 decimals).
- Lookups are exact: ``"usdc"`` is not ``"USDC"``; an unknown token is an
  ``InvalidRequestError``.

SECURITY: "USDC" here always means Circle-issued native USDC, never a bridged
variant (USDC.e on Arbitrum 0xFF970A61..., USDC.e on Polygon 0x2791Bca1...):
a withdrawal of "USDC" moves exactly the contract listed below. Sources for
each address are in the comments next to it; re-check them against the
issuer before adding or changing one.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from signer.errors import InvalidRequestError
from signer.evm.address import parse_address, to_checksum
from signer.evm.chains import (
    ARBITRUM,
    ARBITRUM_SEPOLIA,
    BASE,
    BASE_SEPOLIA,
    CHAINS,
    ETHEREUM,
    POLYGON,
    POLYGON_AMOY,
    SEPOLIA,
    Chain,
)

NATIVE_DECIMALS = 18
USDC_DECIMALS = 6


@dataclass(frozen=True, slots=True)
class Token:
    """A token on one chain.

    Attributes:
        symbol: exact upper-case symbol (``"USDC"``, ``"ETH"``, ``"POL"``).
        chain: the chain it lives on.
        address: EIP-55 contract address, or None for the native gas token.
        decimals: base-unit exponent (USDC 6, native 18).
    """

    symbol: str
    chain: Chain
    address: str | None
    decimals: int

    @property
    def is_native(self) -> bool:
        """True for the chain's gas token (moved as transaction value, not calldata)."""
        return self.address is None


@dataclass(frozen=True, slots=True)
class KnownContract:
    """A non-token contract the policy may name (e.g. a bridge)."""

    name: str
    chain: Chain
    address: str


def _native(chain: Chain) -> Token:
    return Token(chain.native_symbol, chain, None, NATIVE_DECIMALS)


def _usdc(chain: Chain, address: str) -> Token:
    return Token("USDC", chain, address, USDC_DECIMALS)


# Mainnet native USDC: Circle, "USDC Contract Addresses",
# https://developers.circle.com/stablecoins/usdc-contract-addresses (mainnet table),
# cross-checked with tristeroresearch/chainconfig usdc.mjs (copied from that page)
# and docs.gelato.cloud/1Balance/USDC-Addresess.
# Testnet USDC: Circle's own sample app, circlefin/circle-cctp-crosschain-transfer
# src/lib/chains.ts CHAIN_IDS_TO_USDC_ADDRESSES (commit 08c12d97), cross-checked with
# developer.interlace.money/docs/usdc-on-testing-networks.
TOKENS: tuple[Token, ...] = (
    *(_native(chain) for chain in CHAINS),
    _usdc(ETHEREUM, "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"),
    _usdc(ARBITRUM, "0xaf88d065e77c8cC2239327C5EDb3A432268e5831"),
    _usdc(POLYGON, "0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359"),
    _usdc(BASE, "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"),
    _usdc(SEPOLIA, "0x1c7D4B196Cb0C7B01d743Fbc6116a902379C7238"),
    _usdc(ARBITRUM_SEPOLIA, "0x75faf114eafb1BDbe2F0316DF893fd58CE46AA4d"),
    _usdc(POLYGON_AMOY, "0x41E94Eb019C0762f9Bfcf9Fb1E58725BfB0e7582"),
    _usdc(BASE_SEPOLIA, "0x036CbD53842c5426634e7929541eC2318f3dCF7e"),
)

# Hyperliquid Bridge2 on Arbitrum One: https://hyperliquid.gitbook.io/hyperliquid-docs/
# for-developers/api/bridge2 ("The bridge between Hyperliquid and Arbitrum"), also
# l2beat/l2beat packages/config/.../hyperliquid/arbitrum (HyperliquidBridge) and
# rotki/rotki rotkehlchen/chain/arbitrum_one/modules/hyperliquid/constants.py.
# A deposit is a plain USDC transfer() to it, credited to the sender; under 5 USDC is lost.
# SECURITY: no testnet twin is registered. Public sources disagree: the Hyperliquid
# docs name 0x279c9462FDba349550b49a23DE27dd19d5891baA (with "USDC2" at
# 0x1870Dc7A474e045026F9ef053d5bB20a250Cc084), third-party SDKs use
# 0x08cfc1B6b2dCF36A1480b99353A354AA8AC56f89 (with USDC2 at 0x1baAbB04...). Neither
# accepts Circle's testnet USDC. Until one is confirmed, sandbox deposits are refused.
HYPERLIQUID_BRIDGE2 = KnownContract(
    "hyperliquid-bridge2", ARBITRUM, "0x2Df1c51E09aECF9cacB7bc98cB1742757f163dF7"
)
CONTRACTS: tuple[KnownContract, ...] = (HYPERLIQUID_BRIDGE2,)

_BY_SYMBOL: MappingProxyType[tuple[str, str], Token] = MappingProxyType(
    {(t.chain.name, t.symbol): t for t in TOKENS}
)
_BY_ADDRESS: MappingProxyType[tuple[str, str], Token] = MappingProxyType(
    {(t.chain.name, t.address): t for t in TOKENS if t.address is not None}
)
_CONTRACTS: MappingProxyType[tuple[str, str], KnownContract] = MappingProxyType(
    {(c.chain.name, c.name): c for c in CONTRACTS}
)


def token(chain: Chain, symbol: str) -> Token:
    """The token ``symbol`` on ``chain`` (exact, case-sensitive match).

    Raises:
        InvalidRequestError: no such token on that chain.
    """
    found = _BY_SYMBOL.get((chain.name, symbol)) if type(symbol) is str else None
    if found is None or found.chain != chain:
        raise InvalidRequestError("token: unknown token on this chain", field="token")
    return found


def token_by_contract(chain: Chain, address: bytes) -> Token | None:
    """The ERC-20 token whose contract on ``chain`` is ``address`` (20 bytes), if any.

    Returns None for any other address: the caller treats it as an unknown
    contract and refuses (default deny), it is never guessed.
    """
    if type(address) is not bytes or len(address) != 20:
        return None
    found = _BY_ADDRESS.get((chain.name, to_checksum(address)))
    return found if found is not None and found.chain == chain else None


def known_contract(chain: Chain, name: str) -> KnownContract:
    """The contract registered as ``name`` on ``chain``.

    Raises:
        InvalidRequestError: not registered there (e.g. a testnet bridge).
    """
    found = _CONTRACTS.get((chain.name, name)) if type(name) is str else None
    if found is None or found.chain != chain:
        raise InvalidRequestError("contract: unknown contract on this chain", field="contract")
    return found


def contract_address(item: Token | KnownContract) -> bytes:
    """The 20 raw bytes of a registered contract's address.

    Raises:
        InvalidRequestError: ``item`` is a native token (it has no contract).
    """
    if item.address is None:
        raise InvalidRequestError("token: native token has no contract", field="token")
    return parse_address(item.address)
