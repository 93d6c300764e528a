"""The EVM chains the daemon signs for, as a frozen registry.

Invariants (each has a test in ``tests/unit/evm/test_chains.py``):

- Names and chain ids are unique; lookups are exact (no case folding, no
  whitespace stripping, no aliases) and an unknown name or id is an
  ``InvalidRequestError``, never a default chain.
- Every chain has a mode. SECURITY: DESIGN.md invariant 7 (live and sandbox
  never meet) is enforced with ``require_mode``: a sandbox principal only
  obtains signatures for testnets, a live principal never for a testnet.
- Every live chain has exactly one sandbox twin with the same native symbol,
  so each live flow has a testnet rehearsal.

Chain ids: Ethereum 1, Arbitrum One 42161, Polygon PoS 137, Base 8453;
Sepolia 11155111, Arbitrum Sepolia 421614, Polygon Amoy 80002, Base Sepolia
84532 (chainlist.org / each chain's documentation; EIP-155 replay protection
makes a wrong id fail closed: the transaction is invalid elsewhere).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from signer.domain import Mode
from signer.errors import InvalidRequestError, ModeMismatchError

# EIP-2294: chain ids are bounded so that EIP-155 v values stay in range.
MAX_CHAIN_ID = 2**64 - 1


@dataclass(frozen=True, slots=True)
class Chain:
    """One EVM chain.

    Attributes:
        name: registry key, lower-case with dashes (``"arbitrum-sepolia"``).
        chain_id: the EIP-155 chain id signed into every transaction.
        mode: ``Mode.LIVE`` for mainnets, ``Mode.SANDBOX`` for testnets.
        native_symbol: the gas token's symbol (``"ETH"``, ``"POL"``).
    """

    name: str
    chain_id: int
    mode: Mode
    native_symbol: str


ETHEREUM = Chain("ethereum", 1, Mode.LIVE, "ETH")
ARBITRUM = Chain("arbitrum", 42161, Mode.LIVE, "ETH")
POLYGON = Chain("polygon", 137, Mode.LIVE, "POL")
BASE = Chain("base", 8453, Mode.LIVE, "ETH")
SEPOLIA = Chain("sepolia", 11155111, Mode.SANDBOX, "ETH")
ARBITRUM_SEPOLIA = Chain("arbitrum-sepolia", 421614, Mode.SANDBOX, "ETH")
POLYGON_AMOY = Chain("polygon-amoy", 80002, Mode.SANDBOX, "POL")
BASE_SEPOLIA = Chain("base-sepolia", 84532, Mode.SANDBOX, "ETH")

CHAINS: tuple[Chain, ...] = (
    ETHEREUM,
    ARBITRUM,
    POLYGON,
    BASE,
    SEPOLIA,
    ARBITRUM_SEPOLIA,
    POLYGON_AMOY,
    BASE_SEPOLIA,
)

_BY_NAME: MappingProxyType[str, Chain] = MappingProxyType({c.name: c for c in CHAINS})
_BY_ID: MappingProxyType[int, Chain] = MappingProxyType({c.chain_id: c for c in CHAINS})
_TWINS: MappingProxyType[str, Chain] = MappingProxyType(
    {
        ETHEREUM.name: SEPOLIA,
        ARBITRUM.name: ARBITRUM_SEPOLIA,
        POLYGON.name: POLYGON_AMOY,
        BASE.name: BASE_SEPOLIA,
    }
)


def chain_by_name(name: str) -> Chain:
    """The chain registered under exactly ``name``.

    Raises:
        InvalidRequestError: not a string or not a registered name.
    """
    chain = _BY_NAME.get(name) if type(name) is str else None
    if chain is None:
        raise InvalidRequestError("chain: unknown chain", field="chain")
    return chain


def chain_by_id(chain_id: int) -> Chain:
    """The chain with EIP-155 id ``chain_id``.

    SECURITY: ``bool`` is an ``int`` subclass in Python; ``True`` is refused
    rather than read as chain 1 (Ethereum mainnet).

    Raises:
        InvalidRequestError: not an ``int`` or not a registered id.
    """
    chain = _BY_ID.get(chain_id) if type(chain_id) is int else None
    if chain is None:
        raise InvalidRequestError("chain_id: unknown chain id", field="chain_id")
    return chain


def sandbox_twin(chain: Chain) -> Chain:
    """The testnet twin of a live chain.

    Raises:
        InvalidRequestError: ``chain`` is not a registered live chain.
    """
    twin = _TWINS.get(chain.name)
    if twin is None or _BY_NAME.get(chain.name) != chain:
        raise InvalidRequestError("chain: no sandbox twin", field="chain")
    return twin


def require_mode(chain: Chain, mode: Mode) -> Chain:
    """Return ``chain`` if a principal in ``mode`` may sign for it.

    Raises:
        ModeMismatchError: a live chain for a sandbox principal or a testnet
            for a live one (DESIGN.md invariant 7).
    """
    if chain.mode is not mode:
        raise ModeMismatchError(f"chain {chain.name} is not available in {mode.value} mode")
    return chain
