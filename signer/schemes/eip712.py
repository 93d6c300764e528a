"""EIP-712 typed structured data: a strict, precompiled encoder.

``TypedDataSchema.compile`` validates a type graph once and builds one encoder
closure per field; ``Domain`` computes its separator once. The per-message
work is then: check each value's Python type and range, ``int.to_bytes``,
join, keccak. Polymarket orders and Hyperliquid actions take this path.

Invariants (each has a test in tests/unit/schemes/test_eip712.py):

1. No coercion. ``uintN``/``intN`` take ``int`` only (not ``bool``, ``str``,
   ``float``) within range; ``bool`` takes ``bool`` only; ``string`` takes
   ``str``; ``address`` takes ``0x`` + 40 hex digits (mixed case must pass
   EIP-55); ``bytesN`` takes ``bytes`` of exactly N or ``0x`` + exactly 2N hex
   digits; ``bytes`` takes ``bytes`` or ``0x``-hex; arrays take ``list``/``tuple``
   of the declared fixed length; structs take a ``Mapping`` with exactly the
   declared keys. eth-account accepts "1" for uint256, truthy values for bool,
   short byte strings for bytesN and fills missing struct fields with zeros;
   SECURITY: any of those could make the signed digest differ from what the
   policy approved, so here they are errors.
2. Every refusal is a ``TypedDataError`` naming the field path
   (``message.order.makerAmount: expected uint256 int, got str``) and the
   problem; values are never quoted (only short identifier-like key names).
3. A schema refuses unknown types (bare ``uint``/``int`` included), duplicate
   or malformed names, empty structs, types unreachable from the primary type,
   ``EIP712Domain`` (the domain is ``Domain``'s job), and cycles no finite value
   can satisfy (a cycle must pass through a dynamic array). Values nest at
   most ``MAX_DEPTH`` levels, so recursive types cannot exhaust the stack.
4. Digests equal eth-account's (``encode_typed_data(full_message=...)``) for
   every value both accept (tests/unit/schemes/test_eip712_oracle.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from signer.errors import InvalidRequestError
from signer.schemes.secp256k1 import (
    InvalidAddressError,
    Secp256k1Key,
    Signature,
    keccak256,
    parse_address,
)

MAX_DEPTH = 64  # struct/array nesting levels in a value
MAX_FIXED_ARRAY = 1024  # largest n in T[n]
MAX_ARRAY_DIMS = 8

_STRUCT_NAME_RE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*(?::[A-Za-z0-9_$]+)*", re.ASCII)
_FIELD_NAME_RE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*", re.ASCII)
_TYPE_RE = re.compile(r"([^\[\]]+)((?:\[[0-9]*\])*)", re.ASCII)
_DIM_RE = re.compile(r"\[([0-9]*)\]", re.ASCII)
_ZERO12 = bytes(12)
_FALSE = bytes(32)
_TRUE = bytes(31) + b"\x01"

Encoder = Callable[[Any, int], bytes]


class TypedDataError(InvalidRequestError, ValueError):
    """A schema or value EIP-712 encoding refuses.

    A ``ValueError`` and an ``INVALID_REQUEST`` ``SignerError``: the message is
    safe to show a caller (``metadata["field"]`` is the path).

    Attributes:
        path: where (``message.order.maker``, ``types.Order.side``, ``domain.chainId``).
        problem: what is wrong, from a fixed vocabulary (never a quoted value).
    """

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}", field=path)
        self.path = path
        self.problem = problem


class _Fail(Exception):
    """Raised inside encoders; the path is collected innermost-first on the way out."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.rev_path: list[str] = []

    def error(self, root: str) -> TypedDataError:
        return TypedDataError(root + "".join(reversed(self.rev_path)), self.problem)


def _got(value: object) -> str:
    return type(value).__name__[:32]


def _safe_key(key: object) -> str:
    if isinstance(key, str) and len(key) <= 64 and _FIELD_NAME_RE.fullmatch(key):
        return repr(key)
    return "<key>"


# --- atomic encoders -------------------------------------------------------------------


