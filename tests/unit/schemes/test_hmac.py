"""signer/schemes/hmac.py and signer/schemes/asymmetric.py (the Binance key signers).

Known answers from RFC 4231 (HMAC-SHA256/512 test case 2) and the Kraken doc
vector; asymmetric signatures are checked with the public key.
"""

from __future__ import annotations

import base64
import pickle

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.hashes import SHA256

from signer.errors import InvalidCredentialsError
from signer.keystore.handles import Secret
from signer.schemes.asymmetric import (
    Ed25519Signer,
    RsaPkcs1v15Sha256Signer,
    is_pem_private_key,
    load_pem_signer,
)
from signer.schemes.hmac import HmacSha256, HmacSha512, kraken_sign

RFC4231_KEY = b"Jefe"
RFC4231_DATA = b"what do ya want for nothing?"
RFC4231_SHA256 = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
RFC4231_SHA512 = (
    "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a"
    "6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
)
KRAKEN_SECRET = (
    "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
)


def test_hmac_sha256_rfc4231() -> None:
    mac = HmacSha256(Secret(RFC4231_KEY))
    assert mac.hex(RFC4231_DATA) == RFC4231_SHA256
    # The template is copied per message: signing again or interleaving gives the same answer.
    assert mac.hex(b"other") != RFC4231_SHA256
    assert mac.hex(RFC4231_DATA) == RFC4231_SHA256


def test_hmac_sha512_rfc4231_base64() -> None:
    mac = HmacSha512.from_secret(Secret(RFC4231_KEY))
    assert mac.base64(RFC4231_DATA) == base64.b64encode(bytes.fromhex(RFC4231_SHA512)).decode()
    assert mac.digest(RFC4231_DATA).hex() == RFC4231_SHA512


def test_kraken_sign_published_vector() -> None:
    key = HmacSha512.from_base64_secret(Secret(KRAKEN_SECRET))
    body = b"nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
    assert kraken_sign(key, b"/0/private/AddOrder", "1616492376594", body) == (
        "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="
    )


@pytest.mark.parametrize("secret", ["not base64!", "abc", "a" * 5 + "=="])
def test_kraken_secret_must_be_base64(secret: str) -> None:
    with pytest.raises(InvalidCredentialsError) as info:
        HmacSha512.from_base64_secret(Secret(secret))
    assert secret not in info.value.public_message


def test_empty_secret_refused() -> None:
    with pytest.raises(InvalidCredentialsError):
        HmacSha256(Secret(b""))


@pytest.mark.parametrize(
    "signer",
    [HmacSha256(Secret(b"k")), HmacSha512.from_secret(Secret(b"k"))],
)
def test_signers_do_not_leak(signer: object) -> None:
    assert "redacted" in repr(signer)
    assert "k" not in repr(signer).replace("redacted", "").replace("Hmac", "")
    with pytest.raises(TypeError):
        pickle.dumps(signer)
    assert not any(name in dir(signer) for name in ("key", "secret", "expose"))


# --- asymmetric (Binance Ed25519 / RSA API keys) ---------------------------------------


def _pem(key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def test_ed25519_signer() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    signer = load_pem_signer(Secret(_pem(key)))
    assert isinstance(signer, Ed25519Signer)
    signature = base64.b64decode(signer.sign_base64(b"payload"))
    key.public_key().verify(signature, b"payload")
    assert signer.sign_base64(b"payload") == signer.sign_base64(b"payload")  # deterministic


def test_rsa_signer_pkcs1_and_traditional_pem() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pkcs1 = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    for pem in (_pem(key), pkcs1):
        signer = load_pem_signer(Secret(pem))
        assert isinstance(signer, RsaPkcs1v15Sha256Signer)
        signature = base64.b64decode(signer.sign_base64(b"payload"))
        key.public_key().verify(signature, b"payload", padding.PKCS1v15(), SHA256())


def test_pem_refusals() -> None:
    short = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (refused)
    encrypted = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    bad = [
        _pem(short),
        _pem(ec.generate_private_key(ec.SECP256R1())),
        encrypted,
        b"-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n",
    ]
    for pem in bad:
        with pytest.raises(InvalidCredentialsError) as info:
            load_pem_signer(Secret(pem))
        assert info.value.metadata["field"] == "api_secret"


def test_is_pem_private_key() -> None:
    assert is_pem_private_key(Secret(_pem(ed25519.Ed25519PrivateKey.generate())))
    assert is_pem_private_key(Secret(b"\n  -----BEGIN PRIVATE KEY-----\n"))
    assert not is_pem_private_key(Secret(b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"))  # fmt: skip


def test_asymmetric_signers_do_not_leak() -> None:
    signer = load_pem_signer(Secret(_pem(ed25519.Ed25519PrivateKey.generate())))
    assert repr(signer) == "Ed25519Signer(<redacted>)"
    with pytest.raises(TypeError):
        pickle.dumps(signer)


def test_hmac_sha256_base64_and_urlsafe_key() -> None:
    import base64 as b64
    import hashlib as hl
    import hmac as hm

    from signer.keystore.handles import Secret
    from signer.schemes.hmac import HmacSha256

    signer = HmacSha256(Secret(b"key"))
    assert (
        signer.base64(b"msg") == b64.b64encode(hm.new(b"key", b"msg", hl.sha256).digest()).decode()
    )
    url = HmacSha256.from_urlsafe_base64_secret(Secret(b64.urlsafe_b64encode(b"\xfb\xff-key")))
    assert url.hex(b"msg") == hm.new(b"\xfb\xff-key", b"msg", hl.sha256).hexdigest()
