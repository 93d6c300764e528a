"""signer/schemes/secp256k1.py: keys, addresses, signatures, keccak, EIP-191.

Known answers: keccak-256 of "" and "abc" (Keccak team / Ethereum yellow paper
usage), the EIP-55 specification examples, and the addresses of the published
Hyperliquid and Polymarket test keys (VENUES.md 9.5 and 11). Signatures are
checked against eth-account (``Account.unsafe_sign_hash``) as an oracle.
"""

from __future__ import annotations

import copy
import pickle
import threading
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import defunct_hash_message
from eth_utils.address import to_checksum_address as eth_utils_checksum
from hypothesis import given, settings
from hypothesis import strategies as st

from signer.errors import InvalidCredentialsError
from signer.keystore.handles import Secret
from signer.schemes import secp256k1
from signer.schemes.secp256k1 import (
    SECP256K1_N,
    InvalidAddressError,
    InvalidSignatureError,
    Secp256k1Key,
    Signature,
    eip191_personal_digest,
    keccak256,
    parse_address,
    recover_address,
    to_checksum_address,
)

HL_KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"
HL_ADDRESS = "0x14791697260E4c9A71f18484C9f997B308e59325"
PM_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
PM_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
EIP55_EXAMPLES = [
    "0x52908400098527886E0F7030069857D2E4169EE7",
    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    "0xde709f2102306220921060314715629080e2fb77",
    "0x27b1fdb04752bbc536007a920d24acb045561c26",
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]
scalars = st.integers(min_value=1, max_value=SECP256K1_N - 1)


# --- keccak ----------------------------------------------------------------------------


def test_keccak_known_answers() -> None:
    assert (
        keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )
    assert (
        keccak256(b"abc").hex()
        == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
    )


def test_keccak_uses_the_direct_path_here() -> None:
    # The venv has pycryptodome with the cffi backend; if this fails the fallback is
    # in use and signing is slower, which bench/eip712_bench.py would show.
    assert keccak256 is not secp256k1._keccak256_public


@given(st.binary(max_size=600))
def test_keccak_direct_matches_public_api(data: bytes) -> None:
    assert keccak256(data) == secp256k1._keccak256_public(data)


def test_keccak_is_thread_safe() -> None:
    inputs = [bytes([i]) * (i * 7 % 300) for i in range(256)]
    expected = [secp256k1._keccak256_public(b) for b in inputs]
    failures: list[int] = []

    def work() -> None:
        for _ in range(20):
            for i, b in enumerate(inputs):
                if keccak256(b) != expected[i]:
                    failures.append(i)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


# --- addresses -------------------------------------------------------------------------


@pytest.mark.parametrize("address", EIP55_EXAMPLES)
def test_eip55_specification_examples(address: str) -> None:
    raw = bytes.fromhex(address[2:])
    if address[2:] in (address[2:].lower(), address[2:].upper()):  # the all-caps / all-lower cases
        assert to_checksum_address(address).lower() == address.lower()
    else:
        assert to_checksum_address(raw) == address
        assert to_checksum_address(address.lower()) == address
        assert to_checksum_address(address) == address
    assert parse_address(address) == raw


@pytest.mark.parametrize(
    "bad",
    [
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD",  # checksum broken in the last digit
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe",  # 39 digits
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed0",  # 41 digits
        "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",  # no prefix
        "0X5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED",  # upper-case prefix
        " 0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
        "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaeg",
        "0x\u0665aaeb6053f3e94c9b9a09f33669435e7ef1beaed",  # Arabic-Indic digit five
        "",
    ],
)
def test_strict_address_parsing(bad: str) -> None:
    with pytest.raises(InvalidAddressError) as info:
        parse_address(bad)
    assert bad[3:] not in str(info.value) or not bad[3:]
    with pytest.raises(InvalidAddressError):
        to_checksum_address(bad)


@pytest.mark.parametrize("bad", [b"\x00" * 19, b"\x00" * 21, bytearray(20), 0, None])
def test_checksum_address_refuses_non_address_values(bad: Any) -> None:
    with pytest.raises(InvalidAddressError):
        to_checksum_address(bad)
    with pytest.raises(InvalidAddressError):
        parse_address(bad)


@given(st.binary(min_size=20, max_size=20))
def test_checksum_matches_eth_utils(raw: bytes) -> None:
    assert to_checksum_address(raw) == eth_utils_checksum(raw)


# --- keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "material",
    [HL_KEY, HL_KEY[2:], HL_KEY.upper().replace("0X", "0x"), bytes.fromhex(HL_KEY[2:])],
    ids=["0x-hex", "bare-hex", "upper-hex", "raw-32"],
)
def test_key_from_secret_forms(material: str | bytes) -> None:
    key = Secp256k1Key.from_secret(Secret(material))
    assert key.address == HL_ADDRESS


def test_key_addresses_of_published_vectors() -> None:
    assert Secp256k1Key.from_secret(Secret(PM_KEY)).address == PM_ADDRESS