def _uint(bits: int) -> Encoder:
    limit, want = 1 << bits, f"expected uint{bits} int, got "

    def enc(v: Any, _d: int) -> bytes:
        if type(v) is not int:
            raise _Fail(want + _got(v))
        if not 0 <= v < limit:
            raise _Fail(f"uint{bits} out of range")
        return v.to_bytes(32, "big")

    return enc


def _int(bits: int) -> Encoder:
    low, high, want = -(1 << (bits - 1)), 1 << (bits - 1), f"expected int{bits} int, got "

    def enc(v: Any, _d: int) -> bytes:
        if type(v) is not int:
            raise _Fail(want + _got(v))
        if not low <= v < high:
            raise _Fail(f"int{bits} out of range")
        return v.to_bytes(32, "big", signed=True)

    return enc


def _hex_bytes(v: str, digits: int | None) -> bytes | None:
    """``0x``-hex -> bytes or None.

    ``bytes.fromhex`` skips ASCII whitespace, so the output length is checked
    against the digit count: any skipped character makes it come out short.
    """
    if not v.startswith("0x") or (digits is not None and len(v) != digits + 2):
        return None
    try:
        raw = bytes.fromhex(v[2:])
    except ValueError:
        return None
    return raw if 2 * len(raw) + 2 == len(v) else None


def _fixed_bytes(n: int) -> Encoder:
    want, pad = f"expected bytes{n} (bytes of length {n} or 0x + {2 * n} hex digits)", bytes(32 - n)

    def enc(v: Any, _d: int) -> bytes:
        if type(v) is bytes:
            if len(v) == n:
                return v + pad
        elif type(v) is str:
            raw = _hex_bytes(v, 2 * n)
            if raw is not None:
                return raw + pad
        raise _Fail(f"{want}, got {_got(v)}")

    return enc


def _dynamic_bytes(v: Any, _d: int) -> bytes:
    if type(v) is bytes:
        return keccak256(v)
    if type(v) is str:
        raw = _hex_bytes(v, None)
        if raw is not None:
            return keccak256(raw)
    raise _Fail(f"expected bytes (bytes or 0x-hex), got {_got(v)}")


@lru_cache(maxsize=1024)
def _short_text_hash(v: str) -> bytes:
    # Hyperliquid's "a"/"b" source, chain names and the like repeat on every
    # message; a cached hash saves a keccak. Callers have checked type(v) is str.
    return keccak256(v.encode("utf-8"))


def _string(v: Any, _d: int) -> bytes:
    if type(v) is not str:
        raise _Fail(f"expected string str, got {_got(v)}")
    try:
        return _short_text_hash(v) if len(v) <= 32 else keccak256(v.encode("utf-8"))
    except UnicodeEncodeError:
        raise _Fail("string is not encodable as UTF-8") from None


def _bool(v: Any, _d: int) -> bytes:
    if v is True:
        return _TRUE
    if v is False:
        return _FALSE
    raise _Fail(f"expected bool, got {_got(v)}")


def _address(v: Any, _d: int) -> bytes:
    if type(v) is not str:
        raise _Fail(f"expected address str, got {_got(v)}")
    try:
        return _ZERO12 + parse_address(v)
    except InvalidAddressError as exc:
        raise _Fail(f"address: {exc}") from None


def _atomic_encoders() -> Mapping[str, Encoder]:
    table: dict[str, Encoder] = {
        "address": _address,
        "bool": _bool,
        "string": _string,
        "bytes": _dynamic_bytes,
    }
    for i in range(1, 33):
        table[f"uint{8 * i}"] = _uint(8 * i)
        table[f"int{8 * i}"] = _int(8 * i)
        table[f"bytes{i}"] = _fixed_bytes(i)
    return MappingProxyType(table)


ATOMIC_TYPES: Mapping[str, Encoder] = _atomic_encoders()


# --- composite encoders ----------------------------------------------------------------


def _array(elem: Encoder, length: int | None, type_name: str) -> Encoder:
    want = f"expected {type_name} list or tuple, got "

    def enc(v: Any, depth: int) -> bytes:
        if type(v) is not list and type(v) is not tuple:
            raise _Fail(want + _got(v))
        if length is not None and len(v) != length:
            raise _Fail(f"expected {length} elements, got {len(v)}")
        if depth >= MAX_DEPTH:
            raise _Fail("nested too deeply")
        out: list[bytes] = []
        depth += 1
        try:
            for item in v:
                out.append(elem(item, depth))
        except _Fail as exc:
            exc.rev_path.append(f"[{len(out)}]")
            raise
        return keccak256(b"".join(out))

    return enc


