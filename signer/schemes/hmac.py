"""HMAC signers for the HMAC venues (Binance, Kraken, and later Bybit, OKX...).

Each signer is built once from a ``Secret`` and keeps a keyed ``hmac.HMAC``
template; every message is signed on a ``.copy()`` of it, so the key schedule
is not recomputed on the hot path.

SECURITY: nothing here returns key bytes. The objects have a redacted ``repr``
and refuse pickling, like the ``Secret`` they are built from. Venue modules
decide *what* is signed; these functions only compute the MAC over the exact
bytes they are handed by a venue module that built those bytes itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from typing import NoReturn

from signer.errors import InvalidCredentialsError
from signer.keystore.handles import Secret

# Printable ASCII without leading/trailing space: nothing that could end or fold a header.
_HEADER_TEXT_RE = re.compile(rb"[\x21-\x7e](?:[\x20-\x7e]{0,510}[\x21-\x7e])?")


class _HmacTemplate:
    """A keyed HMAC template; subclasses choose the digest and the encoding."""

    __slots__ = ("_template",)

    def __init__(self, key: bytes, digest: str) -> None:
        if not key:
            raise InvalidCredentialsError("api_secret: must not be empty", field="api_secret")
        self._template = hmac.new(key, digestmod=digest)

    def digest(self, message: bytes) -> bytes:
        """Raw MAC of ``message``."""
        mac = self._template.copy()
        mac.update(message)
        return mac.digest()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<redacted>)"

    def __reduce__(self) -> NoReturn:
        raise TypeError(f"{type(self).__name__} cannot be pickled")


class HmacSha256(_HmacTemplate):
    """HMAC-SHA256 keyed with the secret's bytes as stored (Binance-style secrets)."""

    __slots__ = ()

    def __init__(self, secret: Secret) -> None:
        super().__init__(secret.expose(), "sha256")

    def hex(self, message: bytes) -> str:
        """Lower-case hex MAC of ``message``."""
        return self.digest(message).hex()

    def base64(self, message: bytes) -> str:
        """Standard base64 MAC of ``message`` (OKX, Bitget)."""
        return base64.b64encode(self.digest(message)).decode("ascii")

    @classmethod
    def from_urlsafe_base64_secret(cls, secret: Secret) -> HmacSha256:
        """Key with the urlsafe-base64-decoded secret (Polymarket L2)."""
        try:
            key = base64.urlsafe_b64decode(secret.expose().strip())
        except (binascii.Error, ValueError):
            raise InvalidCredentialsError(
                "api_secret: not valid urlsafe base64", field="api_secret"
            ) from None
        obj = cls.__new__(cls)
        _HmacTemplate.__init__(obj, key, "sha256")
        return obj


class HmacSha512(_HmacTemplate):
    """HMAC-SHA512 with base64 output.

    Kraken issues its secret as base64 text; ``from_base64_secret`` decodes it
    strictly (bad base64 is a credential error, never a silently shorter key).
    """

    __slots__ = ()

    def __init__(self, key: bytes) -> None:
        super().__init__(key, "sha512")

    @classmethod
    def from_secret(cls, secret: Secret) -> HmacSha512:
        """Key with the secret's bytes as stored."""
        return cls(secret.expose())

    @classmethod
    def from_base64_secret(cls, secret: Secret) -> HmacSha512:
        """Key with the base64-decoded secret (Kraken)."""
        try:
            key = base64.b64decode(secret.expose().strip(), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidCredentialsError(
                "api_secret: not valid base64", field="api_secret"
            ) from None
        return cls(key)

    def base64(self, message: bytes) -> str:
        """Standard base64 MAC of ``message``."""
        return base64.b64encode(self.digest(message)).decode("ascii")


def kraken_sign(key: HmacSha512, uri_path: bytes, nonce: str, postdata: bytes) -> str:
    """Kraken spot ``API-Sign``.

    ``base64(HMAC-SHA512(b64decode(secret), uri_path || SHA256(nonce || postdata)))``
    (VENUES.md section 1). The SHA-256 digest is the 32 raw bytes.

    Args:
        key: the signer built with ``HmacSha512.from_base64_secret``.
        uri_path: the request path, e.g. ``b"/0/private/AddOrder"``.
        nonce: the nonce exactly as it appears in ``postdata``.
        postdata: the exact body bytes that will be sent.

    Returns:
        The base64 signature for the ``API-Sign`` header.
    """
    inner = hashlib.sha256(nonce.encode("ascii") + postdata).digest()
    return key.base64(uri_path + inner)


def header_secret(secret: Secret, field: str = "passphrase") -> str:
    """A credential the venue's scheme sends in clear in a header.

    OKX (``OK-ACCESS-PASSPHRASE``), Bitget (``ACCESS-PASSPHRASE``) and
    Polymarket L2 (``POLY_PASSPHRASE``) authenticate with the API passphrase
    itself next to the HMAC signature, so it must leave the daemon inside the
    signed request. SECURITY: this is the only accessor that turns such a
    secret into text; it refuses anything but 1-512 printable ASCII characters
    (no CR/LF), so the value cannot split or inject headers.

    Raises:
        InvalidCredentialsError: the stored value is not header-safe (names ``field`` only).
    """
    raw = secret.expose()
    if not _HEADER_TEXT_RE.fullmatch(raw):
        raise InvalidCredentialsError(
            f"{field}: must be 1-512 printable ASCII characters", field=field
        )
    return raw.decode("ascii")
