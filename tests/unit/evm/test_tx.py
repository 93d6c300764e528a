"""signer/evm/tx.py: payload layout, must-fail fields, signatures and encodings.

The eth-account cross-checks live in ``test_tx_oracle.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st

from signer.errors import InvalidRequestError
from signer.evm import rlp
from signer.evm.tx import (
    MAX_DATA_BYTES,
    SECP256K1_N,
    SignDigest,
    TransactionSigningError,
    decode_signed,
    recover_sender,
    sign,
)
from tests.unit.evm._tx_helpers import SECRET, USDC_ARBITRUM, coincurve_signer, example_fields


def test_unsigned_payload_layout() -> None:
    fields = example_fields()
    payload = fields.unsigned_payload()
    assert payload[0] == 0x02
    items = rlp.decode(payload[1:])
    assert isinstance(items, list) and len(items) == 9 and items[-1] == []
    assert items[5] == USDC_ARBITRUM


def test_signed_transaction_accessors() -> None:
    signed = sign(example_fields(), coincurve_signer(SECRET))
    assert signed.raw_hex == "0x" + signed.raw.hex()
    assert signed.fields.to_address == "0xaf88d065e77c8cC2239327C5EDb3A432268e5831"
    with pytest.raises(AttributeError):
        signed.raw = b""  # type: ignore[misc]


def test_legacy_v_27_28_is_accepted() -> None:
    inner = coincurve_signer(SECRET)

    def legacy(digest: bytes) -> tuple[int, int, int]:
        v, r, s = inner(digest)
        return v + 27, r, s

    assert sign(example_fields(), legacy).raw == sign(example_fields(), inner).raw


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"chain_id": 0}, "chain_id"),
        ({"chain_id": 2**64}, "chain_id"),
        ({"chain_id": True}, "chain_id"),
        ({"nonce": -1}, "nonce"),
        ({"nonce": 2**64 - 1}, "nonce"),  # EIP-2681
        ({"nonce": 1.0}, "nonce"),
        ({"max_fee_per_gas": 2**256}, "max_fee_per_gas"),
        ({"max_priority_fee_per_gas": 10**8 + 1}, "max_priority_fee_per_gas"),
        ({"max_priority_fee_per_gas": -1}, "max_priority_fee_per_gas"),
        ({"gas_limit": 20_999}, "gas_limit"),
        ({"gas_limit": 2**64}, "gas_limit"),
        ({"value": -1}, "value"),
        ({"value": 2**256}, "value"),
        ({"value": "1"}, "value"),
        ({"to": b""}, "to"),  # contract creation is not supported
        ({"to": bytes(19)}, "to"),
        ({"to": bytes(21)}, "to"),
        ({"to": "0x" + "00" * 20}, "to"),
        ({"to": bytearray(20)}, "to"),
        ({"data": bytes(MAX_DATA_BYTES + 1)}, "data"),
        ({"data": bytearray(4)}, "data"),
        ({"data": "0x"}, "data"),
    ],
)
def test_expfail_invalid_fields(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        example_fields(**changes)
    assert info.value.metadata["field"] == field


def test_boundary_fields_are_accepted() -> None:
    example_fields(data=bytes(MAX_DATA_BYTES), gas_limit=21_000, nonce=2**64 - 2)
    example_fields(max_priority_fee_per_gas=10**8)


def _bad_signer(result: object) -> SignDigest:
    return lambda _digest: result  # type: ignore[return-value]


@pytest.mark.parametrize(
    "result",
    [
        (0, 0, 1),
        (0, 1, 0),
        (2, 1, 1),
        (29, 1, 1),
        (0, SECP256K1_N, 1),
        (0, 1, SECP256K1_N // 2 + 1),  # high s (EIP-2)
        (0, 1),
        [0, 1, 1],
        (True, 1, 1),
        None,
    ],
)
def test_expfail_bad_signatures(result: object) -> None:
    with pytest.raises(TransactionSigningError):
        sign(example_fields(), _bad_signer(result))


def test_expfail_high_s_from_a_real_signature() -> None:
    inner = coincurve_signer(SECRET)

    def malleated(digest: bytes) -> tuple[int, int, int]:
        v, r, s = inner(digest)
        return 1 - v, r, SECP256K1_N - s

    with pytest.raises(TransactionSigningError):
        sign(example_fields(), malleated)


def test_expfail_signature_from_another_key() -> None:
    other = Account.from_key(bytes.fromhex("22" * 32)).address
    with pytest.raises(TransactionSigningError, match="different key"):
        sign(example_fields(), coincurve_signer(SECRET), expected_from=other)
    # The same check passes for the right key, whatever its spelling.
    own = Account.from_key(SECRET).address
    sign(example_fields(), coincurve_signer(SECRET), expected_from=own.lower())


def _signed_items() -> list[rlp.RlpItem]:
    raw = sign(example_fields(), coincurve_signer(SECRET)).raw
    items = rlp.decode(raw[1:])
    assert isinstance(items, list)
    return items


def _with(index: int, value: rlp.RlpItem) -> bytes:
    items = _signed_items()
    items[index] = value
    return b"\x02" + rlp.encode(items)


def _high_s() -> bytes:
    items = _signed_items()
    s = rlp.decode_uint(items[11])
    parity = rlp.decode_uint(items[9])
    items[9] = rlp.encode_uint(1 - parity)
    items[11] = rlp.encode_uint(SECP256K1_N - s)
    return b"\x02" + rlp.encode(items)


GOOD_RAW = sign(example_fields(), coincurve_signer(SECRET)).raw


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x01" + GOOD_RAW[1:],  # EIP-2930 type byte
        GOOD_RAW[1:],  # no type byte (legacy-looking)
        GOOD_RAW + b"\x00",  # trailing byte
        GOOD_RAW[:-1],  # truncated
        b"\x02" + rlp.encode([*_signed_items(), b""]),  # 13 fields
        b"\x02" + rlp.encode(_signed_items()[:11]),  # 11 fields
        _with(8, [[USDC_ARBITRUM, []]]),  # non-empty access list
        _with(8, b""),  # access list as a string
        _with(5, b""),  # contract creation
        _with(5, bytes(19)),
        _with(5, [USDC_ARBITRUM]),
        _with(7, []),  # data as a list
        _with(1, b"\x00\x07"),  # nonce with a leading zero
        _with(0, b"\x01" + bytes(8)),  # chain id over 8 bytes
        _with(9, b"\x02"),  # y_parity 2
        _with(9, b"\x1b"),  # legacy v in a typed transaction
        _with(10, b""),  # r = 0
        _high_s(),
        _with(3, rlp.encode_uint(1)),  # max fee below the tip
        b"\x02\xc0",
        b"\x02\x80",
    ],
)
def test_expfail_decode_signed(raw: bytes) -> None:
    with pytest.raises(InvalidRequestError) as info:
        decode_signed(raw)
    assert info.value.metadata["field"] == "raw_transaction"


def test_expfail_decode_signed_non_bytes() -> None:
    with pytest.raises(InvalidRequestError):
        decode_signed(bytearray(GOOD_RAW))  # type: ignore[arg-type]


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_decode_arbitrary_bytes_only_typed_errors(data: bytes) -> None:
    for raw in (data, b"\x02" + data):
        try:
            decoded = decode_signed(raw)
        except InvalidRequestError:
            continue
        assert decoded.fields.unsigned_payload()[0] == 0x02


@settings(max_examples=100, deadline=None)
@given(st.integers(0, len(GOOD_RAW) - 1), st.integers(1, 255))
def test_any_single_byte_change_is_refused_or_changes_the_sender(index: int, delta: int) -> None:
    tampered = bytearray(GOOD_RAW)
    tampered[index] = (tampered[index] + delta) % 256
    try:
        decoded = decode_signed(bytes(tampered))
        sender = recover_sender(decoded)
    except InvalidRequestError:
        return
    assert sender != Account.from_key(SECRET).address


def test_expfail_signature_with_no_public_key() -> None:
    # r = 5 is in range but is not the x coordinate of a curve point.
    decoded = decode_signed(_with(10, rlp.encode_uint(5)))
    with pytest.raises(InvalidRequestError, match="recover"):
        recover_sender(decoded)
    with pytest.raises(TransactionSigningError, match="recover"):
        sign(example_fields(), _bad_signer((0, 5, 1)))
