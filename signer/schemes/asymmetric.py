"""Asymmetric API-key signers loaded from a PEM ``Secret`` (Binance Ed25519 / RSA keys).

Binance lets an API key be an Ed25519 or RSA key pair instead of an HMAC
secret; the request payload is then signed with Ed25519 or with
RSASSA-PKCS1-v1_5 over SHA-256 and the signature is sent base64-encoded
(VENUES.md section 3).

SECURITY: the PEM is parsed once into a ``cryptography`` private-key object
held in a slot; nothing here returns key bytes. The padding is pinned to
PKCS#1 v1.5 with SHA-256 (what Binance verifies); RSA keys shorter than 2048
bits, encrypted PEMs and other key types are refused as invalid credentials.
"""

from __future__ import annotations

import base64
from typing import NoReturn, Protocol

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from signer.errors import InvalidCredentialsError
from signer.keystore.handles import Secret

_PEM_PREFIX = b"-----BEGIN "
_MIN_RSA_BITS = 2048


class Base64Signer(Protocol):
    """Signs a message and returns the standard base64 signature."""

    def sign_base64(self, message: bytes) -> str: ...


class _Redacted:
    __slots__ = ()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<redacted>)"

    def __reduce__(self) -> NoReturn:
        raise TypeError(f"{type(self).__name__} cannot be pickled")


class Ed25519Signer(_Redacted):
    """Ed25519 (RFC 8032, pure) signer."""

    __slots__ = ("_key",)

    def __init__(self, key: ed25519.Ed25519PrivateKey) -> None:
        self._key = key

    def sign_base64(self, message: bytes) -> str:
        """Base64 of the 64-byte Ed25519 signature of ``message``."""
        return base64.b64encode(self._key.sign(message)).decode("ascii")


class RsaPkcs1v15Sha256Signer(_Redacted):
    """RSASSA-PKCS1-v1_5 with SHA-256 signer (deterministic)."""

    __slots__ = ("_key",)

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        if key.key_size < _MIN_RSA_BITS:
            raise InvalidCredentialsError(
                "api_secret: RSA keys must be at least 2048 bits", field="api_secret"
            )
        self._key = key

    def sign_base64(self, message: bytes) -> str:
        """Base64 of the PKCS#1 v1.5 SHA-256 signature of ``message``."""
        signature = self._key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode("ascii")


def is_pem_private_key(secret: Secret) -> bool:
    """Whether the stored secret is PEM text (it is then never used as an HMAC key)."""
    return secret.expose().lstrip().startswith(_PEM_PREFIX)


def load_pem_signer(secret: Secret) -> Ed25519Signer | RsaPkcs1v15Sha256Signer:
    """Parse an unencrypted PKCS#8 / PKCS#1 PEM private key into a signer.

    Raises:
        InvalidCredentialsError: not a PEM private key, encrypted, too short,
            or neither Ed25519 nor RSA. The message names the field only.
    """
    try:
        key = load_pem_private_key(secret.expose().strip(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise InvalidCredentialsError(
            "api_secret: not an unencrypted PEM private key", field="api_secret"
        ) from None
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return Ed25519Signer(key)
    if isinstance(key, rsa.RSAPrivateKey):
        return RsaPkcs1v15Sha256Signer(key)
    raise InvalidCredentialsError(
        "api_secret: only Ed25519 and RSA private keys are supported", field="api_secret"
    )
