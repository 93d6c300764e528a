"""Decimal token amounts ("100.0") to integer base units, exactly.

The grammar is deliberately narrow; each refusal below is a decision, and
each has a test in ``tests/unit/evm/test_amounts.py``:

- ``"100.0"``, ``"0.5"``: accepted (plain decimal, fraction within decimals).
- ``"1e3"``: refused; an exponent hides the magnitude from a human reviewer.
- ``"-1"``, ``"+1"``: refused; amounts are unsigned, a sign is never meaningful.
- ``" 1"``, ``"1 "``, ``"1\\n"``: refused; whitespace means no code produced it.
- ``"1."``: refused (ambiguous truncation; write ``"1"`` or ``"1.0"``).
- ``".5"``: refused (write ``"0.5"``).
- ``"01"``: refused; leading zeros look octal or like padding games.
- ``"1,000"``, ``"1_000"``: refused; separators are locale- or Python-specific.
- ``"0"``, ``"0.0"``: refused; the amount must be greater than zero.
- ``"0.1234567"`` for USDC (6 decimals): refused, never rounded or truncated.
- ``"\\u0661"`` (ARABIC-INDIC DIGIT ONE): refused; ASCII digits only.
- ``2**256`` base units or more: refused (does not fit a uint256).

SECURITY: no float is ever involved (a test greps this package for it).
Parsing is a regular expression over ASCII digits followed by exact
``Decimal`` arithmetic in a private context that traps rounding, so the
result is exact or an error.
"""

from __future__ import annotations

import re
from decimal import Context, Decimal, Inexact, InvalidOperation, Rounded

from signer.errors import InvalidRequestError

UINT256_LIMIT = 2**256
# 2**256 has 78 digits; more decimals than that can never be meaningful.
MAX_DECIMALS = 77
_MAX_TEXT = 160

_AMOUNT_RE = re.compile(r"(0|[1-9][0-9]*)(?:\.([0-9]+))?", re.ASCII)
# Enough precision for 78 integer digits plus 77 fractional ones; any rounding traps.
_CTX = Context(prec=200, traps=[Inexact, Rounded, InvalidOperation])


def _check_decimals(decimals: int) -> None:
    if type(decimals) is not int or not 0 <= decimals <= MAX_DECIMALS:
        raise ValueError("decimals must be an int in [0, 77]")


def to_base_units(amount: str, decimals: int, *, field: str = "amount") -> int:
    """Convert a strict decimal string to integer base units.

    Args:
        amount: e.g. ``"100.0"``; grammar in the module docstring.
        decimals: the token's decimals (USDC 6, ETH 18).
        field: request field name used in errors (the value is never echoed).

    Returns:
        ``amount * 10**decimals`` as an int with ``0 < result < 2**256``.

    Raises:
        InvalidRequestError: any refusal listed in the module docstring.
        ValueError: ``decimals`` out of range (a programming error).
    """
    _check_decimals(decimals)
    if type(amount) is not str or len(amount) > _MAX_TEXT:
        raise InvalidRequestError(f"{field}: must be a decimal string", field=field)
    match = _AMOUNT_RE.fullmatch(amount)
    if match is None:
        raise InvalidRequestError(
            f"{field}: must be a plain decimal like 100.5 (no sign, exponent or spaces)",
            field=field,
        )
    fraction = match.group(2) or ""
    if len(fraction) > decimals:
        raise InvalidRequestError(
            f"{field}: at most {decimals} decimal places for this token", field=field
        )
    units = _CTX.scaleb(Decimal(amount), decimals)
    result = int(units)
    if units != result:  # unreachable by the grammar; kept as a belt-and-braces check
        raise InvalidRequestError(f"{field}: not a whole number of base units", field=field)
    if result <= 0:
        raise InvalidRequestError(f"{field}: must be greater than zero", field=field)
    if result >= UINT256_LIMIT:
        raise InvalidRequestError(f"{field}: too large", field=field)
    return result


def format_base_units(units: int, decimals: int) -> str:
    """Render base units as the canonical decimal string (for audit and display).

    The output has no exponent and no trailing fractional zeros, and
    ``to_base_units(format_base_units(u, d), d) == u`` for every ``0 < u < 2**256``.
    """
    _check_decimals(decimals)
    if type(units) is not int or not 0 <= units < UINT256_LIMIT:
        raise ValueError("units must be an int in [0, 2**256)")
    whole, frac = divmod(units, 10**decimals)
    if not frac:
        return str(whole)
    return f"{whole}.{str(frac).rjust(decimals, '0').rstrip('0')}"
