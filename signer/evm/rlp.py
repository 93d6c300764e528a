"""A minimal, strict RLP codec (Ethereum Yellow Paper, appendix B).

Why not the ``rlp`` package: it is only a transitive dependency of
eth-account (not declared by this project), and importing it pulls in
eth-utils, pydantic and cytoolz (about 300 modules) for roughly 100 lines
of logic. This module has no third-party imports; ``rlp`` is used as an
oracle in the tests instead.

Items are ``bytes`` (strings) or ``list`` of items; integers are encoded by
the caller with ``encode_uint`` and read back with ``decode_uint``.

SECURITY: the decoder accepts only canonical encodings, so one value has
exactly one byte form and a decoded transaction re-encodes to the same bytes
(and therefore the same hash). Refused: a single byte below 0x80 wrapped in a
string header, long-form lengths of 55 or less or with leading zero bytes,
lengths running past their enclosing list or the input, trailing bytes,
nesting deeper than ``max_depth``, and integers with leading zero bytes.
"""

from __future__ import annotations

from typing import TypeAlias

RlpItem: TypeAlias = "bytes | list[RlpItem]"

MAX_DEPTH = 16
_MAX_LENGTH_BYTES = 8


class RlpDecodingError(ValueError):
    """The input is not a canonical RLP encoding of the expected shape."""


def encode_uint(value: int) -> bytes:
    """Minimal big-endian bytes of an unsigned integer below 2**256 (0 -> ``b""``)."""
    if type(value) is not int or not 0 <= value < 2**256:
        raise ValueError("RLP integers must be ints in [0, 2**256)")
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def decode_uint(data: RlpItem, *, max_bytes: int = 32) -> int:
    """Read an integer written by ``encode_uint``; refuse leading zeros and overlong values."""
    if type(data) is not bytes:
        raise RlpDecodingError("integer field is a list")
    if len(data) > max_bytes:
        raise RlpDecodingError("integer too large")
    if data[:1] == b"\x00":
        raise RlpDecodingError("integer has leading zero bytes")
    return int.from_bytes(data, "big")


def _header(length: int, offset: int) -> bytes:
    if length <= 55:
        return bytes([offset + length])
    length_bytes = encode_uint(length)
    if len(length_bytes) > _MAX_LENGTH_BYTES:
        raise ValueError("RLP payload too long")
    return bytes([offset + 55 + len(length_bytes)]) + length_bytes


def encode(item: RlpItem, *, _depth: int = 0) -> bytes:
    """RLP-encode ``bytes`` or a (nested) ``list`` of them.

    Raises:
        TypeError: anything other than ``bytes`` or ``list`` (no implicit int/str coercion).
        ValueError: nesting deeper than ``MAX_DEPTH``.
    """
    if type(item) is bytes:
        if len(item) == 1 and item[0] < 0x80:
            return item
        return _header(len(item), 0x80) + item
    if type(item) is list:
        if _depth >= MAX_DEPTH:
            raise ValueError("RLP nesting too deep")
        payload = b"".join(encode(child, _depth=_depth + 1) for child in item)
        return _header(len(payload), 0xC0) + payload
    raise TypeError(f"cannot RLP-encode {type(item).__name__}")


def _length(data: bytes, pos: int, count: int, limit: int) -> int:
    """Read a long-form length of ``count`` bytes at ``pos``."""
    if pos + count > limit:
        raise RlpDecodingError("length runs past the end")
    if data[pos] == 0:
        raise RlpDecodingError("length has leading zero bytes")
    length = int.from_bytes(data[pos : pos + count], "big")
    if length <= 55:
        raise RlpDecodingError("long form used for a short length")
    return length


def _decode_at(data: bytes, pos: int, limit: int, depth: int) -> tuple[RlpItem, int]:
    """Decode one item starting at ``pos`` that must end at or before ``limit``."""
    if pos >= limit:
        raise RlpDecodingError("unexpected end of input")
    prefix = data[pos]
    if prefix < 0x80:
        return data[pos : pos + 1], pos + 1
    if prefix <= 0xBF:
        if prefix <= 0xB7:
            start, length = pos + 1, prefix - 0x80
        else:
            count = prefix - 0xB7
            start, length = pos + 1 + count, _length(data, pos + 1, count, limit)
        end = start + length
        if end > limit:
            raise RlpDecodingError("string runs past the end")
        if length == 1 and data[start] < 0x80:
            raise RlpDecodingError("single byte below 0x80 must not have a header")
        return data[start:end], end
    if depth >= MAX_DEPTH:
        raise RlpDecodingError("nesting too deep")
    if prefix <= 0xF7:
        start, length = pos + 1, prefix - 0xC0
    else:
        count = prefix - 0xF7
        start, length = pos + 1 + count, _length(data, pos + 1, count, limit)
    end = start + length
    if end > limit:
        raise RlpDecodingError("list runs past the end")
    items: list[RlpItem] = []
    cursor = start
    while cursor < end:
        child, cursor = _decode_at(data, cursor, end, depth + 1)
        items.append(child)
    return items, end


def decode(data: bytes) -> RlpItem:
    """Decode exactly one canonical RLP item that spans all of ``data``.

    Raises:
        RlpDecodingError: non-canonical, truncated, trailing bytes or too deep.
    """
    if type(data) is not bytes:
        raise RlpDecodingError("RLP input must be bytes")
    item, end = _decode_at(data, 0, len(data), 0)
    if end != len(data):
        raise RlpDecodingError("trailing bytes after the RLP item")
    return item