def _struct(
    name: str, fields: list[tuple[str, Encoder]], keys: set[str], type_hash: bytes
) -> Encoder:
    """hashStruct for ``name``; ``fields``/``keys`` are filled after every struct exists."""
    want = f"expected struct {name} mapping, got "

    def enc(v: Any, depth: int) -> bytes:
        if type(v) is not dict and not isinstance(v, Mapping):
            raise _Fail(want + _got(v))
        if v.keys() != keys:
            raise _Fail(_key_problem(v, [f for f, _ in fields]))
        if depth >= MAX_DEPTH:
            raise _Fail("nested too deeply")
        out = [type_hash]
        depth += 1
        for fname, fenc in fields:
            try:
                out.append(fenc(v[fname], depth))
            except _Fail as exc:
                exc.rev_path.append("." + fname)
                raise
        return keccak256(b"".join(out))

    return enc


def _key_problem(value: Mapping[Any, Any], declared: list[str]) -> str:
    missing = [k for k in declared if k not in value]
    extra = sorted({_safe_key(k) for k in value if k not in declared})
    parts = []
    if missing:
        parts.append("missing " + ", ".join(repr(k) for k in missing[:5]))
    if extra:
        parts.append("unexpected " + ", ".join(extra[:5]))
    return "struct keys: " + "; ".join(parts)


# --- schema ----------------------------------------------------------------------------

TypeKey = tuple[tuple[str, tuple[tuple[str, str], ...]], ...]


def _parse_type(type_str: str) -> tuple[str, list[int | None]] | None:
    match = _TYPE_RE.fullmatch(type_str)
    if match is None:
        return None
    dims: list[int | None] = []
    for digits in _DIM_RE.findall(match[2]):
        if digits == "":
            dims.append(None)
        elif digits[0] == "0" or len(digits) > 4 or int(digits) > MAX_FIXED_ARRAY:
            return None
        else:
            dims.append(int(digits))
    if len(dims) > MAX_ARRAY_DIMS:
        return None
    return match[1], dims


class TypedDataSchema:
    """A compiled EIP-712 type graph for one primary type. Build with ``compile``.

    Attributes:
        primary_type: the primary type's name.
        types: the struct definitions reachable from it, ``{name: ((field, type), ...)}``.
        encode_type: the primary type's ``encodeType`` string.
        type_hash: ``keccak256(encode_type)``.
    """

    __slots__ = ("_hash", "encode_type", "primary_type", "type_hash", "types")

    def __init__(
        self,
        primary_type: str,
        types: Mapping[str, tuple[tuple[str, str], ...]],
        encode_type: str,
        hash_fn: Encoder,
    ) -> None:
        self.primary_type = primary_type
        self.types = types
        self.encode_type = encode_type
        self.type_hash = keccak256(encode_type.encode("ascii"))
        self._hash = hash_fn

    @classmethod
    def compile(
        cls, types: Mapping[str, Sequence[tuple[str, str]]], primary_type: str
    ) -> TypedDataSchema:
        """Validate ``types`` and build the encoders (cached: equal inputs share one schema).

        Args:
            types: struct name -> ordered ``(field name, field type)`` pairs. Do
                not include ``EIP712Domain``.
            primary_type: the struct that messages are instances of.

        Raises:
            TypedDataError: the graph is malformed (path ``types.<Struct>[.<field>]``).
        """
        if not isinstance(types, Mapping):
            raise TypedDataError("types", "expected a mapping of struct name to fields")
        if type(primary_type) is not str:
            raise TypedDataError("primaryType", "expected str")
        key: list[tuple[str, tuple[tuple[str, str], ...]]] = []
        for name, fields in types.items():
            if type(name) is not str or not _STRUCT_NAME_RE.fullmatch(name) or len(name) > 128:
                raise TypedDataError("types", f"bad struct name {_safe_key(name)}")
            if not isinstance(fields, list | tuple):
                raise TypedDataError(f"types.{name}", "expected a list of (name, type) pairs")
            pairs = []
            for pair in fields:
                if (
                    not isinstance(pair, list | tuple)
                    or len(pair) != 2
                    or type(pair[0]) is not str
                    or type(pair[1]) is not str
                ):
                    raise TypedDataError(f"types.{name}", "expected (name, type) str pairs")
                pairs.append((pair[0], pair[1]))
            key.append((name, tuple(pairs)))
        return _compile(tuple(key), primary_type)

    def hash_struct(self, message: Mapping[str, Any]) -> bytes:
        """``hashStruct(message)`` for the primary type.

        Raises:
            TypedDataError: a value is refused (path ``message.<field>...``).
        """
        try:
            return self._hash(message, 0)
        except _Fail as exc:
            raise exc.error("message") from None

    def __repr__(self) -> str:
        return f"TypedDataSchema({self.encode_type!r})"


