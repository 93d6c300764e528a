"""The ``[chains.<name>]`` section of the policy document: which EVM chains the
trading wallet may send on, and the gas caps a hostile front end cannot exceed.

    [chains.arbitrum]
    enabled = true
    max_fee_per_gas_wei = 10_000_000_000          # 10 gwei
    max_priority_fee_per_gas_wei = 2_000_000_000  # 2 gwei
    max_gas_limit = 200_000
    approve_spenders = ["0x..."]                  # optional: ERC-20 approve targets

SECURITY: the front end chooses the gas fields (the daemon has no network);
without caps it could burn the wallet's native balance in fees. A chain missing
from the document is disabled. Caps are integers in wei, 1 to 2**63-1.
``approve_spenders`` (default empty) lists the exact contracts an ERC-20
``approve`` from the trading wallet may name as spender (DESIGN.md invariant
4); addresses are 0x + 40 hex, compared case-insensitively, never the zero
address, no duplicates. Their EIP-55 checksum is not checked here (this
package has no Keccak); copy them from the venue's documentation exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

KNOWN_CHAINS: tuple[str, ...] = (
    "ethereum",
    "arbitrum",
    "polygon",
    "base",
    "sepolia",
    "arbitrum-sepolia",
    "polygon-amoy",
    "base-sepolia",
)
"""Chain names the daemon knows; the same as ``signer.evm.chains`` (a test checks)."""

_KEYS = ("enabled", "max_fee_per_gas_wei", "max_priority_fee_per_gas_wei", "max_gas_limit")
_OPTIONAL = ("approve_spenders",)
_MAX = 2**63 - 1
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}", re.ASCII)
MAX_SPENDERS = 32


@dataclass(frozen=True, slots=True)
class ChainPolicy:
    """What the document permits on one chain."""

    chain: str
    enabled: bool
    max_fee_per_gas_wei: int
    max_priority_fee_per_gas_wei: int
    max_gas_limit: int
    approve_spenders: frozenset[str] = frozenset()
    """Lower-case 0x addresses an ERC-20 ``approve`` may name as spender."""


class _Fail(Protocol):
    def fail(self, path: Any, problem: str) -> Exception: ...

    def keys(self, table: dict[str, Any], path: Any, allowed: Any) -> None: ...


def load_chains(check: _Fail, section: object) -> tuple[ChainPolicy, ...]:
    """Validate the ``chains`` table (``check`` names the key path and line)."""
    if not isinstance(section, dict):
        raise check.fail(("chains",), "must be a table of chain tables")
    out = []
    for name, table in section.items():
        path = ("chains", name)
        if name not in KNOWN_CHAINS:
            raise check.fail(path, f"unknown chain {name!r}"[:80])
        if not isinstance(table, dict):
            raise check.fail(path, "must be a table")
        check.keys(table, path, _KEYS + _OPTIONAL)
        enabled = table.get("enabled")
        if not isinstance(enabled, bool):
            raise check.fail((*path, "enabled"), "required, must be true or false")
        caps = []
        for key in _KEYS[1:]:
            value = table.get(key)
            if type(value) is not int or not 1 <= value <= _MAX:
                if enabled or value is not None:
                    raise check.fail((*path, key), f"required, an integer from 1 to {_MAX}")
                value = 0
            caps.append(value)
        if caps[1] > caps[0]:
            raise check.fail(
                (*path, "max_priority_fee_per_gas_wei"), "must not exceed max_fee_per_gas_wei"
            )
        spenders = _spenders(check, (*path, "approve_spenders"), table.get("approve_spenders", []))
        out.append(ChainPolicy(name, enabled, caps[0], caps[1], caps[2], spenders))
    return tuple(out)


def _spenders(check: _Fail, path: tuple[str, ...], value: object) -> frozenset[str]:
    if not isinstance(value, list) or len(value) > MAX_SPENDERS:
        raise check.fail(path, f"must be a list of at most {MAX_SPENDERS} addresses")
    seen: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not _ADDRESS.fullmatch(item) or int(item, 16) == 0:
            raise check.fail((*path, index), "must be a non-zero 0x address (40 hex digits)")
        if item.lower() in seen:
            raise check.fail((*path, index), "duplicate address")
        seen.append(item.lower())
    return frozenset(seen)
