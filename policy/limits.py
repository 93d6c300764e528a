"""Limits as pure decisions: a signing rate per (principal, venue) and withdraw
caps per (principal, chain, token). No I/O, no clock: the state (a bucket's
theoretical arrival time, the amount already spent in the window) and ``now``
are handed in; ``signer.limits`` keeps that state durably and calls these.

Rule ids (stable; audit records and ``ErrorInfo.metadata["rule_id"]`` carry them):

======================  =====  ================================================
``limit.rate``          deny   the (principal, venue) signing rate is exhausted
``limit.per-tx``        deny   one amount is above the per-transaction cap
``limit.per-24h``       deny   the amount would take the rolling 24 h total
                               above the cap
``limit.within``        allow  the amount fits both caps
``limit.error``         deny   evaluation raised (malformed cap or amount)
======================  =====  ================================================

Invariants (one test each in ``tests/unit/policy/test_limits.py``):

1. Amounts are integers in base units; a bool, float or negative amount is
   refused (``limit.error``), never coerced.
2. The rate is a token bucket of ``burst`` tokens refilled at ``rate_per_second``,
   kept as GCRA: one integer per bucket, the theoretical arrival time (TAT, ns).
   A request at ``now`` is allowed iff ``max(tat, now) + T - now <= burst * T``
   with ``T = ceil(1e9 / rate_per_second)`` ns (rounding up only ever refills
   slower). A clock that goes backwards refills nothing.
3. ``decide_spend`` allows iff ``amount <= per_tx`` and
   ``spent + amount <= per_24h``: a cap is an inclusive bound.

SECURITY: a larger TAT or a larger ``spent`` never allows more, so a caller
that persists an over-estimate of either (``signer.limits`` does, across
restarts) fails towards refusing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from policy.decision import Decision

RULE_RATE = "limit.rate"
RULE_PER_TX = "limit.per-tx"
RULE_PER_24H = "limit.per-24h"
RULE_WITHIN = "limit.within"
RULE_ERROR = "limit.error"

_DECIMAL = re.compile(r"(0|[1-9][0-9]{0,77})(?:\.([0-9]{1,77}))?", re.ASCII)

WINDOW_NS = 24 * 3600 * 10**9
"""The rolling withdraw window: an amount spent at ``t`` counts while ``now - t < WINDOW_NS``."""


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A token bucket: ``burst`` signatures at once, refilled at ``rate_per_second``."""

    rate_per_second: int
    burst: int

    @property
    def interval_ns(self) -> int:
        """Nanoseconds per token, rounded up (never refills faster than configured)."""
        return -(-(10**9) // self.rate_per_second)


@dataclass(frozen=True, slots=True)
class RateStep:
    """The outcome of one request against a bucket.

    Attributes:
        allowed: whether a token was available.
        tat_ns: the bucket's new theoretical arrival time (unchanged on a refusal).
        retry_after_ns: on a refusal, how long until one token is available.
    """

    allowed: bool
    tat_ns: int
    retry_after_ns: int = 0


def rate_step(limit: RateLimit, tat_ns: int, now_ns: int) -> RateStep:
    """One request at ``now_ns`` against a bucket whose TAT is ``tat_ns`` (invariant 2)."""
    interval = limit.interval_ns
    new_tat = max(tat_ns, now_ns) + interval
    excess = new_tat - now_ns - limit.burst * interval
    if excess > 0:
        return RateStep(False, tat_ns, excess)
    return RateStep(True, new_tat)


@dataclass(frozen=True, slots=True)
class AmountCap:
    """Caps on value leaving the trading wallet, per (principal, chain, token).

    Attributes:
        chain: chain name (``"arbitrum"``); the scope a later venue hook may reuse
            (e.g. ``"hyperliquid"``).
        token: exact token symbol (``"USDC"``).
        decimals: base-unit exponent, used only to render amounts in messages.
        per_tx: largest single amount, in base units.
        per_24h: largest total over any rolling 24 hours, in base units.
    """

    chain: str
    token: str
    decimals: int
    per_tx: int
    per_24h: int

    @property
    def asset(self) -> str:
        """``chain/token``: the name the spend ledger keys its rows by."""
        return f"{self.chain}/{self.token}"

    def show(self, units: int) -> str:
        """``units`` as a token amount with its symbol (``"12.5 USDC"``), exactly."""
        whole, frac = divmod(units, 10**self.decimals)
        text = str(whole)
        if frac:
            text += "." + str(frac).rjust(self.decimals, "0").rstrip("0")
        return f"{text} {self.token}"


def to_units(text: object, decimals: int) -> int:
    """A decimal string in token units (``"2500.5"``) -> exact base units.

    Integer arithmetic only: no float, no rounding. An amount with more
    fractional digits than ``decimals`` is refused rather than truncated (a
    truncated amount would be counted lower than what leaves).

    Raises:
        ValueError: not ``0|[1-9][0-9]*`` with an optional ``.digits`` (no sign,
            exponent or blank), or too many decimal places; the message says which.
    """
    match = _DECIMAL.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError('required, a decimal string such as "2500.5" (no sign or exponent)')
    whole: str = match.group(1)
    fraction: str = match.group(2) or ""
    if len(fraction) > decimals:
        raise ValueError(f"at most {decimals} decimal places for this token")
    scale: int = 10**decimals
    return int(whole) * scale + int(fraction.ljust(decimals, "0") or "0")


def decide_spend(cap: AmountCap, spent: int, amount: int) -> Decision:
    """Whether ``amount`` fits under ``cap`` given ``spent`` in the window. Never raises."""
    try:
        for value in (spent, amount, cap.per_tx, cap.per_24h):
            if type(value) is not int or value < 0:
                raise TypeError("amounts are non-negative ints")
        where = f"{cap.token} on {cap.chain}"
        if amount > cap.per_tx:
            return Decision.deny(
                RULE_PER_TX, f"withdrawals of {where} are capped at {cap.show(cap.per_tx)} per "
                "transaction",
            )  # fmt: skip
        if spent + amount > cap.per_24h:
            left = max(cap.per_24h - spent, 0)
            return Decision.deny(
                RULE_PER_24H, f"withdrawals of {where} are capped at {cap.show(cap.per_24h)} per "
                f"24 hours; {cap.show(left)} is left in the window",
            )  # fmt: skip
        return Decision.allow(RULE_WITHIN, f"{cap.show(spent + amount)} of {where} in 24 hours")
    except Exception:  # noqa: BLE001 - SECURITY: an evaluation error is a deny
        return Decision.deny(RULE_ERROR, "limit evaluation failed")


DEFAULT_RATE = RateLimit(rate_per_second=10, burst=20)
"""The signing rate when the document has no ``[limits.rate.default]``."""


@dataclass(frozen=True, slots=True)
class LimitsPolicy:
    """The ``[limits]`` section of a policy document, validated.

    Attributes:
        rate_default: the rate for a venue without its own ``[limits.rate.<venue>]``.
        rate_venues: per-venue rates that replace the default.
        caps: withdraw caps per (chain, token); a pair without one cannot withdraw.
    """

    rate_default: RateLimit = DEFAULT_RATE
    rate_venues: Mapping[str, RateLimit] = field(default_factory=lambda: MappingProxyType({}))
    caps: Mapping[tuple[str, str], AmountCap] = field(default_factory=lambda: MappingProxyType({}))

    def rate_for(self, venue: str) -> RateLimit:
        """The signing rate that applies to ``venue``."""
        return self.rate_venues.get(venue, self.rate_default)

    def withdraw_cap(self, chain: str, token: str) -> AmountCap | None:
        """The cap for ``token`` on ``chain``, or None (then withdrawals are denied)."""
        return self.caps.get((chain, token))


DEFAULT_LIMITS = LimitsPolicy()
"""Limits of a document without a ``[limits]`` section: the default rate, no withdrawals."""
