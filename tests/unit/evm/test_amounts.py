"""signer/evm/amounts.py: every decision in the module docstring, plus round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signer.errors import InvalidRequestError
from signer.evm.amounts import MAX_DECIMALS, format_base_units, to_base_units


@pytest.mark.parametrize(
    ("amount", "decimals", "expected"),
    [
        ("100.0", 6, 100_000_000),
        ("100", 6, 100_000_000),
        ("0.5", 6, 500_000),
        ("0.000001", 6, 1),
        ("1.123456", 6, 1_123_456),
        ("100.000000", 6, 100_000_000),
        ("1", 18, 10**18),
        ("0.000000000000000001", 18, 1),
        ("7", 0, 7),
        (str(2**256 - 1), 0, 2**256 - 1),
    ],
)
def test_accepted(amount: str, decimals: int, expected: int) -> None:
    assert to_base_units(amount, decimals) == expected


@pytest.mark.parametrize(
    "amount",
    [
        "0.1234567",  # 7 decimals for a 6-decimal token: refused, never rounded
        "100.0000000",  # even when the extra digit is zero
        "1e3",
        "1E3",
        "-1",
        "+1",
        " 1",
        "1 ",
        "1\n",
        "\t1",
        "1.",
        ".5",
        "01",
        "00.5",
        "1,000",
        "1_000",
        "0",
        "0.0",
        "0.000000",
        "",
        ".",
        "NaN",
        "Infinity",
        "inf",
        "0x10",
        "\u0661",  # ARABIC-INDIC DIGIT ONE
        "\uff11",  # FULLWIDTH DIGIT ONE
        "1..0",
        "1.0.0",
    ],
)
def test_expfail_refused(amount: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        to_base_units(amount, 6, field="amount")
    assert info.value.metadata["field"] == "amount"


def test_expfail_too_large_and_too_long() -> None:
    with pytest.raises(InvalidRequestError, match="too large"):
        to_base_units(str(2**256), 0)
    with pytest.raises(InvalidRequestError, match="too large"):
        to_base_units(str(2**256 // 10**6 + 1), 6)
    with pytest.raises(InvalidRequestError):
        to_base_units("1" * 200, 6)


@pytest.mark.parametrize("amount", [100, 1.5, b"1", None])
def test_expfail_non_string(amount: object) -> None:
    with pytest.raises(InvalidRequestError):
        to_base_units(amount, 6)  # type: ignore[arg-type]


@pytest.mark.parametrize("decimals", [-1, 78, True, 6.0, "6"])
def test_bad_decimals_is_a_programming_error(decimals: object) -> None:
    with pytest.raises(ValueError, match="decimals"):
        to_base_units("1", decimals)  # type: ignore[arg-type]


def test_format_base_units() -> None:
    assert format_base_units(100_000_000, 6) == "100"
    assert format_base_units(1_500_000, 6) == "1.5"
    assert format_base_units(1, 18) == "0.000000000000000001"
    assert format_base_units(0, 6) == "0"
    with pytest.raises(ValueError, match="units"):
        format_base_units(-1, 6)
    with pytest.raises(ValueError, match="units"):
        format_base_units(2**256, 6)


@settings(max_examples=500)
@given(st.integers(1, 2**256 - 1), st.integers(0, MAX_DECIMALS))
def test_round_trip(units: int, decimals: int) -> None:
    text = format_base_units(units, decimals)
    assert to_base_units(text, decimals) == units


@settings(max_examples=500)
@given(st.text(max_size=30), st.integers(0, 18))
def test_arbitrary_text_is_a_value_or_a_typed_error(text: str, decimals: int) -> None:
    try:
        units = to_base_units(text, decimals)
    except InvalidRequestError:
        return
    assert 0 < units < 2**256
    assert text.isascii()
