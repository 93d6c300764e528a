"""The ``[limits]`` section of the policy document::

    [limits.rate.default]             # every venue, per principal (client + mode)
    rate_per_second = 20              # integer, 1 to MAX_RATE_PER_SECOND
    burst = 100                       # integer, 1 to MAX_BURST

    [limits.rate.kalshi]              # replaces the default for one venue
    rate_per_second = 10
    burst = 20

    [limits.withdraw.arbitrum.USDC]   # per principal, chain and token
    per_tx = "25000"                  # decimal string in token units
    per_24h = "100000"                # rolling 24 hours; per_tx <= per_24h

    [limits.withdraw.hyperliquid.USDC]                     # withdraw3 + usdSend
    [limits.withdraw.hyperliquid-spot."PURR:0xc1fb593aeffbeb02f85e0308e9956a90"]  # spotSend

Invariants the loader enforces (each refusal names the key path and line):

* only the keys above; ``rate`` tables are ``default`` or a known venue,
  ``withdraw`` tables a known chain, then a token registered on that chain,
  or a venue account (``VENUE_ASSET_CHAINS``: Hyperliquid USDC, and spot
  tokens named exactly as ``spotSend`` sends them, ``NAME:0x<32 hex>``);
* rates are TOML integers (never a float or bool) within the code's bounds;
* caps are strings of the strict grammar ``0|[1-9][0-9]*`` with an optional
  ``.digits`` of at most the token's decimals, converted exactly to base units
  (no float, no rounding), greater than zero and below 2**256;
* duplicate tables or keys are refused by the TOML parser itself.

SECURITY: the document can only narrow what the code checks. Rates are
bounded by ``MAX_RATE_PER_SECOND``/``MAX_BURST`` and there is no "unlimited";
without ``[limits.rate.default]`` the code's ``DEFAULT_RATE`` applies. A
(chain, token) without a cap cannot be withdrawn at all (``withdraw.no-cap``).
``KNOWN_TOKENS`` mirrors ``signer.evm.tokens`` (a test proves it), so a cap
is converted with the same decimals the daemon moves the token with.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from types import MappingProxyType
from typing import Any, Protocol

from policy.chains import KNOWN_CHAINS
from policy.limits import DEFAULT_RATE, AmountCap, LimitsPolicy, RateLimit, to_units

MAX_RATE_PER_SECOND = 1_000_000
MAX_BURST = 1_000_000
_UINT256 = 2**256
_SPOT_TOKEN = re.compile(r"[A-Za-z0-9]{1,16}:0x[0-9a-f]{32}", re.ASCII)

_NATIVE = {"polygon": "POL", "polygon-amoy": "POL"}
KNOWN_TOKENS: MappingProxyType[str, MappingProxyType[str, int]] = MappingProxyType(
    {chain: MappingProxyType({_NATIVE.get(chain, "ETH"): 18, "USDC": 6}) for chain in KNOWN_CHAINS}
)
"""(chain -> symbol -> decimals); the same as ``signer.evm.tokens.TOKENS`` (a test checks)."""

HYPERLIQUID = "hyperliquid"
HYPERLIQUID_SPOT = "hyperliquid-spot"
VENUE_DECIMALS = 8
"""Hyperliquid sends amounts as decimal strings of at most 8 places (the SDK's
wire precision; the parser refuses more), so its caps count in 1e-8 units."""
VENUE_ASSET_CHAINS = (HYPERLIQUID, HYPERLIQUID_SPOT)
"""Withdraw-cap scopes that are venue accounts, not EVM chains: ``hyperliquid``
(token ``USDC``: ``withdraw3`` and ``usdSend`` from the perp account) and
``hyperliquid-spot`` (tokens ``NAME:0x<32 hex>`` exactly as ``spotSend`` names them)."""


class _Check(Protocol):
    def fail(self, path: Any, problem: str) -> Exception: ...

    def keys(self, table: dict[str, Any], path: Any, allowed: Sequence[str]) -> None: ...


def load_limits(check: _Check, section: object, venues: Sequence[str]) -> LimitsPolicy:
    """Validate the ``limits`` table; ``venues`` are the venue ids a rate may name."""
    if not isinstance(section, dict):
        raise check.fail(("limits",), "must be a table")
    check.keys(section, ("limits",), ("rate", "withdraw"))
    rates = _tables(check, section.get("rate", {}), ("limits", "rate"))
    check.keys(rates, ("limits", "rate"), ("default", *venues))
    loaded = {name: _rate(check, table, ("limits", "rate", name)) for name, table in rates.items()}
    default = loaded.pop("default", DEFAULT_RATE)
    caps: dict[tuple[str, str], AmountCap] = {}
    chains = _tables(check, section.get("withdraw", {}), ("limits", "withdraw"))
    check.keys(chains, ("limits", "withdraw"), (*KNOWN_CHAINS, *VENUE_ASSET_CHAINS))
    for chain, tokens in chains.items():
        path = ("limits", "withdraw", chain)
        tokens = _tables(check, tokens, path)
        if chain == HYPERLIQUID_SPOT:
            for token in tokens:
                if not _SPOT_TOKEN.fullmatch(token):
                    raise check.fail((*path, token), "must be a spot token NAME:0x + 32 hex digits")
        else:
            check.keys(
                tokens, path, ("USDC",) if chain == HYPERLIQUID else tuple(KNOWN_TOKENS[chain])
            )
        for token, table in tokens.items():
            decimals = VENUE_DECIMALS if chain in VENUE_ASSET_CHAINS else KNOWN_TOKENS[chain][token]
            caps[(chain, token)] = _cap(check, table, (*path, token), chain, token, decimals)
    return LimitsPolicy(default, MappingProxyType(loaded), MappingProxyType(caps))


def _tables(check: _Check, value: object, path: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise check.fail(path, "must be a table")
    for key, item in value.items():
        if not isinstance(item, dict):
            raise check.fail((*path, key), "must be a table")
    return value


def _bounded_int(check: _Check, table: dict[str, Any], path: tuple[str, ...], high: int) -> int:
    value = table.get(path[-1])
    # SECURITY: bool is an int subclass (`burst = true` is not 1); floats are refused.
    if type(value) is not int or not 1 <= value <= high:
        raise check.fail(path, f"required, an integer from 1 to {high}")
    return value


def _rate(check: _Check, table: dict[str, Any], path: tuple[str, ...]) -> RateLimit:
    check.keys(table, path, ("rate_per_second", "burst"))
    rate = _bounded_int(check, table, (*path, "rate_per_second"), MAX_RATE_PER_SECOND)
    burst = _bounded_int(check, table, (*path, "burst"), MAX_BURST)
    return RateLimit(rate, burst)


def _cap(
    check: _Check,
    table: dict[str, Any],
    path: tuple[str, ...],
    chain: str,
    token: str,
    decimals: int,
) -> AmountCap:
    check.keys(table, path, ("per_tx", "per_24h"))
    per_tx, per_24h = (
        _units(check, table, (*path, key), decimals) for key in ("per_tx", "per_24h")
    )
    if per_tx > per_24h:
        raise check.fail((*path, "per_tx"), "must not exceed per_24h")
    return AmountCap(chain, token, decimals, per_tx, per_24h)


def _units(check: _Check, table: dict[str, Any], path: tuple[str, ...], decimals: int) -> int:
    """A decimal string in token units -> exact base units (integer arithmetic only)."""
    try:
        units = to_units(table.get(path[-1]), decimals)
    except ValueError as exc:
        raise check.fail(path, str(exc)) from None
    if not 0 < units < _UINT256:
        raise check.fail(path, "must be greater than zero and below 2**256 base units")
    return units
