"""Compact JWS (RFC 7515) tokens for Coinbase CDP API keys: ES256 and EdDSA.

Coinbase Advanced Trade authenticates a REST request with a JWT that the key
holder signs afresh for every request (VENUES.md section 2; CDP docs
"JWT authentication"):

* header ``{"alg","kid","nonce","typ":"JWT"}``: ``alg`` is ``ES256`` for an
  EC P-256 key and ``EdDSA`` for an Ed25519 key, ``kid`` the key name and
  ``nonce`` 32 random bytes in hex;
* claims ``{"sub","iss":"cdp","nbf","exp","uri"}``: ``sub`` the key name,
  ``nbf`` now in seconds, ``exp`` = ``nbf`` + 120 and ``uri`` =
  ``"<METHOD> <host><path>"`` (no scheme, no query).

Invariants (tests: tests/unit/schemes/test_jwt.py):

1. The JSON of header and claims is compact (``,``/``:``), ASCII-escaped, in a
   fixed key order, so the signing input is a pure function of the inputs.
2. ES256 signatures are the raw 64-byte ``r || s`` (RFC 7518 section 3.4),
   converted from the DER that ``cryptography`` returns; EdDSA signatures are
   the 64-byte Ed25519 signature (RFC 8037). Both are base64url without padding.
3. Keys load from an unencrypted PEM (SEC1 or PKCS#8: EC P-256 or Ed25519) or
   from strict base64 of a 32-byte Ed25519 seed or 64-byte seed || public key
   (the public half must match). Anything else is ``InvalidCredentialsError``
   naming the field only, never the value.

SECURITY: the loaded key lives in a slot of ``CdpJwtSigner``, whose ``repr``
is redacted and which refuses pickling; nothing here returns key bytes. What
is signed (the ``uri``) is decided by the venue module from a parsed request.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import secrets
from typing import NoReturn

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from signer.errors import InvalidCredentialsError
from signer.keystore.handles import Secret

__all__ = ["CDP_ISSUER", "CDP_LIFETIME_S", "CdpJwtSigner", "b64url", "cdp_rest_jwt"]

CDP_ISSUER = "cdp"
CDP_LIFETIME_S = 120
_NONCE_RE = re.compile(r"[0-9a-f]{64}")
_P256_BYTES = 32
_FIELD = "api_secret"


def b64url(data: bytes) -> str:
    """base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _compact_json(value: dict[str, object]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def _fail(problem: str) -> NoReturn:
    raise InvalidCredentialsError(f"{_FIELD}: {problem}", field=_FIELD)


def _load_pem(data: bytes) -> PrivateKeyTypes:
    try:
        return load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        pass
    # SECURITY: raised outside the except block so that no foreign exception
    # (whose text could quote key material) hangs off __context__.
    _fail("not an unencrypted PEM private key")


class CdpJwtSigner:
    """A CDP API key (EC P-256 or Ed25519) that signs compact JWS tokens.

    Attributes:
        alg: ``"ES256"`` or ``"EdDSA"``.
    """

    __slots__ = ("_key", "alg")

    def __init__(self, key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> None:
        if isinstance(key, ed25519.Ed25519PrivateKey):
            self.alg = "EdDSA"
        elif isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
            self.alg = "ES256"
        else:
            _fail("wrong key type: expected EC P-256 or Ed25519")
        self._key = key

    @classmethod
    def from_secret(cls, secret: Secret) -> CdpJwtSigner:
        """Load the key from a stored secret (PEM, or base64 Ed25519 seed).

        Raises:
            InvalidCredentialsError: malformed, encrypted or of the wrong type.
        """
        text = secret.expose().strip()
        if text.startswith(b"-----BEGIN"):
            key = _load_pem(text)
            if not isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
                _fail("wrong key type: expected EC P-256 or Ed25519")
            return cls(key)
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) not in (32, 64):
            _fail("not a PEM private key nor base64 of a 32- or 64-byte Ed25519 key")
        seed_key = ed25519.Ed25519PrivateKey.from_private_bytes(raw[:32])
        public = seed_key.public_key().public_bytes_raw()
        if len(raw) == 64 and not hmac.compare_digest(public, raw[32:]):
            _fail("Ed25519 public key half does not match the seed")
        return cls(seed_key)

    def public_key(self) -> ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey:
        """The public half (for verification in tests and diagnostics)."""
        return self._key.public_key()

    def sign(self, signing_input: bytes) -> bytes:
        """The JWS signature bytes of ``signing_input`` (raw r||s for ES256)."""
        if isinstance(self._key, ed25519.Ed25519PrivateKey):
            return self._key.sign(signing_input)
        der = self._key.sign(signing_input, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return r.to_bytes(_P256_BYTES, "big") + s.to_bytes(_P256_BYTES, "big")

    def token(self, header: dict[str, object], claims: dict[str, object]) -> str:
        """A compact JWS: ``b64url(header).b64url(claims).b64url(signature)``.

        ``header`` must carry this key's ``alg`` (checked, never defaulted).
        """
        if header.get("alg") != self.alg:
            raise ValueError("JWS header alg does not match the key")
        signing_input = f"{b64url(_compact_json(header))}.{b64url(_compact_json(claims))}"
        data = signing_input.encode("ascii")
        return f"{signing_input}.{b64url(self.sign(data))}"

    def __repr__(self) -> str:
        return f"CdpJwtSigner(alg={self.alg!r}, <redacted>)"

    def __reduce__(self) -> NoReturn:
        raise TypeError("CdpJwtSigner cannot be pickled")


def cdp_rest_jwt(
    signer: CdpJwtSigner, key_name: str, uri: str, now_s: int, nonce: str | None = None
) -> str:
    """The Coinbase CDP REST JWT for one request.

    Args:
        signer: the loaded key (cached per credential handle by the venue).
        key_name: the API key name (``organizations/{org}/apiKeys/{id}`` or a key id).
        uri: ``"<METHOD> <host><path>"`` as built by the venue module.
        now_s: wall-clock seconds; ``nbf`` = now_s and ``exp`` = now_s + 120.
        nonce: 64 lower-case hex digits; default ``secrets.token_hex(32)``.
            Tests pass one to compare tokens byte for byte.

    Returns:
        The compact JWS to send as ``Authorization: Bearer <jwt>``.
    """
    nonce = secrets.token_hex(32) if nonce is None else nonce
    if not _NONCE_RE.fullmatch(nonce):
        raise ValueError("nonce must be 64 lower-case hex digits")
    header: dict[str, object] = {"alg": signer.alg, "kid": key_name, "nonce": nonce, "typ": "JWT"}
    claims: dict[str, object] = {
        "sub": key_name,
        "iss": CDP_ISSUER,
        "nbf": now_s,
        "exp": now_s + CDP_LIFETIME_S,
        "uri": uri,
    }
    return signer.token(header, claims)
