"""The master key and the AES-256-GCM envelope that seals every stored secret.

Invariants (each has a test in tests/unit/keystore/test_sealing.py):

1. A record is sealed under a fresh random 32-byte data key; the data key is
   wrapped by the master key. Rotating the master key re-wraps data keys only
   (``rewrap``; the offline procedure is ``signer.keystore.rotate``).
2. The associated data (``RecordAad``) binds kind, client, mode, name and
   record version, for the ciphertext and for the wrapped key, so a sealed row
   copied to another client, mode, venue or version fails authentication.
3. Every failure to open a record is the same ``UnsealError`` with the same
   message: no oracle telling a wrong key from a swapped row.
4. Key bytes never appear in a ``repr``, an exception message or a pickle.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from signer.durable import write_new
from signer.errors import UnsealError

KEY_SIZE = 32
NONCE_SIZE = 12
_TAG_SIZE = 16
_KEY_ID_DOMAIN = b"sequence-signer/master-key-id/v1"
_AAD_DOMAIN = b"sequence-signer/record/v1"
_WRAP_PREFIX = b"wrap"
_MAX_KEY_FILE = 4096
_UNSEAL_FAILED = "sealed record failed authentication"


def _zero(buf: bytearray) -> None:
    buf[:] = bytes(len(buf))


class MasterKey:
    """The 32-byte master key. Redacted ``repr``; cannot be pickled or compared.

    SECURITY: held in a bytearray so ``wipe()`` can zero it; ``cryptography``
    keeps its own copy inside each short-lived AESGCM object.
    """

    __slots__ = ("_buf", "_key_id")

    def __init__(self, key: bytes | bytearray) -> None:
        if len(key) != KEY_SIZE:
            raise ValueError("master key must be 32 bytes")
        self._buf = bytearray(key)
        digest = hashlib.sha256(_KEY_ID_DOMAIN)
        digest.update(self._buf)
        self._key_id = digest.hexdigest()[:16]

    @classmethod
    def from_bytes(cls, key: bytes | bytearray) -> MasterKey:
        """Build a master key from 32 raw bytes (tests, rotation tooling)."""
        return cls(key)

    @classmethod
    def load(cls, path: Path) -> MasterKey:
        """Load a key file: 64 hex characters or base64 of 32 bytes, then optional whitespace.

        Raises:
            ValueError: the file is writable by group/others or its content is not
                a key. The message names the file, never its content.
            OSError: the file cannot be read.
        """
        with open(path, "rb") as fh:
            # SECURITY: check the opened file, not the name (no check/use race).
            if os.fstat(fh.fileno()).st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                raise ValueError(f"master key file {path} is writable by group or others")
            raw = bytearray(fh.read(_MAX_KEY_FILE + 1))
        try:
            return cls(_parse_key_text(raw, path))
        finally:
            _zero(raw)

    @classmethod
    def generate_dev(cls, path: Path) -> MasterKey:
        """Load ``path`` if it exists, else ``create`` it (dev mode)."""
        if path.exists():
            return cls.load(path)
        try:
            return cls.create(path)
        except FileExistsError:
            return cls.load(path)

    @classmethod
    def create(cls, path: Path) -> MasterKey:
        """Write a new random key to ``path`` (64 hex characters, mode 0600).

        The key is written to a 0600 temp file in the same directory, fsync'd,
        linked into place and the directory fsync'd, so a crash leaves either
        no key file or a complete one.

        Raises:
            FileExistsError: ``path`` exists; a key file is never replaced.
        """
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = bytearray(os.urandom(KEY_SIZE))
        text = bytearray(key.hex().encode("ascii") + b"\n")
        try:
            # SECURITY: link (not rename) never replaces an existing key, which
            # may already seal records (or be created concurrently by another process).
            write_new(path, text, prefix=".master-key-")
            return cls(key)
        finally:
            _zero(key)
            _zero(text)

    @property
    def key_id(self) -> str:
        """Public identifier: first 16 hex chars of SHA-256(domain || key)."""
        return self._key_id

    def _aead(self) -> AESGCM:
        return AESGCM(self._buf)

    def wipe(self) -> None:
        """Zero the key bytes in place; the key is unusable afterwards."""
        _zero(self._buf)

    def __repr__(self) -> str:
        return f"MasterKey(key_id={self._key_id!r}, <redacted>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return self is other

    __hash__ = object.__hash__

    def __reduce__(self) -> NoReturn:
        raise TypeError("MasterKey cannot be pickled")


def _parse_key_text(raw: bytearray, path: Path) -> bytearray:
    text = raw.rstrip()
    try:
        if len(text) == 2 * KEY_SIZE:
            key = bytearray(binascii.a2b_hex(text))
        else:
            key = bytearray(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        key = bytearray()
    finally:
        _zero(text)
    if len(key) != KEY_SIZE:
        _zero(key)
        # SECURITY: names the file, never its content; raised outside the
        # except block so no decoder exception is chained to it.
        raise ValueError(
            f"master key file {path}: expected 64 hex characters or base64 of 32 bytes"
        )
    return key


@dataclass(frozen=True, slots=True)
class RecordAad:
    """Associated data binding a sealed record to its place and version."""

    kind: str
    client_id: str
    mode: str
    name: str
    version: int

    def encode(self) -> bytes:
        """Canonical, injective encoding: domain prefix, 4-byte-length-prefixed
        UTF-8 fields, then the version as 8-byte big-endian."""
        if not 0 <= self.version < 2**63:
            raise ValueError("record version out of range")
        out = bytearray(_AAD_DOMAIN)
        for value in (self.kind, self.client_id, self.mode, self.name):
            data = value.encode("utf-8")
            out += len(data).to_bytes(4, "big") + data
        out += self.version.to_bytes(8, "big")
        return bytes(out)


@dataclass(frozen=True, slots=True)
class SealedRecord:
    """A sealed secret as stored: public key id, wrapped data key, nonce, ciphertext."""

    master_key_id: str
    wrap_nonce: bytes
    wrapped_key: bytes
    nonce: bytes
    ciphertext: bytes


def seal(master: MasterKey, plaintext: bytes | bytearray, aad: RecordAad) -> SealedRecord:
    """Seal ``plaintext`` under a fresh data key wrapped by ``master``."""
    aad_bytes = aad.encode()
    # SECURITY: os.urandom returns an immutable copy we cannot zero; the
    # bytearray we keep using is zeroed below.
    data_key = bytearray(os.urandom(KEY_SIZE))
    try:
        nonce = os.urandom(NONCE_SIZE)
        ciphertext = AESGCM(data_key).encrypt(nonce, plaintext, aad_bytes)
        wrap_nonce, wrapped_key = _wrap(master, data_key, aad_bytes)
    finally:
        _zero(data_key)
    return SealedRecord(master.key_id, wrap_nonce, wrapped_key, nonce, ciphertext)


def open_sealed(master: MasterKey, record: SealedRecord, aad: RecordAad) -> bytes:
    """Authenticate and decrypt ``record``.

    Raises:
        UnsealError: wrong master key, tampered field or mismatched AAD (one message for all).
    """
    aad_bytes = aad.encode()
    data_key = _unwrap(master, record, aad_bytes)
    try:
        if len(record.nonce) != NONCE_SIZE:
            raise UnsealError(_UNSEAL_FAILED)
        return AESGCM(data_key).decrypt(record.nonce, record.ciphertext, aad_bytes)
    except (InvalidTag, ValueError, TypeError):
        raise UnsealError(_UNSEAL_FAILED) from None
    finally:
        _zero(data_key)


def rewrap(
    old_master: MasterKey, new_master: MasterKey, record: SealedRecord, aad: RecordAad
) -> SealedRecord:
    """Re-wrap the data key of ``record`` under ``new_master``; the ciphertext is untouched.

    Raises:
        UnsealError: the wrapped key does not authenticate under ``old_master`` and ``aad``.
    """
    aad_bytes = aad.encode()
    data_key = _unwrap(old_master, record, aad_bytes)
    try:
        wrap_nonce, wrapped_key = _wrap(new_master, data_key, aad_bytes)
    finally:
        _zero(data_key)
    return SealedRecord(new_master.key_id, wrap_nonce, wrapped_key, record.nonce, record.ciphertext)


def check_wrap(master: MasterKey, record: SealedRecord, aad: RecordAad) -> None:
    """Raise ``UnsealError`` unless ``record``'s data key unwraps under ``master`` and ``aad``."""
    _zero(_unwrap(master, record, aad.encode()))


def _wrap(master: MasterKey, data_key: bytearray, aad_bytes: bytes) -> tuple[bytes, bytes]:
    wrap_nonce = os.urandom(NONCE_SIZE)
    return wrap_nonce, master._aead().encrypt(wrap_nonce, data_key, _WRAP_PREFIX + aad_bytes)


def _unwrap(master: MasterKey, record: SealedRecord, aad_bytes: bytes) -> bytearray:
    # SECURITY: one error for every cause. The key-id check exits early, which
    # reveals nothing: key ids are public metadata stored beside the row.
    if (
        record.master_key_id != master.key_id
        or len(record.wrap_nonce) != NONCE_SIZE
        or len(record.wrapped_key) != KEY_SIZE + _TAG_SIZE
    ):
        raise UnsealError(_UNSEAL_FAILED)
    data_key = bytearray(KEY_SIZE)
    try:
        # decrypt_into: the unwrapped key only ever lives in this zeroable buffer.
        master._aead().decrypt_into(
            record.wrap_nonce, record.wrapped_key, _WRAP_PREFIX + aad_bytes, data_key
        )
    except (InvalidTag, ValueError, TypeError):
        _zero(data_key)
        raise UnsealError(_UNSEAL_FAILED) from None
    return data_key
