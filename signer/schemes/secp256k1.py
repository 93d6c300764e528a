"""secp256k1 (Ethereum) keys: addresses, recoverable signatures, EIP-191 digests.

``Secp256k1Key`` wraps a ``coincurve`` private key built from a ``Secret``;
``sign_digest`` signs a 32-byte digest that a scheme module built itself
(EIP-712 in ``eip712.py``, EIP-191 for SIWE checks), never one handed in by a
caller (DESIGN.md section 1.1 is enforced by the callers of this module).

SECURITY:
- nothing here returns key bytes; the key object has a redacted ``repr`` and
  refuses pickling, like the ``Secret`` it is built from;
- signatures are low-s (libsecp256k1 normalises; ``sign_digest`` asserts it)
  with ``v`` in {27, 28};
- ``recover_address`` refuses high-s signatures (EIP-2) and out-of-range r/s,
  so one signature has one accepted encoding;
- address parsing is strict: ``0x`` + 40 hex digits, and a mixed-case address
  must carry a valid EIP-55 checksum (a typo is refused, never "corrected").

keccak-256 comes from pycryptodome. ``eth_hash`` wraps the same C code, and
for 32-300 byte inputs both public APIs cost about 4.5-5 us a call (measured:
``Crypto.Hash.keccak.new`` 4.5-5.5 us, ``eth_hash`` 4.9-5.6 us), mostly
Python-side set-up (state allocation, argument wrapping). An EIP-712 signature
needs two or three keccaks next to a ~26 us ECDSA signature, so ``keccak256``
drives pycryptodome's C functions directly with one reusable state per thread
(about 1.5 us). That path is used only if the backend is cffi and an
import-time self-test agrees with the public API; otherwise the public API is used.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NoReturn

from coincurve import PrivateKey, PublicKey
from Crypto.Hash import keccak as _keccak

from signer.errors import InvalidCredentialsError
from signer.keystore.handles import Secret

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_N = SECP256K1_N // 2

_HEX_KEY_RE = re.compile(rb"(?:0x)?([0-9a-fA-F]{64})")
_ADDRESS_RE = re.compile(r"0x([0-9a-fA-F]{40})", re.ASCII)
_PERSONAL_PREFIX = b"\x19Ethereum Signed Message:\n"


class InvalidSignatureError(ValueError):
    """A signature that is malformed, non-canonical (high s) or unrecoverable."""


class InvalidAddressError(ValueError):
    """Text that is not a strict ``0x`` + 40-hex-digit address (or fails EIP-55)."""


def _keccak256_public(data: bytes) -> bytes:
    return _keccak.new(data=data, digest_bytes=32).digest()


def _keccak256_direct() -> Callable[[bytes], bytes] | None:
    """keccak-256 on pycryptodome's C state, one state per thread, or None if unavailable."""
    # Private pycryptodome internals by design: guarded below and self-tested at import.
    from Crypto.Util import _raw_api as raw

    try:
        lib: Any = _keccak._raw_keccak_lib  # type: ignore[attr-defined]
        ffi: Any = raw.ffi  # exists with the cffi backend only
    except AttributeError:
        return None
    if raw.backend != "cffi":
        return None
    local = threading.local()

    def new_state() -> tuple[Any, Any, Any, Any]:
        void = raw.VoidPointer()
        if lib.keccak_init(void.address_of(), 64, 24):  # capacity 2*32 bytes, 24 rounds
            raise RuntimeError("keccak_init failed")
        owner = raw.SmartPointer(void.get(), lib.keccak_destroy)  # frees with the thread
        out = raw.create_string_buffer(32, None)
        # A buffer view over ``out``: slicing it copies the digest (bytes(out) is 4x slower).
        local.state = state = (owner, owner.get(), out, ffi.buffer(out))
        return state

    def keccak256(data: bytes) -> bytes:
        # SECURITY: the state is per thread and reset before use, and nothing
        # awaits between reset and digest, so threads and tasks cannot interleave.
        try:
            _, state, out, view = local.state
        except AttributeError:
            _, state, out, view = new_state()
        if (
            lib.keccak_reset(state)
            or lib.keccak_absorb(state, data, len(data))
            or lib.keccak_digest(state, out, 32, 0x01)  # 0x01: Keccak padding, not SHA-3
        ):
            raise RuntimeError("keccak failed")
        return view[:]  # type: ignore[no-any-return]

    try:
        samples = [bytes(range(256))[:n] * 2 for n in (0, 1, 32, 68, 135, 136, 137, 255)]
        if all(keccak256(b) == _keccak256_public(b) for b in samples):
            return keccak256
    except Exception:  # noqa: BLE001 - any surprise means: use the public API
        return None
    return None


