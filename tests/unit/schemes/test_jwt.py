"""signer/schemes/jwt.py: one test (or a few) per invariant of its docstring.

Known answer: RFC 8037 appendix A.4 (Ed25519 JWS of "Example of Ed25519
signing" with the appendix A.1 key). ES256 is randomised, so its tokens are
checked with the public key and an independent r||s -> DER conversion.
"""

from __future__ import annotations

import base64
import json
import pickle

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from signer.errors import InvalidCredentialsError
from signer.keystore.handles import Secret
from signer.schemes.jwt import CdpJwtSigner, b64url, cdp_rest_jwt

# RFC 8037 appendix A.1 (key) and A.4 (signature).
RFC8037_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_INPUT = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
RFC8037_SIG = (
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
)
KEY_NAME = "organizations/0a1b2c3d/apiKeys/4e5f6a7b"
NONCE = "ab" * 32
URI = "POST api.coinbase.com/api/v3/brokerage/orders"


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _pem(
    key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey,
    fmt: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8,
    encryption: serialization.KeySerializationEncryption | None = None,
) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, fmt, encryption or serialization.NoEncryption()
    )


def _rfc8037_seed() -> bytes:
    return _unb64url(RFC8037_D)


# --- known answer -------------------------------------------------------------------------


def test_rfc8037_a4_ed25519_from_base64_seed() -> None:
    """The CDP portal issues Ed25519 keys as standard base64; load the RFC key that way."""
    signer = CdpJwtSigner.from_secret(Secret(base64.b64encode(_rfc8037_seed())))
    assert signer.alg == "EdDSA"
    public = signer.public_key()
    assert isinstance(public, ed25519.Ed25519PublicKey)
    assert b64url(public.public_bytes_raw()) == RFC8037_X
    assert b64url(signer.sign(RFC8037_INPUT.encode())) == RFC8037_SIG


def test_rfc8037_a4_from_seed_and_public_half_and_pem() -> None:
    seed = _rfc8037_seed()
    public = _unb64url(RFC8037_X)
    full = CdpJwtSigner.from_secret(Secret(base64.b64encode(seed + public) + b"\n"))
    pem = _pem(ed25519.Ed25519PrivateKey.from_private_bytes(seed))
    for signer in (full, CdpJwtSigner.from_secret(Secret(pem))):
        assert b64url(signer.sign(RFC8037_INPUT.encode())) == RFC8037_SIG


def test_b64url_has_no_padding() -> None:
    assert b64url(b"\xfb\xff") == "-_8"
    assert b64url(b'{"alg":"EdDSA"}') == "eyJhbGciOiJFZERTQSJ9"


# --- invariant 1: deterministic compact JSON --------------------------------------------------


def test_token_layout_is_compact_json_in_fixed_order() -> None:
    signer = CdpJwtSigner.from_secret(Secret(base64.b64encode(_rfc8037_seed())))
    token = cdp_rest_jwt(signer, KEY_NAME, URI, 1700000000, nonce=NONCE)
    header, claims, signature = token.split(".")
    assert _unb64url(header) == (
        b'{"alg":"EdDSA","kid":"'
        + KEY_NAME.encode()
        + b'","nonce":"'
        + NONCE.encode()
        + b'","typ":"JWT"}'
    )
    assert _unb64url(claims) == (
        b'{"sub":"' + KEY_NAME.encode() + b'","iss":"cdp","nbf":1700000000,"exp":1700000120,'
        b'"uri":"' + URI.encode() + b'"}'
    )
    # Ed25519 is deterministic: the same inputs give the same token.
    assert cdp_rest_jwt(signer, KEY_NAME, URI, 1700000000, nonce=NONCE) == token
    expected = ed25519.Ed25519PrivateKey.from_private_bytes(_rfc8037_seed()).sign(
        f"{header}.{claims}".encode()
    )
    assert _unb64url(signature) == expected


def test_default_nonce_is_fresh_hex() -> None:
    signer = CdpJwtSigner(ed25519.Ed25519PrivateKey.generate())
    nonces = set()
    for _ in range(5):
        header = json.loads(_unb64url(cdp_rest_jwt(signer, "k", URI, 1).split(".")[0]))
        assert len(header["nonce"]) == 64
        int(header["nonce"], 16)
        nonces.add(header["nonce"])
    assert len(nonces) == 5


