"""The daemon's own keys: the X25519 sealing key and the Ed25519 audit key.

Both are generated inside the daemon, stored sealed like any credential
(``Keystore.daemon_secret``), and reached only through these objects.

Invariants (tests in tests/unit/schemes/test_daemon_keys.py):

1. The private key bytes live only in a bytearray this object owns; libsodium
   reads them through a buffer (no immutable ``bytes`` copy is made), so
   ``wipe()`` really zeroes the key the daemon holds.
2. Outputs are those of PyNaCl's ``SealedBox`` / ``SigningKey`` for the same
   key (the wire formats do not change).
3. After ``wipe()`` the object refuses to work (it never signs with, or opens
   with, a zeroed key).

SECURITY: we call the libsodium functions PyNaCl's own bindings call
(``nacl._sodium``), because those bindings accept only ``bytes`` keys, which
cannot be zeroed.
"""

from __future__ import annotations

from nacl._sodium import ffi, lib
from nacl.utils import random as nacl_random

from signer.errors import InvalidCredentialsError
from signer.keystore.handles import Secret

SEED_SIZE = 32
_SEALBYTES = 48  # crypto_box_SEALBYTES: ephemeral public key + MAC
_SIGN_PK, _SIGN_SK, _SIG = 32, 64, 64


def new_seed() -> bytes:
    """32 random bytes for a new daemon key."""
    return bytes(nacl_random(SEED_SIZE))


class KeyWipedError(RuntimeError):
    """A daemon key was used after ``wipe()`` (shutdown); nothing was signed or opened."""


def _key_buffer(key: bytearray) -> object:
    return ffi.from_buffer("unsigned char[]", key, require_writable=True)


class SealingKey:
    """X25519 key that opens libsodium sealed boxes addressed to the daemon."""

    __slots__ = ("_sk", "_wiped", "public_key")

    def __init__(self, seed: Secret) -> None:
        """``seed`` is the X25519 private key itself (as PyNaCl's ``PrivateKey``)."""
        if len(seed) != SEED_SIZE:
            raise ValueError("sealing key seed must be 32 bytes")
        self._sk = bytearray(SEED_SIZE)
        self._wiped = False
        with seed.borrow() as raw:
            ffi.memmove(self._sk, raw, SEED_SIZE)
        pk = ffi.new("unsigned char[]", 32)
        if lib.crypto_scalarmult_base(pk, _key_buffer(self._sk)) != 0:
            self.wipe()
            raise ValueError("sealing key seed is not a usable X25519 key")
        self.public_key: bytes = bytes(ffi.buffer(pk, 32))

    def open(self, sealed: bytes) -> bytes:
        """Open a sealed box; failure is reported on the ``sealed`` field."""
        if self._wiped:
            raise KeyWipedError("the sealing key was wiped")
        if not isinstance(sealed, bytes) or len(sealed) < _SEALBYTES:
            raise _not_sealed()
        out = ffi.new("unsigned char[]", max(1, len(sealed) - _SEALBYTES))
        rc = lib.crypto_box_seal_open(
            out, sealed, len(sealed), self.public_key, _key_buffer(self._sk)
        )
        if rc != 0:
            raise _not_sealed()
        return bytes(ffi.buffer(out, len(sealed) - _SEALBYTES))

    def wipe(self) -> None:
        """Zero the private key in place; ``open`` refuses afterwards."""
        self._sk[:] = bytearray(len(self._sk))
        self._wiped = True

    def __repr__(self) -> str:
        return "SealingKey(<redacted>)"


def _not_sealed() -> InvalidCredentialsError:
    return InvalidCredentialsError(
        "sealed: not a sealed box to this daemon's sealing key", field="sealed"
    )


class AuditSigner:
    """Ed25519 key that signs audit heads and checkpoints."""

    __slots__ = ("_sk", "_wiped", "public_key")

    def __init__(self, seed: Secret) -> None:
        if len(seed) != SEED_SIZE:
            raise ValueError("audit key seed must be 32 bytes")
        self._sk = bytearray(_SIGN_SK)  # libsodium's secret key: seed || public key
        self._wiped = False
        pk = ffi.new("unsigned char[]", _SIGN_PK)
        with seed.borrow() as raw:
            rc = lib.crypto_sign_seed_keypair(
                pk, _key_buffer(self._sk), ffi.from_buffer("unsigned char[]", raw)
            )
        if rc != 0:  # pragma: no cover - libsodium does not fail on 32 bytes
            self.wipe()
            raise ValueError("audit key seed is not usable")
        self.public_key: bytes = bytes(ffi.buffer(pk, _SIGN_PK))

    def sign(self, message: bytes) -> bytes:
        """Detached Ed25519 signature (64 bytes)."""
        if self._wiped:
            raise KeyWipedError("the audit key was wiped")
        signed = ffi.new("unsigned char[]", _SIG + len(message))
        signed_len = ffi.new("unsigned long long *")
        if lib.crypto_sign(signed, signed_len, message, len(message), _key_buffer(self._sk)):
            raise RuntimeError("Ed25519 signing failed")  # pragma: no cover
        return bytes(ffi.buffer(signed, _SIG))

    def wipe(self) -> None:
        """Zero the private key in place; ``sign`` refuses afterwards."""
        self._sk[:] = bytearray(len(self._sk))
        self._wiped = True

    def __repr__(self) -> str:
        return "AuditSigner(<redacted>)"
