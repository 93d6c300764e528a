"""Venue-specific keys of a ``[venues.<id>]`` table: features the document grants.

Some venue requests use something beyond their endpoint class that a
deployment may want to switch off on its own. The venue's parser names it in
``VenueRequestIntent.features``; the engine denies a request that uses a
feature the document does not grant (rule ``venue.feature-disabled``)::

    [venues.polymarket]
    enabled = true
    modes = ["live"]
    classes = ["trade", "cancel", "read"]
    exchanges = ["ctf", "neg-risk"]   # V2 exchanges orders may be signed for
                                      # (default: both; [] allows no order)
    key_provisioning = false          # ClobAuth L1: GET /auth/derive-api-key and
                                      # POST /auth/api-key (default: false)

Features:

=================================  ==============================================
``polymarket.exchange.ctf``        an order signed for the V2 CTF Exchange
``polymarket.exchange.neg-risk``   an order signed for the V2 Neg Risk exchange
``polymarket.key-provisioning``    a ClobAuth signature (yields L2 API credentials)
=================================  ==============================================

SECURITY: a feature only narrows what the code checks; the code still parses
every such request strictly. Key provisioning is off unless the document says
``key_provisioning = true``. Unknown keys, unknown exchange names, duplicates
and non-boolean flags are refused with the key path and line, like every key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Protocol

POLYMARKET_KEY_PROVISIONING = "polymarket.key-provisioning"
POLYMARKET_EXCHANGES: Mapping[str, str] = MappingProxyType(
    {"ctf": "polymarket.exchange.ctf", "neg-risk": "polymarket.exchange.neg-risk"}
)
"""Exchange name in the document -> the feature a request for it carries."""

OPTION_KEYS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"polymarket": ("exchanges", "key_provisioning")}
)
"""The extra keys each venue's table may hold (none for other venues)."""


class _Check(Protocol):
    def fail(self, path: Any, problem: str) -> Exception: ...

    def names(self, value: object, path: Any, known: Sequence[str], noun: str) -> list[str]: ...


def load_features(check: _Check, venue: str, table: Mapping[str, Any]) -> frozenset[str]:
    """The features ``table`` grants for ``venue`` (its defaults when keys are absent)."""
    if venue != "polymarket":
        return frozenset()
    path = ("venues", venue)
    exchanges = check.names(
        table.get("exchanges", list(POLYMARKET_EXCHANGES)),
        (*path, "exchanges"),
        tuple(POLYMARKET_EXCHANGES),
        "exchange",
    )
    granted = {POLYMARKET_EXCHANGES[name] for name in exchanges}
    provisioning = table.get("key_provisioning", False)
    if not isinstance(provisioning, bool):
        raise check.fail((*path, "key_provisioning"), "must be true or false")
    if provisioning:
        granted.add(POLYMARKET_KEY_PROVISIONING)
    return frozenset(granted)
