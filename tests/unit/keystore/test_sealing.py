"""The AES-256-GCM envelope: one test per invariant of signer/keystore/sealing.py."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

from signer.errors import UnsealError
from signer.keystore.sealing import MasterKey, RecordAad, SealedRecord, open_sealed, rewrap, seal

KEY = bytes(range(32))
MASTER = MasterKey.from_bytes(KEY)
OTHER = MasterKey.from_bytes(bytes([7]) * 32)
AAD = RecordAad("credential", "client-a", "live", "kraken", 3)
PLAINTEXT = b'{"api_secret":"s3cr3t"}'
BLOB_FIELDS = ("wrap_nonce", "wrapped_key", "nonce", "ciphertext")


def _with(record: SealedRecord, field: str, value: bytes) -> SealedRecord:
    changes: dict[str, Any] = {field: value}
    return dataclasses.replace(record, **changes)


def _flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


def test_round_trip() -> None:
    record = seal(MASTER, PLAINTEXT, AAD)
    assert open_sealed(MASTER, record, AAD) == PLAINTEXT
    assert record.master_key_id == MASTER.key_id
    assert PLAINTEXT not in record.ciphertext


def test_empty_plaintext_round_trips() -> None:
    assert open_sealed(MASTER, seal(MASTER, b"", AAD), AAD) == b""


def test_every_seal_uses_fresh_randomness() -> None:
    a, b = seal(MASTER, PLAINTEXT, AAD), seal(MASTER, PLAINTEXT, AAD)
    for name in BLOB_FIELDS:
        assert getattr(a, name) != getattr(b, name)


def test_format_is_the_documented_envelope() -> None:
    """An independent opener built from the spec: unwrap with b"wrap" + AAD, then decrypt."""
    record = seal(MASTER, PLAINTEXT, AAD)
    assert (len(record.wrap_nonce), len(record.nonce), len(record.wrapped_key)) == (12, 12, 48)
    data_key = AESGCM(KEY).decrypt(record.wrap_nonce, record.wrapped_key, b"wrap" + AAD.encode())
    assert len(data_key) == 32
    assert AESGCM(data_key).decrypt(record.nonce, record.ciphertext, AAD.encode()) == PLAINTEXT


@pytest.mark.parametrize("field", BLOB_FIELDS)
@pytest.mark.parametrize("index", [0, -1])
def test_tampered_field_fails(field: str, index: int) -> None:
    record = seal(MASTER, PLAINTEXT, AAD)
    bad = _with(record, field, _flip(getattr(record, field), index))
    with pytest.raises(UnsealError, match=r"^sealed record failed authentication$"):
        open_sealed(MASTER, bad, AAD)


@pytest.mark.parametrize("field", BLOB_FIELDS)
@pytest.mark.parametrize("change", ["truncate", "extend", "empty"])
def test_resized_field_fails(field: str, change: str) -> None:
    record = seal(MASTER, PLAINTEXT, AAD)
    value: bytes = getattr(record, field)
    new = {"truncate": value[:-1], "extend": value + b"\x00", "empty": b""}[change]
    with pytest.raises(UnsealError):
        open_sealed(MASTER, _with(record, field, new), AAD)


def test_tampered_master_key_id_fails() -> None:
    record = dataclasses.replace(seal(MASTER, PLAINTEXT, AAD), master_key_id=OTHER.key_id)
    with pytest.raises(UnsealError):
        open_sealed(MASTER, record, AAD)


def test_wrong_master_key_fails() -> None:
    record = seal(MASTER, PLAINTEXT, AAD)
    with pytest.raises(UnsealError):
        open_sealed(OTHER, record, AAD)
    # Even with the key id forged to match, the tag check refuses it.
    with pytest.raises(UnsealError):
        open_sealed(OTHER, dataclasses.replace(record, master_key_id=OTHER.key_id), AAD)


@pytest.mark.parametrize(
    "other",
    [
        dataclasses.replace(AAD, kind="daemon"),
        dataclasses.replace(AAD, client_id="client-b"),
        dataclasses.replace(AAD, mode="sandbox"),
        dataclasses.replace(AAD, name="binance"),
        dataclasses.replace(AAD, version=2),
        dataclasses.replace(AAD, version=4),
    ],
)
def test_record_opened_under_other_aad_fails(other: RecordAad) -> None:
    with pytest.raises(UnsealError):
        open_sealed(MASTER, seal(MASTER, PLAINTEXT, AAD), other)


def test_wrapped_key_spliced_from_another_record_fails() -> None:
    a = seal(MASTER, PLAINTEXT, AAD)
    b = seal(MASTER, PLAINTEXT, AAD)
    spliced = dataclasses.replace(a, wrap_nonce=b.wrap_nonce, wrapped_key=b.wrapped_key)
    with pytest.raises(UnsealError):
        open_sealed(MASTER, spliced, AAD)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (("ab", "c", "m", "n"), ("a", "bc", "m", "n")),
        (("k", "ab", "c", "n"), ("k", "a", "bc", "n")),
        (("k", "c", "ab", ""), ("k", "c", "a", "b")),
        (("", "kc", "m", "n"), ("k", "c", "m", "n")),
    ],
)
def test_aad_encoding_is_unambiguous(
    left: tuple[str, str, str, str], right: tuple[str, str, str, str]
) -> None:
    assert RecordAad(*left, 1).encode() != RecordAad(*right, 1).encode()


def test_aad_encoding_layout() -> None:
    encoded = RecordAad("k", "cl", "m", "", 258).encode()
    assert encoded == (
        b"sequence-signer/record/v1"
        + b"\x00\x00\x00\x01k"
        + b"\x00\x00\x00\x02cl"
        + b"\x00\x00\x00\x01m"
        + b"\x00\x00\x00\x00"
        + b"\x00\x00\x00\x00\x00\x00\x01\x02"
    )


_field = st.text(max_size=6)


@given(
    a=st.builds(RecordAad, _field, _field, _field, _field, st.integers(0, 2**63 - 1)),
    b=st.builds(RecordAad, _field, _field, _field, _field, st.integers(0, 2**63 - 1)),
)
def test_aad_encoding_is_injective(a: RecordAad, b: RecordAad) -> None:
    try:
        enc_a, enc_b = a.encode(), b.encode()
    except UnicodeEncodeError:  # lone surrogates are not encodable; never equal either
        return
    assert (enc_a == enc_b) == (a == b)


@pytest.mark.parametrize("version", [-1, 2**63])
def test_aad_version_out_of_range_is_refused(version: int) -> None:
    with pytest.raises(ValueError, match="version"):
        dataclasses.replace(AAD, version=version).encode()


def test_rewrap_changes_only_the_wrapping() -> None:
    record = seal(MASTER, PLAINTEXT, AAD)
    moved = rewrap(MASTER, OTHER, record, AAD)
    assert moved.master_key_id == OTHER.key_id
    assert (moved.nonce, moved.ciphertext) == (record.nonce, record.ciphertext)
    assert moved.wrapped_key != record.wrapped_key
    assert open_sealed(OTHER, moved, AAD) == PLAINTEXT
    with pytest.raises(UnsealError):
        open_sealed(MASTER, moved, AAD)


def test_rewrap_refuses_wrong_old_key_or_aad() -> None:
    record = seal(MASTER, PLAINTEXT, AAD)
    with pytest.raises(UnsealError):
        rewrap(OTHER, MASTER, record, AAD)
    with pytest.raises(UnsealError):
        rewrap(MASTER, OTHER, record, dataclasses.replace(AAD, client_id="client-b"))


def test_key_id_is_domain_separated_hash() -> None:
    expected = hashlib.sha256(b"sequence-signer/master-key-id/v1" + KEY).hexdigest()[:16]
    assert MASTER.key_id == expected
    assert OTHER.key_id != MASTER.key_id


def test_master_key_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        MasterKey.from_bytes(bytes(31))


def test_wiped_master_key_no_longer_opens() -> None:
    master = MasterKey.from_bytes(bytes([9]) * 32)
    record = seal(master, PLAINTEXT, AAD)
    master.wipe()
    with pytest.raises(UnsealError):
        open_sealed(master, record, AAD)


def test_sealed_record_is_frozen() -> None:
    record = seal(MASTER, PLAINTEXT, AAD)
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.ciphertext = b""  # type: ignore[misc]
    assert isinstance(record, SealedRecord)
