"""The daemon's sealing and audit keys: PyNaCl-identical outputs, keys held only in
buffers that ``wipe()`` zeroes, and no use after a wipe."""

from __future__ import annotations

import secrets

import pytest
from nacl.public import PrivateKey, SealedBox
from nacl.signing import SigningKey

from signer.errors import InvalidCredentialsError
from signer.keystore.handles import Secret
from signer.schemes.daemon_keys import AuditSigner, KeyWipedError, SealingKey, new_seed


@pytest.fixture
def seed() -> bytes:
    return new_seed()


def test_audit_signatures_are_pynacl_signatures(seed: bytes) -> None:
    ours, theirs = AuditSigner(Secret(seed)), SigningKey(seed)
    assert ours.public_key == bytes(theirs.verify_key)
    for message in (b"", b"checkpoint", secrets.token_bytes(1000)):
        assert ours.sign(message) == theirs.sign(message).signature
        theirs.verify_key.verify(message, ours.sign(message))


def test_sealing_key_opens_pynacl_sealed_boxes(seed: bytes) -> None:
    key = SealingKey(Secret(seed))
    public = PrivateKey(seed).public_key
    assert key.public_key == bytes(public)
    for plaintext in (b"", b'{"api_secret": "x"}', secrets.token_bytes(5000)):
        assert key.open(SealedBox(public).encrypt(plaintext)) == plaintext


@pytest.mark.parametrize(
    "sealed",
    [b"", b"\x00" * 47, b"\x00" * 48, b"\x00" * 100, "text"],
)
def test_sealing_key_refuses_garbage(seed: bytes, sealed: object) -> None:
    with pytest.raises(InvalidCredentialsError) as err:
        SealingKey(Secret(seed)).open(sealed)  # type: ignore[arg-type]
    assert err.value.metadata["field"] == "sealed"


def test_expfail_box_for_another_key(seed: bytes) -> None:
    other = PrivateKey.generate().public_key
    with pytest.raises(InvalidCredentialsError):
        SealingKey(Secret(seed)).open(SealedBox(other).encrypt(b"x"))


def test_wipe_zeroes_the_held_keys_and_refuses_use(seed: bytes) -> None:
    sealing, audit = SealingKey(Secret(seed)), AuditSigner(Secret(seed))
    held = [sealing._sk, audit._sk]
    assert [len(b) for b in held] == [32, 64] and all(any(b) for b in held)
    box = SealedBox(PrivateKey(seed).public_key).encrypt(b"x")
    sealing.wipe()
    audit.wipe()
    assert held == [bytearray(32), bytearray(64)]
    with pytest.raises(KeyWipedError):
        sealing.open(box)
    with pytest.raises(KeyWipedError):
        audit.sign(b"after shutdown")


def test_the_seed_is_not_kept(seed: bytes) -> None:
    """The caller's seed buffer is not the key's buffer: wiping one leaves the other."""
    given = Secret(seed)
    audit = AuditSigner(given)
    given.wipe()
    assert audit.sign(b"m") == SigningKey(seed).sign(b"m").signature


def test_bad_seed_length() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        SealingKey(Secret(b"short"))
    with pytest.raises(ValueError, match="32 bytes"):
        AuditSigner(Secret(b"\x01" * 33))