@lru_cache(maxsize=128)
def _compile(key: TypeKey, primary: str) -> TypedDataSchema:
    defs = dict(key)
    if len(defs) != len(key):
        raise TypedDataError("types", "duplicate struct name")
    if "EIP712Domain" in defs or primary == "EIP712Domain":
        raise TypedDataError("types.EIP712Domain", "the domain type comes from Domain")
    if primary not in defs:
        raise TypedDataError("primaryType", f"{_safe_key(primary)} is not a declared struct")
    deps: dict[str, set[str]] = {}
    for name, fields in defs.items():
        if name in ATOMIC_TYPES or len(fields) == 0:
            raise TypedDataError(f"types.{name}", "atomic type name or no fields")
        deps[name] = set()
        seen: set[str] = set()
        for fname, ftype in fields:
            where = f"types.{name}.{fname}" if _FIELD_NAME_RE.fullmatch(fname) else f"types.{name}"
            if not _FIELD_NAME_RE.fullmatch(fname) or len(fname) > 128:
                raise TypedDataError(where, "bad field name")
            if fname in seen:
                raise TypedDataError(where, "duplicate field")
            seen.add(fname)
            parsed = _parse_type(ftype)
            if parsed is None:
                raise TypedDataError(where, "malformed type")
            base = parsed[0]
            if base == "EIP712Domain":
                raise TypedDataError(where, "EIP712Domain cannot be a field type")
            if base not in ATOMIC_TYPES and base not in defs:
                raise TypedDataError(where, f"unknown type {_safe_key(base)}")
            if base in defs:
                deps[name].add(base)
    closure = {n: _reachable(n, deps) for n in defs}
    for name in defs:
        if name != primary and name not in closure[primary]:
            raise TypedDataError(f"types.{name}", "not used by the primary type")
    _check_finite(defs)

    hashes = {n: keccak256(_encode_type(n, closure[n], defs).encode("ascii")) for n in defs}
    struct_fields: dict[str, list[tuple[str, Encoder]]] = {n: [] for n in defs}
    struct_keys: dict[str, set[str]] = {n: {f for f, _ in defs[n]} for n in defs}
    structs = {n: _struct(n, struct_fields[n], struct_keys[n], hashes[n]) for n in defs}
    for name, fields in defs.items():
        for fname, ftype in fields:
            base, dims = _parse_type(ftype) or ("", [])
            enc = ATOMIC_TYPES.get(base) or structs[base]
            spelled = base
            for dim in dims:
                spelled += "[]" if dim is None else f"[{dim}]"
                enc = _array(enc, dim, spelled)
            struct_fields[name].append((fname, enc))
    reachable = {n: defs[n] for n in sorted(closure[primary] | {primary})}
    return TypedDataSchema(
        primary,
        MappingProxyType(reachable),
        _encode_type(primary, closure[primary], defs),
        structs[primary],
    )


