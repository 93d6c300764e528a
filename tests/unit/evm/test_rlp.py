"""signer/evm/rlp.py: known answers, the ``rlp`` package as oracle, canonical-only decoding."""

from __future__ import annotations

import pytest
import rlp as rlp_oracle  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from signer.evm import rlp
from signer.evm.rlp import RlpDecodingError, RlpItem

LOREM = b"Lorem ipsum dolor sit amet, consectetur adipisicing elit"

# Known answers from the Ethereum RLP specification (ethereum.org, "Recursive-length prefix").
VECTORS: list[tuple[RlpItem, str]] = [
    (b"dog", "83646f67"),
    ([b"cat", b"dog"], "c88363617483646f67"),
    (b"", "80"),
    ([], "c0"),
    (b"\x00", "00"),
    (b"\x0f", "0f"),
    (b"\x04\x00", "820400"),
    ([[], [[]], [[], [[]]]], "c7c0c1c0c3c0c1c0"),
    (LOREM, "b838" + LOREM.hex()),
]

items: st.SearchStrategy[RlpItem] = st.recursive(
    st.binary(max_size=80),
    lambda children: st.lists(children, max_size=6),
    max_leaves=40,
)


@pytest.mark.parametrize(("item", "expected"), VECTORS)
def test_known_answers(item: RlpItem, expected: str) -> None:
    assert rlp.encode(item).hex() == expected
    assert rlp.decode(bytes.fromhex(expected)) == item


def test_integers() -> None:
    assert rlp.encode_uint(0) == b""
    assert rlp.encode_uint(15) == b"\x0f"
    assert rlp.encode_uint(1024) == b"\x04\x00"
    assert rlp.encode_uint(2**256 - 1) == b"\xff" * 32
    assert rlp.decode_uint(b"") == 0
    assert rlp.decode_uint(b"\x04\x00") == 1024
    for bad in (-1, 2**256, True, "1"):
        with pytest.raises(ValueError, match="RLP integers"):
            rlp.encode_uint(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "max_bytes"),
    [(b"\x00", 32), (b"\x00\x01", 32), (b"\x01" * 33, 32), (b"\x01\x00", 1)],
)
def test_expfail_non_canonical_integers(data: bytes, max_bytes: int) -> None:
    with pytest.raises(RlpDecodingError):
        rlp.decode_uint(data, max_bytes=max_bytes)


def test_expfail_integer_that_is_a_list() -> None:
    with pytest.raises(RlpDecodingError):
        rlp.decode_uint([])


@settings(max_examples=400)
@given(items)
def test_encode_matches_rlp_package_and_round_trips(item: RlpItem) -> None:
    encoded = rlp.encode(item)
    assert encoded == rlp_oracle.encode(item)
    assert rlp.decode(encoded) == item


@settings(max_examples=400)
@given(st.binary(max_size=120))
def test_decoding_arbitrary_bytes_is_canonical_or_typed_error(data: bytes) -> None:
    try:
        item = rlp.decode(data)
    except RlpDecodingError:
        return
    assert rlp.encode(item) == data


@pytest.mark.parametrize(
    "hex_data",
    [
        "8100",  # single byte below 0x80 with a header
        "817f",
        "b80568656c6c6f",  # long form for a 5-byte string
        "b90038" + "61" * 56,  # long-form length with a leading zero
        "f800",  # long-form list length 0
        "8080",  # trailing bytes
        "83646f",  # truncated string
        "c283646f67",  # list length shorter than its item
        "c3836162",  # item runs past the enclosing list
        "b8",  # length missing
        "",  # empty input
        "c1" * 16 + "c0",  # 17 levels of nesting
    ],
)
def test_expfail_non_canonical_or_malformed(hex_data: str) -> None:
    with pytest.raises(RlpDecodingError):
        rlp.decode(bytes.fromhex(hex_data))


def test_nesting_limit_is_symmetric() -> None:
    deepest: RlpItem = []
    for _ in range(rlp.MAX_DEPTH - 1):
        deepest = [deepest]
    assert rlp.decode(rlp.encode(deepest)) == deepest
    with pytest.raises(ValueError, match="too deep"):
        rlp.encode([deepest])


@pytest.mark.parametrize("value", [1, "dog", (b"a",), bytearray(b"a"), None])
def test_expfail_encode_refuses_other_types(value: object) -> None:
    with pytest.raises(TypeError):
        rlp.encode(value)  # type: ignore[arg-type]


def test_expfail_decode_refuses_non_bytes() -> None:
    with pytest.raises(RlpDecodingError):
        rlp.decode(bytearray(b"\x80"))  # type: ignore[arg-type]
