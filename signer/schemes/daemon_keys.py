"""The daemon's own keys: the X25519 sealing key and the Ed25519 audit key.

Both are generated inside the daemon, stored sealed like any credential
(``Keystore.daemon_secret``), and reached only through these objects.
"""

from __future__ import annotations

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, SealedBox
from nacl.signing import SigningKey
from nacl.utils import random as nacl_random

from signer.errors import InvalidCredentialsError
from signer.keystore.handles import Secret


def new_seed() -> bytes:
    """32 random bytes for a new daemon key."""
    return bytes(nacl_random(32))


class SealingKey:
    """X25519 key that opens libsodium sealed boxes addressed to the daemon."""

    __slots__ = ("_box", "public_key")

    def __init__(self, seed: Secret) -> None:
        private = PrivateKey(seed.expose())
        self.public_key: bytes = bytes(private.public_key)
        self._box = SealedBox(private)

    def open(self, sealed: bytes) -> bytes:
        """Open a sealed box; failure is reported on the ``sealed`` field."""
        try:
            return bytes(self._box.decrypt(sealed))
        except (CryptoError, ValueError, TypeError):
            raise InvalidCredentialsError(
                "sealed: not a sealed box to this daemon's sealing key", field="sealed"
            ) from None

    def __repr__(self) -> str:
        return "SealingKey(<redacted>)"


class AuditSigner:
    """Ed25519 key that signs audit heads and checkpoints."""

    __slots__ = ("_key", "public_key")

    def __init__(self, seed: Secret) -> None:
        self._key = SigningKey(seed.expose())
        self.public_key: bytes = bytes(self._key.verify_key)

    def sign(self, message: bytes) -> bytes:
        """Detached Ed25519 signature (64 bytes)."""
        return bytes(self._key.sign(message).signature)

    def __repr__(self) -> str:
        return "AuditSigner(<redacted>)"