def _reachable(start: str, deps: Mapping[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(deps[start])
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(deps[name])
    seen.discard(start)
    return seen


def _check_finite(defs: Mapping[str, tuple[tuple[str, str], ...]]) -> None:
    """Refuse structs no finite value can satisfy (a cycle not broken by a ``T[]``)."""
    ok: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, fields in defs.items():
            if name not in ok and all(_field_finite(t, ok) for _, t in fields):
                ok.add(name)
                changed = True
    for name in defs:
        if name not in ok:
            raise TypedDataError(f"types.{name}", "recursive without a dynamic array")


def _field_finite(ftype: str, ok: set[str]) -> bool:
    base, dims = _parse_type(ftype) or ("", [])
    if None in dims:  # some dimension is dynamic: the empty list ends the recursion
        return True
    return base in ATOMIC_TYPES or base in ok


def _encode_type(name: str, deps: set[str], defs: Mapping[str, tuple[tuple[str, str], ...]]) -> str:
    def one(n: str) -> str:
        return n + "(" + ",".join(f"{t} {f}" for f, t in defs[n]) + ")"

    return one(name) + "".join(one(d) for d in sorted(deps))


# --- domain ----------------------------------------------------------------------------

_DOMAIN_FIELDS = (
    ("name", "string", _string),
    ("version", "string", _string),
    ("chainId", "uint256", ATOMIC_TYPES["uint256"]),
    ("verifyingContract", "address", _address),
    ("salt", "bytes32", ATOMIC_TYPES["bytes32"]),
)


@dataclass(frozen=True, slots=True)
class Domain:
    """An EIP-712 domain; ``separator`` is computed once, at construction.

    The ``EIP712Domain`` type lists the fields that are not None, in the
    standard order (name, version, chainId, verifyingContract, salt). Values
    follow the same strict rules as messages.

    Raises:
        TypedDataError: a field value is refused, or every field is None.
    """

    name: str | None = None
    version: str | None = None
    chain_id: int | None = None
    verifying_contract: str | None = None
    salt: bytes | str | None = None
    separator: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        separator = _domain_separator(
            self.name, self.version, self.chain_id, self.verifying_contract, self.salt
        )
        object.__setattr__(self, "separator", separator)

    def eip712_type(self) -> tuple[tuple[str, str], ...]:
        """The ``EIP712Domain`` fields used, as ``(name, type)`` pairs."""
        values = (self.name, self.version, self.chain_id, self.verifying_contract, self.salt)
        return tuple(
            (n, t) for (n, t, _), v in zip(_DOMAIN_FIELDS, values, strict=True) if v is not None
        )

    def as_dict(self) -> dict[str, Any]:
        """The domain in EIP-712 JSON form (``chainId``, ``verifyingContract``)."""
        values = (self.name, self.version, self.chain_id, self.verifying_contract, self.salt)
        return {n: v for (n, _, _), v in zip(_DOMAIN_FIELDS, values, strict=True) if v is not None}


@lru_cache(maxsize=256, typed=True)  # typed: chain_id True and 1 must not share an entry
def _domain_separator(*values: Any) -> bytes:
    present = [(spec, v) for spec, v in zip(_DOMAIN_FIELDS, values, strict=True) if v is not None]
    if not present:
        raise TypedDataError("domain", "at least one field is required")
    encode_type = "EIP712Domain(" + ",".join(f"{t} {n}" for (n, t, _), _ in present) + ")"
    out = [keccak256(encode_type.encode("ascii"))]
    for (name, _, enc), value in present:
        try:
            out.append(enc(value, 0))
        except _Fail as exc:
            raise TypedDataError(f"domain.{name}", exc.problem) from None
    return keccak256(b"".join(out))


# --- digest and signature --------------------------------------------------------------


def typed_data_digest(domain: Domain, schema: TypedDataSchema, message: Mapping[str, Any]) -> bytes:
    """``keccak256(0x19 0x01 || domainSeparator || hashStruct(message))``.

    Raises:
        TypedDataError: ``message`` is refused by ``schema``.
    """
    return keccak256(b"\x19\x01" + domain.separator + schema.hash_struct(message))


def sign_typed_data(
    key: Secp256k1Key, domain: Domain, schema: TypedDataSchema, message: Mapping[str, Any]
) -> Signature:
    """Sign the EIP-712 digest of ``message`` with ``key`` (low-s, v 27/28).

    SECURITY: callers build ``message`` from a parsed, policy-approved intent;
    the strict encoding guarantees the signed bytes are exactly those values.
    """
    return key.sign_digest(typed_data_digest(domain, schema, message))
