"""signer/evm/calldata.py: eth-abi as the encoding oracle, strict decoding, must-fail shapes."""

from __future__ import annotations

import pytest
from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from hypothesis import given, settings
from hypothesis import strategies as st

from signer.errors import InvalidRequestError
from signer.evm import calldata
from signer.evm.address import keccak256, to_checksum
from signer.evm.calldata import (
    Erc20Approve,
    Erc20Transfer,
    Erc20TransferFrom,
    UnknownCall,
    decode_erc20_call,
)

addresses = st.binary(min_size=20, max_size=20).map(to_checksum)
amounts = st.integers(0, 2**256 - 1)
ALICE = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
BOB = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"


@pytest.mark.parametrize(
    ("selector", "signature"),
    [
        (calldata.TRANSFER_SELECTOR, "transfer(address,uint256)"),
        (calldata.TRANSFER_FROM_SELECTOR, "transferFrom(address,address,uint256)"),
        (calldata.APPROVE_SELECTOR, "approve(address,uint256)"),
    ],
)
def test_selectors_are_keccak_of_signatures(selector: bytes, signature: str) -> None:
    assert selector == keccak256(signature.encode())[:4]


@settings(max_examples=300)
@given(addresses, amounts)
def test_transfer_matches_eth_abi_and_round_trips(to: str, amount: int) -> None:
    data = calldata.encode_transfer(to, amount)
    assert data == calldata.TRANSFER_SELECTOR + abi_encode(["address", "uint256"], [to, amount])
    assert decode_erc20_call(data) == Erc20Transfer(to=to, amount=amount)


@settings(max_examples=300)
@given(addresses, addresses, amounts)
def test_transfer_from_matches_eth_abi_and_round_trips(owner: str, to: str, amount: int) -> None:
    data = calldata.encode_transfer_from(owner, to, amount)
    expected = abi_encode(["address", "address", "uint256"], [owner, to, amount])
    assert data == calldata.TRANSFER_FROM_SELECTOR + expected
    assert decode_erc20_call(data) == Erc20TransferFrom(owner=owner, to=to, amount=amount)


@settings(max_examples=300)
@given(addresses, amounts)
def test_approve_matches_eth_abi_and_round_trips(spender: str, amount: int) -> None:
    data = calldata.encode_approve(spender, amount)
    assert data == calldata.APPROVE_SELECTOR + abi_encode(["address", "uint256"], [spender, amount])
    assert decode_erc20_call(data) == Erc20Approve(spender=spender, amount=amount)


@settings(max_examples=500)
@given(st.binary(max_size=140))
def test_arbitrary_calldata_decodes_agreeing_with_eth_abi_or_is_unknown(data: bytes) -> None:
    decoded = decode_erc20_call(data)
    if isinstance(decoded, Erc20Transfer):
        assert abi_decode(["address", "uint256"], data[4:]) == (decoded.to.lower(), decoded.amount)
        assert calldata.encode_transfer(decoded.to, decoded.amount) == data
    elif isinstance(decoded, Erc20Approve):
        assert calldata.encode_approve(decoded.spender, decoded.amount) == data
    elif isinstance(decoded, Erc20TransferFrom):
        assert calldata.encode_transfer_from(decoded.owner, decoded.to, decoded.amount) == data
    else:
        assert isinstance(decoded, UnknownCall)


def test_lower_case_addresses_are_accepted_and_returned_checksummed() -> None:
    data = calldata.encode_transfer(ALICE.lower(), 5)
    assert decode_erc20_call(data) == Erc20Transfer(to=ALICE, amount=5)


VALID_TRANSFER = calldata.encode_transfer(ALICE, 10**6)
VALID_FROM = calldata.encode_transfer_from(ALICE, BOB, 1)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "no_selector"),
        (b"\xa9\x05\x9c", "no_selector"),
        (VALID_TRANSFER[:-1], "bad_length"),  # short
        (VALID_TRANSFER + b"\x00", "bad_length"),  # one trailing byte
        (VALID_TRANSFER + bytes(32), "bad_length"),  # a whole extra word
        (calldata.TRANSFER_SELECTOR, "bad_length"),
        (VALID_FROM[:68], "bad_length"),  # transferFrom with transfer's length
        # a dirty high byte in the address word (Solidity would drop it)
        (VALID_TRANSFER[:4] + b"\x01" + VALID_TRANSFER[5:], "non_canonical_address"),
        (VALID_TRANSFER[:15] + b"\xff" + VALID_TRANSFER[16:], "non_canonical_address"),
        (VALID_FROM[:36] + b"\x01" + VALID_FROM[37:], "non_canonical_address"),
        (bytes.fromhex("39509351") + VALID_TRANSFER[4:], "unknown_selector"),  # increaseAllowance
        (bytes.fromhex("d505accf") + bytes(224), "unknown_selector"),  # permit
        (bytes.fromhex("e3ee160e") + bytes(288), "unknown_selector"),  # transferWithAuthorization
        (bytes.fromhex("A9059CBC") + VALID_TRANSFER[4:], "unknown_selector"),  # off by one
    ],
)
def test_expfail_malformed_or_unknown(data: bytes, reason: str) -> None:
    decoded = decode_erc20_call(data)
    assert isinstance(decoded, UnknownCall)
    assert decoded.reason == reason
    assert decoded.length == len(data)
    assert decoded.selector == (data[:4].hex() if len(data) >= 4 else None)


def test_expfail_decode_requires_bytes() -> None:
    with pytest.raises(TypeError):
        decode_erc20_call(bytearray(VALID_TRANSFER))  # type: ignore[arg-type]


@pytest.mark.parametrize("amount", [-1, 2**256, True, "1"])
def test_expfail_encode_bad_amounts(amount: object) -> None:
    with pytest.raises(ValueError, match="amount"):
        calldata.encode_transfer(ALICE, amount)  # type: ignore[arg-type]


def test_expfail_encode_bad_address() -> None:
    with pytest.raises(InvalidRequestError) as info:
        calldata.encode_transfer(ALICE[:-1] + "D", 1)
    assert info.value.metadata["field"] == "to"


def test_results_are_frozen() -> None:
    decoded = decode_erc20_call(VALID_TRANSFER)
    assert isinstance(decoded, Erc20Transfer)
    with pytest.raises(AttributeError):
        decoded.amount = 0  # type: ignore[misc]
