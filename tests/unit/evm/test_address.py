"""signer/evm/address.py: keccak, EIP-55 checksums, strict address parsing."""

from __future__ import annotations

import pytest
from eth_utils.address import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from signer.errors import InvalidRequestError
from signer.evm.address import (
    address_from_public_key,
    checksum_address,
    is_checksummed,
    keccak256,
    parse_address,
    to_checksum,
)

# EIP-55 specification test cases (https://eips.ethereum.org/EIPS/eip-55).
EIP55_VECTORS = [
    "0x52908400098527886E0F7030069857D2E4169EE7",
    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    "0xde709f2102306220921060314715629080e2fb77",
    "0x27b1fdb04752bbc536007a920d24acb045561c26",
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]


def test_keccak256_known_answers() -> None:
    assert (
        keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )
    assert keccak256(b"transfer(address,uint256)")[:4].hex() == "a9059cbb"


@pytest.mark.parametrize("text", EIP55_VECTORS)
def test_eip55_spec_vectors(text: str) -> None:
    raw = bytes.fromhex(text[2:])
    assert to_checksum(raw) == text
    assert is_checksummed(text)
    assert parse_address(text) == raw


@settings(max_examples=300)
@given(st.binary(min_size=20, max_size=20))
def test_checksum_matches_eth_utils(raw: bytes) -> None:
    text = to_checksum(raw)
    assert text == to_checksum_address(raw)
    assert parse_address(text) == raw
    assert parse_address("0x" + raw.hex()) == raw
    assert checksum_address("0x" + raw.hex()) == text


@pytest.mark.parametrize(
    "text",
    [
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD",  # one letter's case flipped
        "0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED",  # all upper: claims nothing
        "5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",  # no 0x
        "0X5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",  # upper-case prefix
        "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beae",  # 39 digits
        "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed0",  # 41 digits
        " 0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
        "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed\n",
        "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaeg",
        "0x\uff15aaeb6053f3e94c9b9a09f33669435e7ef1beaed",  # FULLWIDTH DIGIT FIVE
        "",
    ],
)
def test_expfail_malformed_addresses(text: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        parse_address(text, field="recipient")
    assert info.value.metadata["field"] == "recipient"
    assert text.strip() not in info.value.public_message or not text.strip()
    assert not is_checksummed(text)


@pytest.mark.parametrize("value", [None, 1, b"0x" + b"00" * 20, bytearray(20)])
def test_expfail_non_string_addresses(value: object) -> None:
    with pytest.raises(InvalidRequestError):
        parse_address(value)  # type: ignore[arg-type]


def test_to_checksum_requires_20_bytes() -> None:
    with pytest.raises(ValueError, match="20 bytes"):
        to_checksum(bytes(19))
    with pytest.raises(ValueError, match="20 bytes"):
        to_checksum(bytearray(20))  # type: ignore[arg-type]


def test_address_from_public_key() -> None:
    # Private key 1: public key is the generator point G.
    g = bytes.fromhex(
        "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
        "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8"
    )
    assert to_checksum(address_from_public_key(g)) == "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"
    with pytest.raises(ValueError, match="64 bytes"):
        address_from_public_key(g[:63])