@pytest.mark.parametrize(
    ("material", "problem"),
    [
        ("0x" + "00" * 32, "not a valid secp256k1 private key"),
        (f"0x{SECP256K1_N:064x}", "not a valid secp256k1 private key"),
        ("0x" + "ff" * 32, "not a valid secp256k1 private key"),
        (b"\x00" * 32, "not a valid secp256k1 private key"),
        (HL_KEY[:-1], "not a 32-byte hex private key"),
        (HL_KEY + "0", "not a 32-byte hex private key"),
        (HL_KEY[:-1] + "g", "not a 32-byte hex private key"),
        (" " + HL_KEY, "not a 32-byte hex private key"),
        ("0X" + HL_KEY[2:], "not a 32-byte hex private key"),
        (b"\x01" * 31, "not a 32-byte hex private key"),
        (b"", "not a 32-byte hex private key"),
    ],
)
def test_key_from_secret_refuses_bad_material(material: str | bytes, problem: str) -> None:
    with pytest.raises(InvalidCredentialsError) as info:
        Secp256k1Key.from_secret(Secret(material), field="extra_json.signer_private_key")
    assert str(info.value) == f"extra_json.signer_private_key: {problem}"
    assert info.value.metadata == {"field": "extra_json.signer_private_key"}
    assert "0123456789" not in str(info.value)


def test_key_is_redacted_and_not_picklable() -> None:
    key = Secp256k1Key.from_secret(Secret(HL_KEY))
    assert repr(key) == f"Secp256k1Key(address={HL_ADDRESS}, <redacted>)"
    assert str(key) == repr(key)
    assert HL_KEY[2:10] not in repr(key)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(key)
    with pytest.raises(TypeError, match="cannot be pickled"):
        copy.deepcopy(key)
    with pytest.raises(TypeError):
        Secp256k1Key()
    assert not hasattr(key, "__dict__")


# --- signatures ------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(scalars, st.binary(min_size=32, max_size=32))
def test_sign_digest_matches_eth_account(scalar: int, digest: bytes) -> None:
    material = scalar.to_bytes(32, "big")
    ours = Secp256k1Key.from_secret(Secret(material)).sign_digest(digest)
    theirs = Account.unsafe_sign_hash(digest, material)
    assert ours == Signature(v=theirs.v, r=theirs.r, s=theirs.s)
    assert ours.to_bytes65() == bytes(theirs.signature)
    assert ours.s <= SECP256K1_N // 2 and ours.v in (27, 28)
    assert recover_address(digest, ours.to_bytes65()) == Account.from_key(material).address


@pytest.mark.parametrize("bad", [b"\x00" * 31, b"\x00" * 33, bytearray(32), "00" * 32, None])
def test_sign_digest_refuses_non_digests(bad: Any) -> None:
    key = Secp256k1Key.from_secret(Secret(HL_KEY))
    with pytest.raises(ValueError, match="32 bytes"):
        key.sign_digest(bad)


def test_signature_wire_form_round_trips() -> None:
    sig = Secp256k1Key.from_secret(Secret(HL_KEY)).sign_digest(b"\x01" * 32)
    raw = sig.to_bytes65()
    assert len(raw) == 65 and sig.to_hex() == "0x" + raw.hex()
    assert Signature.from_bytes65(raw) == sig
    assert Signature.from_bytes65(raw[:64] + bytes((raw[64] - 27,))) == sig


def _high_s(sig: Signature) -> bytes:
    flipped = Signature(v=55 - sig.v, r=sig.r, s=SECP256K1_N - sig.s)
    return flipped.r.to_bytes(32, "big") + flipped.s.to_bytes(32, "big") + bytes((flipped.v,))


def test_recover_refuses_malleable_and_malformed_signatures() -> None:
    key = Secp256k1Key.from_secret(Secret(HL_KEY))
    digest = b"\x02" * 32
    sig = key.sign_digest(digest)
    raw = sig.to_bytes65()
    assert recover_address(digest, raw) == HL_ADDRESS
    # The high-s twin is a valid ECDSA signature by the same key (eth-account accepts it).
    assert Account._recover_hash(digest, signature=_high_s(sig)) == HL_ADDRESS
    bad = [
        _high_s(sig),
        raw[:64] + b"\x1d",  # v = 29
        raw[:64] + b"\x02",
        bytes(32) + raw[32:],  # r = 0
        raw[:32] + bytes(32) + raw[64:],  # s = 0
        SECP256K1_N.to_bytes(32, "big") + raw[32:],  # r = n
        raw[:64],
        raw + b"\x00",
        bytearray(raw),
    ]
    for candidate in bad:
        with pytest.raises(InvalidSignatureError):
            recover_address(digest, candidate)  # type: ignore[arg-type]
    with pytest.raises(InvalidSignatureError, match="digest"):
        recover_address(digest[:31], raw)


def test_recover_refuses_r_that_is_not_on_the_curve() -> None:
    # x = 5 has no point on secp256k1 (5^3 + 7 = 132 is not a square mod p).
    sig = (5).to_bytes(32, "big") + (1).to_bytes(32, "big") + b"\x1b"
    with pytest.raises(InvalidSignatureError, match="recover"):
        recover_address(b"\x03" * 32, sig)


@given(st.binary(max_size=300))
def test_eip191_personal_digest_matches_eth_account(message: bytes) -> None:
    assert eip191_personal_digest(message) == bytes(defunct_hash_message(primitive=message))


def test_eip191_refuses_text() -> None:
    with pytest.raises(TypeError):
        eip191_personal_digest("hello")  # type: ignore[arg-type]


def test_siwe_style_round_trip() -> None:
    key = Secp256k1Key.from_secret(Secret(PM_KEY))
    digest = eip191_personal_digest(b"example.com wants you to sign in")
    signed = Account.unsafe_sign_hash(digest, PM_KEY)
    assert recover_address(digest, bytes(signed.signature)) == key.address == PM_ADDRESS
