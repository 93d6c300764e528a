"""The policy document: which venues, modes and endpoint classes a deployment permits.

Schema v1 (TOML)::

    version = 1                              # integer >= 1
    [venues.binance]
    enabled = true
    modes = ["live", "sandbox"]              # subset of MODES, no duplicates
    classes = ["trade", "cancel", "read"]    # subset of EndpointClass, no duplicates
    [chains.arbitrum]                        # policy.chains: enabled EVM chains, gas caps
    [limits.rate.default]                    # policy.limits_document: signing rates,
    [limits.withdraw.arbitrum.USDC]          # withdraw caps per chain and token
    # + venue-specific keys (policy.venue_options), e.g. Polymarket exchanges

Invariants the loader enforces (each refusal is a ``PolicyDocumentError`` that
names the key path and, where it can be found, the line):

* the input is at most ``MAX_DOCUMENT_BYTES`` of UTF-8 that parses as TOML;
* only the keys above exist: unknown top-level keys, unknown venue ids and
  unknown keys inside a venue table are refused, never ignored;
* every value has exactly its type (``true`` is not an integer, ``1.5`` is not a
  version, ``"yes"`` is not a boolean);
* lists hold only known values, without duplicates; an enabled venue names at
  least one mode and one class.

SECURITY: the document can only narrow what the code allows. The code
allowlists endpoints (``policy.intents.VenueRequestIntent.endpoint``); the
document only picks venues, modes and classes. A venue missing from the
document is disabled.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from policy._toml_lines import PathPart, find_line, format_path
from policy.chains import ChainPolicy, load_chains
from policy.intents import EndpointClass
from policy.limits import DEFAULT_LIMITS, LimitsPolicy
from policy.limits_document import load_limits
from policy.venue_options import OPTION_KEYS, load_features

KNOWN_VENUES: tuple[str, ...] = (
    "kraken",
    "coinbase",
    "binance",
    "bitget",
    "cryptocom",
    "bitmart",
    "okx",
    "bybit",
    "hyperliquid",
    "kalshi",
    "polymarket",
)
"""Venue ids the daemon knows; the same tuple as ``signer.domain.VENUES`` (a test checks)."""

MODES: tuple[str, ...] = ("live", "sandbox")
"""Principal modes a venue can be enabled for."""

MAX_DOCUMENT_BYTES = 1024 * 1024
"""Documents larger than this are refused before parsing."""

MAX_VERSION = 2**63 - 1
"""Versions are stored as signed 64-bit counters (rollback protection)."""

_VENUE_KEYS = ("enabled", "modes", "classes")
_CLASSES = tuple(member.value for member in EndpointClass)


class PolicyDocumentError(ValueError):
    """A policy document was refused.

    Attributes:
        message: the full message, naming the key path and line when known.
        path: the offending key path (e.g. ``venues.binance.classes[2]``) or None.
        line: 1-based line in the source text, or None when not found.
    """

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line


def display(value: object, limit: int = 64) -> str:
    """Quote a value for an error message or reason: ASCII, escaped, bounded.

    SECURITY: documents and intents may carry control characters or huge
    strings; messages built from them must stay one short, printable line.
    """
    if isinstance(value, str | int | float) or value is None:
        shown = json.dumps(value, ensure_ascii=True)
    else:  # tables, arrays, datetimes: name the type, never render nested data
        shown = f"<{type(value).__name__}>"
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


@dataclass(frozen=True, slots=True)
class VenuePolicy:
    """What the document permits for one venue.

    Attributes:
        venue: venue id, one of ``KNOWN_VENUES``.
        enabled: False denies every request to the venue.
        modes: modes the venue is enabled for (subset of ``MODES``).
        classes: endpoint classes enabled for the venue.
        features: venue features granted (``policy.venue_options``).
    """

    venue: str
    enabled: bool
    modes: frozenset[str]
    classes: frozenset[EndpointClass]
    features: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    """A validated policy document and the exact bytes it was loaded from.

    Attributes:
        version: document version (>= 1); signed updates must increase it.
        venues: venue policies in document order; absent venues are disabled.
        raw: the exact bytes that were validated (what signatures cover).
        sha256: lower-case hex SHA-256 of ``raw``.
        chains: enabled EVM chains and their gas caps (``policy.chains``).
        limits: signing rates and withdraw caps (``policy.limits_document``).
    """

    version: int
    venues: tuple[VenuePolicy, ...]
    raw: bytes = field(repr=False)
    sha256: str
    chains: tuple[ChainPolicy, ...] = ()
    limits: LimitsPolicy = DEFAULT_LIMITS

    def chain(self, chain: str) -> ChainPolicy | None:
        """The policy for ``chain``, or None when the document does not name it."""
        return next((entry for entry in self.chains if entry.chain == chain), None)

    def venue(self, venue: str) -> VenuePolicy | None:
        """The policy for ``venue``, or None when the document does not name it."""
        for entry in self.venues:
            if entry.venue == venue:
                return entry
        return None


class _Checker:
    """Raises ``PolicyDocumentError`` with the key path and its line in ``text``."""

    def __init__(self, text: str) -> None:
        self.text = text

    def fail(self, path: Sequence[PathPart], problem: str) -> PolicyDocumentError:
        where = format_path(path)
        line = find_line(self.text, path) if path else None
        suffix = f" (line {line})" if line is not None else ""
        return PolicyDocumentError(f"{where}: {problem}{suffix}", path=where, line=line)

    def keys(self, table: dict[str, Any], path: Sequence[PathPart], allowed: Sequence[str]) -> None:
        for key in table:
            if key not in allowed:
                raise self.fail((*path, key), f"unknown key {display(key)}")

    def names(
        self, value: object, path: tuple[PathPart, ...], known: Sequence[str], noun: str
    ) -> list[str]:
        if not isinstance(value, list):
            raise self.fail(path, f"must be a list of {noun} names")
        for index, item in enumerate(value):
            if not isinstance(item, str) or item not in known:
                raise self.fail((*path, index), f"unknown {noun} {display(item)}")
            if item in value[:index]:
                raise self.fail((*path, index), f"duplicate {noun} {display(item)}")
        return list(value)


def _load_venue(check: _Checker, venue: str, table: object) -> VenuePolicy:
    path: tuple[PathPart, ...] = ("venues", venue)
    if not isinstance(table, dict):
        raise check.fail(path, "must be a table")
    check.keys(table, path, _VENUE_KEYS + OPTION_KEYS.get(venue, ()))
    enabled = table.get("enabled")
    if not isinstance(enabled, bool):
        raise check.fail((*path, "enabled"), "required, must be true or false")
    modes = check.names(table.get("modes", []), (*path, "modes"), MODES, "mode")
    classes = check.names(table.get("classes", []), (*path, "classes"), _CLASSES, "endpoint class")
    # SECURITY: an enabled venue that permits nothing is almost certainly a
    # mistake (a typo emptied it); refuse it rather than guess the intent.
    if enabled and not modes:
        raise check.fail((*path, "modes"), "an enabled venue needs at least one mode")
    if enabled and not classes:
        raise check.fail((*path, "classes"), "an enabled venue needs at least one endpoint class")
    classes_set = frozenset(map(EndpointClass, classes))
    features = load_features(check, venue, table)
    return VenuePolicy(venue, enabled, frozenset(modes), classes_set, features)


def load_document(data: bytes) -> PolicyDocument:
    """Validate ``data`` as a v1 policy document.

    Args:
        data: the document bytes exactly as received or read.

    Returns:
        The validated, immutable document carrying ``data`` and its SHA-256.

    Raises:
        PolicyDocumentError: for anything that is not a valid v1 document.
    """
    if not isinstance(data, bytes):
        raise PolicyDocumentError("policy document must be bytes")
    if len(data) > MAX_DOCUMENT_BYTES:
        raise PolicyDocumentError(f"policy document exceeds {MAX_DOCUMENT_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PolicyDocumentError(f"not UTF-8 (line {line})", line=line) from None
    if _nesting_depth(text) > MAX_NESTING:
        raise PolicyDocumentError("invalid TOML: nesting too deep")
    try:
        tree = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message already carries "(at line N, column M)".
        raise PolicyDocumentError(f"invalid TOML: {exc}") from None
    except RecursionError:
        # SECURITY: tomllib recurses per nesting level; the pre-scan above bounds it,
        # this is the backstop.
        raise PolicyDocumentError("invalid TOML: nesting too deep") from None
    check = _Checker(text)
    check.keys(tree, (), ("version", "venues", "chains", "limits"))
    version = tree.get("version")
    # SECURITY: bool is an int subclass; `version = true` must not read as 1.
    if type(version) is not int or not 1 <= version <= MAX_VERSION:
        raise check.fail(("version",), f"required, must be an integer from 1 to {MAX_VERSION}")
    venues = tree.get("venues")
    if not isinstance(venues, dict):
        raise check.fail(("venues",), "required, must be a table of venue tables")
    for venue in venues:
        if venue not in KNOWN_VENUES:
            raise check.fail(("venues", venue), f"unknown venue {display(venue)}")
    loaded = tuple(_load_venue(check, venue, table) for venue, table in venues.items())
    chains = load_chains(check, tree.get("chains", {}))
    limits = load_limits(check, tree.get("limits", {}), KNOWN_VENUES)
    digest = hashlib.sha256(data).hexdigest()
    return PolicyDocument(version, loaded, data, digest, chains, limits)


# --- I/O helpers (the only functions in policy/ that read anything) -------------


def read_document_file(path: str | Path) -> PolicyDocument:
    """I/O: read ``path`` (at most one byte over the limit) and load it."""
    with open(path, "rb") as handle:
        data = handle.read(MAX_DOCUMENT_BYTES + 1)
    return load_document(data)


def default_document_bytes() -> bytes:
    """I/O: the bytes of ``policy/default.toml`` shipped with the package."""
    return resources.files("policy").joinpath("default.toml").read_bytes()


MAX_NESTING = 16


def _nesting_depth(text: str) -> int:
    """Upper bound of array/inline-table nesting, skipping strings and comments.

    SECURITY: tomllib recurses once per level and the recursion limit is
    process-wide (a dependency may raise it), so the bound is checked here,
    independent of it. Table headers (``[a]``, ``[[a]]``) count 1-2 and are
    closed on their line, so they never accumulate.
    """
    depth = deepest = i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            quote = c * 3 if text.startswith(c * 3, i) else c
            i += len(quote)
            while i < n and not text.startswith(quote, i):
                i += 2 if (c == '"' and text[i] == "\\") else 1
            i += len(quote)
            continue
        if c == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        if c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth = max(depth - 1, 0)
        i += 1
    return deepest