@pytest.mark.parametrize("nonce", ["", "AB" * 32, "ab" * 31, "zz" * 32, "ab" * 33])
def test_bad_nonce_is_refused(nonce: str) -> None:
    signer = CdpJwtSigner(ed25519.Ed25519PrivateKey.generate())
    with pytest.raises(ValueError, match="nonce"):
        cdp_rest_jwt(signer, "k", URI, 1, nonce=nonce)


def test_header_alg_must_match_the_key() -> None:
    signer = CdpJwtSigner(ed25519.Ed25519PrivateKey.generate())
    with pytest.raises(ValueError, match="alg"):
        signer.token({"alg": "ES256"}, {})
    with pytest.raises(ValueError, match="alg"):
        signer.token({"alg": "none"}, {})


def test_non_ascii_key_name_is_escaped() -> None:
    signer = CdpJwtSigner(ed25519.Ed25519PrivateKey.generate())
    token = cdp_rest_jwt(signer, "k\u00e9", URI, 1, nonce=NONCE)
    assert b"\\u00e9" in _unb64url(token.split(".")[0])


# --- invariant 2: ES256 raw r||s ----------------------------------------------------------------


@pytest.mark.parametrize(
    "fmt", [serialization.PrivateFormat.TraditionalOpenSSL, serialization.PrivateFormat.PKCS8]
)
def test_es256_signature_is_raw_r_s_and_verifies(fmt: serialization.PrivateFormat) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    signer = CdpJwtSigner.from_secret(Secret(_pem(key, fmt)))
    assert signer.alg == "ES256"
    for _ in range(20):  # small r or s values must still be left-padded to 32 bytes
        token = cdp_rest_jwt(signer, KEY_NAME, URI, 1700000000)
        header, claims, signature = token.split(".")
        raw = _unb64url(signature)
        assert len(raw) == 64
        assert "=" not in token
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        key.public_key().verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
        assert json.loads(_unb64url(header))["alg"] == "ES256"
    with pytest.raises(InvalidSignature):
        key.public_key().verify(der, f"{header}.{claims}x".encode(), ec.ECDSA(hashes.SHA256()))


# --- invariant 3: key loading ------------------------------------------------------------------


def _refused(secret: bytes | str) -> InvalidCredentialsError:
    with pytest.raises(InvalidCredentialsError) as info:
        CdpJwtSigner.from_secret(Secret(secret))
    err = info.value
    assert str(err).startswith("api_secret: ")
    assert err.__cause__ is None and err.__context__ is None
    return err


def test_wrong_key_types_are_refused() -> None:
    assert "wrong key type" in str(_refused(_pem(ec.generate_private_key(ec.SECP384R1()))))
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert "wrong key type" in str(_refused(_pem(rsa_key)))
    with pytest.raises(InvalidCredentialsError, match="wrong key type"):
        CdpJwtSigner(ec.generate_private_key(ec.SECP256K1()))


def test_malformed_and_encrypted_keys_are_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    encrypted = _pem(key, encryption=serialization.BestAvailableEncryption(b"pw"))
    pem = _pem(key).decode()
    broken = pem.replace(pem.splitlines()[1], "A" * 64)
    for bad in (encrypted, broken, "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----"):
        err = _refused(bad)
        assert "PEM" in str(err)
        assert "AAAA" not in str(err)


@pytest.mark.parametrize(
    "secret",
    [
        "",
        "not base64!",
        base64.b64encode(b"\x01" * 31).decode(),
        base64.b64encode(b"\x01" * 33).decode(),
        base64.urlsafe_b64encode(b"\xfb" * 32).decode(),  # urlsafe alphabet is not the CDP format
        "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0cw",  # missing padding
    ],
)
def test_bad_base64_seeds_are_refused(secret: str) -> None:
    err = _refused(secret)
    if secret:
        assert secret not in str(err)


def test_mismatched_public_half_is_refused() -> None:
    seed = _rfc8037_seed()
    wrong = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    assert "public key half" in str(_refused(base64.b64encode(seed + wrong)))


def test_signer_is_redacted_and_not_picklable() -> None:
    signer = CdpJwtSigner.from_secret(Secret(base64.b64encode(_rfc8037_seed())))
    assert "redacted" in repr(signer)
    assert RFC8037_D not in repr(signer)
    with pytest.raises(TypeError):
        pickle.dumps(signer)