#: Keccak-256 (the pre-standard SHA-3 Ethereum uses) of ``data: bytes``.
keccak256: Callable[[bytes], bytes] = _keccak256_direct() or _keccak256_public


def _checksum_hex(lower40: str) -> str:
    """EIP-55 mixed-case form of 40 lower-case hex digits, with ``0x``."""
    digest = keccak256(lower40.encode("ascii")).hex()[:40]
    return "0x" + "".join(
        c.upper() if d in "89abcdef" else c for c, d in zip(lower40, digest, strict=True)
    )


@lru_cache(maxsize=4096)
def _parse_address_text(text: str) -> bytes:
    # Cached: trading hot paths see the same few addresses (maker, signer, exchange)
    # again and again, and a checksum check costs a keccak. Only successes are cached.
    match = _ADDRESS_RE.fullmatch(text)
    if match is None:
        raise InvalidAddressError("expected 0x followed by 40 hex digits")
    digits = match[1]
    lower = digits.lower()
    if digits != lower and digits != digits.upper() and _checksum_hex(lower)[2:] != digits:
        raise InvalidAddressError("mixed-case address fails its EIP-55 checksum")
    return bytes.fromhex(lower)


def parse_address(text: str) -> bytes:
    """The 20 address bytes of ``text``, strictly.

    Accepts ``0x`` + 40 hex digits, all lower-case, all upper-case, or mixed
    case with a valid EIP-55 checksum.

    Raises:
        InvalidAddressError: anything else (the message never quotes ``text``).
    """
    if type(text) is not str:
        raise InvalidAddressError("expected a str address")
    return _parse_address_text(text)


def to_checksum_address(address: bytes | str) -> str:
    """EIP-55 form of 20 raw bytes or of an address accepted by ``parse_address``."""
    if type(address) is bytes:
        if len(address) != 20:
            raise InvalidAddressError("expected 20 address bytes")
        raw = address
    elif type(address) is str:
        raw = parse_address(address)
    else:
        raise InvalidAddressError("expected 20 bytes or a str address")
    return _checksum_hex(raw.hex())


def _address_of(public: PublicKey) -> str:
    return to_checksum_address(keccak256(public.format(compressed=False)[1:])[12:])


def eip191_personal_digest(message: bytes) -> bytes:
    """EIP-191 version 0x45 (``personal_sign``) digest of ``message``."""
    if type(message) is not bytes:
        raise TypeError("message must be bytes")
    return keccak256(_PERSONAL_PREFIX + str(len(message)).encode("ascii") + message)


@dataclass(frozen=True, slots=True)
class Signature:
    """A recoverable secp256k1 signature in Ethereum form.

    Attributes:
        v: 27 or 28 (recovery id + 27).
        r: the r scalar, 1 <= r < n.
        s: the s scalar, 1 <= s <= n/2 (low-s).
    """

    v: int
    r: int
    s: int

    def to_bytes65(self) -> bytes:
        """``r (32) || s (32) || v (1)``, the usual 65-byte wire form."""
        return self.r.to_bytes(32, "big") + self.s.to_bytes(32, "big") + bytes((self.v,))

    def to_hex(self) -> str:
        """``0x`` + 130 lower-case hex digits of ``to_bytes65()``."""
        return "0x" + self.to_bytes65().hex()

    @classmethod
    def from_bytes65(cls, sig: bytes) -> Signature:
        """Parse ``r || s || v`` strictly (v 27/28 or 0/1, canonical low s).

        Raises:
            InvalidSignatureError: wrong length, v, or r/s out of range.
        """
        if type(sig) is not bytes or len(sig) != 65:
            raise InvalidSignatureError("signature must be 65 bytes")
        r = int.from_bytes(sig[:32], "big")
        s = int.from_bytes(sig[32:64], "big")
        v = sig[64]
        if v in (0, 1):
            v += 27
        if v not in (27, 28):
            raise InvalidSignatureError("signature v must be 27 or 28")
        if not 0 < r < SECP256K1_N or not 0 < s <= _HALF_N:
            raise InvalidSignatureError("signature r/s out of range (high s is refused)")
        return cls(v=v, r=r, s=s)


