"""signer/schemes/rsa_pss.py: one test (or a few) per invariant of its docstring.

RSA-PSS is randomised, so there is no fixed vector: signatures are verified
with the public key, and the salt length is recovered from a signature with
raw RSA arithmetic (RFC 8017 section 9.1.2, EMSA-PSS-VERIFY steps 1-10),
independently of ``cryptography``'s PSS code.
"""

from __future__ import annotations

import base64
import hashlib
import pickle
from functools import cache

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from signer.errors import InvalidCredentialsError
from signer.keystore.handles import Secret
from signer.schemes import rsa_pss
from signer.schemes.rsa_pss import PSS_PADDING, SALT_LENGTH, RsaPssSha256Signer

MESSAGE = b"1703123456789GET/trade-api/v2/portfolio/balance"


@cache
def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    """One key per size for the whole session (generation is slow)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, fmt: str = "pkcs8") -> bytes:
    formats = {
        "pkcs8": serialization.PrivateFormat.PKCS8,
        "pkcs1": serialization.PrivateFormat.TraditionalOpenSSL,
    }
    return key.private_bytes(serialization.Encoding.PEM, formats[fmt], serialization.NoEncryption())


def _mgf1_sha256(seed: bytes, length: int) -> bytes:
    out = b""
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return out[:length]


def recovered_salt_length(public: rsa.RSAPublicKey, signature: bytes, message: bytes) -> int:
    """EMSA-PSS-VERIFY by hand; returns the salt length (asserts the encoding is valid)."""
    numbers = public.public_numbers()
    mod_bits = public.key_size
    em_len = (mod_bits - 1 + 7) // 8
    em = pow(int.from_bytes(signature, "big"), numbers.e, numbers.n).to_bytes(em_len, "big")
    assert em[-1] == 0xBC
    h_len = 32
    masked_db, digest = em[: em_len - h_len - 1], em[em_len - h_len - 1 : -1]
    db = bytearray(
        a ^ b for a, b in zip(masked_db, _mgf1_sha256(digest, len(masked_db)), strict=True)
    )
    db[0] &= 0xFF >> (8 * em_len - (mod_bits - 1))
    separator = db.index(1)
    assert not any(db[:separator])
    salt = bytes(db[separator + 1 :])
    m_hash = hashlib.sha256(message).digest()
    assert hashlib.sha256(b"\x00" * 8 + m_hash + salt).digest() == digest
    return len(salt)


def signer(fmt: str = "pkcs8", bits: int = 2048) -> RsaPssSha256Signer:
    return RsaPssSha256Signer.from_pem(Secret(pem(rsa_key(bits), fmt)))


# --- invariant 1: pinned parameters -------------------------------------------------------


def test_salt_length_is_the_digest_length_as_an_int() -> None:
    assert SALT_LENGTH == 32 == hashes.SHA256.digest_size
    assert type(SALT_LENGTH) is int
    assert isinstance(PSS_PADDING, padding.PSS)


@pytest.mark.parametrize("bits", [2048, 3072])
def test_signature_carries_a_32_byte_salt(bits: int) -> None:
    s = signer(bits=bits)
    signature = s.sign(MESSAGE)
    assert len(signature) == bits // 8
    assert recovered_salt_length(s.public_key(), signature, MESSAGE) == 32


def test_verifies_with_kalshi_parameters_and_not_with_others() -> None:
    s = signer()
    signature = s.sign(MESSAGE)
    kalshi = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    s.public_key().verify(signature, MESSAGE, kalshi, hashes.SHA256())
    for other in (20, 64, 222):  # 222: the MAX_LENGTH salt of a 2048-bit key
        with pytest.raises(InvalidSignature):
            s.public_key().verify(
                signature,
                MESSAGE,
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=other),
                hashes.SHA256(),
            )
    with pytest.raises(InvalidSignature):
        s.public_key().verify(signature, MESSAGE + b"?limit=1", kalshi, hashes.SHA256())


def test_randomised_and_base64_standard() -> None:
    s = signer()
    first, second = s.sign_base64(MESSAGE), s.sign_base64(MESSAGE)
    assert first != second
    raw = base64.b64decode(first, validate=True)
    assert base64.b64encode(raw).decode() == first
    assert recovered_salt_length(s.public_key(), raw, MESSAGE) == 32


# --- invariant 2: key formats --------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["pkcs1", "pkcs8"])
def test_pkcs1_and_pkcs8_pem_load(fmt: str) -> None:
    data = pem(rsa_key(), fmt)
    assert data.startswith(
        b"-----BEGIN RSA PRIVATE KEY-----" if fmt == "pkcs1" else b"-----BEGIN PRIVATE KEY-----"
    )
    s = RsaPssSha256Signer.from_pem(Secret(b"\n  " + data + b"\n"))
    s.public_key().verify(s.sign(MESSAGE), MESSAGE, PSS_PADDING, hashes.SHA256())


def _encrypted() -> bytes:
    return rsa_key().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )


@pytest.mark.parametrize(
    "material",
    [
        pytest.param(lambda: _encrypted(), id="encrypted"),
        pytest.param(lambda: pem(ec.generate_private_key(ec.SECP256R1())), id="ec_key"),
        pytest.param(lambda: pem(rsa.generate_private_key(65537, 1024)), id="rsa_1024"),  # noqa: S505 - must be refused
        pytest.param(lambda: b"not a pem at all", id="garbage"),
        pytest.param(
            lambda: b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", id="bad_der"
        ),
        pytest.param(
            lambda: (
                rsa_key()
                .public_key()
                .public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            ),
            id="public_key",
        ),
    ],
)
def test_refused_material(material: object) -> None:
    data = material()  # type: ignore[operator]
    with pytest.raises(InvalidCredentialsError) as info:
        RsaPssSha256Signer.from_pem(Secret(data))
    assert info.value.metadata["field"] == "api_secret"
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert "BEGIN" not in info.value.public_message


def test_key_size_bounds() -> None:
    assert (rsa_pss.MIN_KEY_BITS, rsa_pss.MAX_KEY_BITS) == (2048, 4096)
    with pytest.raises(InvalidCredentialsError):
        RsaPssSha256Signer(rsa.generate_private_key(65537, 1024))  # noqa: S505 - must be refused


# --- invariant 3: no key bytes out ------------------------------------------------------------


def test_repr_redacted_and_pickle_refused() -> None:
    s = signer()
    assert repr(s) == str(s) == "RsaPssSha256Signer(<redacted>)"
    with pytest.raises(TypeError):
        pickle.dumps(s)
    assert not any(
        isinstance(getattr(s, n, None), bytes | str) for n in dir(s) if not n.startswith("__")
    )
