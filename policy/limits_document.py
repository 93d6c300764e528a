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

Invariants the loader enforces (each refusal names the key path and line):

* only the keys above; ``rate`` tables are ``default`` or a known venue,
  ``withdraw`` tables a known chain, then a token registered on that chain;
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
from policy.limits import DEFAULT_RATE, AmountCap, LimitsPolicy, RateLimit

MAX_RATE_PER_SECOND = 1_000_000
MAX_BURST = 1_000_000
_UINT256 = 2**256
_AMOUNT = re.compile(r"(0|[1-9][0-9]{0,77})(?:\.([0-9]{1,77}))?", re.ASCII)

_NATIVE = {"polygon": "POL", "polygon-amoy": "POL"}
KNOWN_TOKENS: MappingProxyType[str, MappingProxyType[str, int]] = MappingProxyType(
    {chain: MappingProxyType({_NATIVE.get(chain, "ETH"): 18, "USDC": 6}) for chain in KNOWN_CHAINS}
)
"""(chain -> symbol -> decimals); the same as ``signer.evm.tokens.TOKENS`` (a test checks)."""


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
    check.keys(chains, ("limits", "withdraw"), KNOWN_CHAINS)
    for chain, tokens in chains.items():
        path = ("limits", "withdraw", chain)
        tokens = _tables(check, tokens, path)
        check.keys(tokens, path, tuple(KNOWN_TOKENS[chain]))
        for token, table in tokens.items():
            caps[(chain, token)] = _cap(check, table, (*path, token), chain, token)
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
    check: _Check, table: dict[str, Any], path: tuple[str, ...], chain: str, token: str
) -> AmountCap:
    check.keys(table, path, ("per_tx", "per_24h"))
    decimals = KNOWN_TOKENS[chain][token]
    per_tx, per_24h = (
        _units(check, table, (*path, key), decimals) for key in ("per_tx", "per_24h")
    )
    if per_tx > per_24h:
        raise check.fail((*path, "per_tx"), "must not exceed per_24h")
    return AmountCap(chain, token, decimals, per_tx, per_24h)


def _units(check: _Check, table: dict[str, Any], path: tuple[str, ...], decimals: int) -> int:
    """A decimal string in token units -> exact base units (integer arithmetic only)."""
    value = table.get(path[-1])
    match = _AMOUNT.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise check.fail(path, 'required, a decimal string such as "2500.5" (no sign or exponent)')
    whole, fraction = match.group(1), match.group(2) or ""
    if len(fraction) > decimals:
        raise check.fail(path, f"at most {decimals} decimal places for this token")
    units = int(int(whole) * 10**decimals + int(fraction.ljust(decimals, "0") or "0"))
    if not 0 < units < _UINT256:
        raise check.fail(path, "must be greater than zero and below 2**256 base units")
    return units