def recover_address(digest: bytes, sig65: bytes) -> str:
    """The checksummed address that produced ``sig65`` over ``digest``.

    Used to verify a connected wallet's SIWE signature; compare the result
    with the claimed address (``parse_address`` both sides).

    Raises:
        InvalidSignatureError: malformed/non-canonical signature or no valid key.
    """
    if type(digest) is not bytes or len(digest) != 32:
        raise InvalidSignatureError("digest must be 32 bytes")
    sig = Signature.from_bytes65(sig65)
    compact = sig.r.to_bytes(32, "big") + sig.s.to_bytes(32, "big") + bytes((sig.v - 27,))
    try:
        public = PublicKey.from_signature_and_message(compact, digest, hasher=None)
    except ValueError:  # coincurve: "failed to recover ECDSA public key"
        public = None
    if public is None:
        raise InvalidSignatureError("signature does not recover to a public key")
    return _address_of(public)


class Secp256k1Key:
    """A secp256k1 signing key with its Ethereum address.

    Build with ``from_secret``. ``repr`` shows the address only; pickling is refused.
    """

    __slots__ = ("_address", "_key")

    _key: PrivateKey
    _address: str

    def __init__(self) -> None:
        raise TypeError("use Secp256k1Key.from_secret()")

    @classmethod
    def from_secret(cls, secret: Secret, field: str = "private_key") -> Secp256k1Key:
        """Load a key from 32 raw bytes or 64 hex digits (``0x`` optional).

        Raises:
            InvalidCredentialsError: wrong format or a scalar outside [1, n-1];
                the message names ``field`` only.
        """
        raw = secret.expose()
        if len(raw) != 32:
            match = _HEX_KEY_RE.fullmatch(raw)
            if match is None:
                raise InvalidCredentialsError(
                    f"{field}: not a 32-byte hex private key", field=field
                )
            raw = bytes.fromhex(match[1].decode("ascii"))
        if not 0 < int.from_bytes(raw, "big") < SECP256K1_N:
            raise InvalidCredentialsError(
                f"{field}: not a valid secp256k1 private key", field=field
            )
        obj = object.__new__(cls)
        obj._key = PrivateKey(raw)
        obj._address = _address_of(obj._key.public_key)
        return obj

    @property
    def address(self) -> str:
        """The EIP-55 checksummed address of this key."""
        return self._address

    def sign_digest(self, digest32: bytes) -> Signature:
        """Sign a 32-byte digest (no further hashing). Deterministic (RFC 6979), low-s.

        SECURITY: callers pass digests they computed themselves from parsed,
        policy-checked structures; this function cannot tell and does not try.
        """
        if type(digest32) is not bytes or len(digest32) != 32:
            raise ValueError("digest must be 32 bytes")
        sig = self._key.sign_recoverable(digest32, hasher=None)
        s = int.from_bytes(sig[32:64], "big")
        if s > _HALF_N:  # libsecp256k1 always normalises; keep the invariant explicit
            raise AssertionError("secp256k1 produced a high-s signature")
        return Signature(27 + sig[64], int.from_bytes(sig[:32], "big"), s)

    def __repr__(self) -> str:
        return f"Secp256k1Key(address={self._address}, <redacted>)"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("Secp256k1Key cannot be pickled")
