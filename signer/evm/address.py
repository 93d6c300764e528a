"""Keccak-256 and strict 20-byte EVM addresses with EIP-55 checksums.

SECURITY: an address is the one thing that decides where funds go, so it is
parsed strictly: exactly ``0x`` followed by 40 ASCII hex digits, either all
lower-case (no checksum claimed) or mixed-case with a valid EIP-55 checksum.
A mixed-case string with a wrong checksum is a typo or a tampered value and is
refused, never "fixed". All-upper-case hex is refused too: it claims nothing
and differs from the common lower-case form only to confuse a reader.
"""

from __future__ import annotations

import re

from Crypto.Hash import keccak

from signer.errors import InvalidRequestError

ADDRESS_LENGTH = 20

_ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}", re.ASCII)


def keccak256(data: bytes) -> bytes:
    """Keccak-256 (the Ethereum hash, not NIST SHA3-256) of ``data``."""
    return keccak.new(digest_bits=256, data=data).digest()


def to_checksum(address: bytes) -> str:
    """EIP-55 mixed-case checksum form of a 20-byte address.

    Args:
        address: exactly 20 bytes.

    Raises:
        ValueError: ``address`` is not 20 bytes (a programming error).
    """
    if type(address) is not bytes or len(address) != ADDRESS_LENGTH:
        raise ValueError("address must be exactly 20 bytes")
    lower = address.hex()
    digest = keccak256(lower.encode("ascii")).hex()
    return "0x" + "".join(
        ch.upper() if ch in "abcdef" and int(digest[i], 16) >= 8 else ch
        for i, ch in enumerate(lower)
    )


def parse_address(text: str, *, field: str = "address") -> bytes:
    """Parse a hex address strictly and return its 20 bytes.

    Args:
        text: ``0x`` + 40 hex digits, all lower-case or valid EIP-55.
        field: the request field name used in the error (never the value).

    Raises:
        InvalidRequestError: not a string, wrong shape, or a bad checksum.
    """
    if type(text) is not str or not _ADDRESS_RE.fullmatch(text):
        raise InvalidRequestError(f"{field}: must be 0x followed by 40 hex digits", field=field)
    raw = bytes.fromhex(text[2:])
    body = text[2:]
    if body != body.lower() and text != to_checksum(raw):
        raise InvalidRequestError(f"{field}: EIP-55 checksum does not match", field=field)
    return raw


def checksum_address(text: str, *, field: str = "address") -> str:
    """Parse ``text`` strictly (see ``parse_address``) and return its EIP-55 form."""
    return to_checksum(parse_address(text, field=field))


def is_checksummed(text: str) -> bool:
    """True when ``text`` is exactly the EIP-55 form of some address."""
    if type(text) is not str or not _ADDRESS_RE.fullmatch(text):
        return False
    return text == to_checksum(bytes.fromhex(text[2:]))


def address_from_public_key(public_key_xy: bytes) -> bytes:
    """The 20-byte address of an uncompressed secp256k1 public key (64 bytes, no prefix)."""
    if len(public_key_xy) != 64:
        raise ValueError("public key must be 64 bytes (x || y)")
    return keccak256(public_key_xy)[12:]
