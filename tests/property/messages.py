"""Hypothesis strategies for any request message of the API, from its descriptor.

``messages(descriptor)`` draws well-typed messages whose values are adversarial:
numbers at and beyond their edges (0, -1, 2**63, 2**64 - 1, unknown enum values),
confusable, control, bidi and oversized strings, random bytes, repeated and map
fields from empty to thousands of entries, plus values that lead somewhere
(known venues, chains, tokens, addresses, the fuzz principal) so that calls get
past the first check. ``wire_bytes(descriptor)`` draws raw bytes that are not a
well-formed encoding: truncated or spliced valid messages, non-UTF-8 strings,
wrong wire types, overlong varints, 10,000 nested groups and plain noise.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import strategies as st

from signer.domain import VENUES

F = FieldDescriptor
CLIENTS = [
    "alice",
    "alice",
    "bob",
    "",
    "a" * 300,
    "\uff41\uff4c\uff49\uff43\uff45",
    "alice\x00",
    "al\u200bice",
]
ADDRESSES = [
    "0x" + "11" * 20, "0x" + "AB" * 20, "0xaf88d065e77c8cC2239327C5EDb3A432268e5831",
    "0xAF88D065E77C8CC2239327C5EDB3A432268E5831", "0x" + "0" * 40, "0x" + "1" * 39, "0x" + "g" * 40,
    "0x\u0661" + "1" * 39, "1" * 42,
]  # fmt: skip
HINTS: dict[str, list[str]] = {
    "venue": [*VENUES, "KRAKEN", "kraken ", "krak\u0435n", "ftx", ""],
    "client_id": CLIENTS,
    "chain": ["arbitrum", "polygon", "ethereum", "arbitrum-sepolia", "ARBITRUM", "arbitrum\x00"],
    "token": ["USDC", "ETH", "USDT", "usdc", "\uff35\uff33\uff24\uff23"],
    "amount": ["100.0", "1", "0", "-1", "1e400", "NaN", "Infinity", "1" * 100, "0.0000000001", "1,5"],
    "value": ["0", "1", "-1", "1e18", "115792089237316195423570985008687907853269984665640564039457584007913129639936"],
    "max_fee_per_gas": ["100000000", "0", "-1", "1e400", "9" * 80, "0x10", ""],
    "max_priority_fee_per_gas": ["1000000", "0", "-1", "9" * 80, "NaN"],
    "address": ADDRESSES, "recipient": ADDRESSES, "to": ADDRESSES,
    "wallet_id": ["", "turnkey:" + ADDRESSES[0], "connected:" + ADDRESSES[1], "turnkey:", "x:y"],
    "method": ["GET", "POST", "DELETE", "PUT", "get", "PATCH", ""],
    "path": ["/api/v3/order", "/0/private/AddOrder", "/exchange", "/order", "/", "", "//x", "/%2e%2e"],
    "message": ["", "sequence.local wants you to sign in", "x" * 5000],
    "public_key": ["00" * 32, "zz", "", "AA" * 32],
}  # fmt: skip
WEIRD_TEXT = [
    "", "x" * 70_000, "\u202e", "\ufeff", "\ud7ff", "\U0010ffff", "\x00", "\n\r", "\uff21\uff22\uff23",
    "e\u0301", "\u017f", "\u212a", "\u0130", "%00", "%ff", "../../etc/passwd", "{}", "[]", '{"a":1}',
]  # fmt: skip
INT_EDGES = {
    F.TYPE_UINT64: [0, 1, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1],
    F.TYPE_INT64: [0, -1, 2**63 - 1, -(2**63), 2**53 + 1],
    F.TYPE_UINT32: [0, 1, 1000, 1001, 2**31, 2**32 - 1],
    F.TYPE_INT32: [0, -1, 2**31 - 1, -(2**31)],
}
MAX_DEPTH = 4


def _text(name: str) -> st.SearchStrategy[str]:
    hinted = [st.sampled_from(HINTS[name])] * 3 if name in HINTS else []
    return st.one_of(*hinted, st.sampled_from(WEIRD_TEXT), st.text(max_size=40))


def _scalar(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    if field.type == F.TYPE_STRING:
        return _text(field.name)
    if field.type == F.TYPE_BYTES:
        return st.one_of(st.binary(max_size=80), st.just(b"\xff" * 70_000), st.just(b""))
    if field.type == F.TYPE_BOOL:
        return st.booleans()
    if field.type == F.TYPE_ENUM:
        assert field.enum_type is not None
        known = [v.number for v in field.enum_type.values]
        return st.sampled_from([*known, *known, 7, -1, 2**31 - 1])
    edges = INT_EDGES[field.type]
    low, high = min(edges), max(edges)
    return st.one_of(st.sampled_from(edges), st.integers(low, high))


def _small(field: FieldDescriptor) -> Any:
    if field.message_type is not None:
        return GetMessageClass(field.message_type)()
    small = {F.TYPE_STRING: "x", F.TYPE_BYTES: b"x", F.TYPE_BOOL: True}
    return small.get(field.type, 1)


def _repeated(field: FieldDescriptor, depth: int) -> st.SearchStrategy[list[Any]]:
    many = st.integers(33, 5000).map(lambda n: [_small(field)] * n)
    return st.one_of(st.lists(_value(field, depth), max_size=3), many)


def _value(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    if field.message_type is not None:
        return messages(field.message_type, depth + 1)
    return _scalar(field)


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _map(field: FieldDescriptor) -> st.SearchStrategy[dict[str, str]]:
    key = _text("header")
    return st.one_of(
        st.dictionaries(key, st.text(max_size=30), max_size=4),
        st.integers(33, 3000).map(lambda n: {f"h{i}": "v" for i in range(n)}),
    )


@st.composite
def messages(draw: st.DrawFn, descriptor: Descriptor, depth: int = 0) -> Message:
    """A message of ``descriptor``'s type with a random subset of adversarial fields."""
    msg = GetMessageClass(descriptor)()
    if depth > MAX_DEPTH:
        return msg
    if descriptor.full_name == "sequence.signer.v1.Principal" and draw(st.integers(0, 3)):
        # Mostly the fuzz principal, so calls get past the principal check.
        setattr(msg, "client_id", "alice")  # noqa: B010 - a generic Message here
        setattr(msg, "mode", draw(st.sampled_from([1, 2])))  # noqa: B010
        return msg
    for field in descriptor.fields:
        if not draw(st.integers(0, 4)):  # each field is left unset one time in five
            continue
        if _is_map(field):
            getattr(msg, field.name).update(draw(_map(field)))
        elif field.is_repeated:
            values = draw(_repeated(field, depth))
            container = getattr(msg, field.name)
            if field.type == F.TYPE_MESSAGE:
                for v in values:
                    container.add().CopyFrom(v)
            else:
                container.extend(values)
        elif field.message_type is not None:
            getattr(msg, field.name).CopyFrom(draw(messages(field.message_type, depth + 1)))
        else:
            setattr(msg, field.name, draw(_scalar(field)))
    return msg


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _tag(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


@st.composite
def wire_bytes(draw: st.DrawFn, descriptor: Descriptor) -> bytes:
    """Raw bytes for ``descriptor``'s RPC that are mostly not a valid encoding."""
    number = draw(st.sampled_from([f.number for f in descriptor.fields] or [1]))
    valid = draw(messages(descriptor)).SerializeToString()
    how = draw(st.sampled_from(["noise", "truncate", "splice", "utf8", "wiretype", "varint", "groups", "length"]))  # fmt: skip
    if how == "noise":
        return draw(st.binary(min_size=1, max_size=200))
    if how == "truncate" and len(valid) > 1:
        return valid[: draw(st.integers(1, len(valid) - 1))]
    if how == "splice":
        return valid + draw(st.binary(min_size=1, max_size=20))
    if how == "utf8":
        junk = draw(st.sampled_from([b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"ok\x80"]))
        return valid + _tag(number, 2) + _varint(len(junk)) + junk
    if how == "wiretype":
        wire = draw(st.sampled_from([0, 1, 2, 5]))
        return valid + _tag(number, wire) + b"\x01" * 8
    if how == "varint":
        return valid + _tag(number, 0) + b"\xff" * 11
    if how == "groups":
        return _tag(15, 3) * 10_000 + _tag(15, 4) * 10_000
    return valid + _tag(number, 2) + _varint(2**31)


def _leaves(msg: Message, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    out: list[tuple[tuple[str, ...], Any]] = []
    for field in msg.DESCRIPTOR.fields:
        out.append(((*prefix, field.name), field))
        if field.type == F.TYPE_MESSAGE and not field.is_repeated and msg.HasField(field.name):
            out.extend(_leaves(getattr(msg, field.name), (*prefix, field.name)))
    return out


@st.composite
def field_mutants(draw: st.DrawFn, valid: Message) -> Message:
    """``valid`` with one or two of its fields (at any depth) set to adversarial values."""
    msg = type(valid).FromString(valid.SerializeToString())
    for _ in range(draw(st.integers(1, 2))):
        path, field = draw(st.sampled_from(_leaves(msg)))
        parent = msg
        for name in path[:-1]:
            parent = getattr(parent, name)
        if _is_map(field):
            getattr(parent, field.name).update(draw(_map(field)))
        elif field.is_repeated:
            container = getattr(parent, field.name)
            values = draw(_repeated(field, MAX_DEPTH))
            if field.type == F.TYPE_MESSAGE:
                for v in values:
                    container.add().CopyFrom(v)
            else:
                container.extend(values)
        elif field.message_type is not None:
            if draw(st.booleans()):
                parent.ClearField(field.name)
            else:
                getattr(parent, field.name).CopyFrom(draw(messages(field.message_type, 1)))
        else:
            setattr(parent, field.name, draw(_scalar(field)))
    return msg
