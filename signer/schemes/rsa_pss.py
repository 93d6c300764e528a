"""RSASSA-PSS with SHA-256 for Kalshi API keys (VENUES.md section 10).

Kalshi signs ``timestamp_ms || METHOD || path`` with RSA-PSS, hash SHA-256,
MGF1 over SHA-256 and a salt as long as the digest (32 bytes), and sends the
signature in standard base64. Sources: Kalshi's "Quick Start: Authenticated
Requests" (https://docs.kalshi.com/getting_started/quick_start_authenticated_requests)
and kalshi-python 2.1.4 ``KalshiAuth.create_auth_headers``.

Invariants (tests: tests/unit/schemes/test_rsa_pss.py):

1. SECURITY: the padding is a module constant with every parameter pinned as an
   explicit typed value: SHA-256, MGF1(SHA-256) and ``SALT_LENGTH = 32`` bytes,
   never ``PSS.AUTO`` / ``PSS.MAX_LENGTH`` / ``PSS.DIGEST_LENGTH`` sentinels whose
   meaning depends on the key or on the library. A test recovers the salt
   length from a signature with raw RSA arithmetic, independently of this code.
2. Keys are unencrypted PEM, PKCS#1 (``RSA PRIVATE KEY``) or PKCS#8
   (``PRIVATE KEY``), RSA only, 2048 to 4096 bits (the range SetCredentials
   accepts). Anything else is an ``InvalidCredentialsError`` naming the field,
   never echoing the material.
3. The PEM is parsed once into a ``cryptography`` key held in a slot; venue
   modules cache the signer per credential handle (``VenueCredentials.derived``).
   Nothing here returns private key bytes; ``repr`` is redacted, pickling refused.
4. ``sign()`` is a plain synchronous call (cryptography releases the GIL while
   it runs); moving it onto a bounded thread pool is the caller's decision.
"""

from __future__ import annotations

import base64
from typing import Final, NoReturn

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from signer.errors import InvalidCredentialsError
from signer.keystore.handles import Secret

__all__ = [
    "MAX_KEY_BITS",
    "MIN_KEY_BITS",
    "PSS_PADDING",
    "SALT_LENGTH",
    "RsaPssSha256Signer",
]

SALT_LENGTH: Final[int] = 32
"""PSS salt length in bytes: the SHA-256 digest length, as Kalshi verifies."""

MIN_KEY_BITS: Final[int] = 2048
MAX_KEY_BITS: Final[int] = 4096

# SECURITY: one immutable padding object; the salt length is an int, not a sentinel.
PSS_PADDING: Final[padding.PSS] = padding.PSS(
    mgf=padding.MGF1(hashes.SHA256()), salt_length=SALT_LENGTH
)

_PEM_LABELS: Final = (b"-----BEGIN RSA PRIVATE KEY-----", b"-----BEGIN PRIVATE KEY-----")

if hashes.SHA256.digest_size != SALT_LENGTH:  # pragma: no cover - a constant check
    raise RuntimeError("RSA-PSS salt length must equal the SHA-256 digest length")


def _refuse(problem: str) -> NoReturn:
    raise InvalidCredentialsError(f"api_secret: {problem}", field="api_secret")


def _load(data: bytes) -> PrivateKeyTypes | None:
    """The key, or None. SECURITY: callers raise outside any except block (no chained cause)."""
    try:
        return load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None


class RsaPssSha256Signer:
    """RSA-PSS / SHA-256 / MGF1-SHA256 / 32-byte salt signer over one private key."""

    __slots__ = ("_key",)

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        if not MIN_KEY_BITS <= key.key_size <= MAX_KEY_BITS:
            _refuse(f"RSA keys must be {MIN_KEY_BITS} to {MAX_KEY_BITS} bits")
        self._key = key

    @classmethod
    def from_pem(cls, secret: Secret) -> RsaPssSha256Signer:
        """Load an unencrypted PKCS#1 or PKCS#8 PEM RSA private key.

        Raises:
            InvalidCredentialsError: not such a key (the message names the field only).
        """
        data = secret.expose().strip()
        if not data.startswith(_PEM_LABELS):
            _refuse("not a PEM RSA private key (PKCS#1 or PKCS#8)")
        key = _load(data)
        if key is None:
            _refuse("not an unencrypted PEM private key")
        if not isinstance(key, rsa.RSAPrivateKey):
            _refuse("wrong key type: expected an RSA private key")
        return cls(key)

    def sign(self, message: bytes) -> bytes:
        """The raw PSS signature of ``message`` (randomised: differs on every call)."""
        return self._key.sign(message, PSS_PADDING, hashes.SHA256())

    def sign_base64(self, message: bytes) -> str:
        """Standard base64 (with padding) of ``sign(message)``."""
        return base64.b64encode(self.sign(message)).decode("ascii")

    def public_key(self) -> rsa.RSAPublicKey:
        """The public half, for verification and tests."""
        return self._key.public_key()

    def __repr__(self) -> str:
        return "RsaPssSha256Signer(<redacted>)"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("RsaPssSha256Signer cannot be pickled")
