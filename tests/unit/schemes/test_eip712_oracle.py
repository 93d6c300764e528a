"""signer/schemes/eip712.py against eth-account 0.14 as an oracle.

1. Differential: hypothesis draws random schemas (nested structs, arrays of
   every shape, every atomic type, Hyperliquid-style ``A:B`` names), a random
   domain and a matching strictly typed message; digests must equal
   ``encode_typed_data(full_message=...)`` and signatures
   ``Account.sign_typed_data`` byte for byte.
2. Coercions: every loosely typed value eth-account silently accepts is
   refused here, with the field named. Where eth-account's digest equals the
   digest of a different, canonical value the test says so: that is the
   danger (what was approved is not what was signed).

eth-account is imported only by tests (tests/unit/test_imports.py keeps it out
of the daemon).
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signer.keystore.handles import Secret
from signer.schemes.eip712 import (
    Domain,
    TypedDataError,
    TypedDataSchema,
    sign_typed_data,
    typed_data_digest,
)
from signer.schemes.secp256k1 import SECP256K1_N, Secp256k1Key, to_checksum_address

ATOMIC = (
    [f"uint{8 * i}" for i in range(1, 33)]
    + [f"int{8 * i}" for i in range(1, 33)]
    + [f"bytes{i}" for i in range(1, 33)]
    + ["address", "bool", "string", "bytes"]
)
STRUCT_NAMES = ["Order", "Mail", "Person", "A", "Zed", "_x", "$T", "a1", "HyperliquidTransaction:Withdraw", "Ns:Inner"]  # fmt: skip
FIELD_NAMES = ["a", "b", "salt", "maker", "amount", "_f", "$g", "x1", "contents", "wallet", "Upper"]


def full_message(domain: Domain, schema: TypedDataSchema, message: Any) -> dict[str, Any]:
    types: dict[str, Any] = {
        "EIP712Domain": [{"name": n, "type": t} for n, t in domain.eip712_type()]
    }
    for name, fields in schema.types.items():
        types[name] = [{"name": n, "type": t} for n, t in fields]
    return {
        "types": types,
        "primaryType": schema.primary_type,
        "domain": domain.as_dict(),
        "message": message,
    }


def eth_digest(domain: Domain, schema: TypedDataSchema, message: Any) -> bytes:
    return bytes(
        _hash_eip191_message(encode_typed_data(full_message=full_message(domain, schema, message)))
    )


# --- strategies ------------------------------------------------------------------------


@st.composite
def schemas(draw: st.DrawFn) -> tuple[dict[str, list[tuple[str, str]]], str]:
    """A DAG of 1-4 structs; struct i references only j > i; every struct reachable from 0."""
    names = draw(st.lists(st.sampled_from(STRUCT_NAMES), min_size=1, max_size=4, unique=True))
    types: dict[str, list[tuple[str, str]]] = {}
    for i, name in enumerate(names):
        fnames = draw(st.lists(st.sampled_from(FIELD_NAMES), min_size=1, max_size=5, unique=True))
        later = names[i + 1 :]
        fields = []
        for fname in fnames:
            bases = (
                st.sampled_from(ATOMIC) | st.sampled_from(later)
                if later
                else st.sampled_from(ATOMIC)
            )
            fields.append((fname, draw(bases) + draw(dims())))
        types[name] = fields
    for j in range(1, len(names)):
        if not any(_base(t) == names[j] for i in range(j) for _, t in types[names[i]]):
            owner = names[draw(st.integers(0, j - 1))]
            types[owner].append((f"ref{j}", names[j] + draw(dims())))
    return types, names[0]


def dims() -> st.SearchStrategy[str]:
    one = st.sampled_from(["[]", "[1]", "[2]", "[3]"])
    return st.lists(one, max_size=2).map("".join)


def _base(type_str: str) -> str:
    return type_str.split("[", 1)[0]


def hex_or_raw(raw: st.SearchStrategy[bytes]) -> st.SearchStrategy[Any]:
    return raw.flatmap(lambda b: st.sampled_from([b, "0x" + b.hex(), "0x" + b.hex().upper()]))


def addresses() -> st.SearchStrategy[str]:
    def spell(raw: bytes) -> st.SearchStrategy[str]:
        return st.sampled_from(
            ["0x" + raw.hex(), "0x" + raw.hex().upper(), to_checksum_address(raw)]
        )

    return st.binary(min_size=20, max_size=20).flatmap(spell)


def values(types: dict[str, list[tuple[str, str]]], type_str: str) -> st.SearchStrategy[Any]:
    if type_str.endswith("]"):
        inner, _, last = type_str[:-1].rpartition("[")
        size = int(last) if last else None
        return st.lists(
            values(types, inner),
            min_size=size or 0,
            max_size=size if size is not None else 3,
        )
    if type_str in types:
        return st.fixed_dictionaries({f: values(types, t) for f, t in types[type_str]})
    if type_str.startswith("uint"):
        return st.integers(0, 2 ** int(type_str[4:]) - 1)
    if type_str.startswith("int"):
        bits = int(type_str[3:])
        return st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    if type_str == "bytes":
        return hex_or_raw(st.binary(max_size=80))
    if type_str.startswith("bytes"):
        n = int(type_str[5:])
        return hex_or_raw(st.binary(min_size=n, max_size=n))
    return {"address": addresses(), "bool": st.booleans(), "string": st.text(max_size=40)}[type_str]


@st.composite
def domains(draw: st.DrawFn) -> Domain:
    present = draw(st.lists(st.booleans(), min_size=5, max_size=5).filter(any))
    pick = [
        st.text(max_size=30),
        st.text(max_size=10),
        st.integers(0, 2**256 - 1),
        addresses(),
        hex_or_raw(st.binary(min_size=32, max_size=32)),
    ]
    args = [draw(s) if p else None for p, s in zip(present, pick, strict=True)]
    return Domain(*args)


@st.composite
def cases(draw: st.DrawFn) -> tuple[Domain, TypedDataSchema, Any]:
    types, primary = draw(schemas())
    schema = TypedDataSchema.compile(types, primary)
    return draw(domains()), schema, draw(values(types, primary))


# --- differential ----------------------------------------------------------------------

ORACLE_SETTINGS = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@ORACLE_SETTINGS
@given(cases())
def test_digest_matches_eth_account(case: tuple[Domain, TypedDataSchema, Any]) -> None:
    domain, schema, message = case
    assert typed_data_digest(domain, schema, message) == eth_digest(domain, schema, message)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(), st.integers(1, SECP256K1_N - 1))
def test_signature_matches_eth_account(
    case: tuple[Domain, TypedDataSchema, Any], scalar: int
) -> None:
    domain, schema, message = case
    material = scalar.to_bytes(32, "big")
    ours = sign_typed_data(Secp256k1Key.from_secret(Secret(material)), domain, schema, message)
    theirs = Account.sign_typed_data(material, full_message=full_message(domain, schema, message))
    assert ours.to_bytes65() == bytes(theirs.signature)
    digest = typed_data_digest(domain, schema, message)
    assert ours.to_bytes65() == bytes(Account.unsafe_sign_hash(digest, material).signature)


def test_recursive_type_matches_eth_account() -> None:
    schema = TypedDataSchema.compile({"Node": [("v", "uint8"), ("kids", "Node[]")]}, "Node")
    message = {"v": 1, "kids": [{"v": 2, "kids": []}, {"v": 3, "kids": [{"v": 4, "kids": []}]}]}
    domain = Domain(name="tree", chain_id=1)
    assert typed_data_digest(domain, schema, message) == eth_digest(domain, schema, message)


# --- coercions eth-account accepts and we refuse ---------------------------------------

SCHEMA = TypedDataSchema.compile(
    {
        "T": [
            ("amount", "uint256"), ("flag", "bool"), ("who", "address"), ("tag", "bytes32"),
            ("data", "bytes"), ("name", "string"), ("inner", "Inner"), ("fixed", "uint8[2]"),
        ],
        "Inner": [("x", "uint8")],
    },
    "T",
)  # fmt: skip
DOMAIN = Domain(name="strict", chain_id=137)
WHO = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
GOOD: dict[str, Any] = {
    "amount": 1, "flag": True, "who": WHO, "tag": b"\x01" * 32, "data": b"hi", "name": "n",
    "inner": {"x": 1}, "fixed": [1, 2],
}  # fmt: skip
_MISSING = object()

# (id, field, loose value, path, canonical value eth-account silently turns it into, or None)
COERCIONS: list[tuple[str, str, Any, str, Any]] = [
    ("expfail_uint_decimal_string", "amount", "1", "message.amount", 1),
    ("expfail_uint_hex_string", "amount", "0x1", "message.amount", 1),
    ("expfail_bool_from_int_one", "flag", 1, "message.flag", True),
    ("expfail_bool_from_int_zero", "flag", 0, "message.flag", False),
    ("expfail_bool_from_text_false", "flag", "false", "message.flag", False),
    ("expfail_bool_from_text_true", "flag", "yes", "message.flag", True),
    ("expfail_address_without_prefix", "who", WHO[2:].lower(), "message.who", WHO),
    ("expfail_address_bad_checksum", "who", WHO[:-1] + "7", "message.who", None),
    ("expfail_address_raw_bytes", "who", bytes(20), "message.who", "0x" + "00" * 20),
    ("expfail_bytes32_of_31_bytes", "tag", b"\x01" * 31, "message.tag", b"\x01" * 31 + b"\x00"),
    ("expfail_bytes32_of_31_hex", "tag", "0x" + "01" * 31, "message.tag", b"\x01" * 31 + b"\x00"),
    ("expfail_bytes32_from_text", "tag", "hello", "message.tag", b"hello" + bytes(27)),
    ("expfail_bytes32_from_int", "tag", 5, "message.tag", b"\x05" + bytes(31)),
    ("expfail_bytes_from_text", "data", "hello", "message.data", b"hello"),
    ("expfail_bytes_from_int", "data", 5, "message.data", b"\x05"),
    ("expfail_bytes_none", "data", None, "message.data", None),
    ("expfail_string_from_int", "name", 5, "message.name", None),
    ("expfail_string_none", "name", None, "message.name", None),
    ("expfail_struct_none", "inner", None, "message.inner", None),
    ("expfail_fixed_array_wrong_length", "fixed", [1], "message.fixed", None),
    ("expfail_missing_string_key", "name", _MISSING, "message", None),
    ("expfail_missing_struct_key", "inner", _MISSING, "message", None),
]  # fmt: skip


@pytest.mark.parametrize(("field", "loose", "path", "canonical"), [c[1:] for c in COERCIONS], ids=[c[0] for c in COERCIONS])  # fmt: skip
def test_eth_account_coerces_and_we_refuse(
    field: str, loose: Any, path: str, canonical: Any
) -> None:
    message = {k: v for k, v in GOOD.items() if k != field}
    if loose is not _MISSING:
        message[field] = loose
    coerced = eth_digest(DOMAIN, SCHEMA, message)  # eth-account accepts it...
    if canonical is not None:  # ...as if a different value had been given
        assert coerced == typed_data_digest(DOMAIN, SCHEMA, {**GOOD, field: canonical})
    with pytest.raises(TypedDataError) as info:
        typed_data_digest(DOMAIN, SCHEMA, message)
    assert info.value.path == path, str(info.value)
    if loose is _MISSING:
        assert f"missing '{field}'" in info.value.problem


def test_eth_account_ignores_extra_keys_and_we_refuse() -> None:
    message = {**GOOD, "taker": WHO}
    assert eth_digest(DOMAIN, SCHEMA, message) == typed_data_digest(DOMAIN, SCHEMA, GOOD)
    with pytest.raises(TypedDataError, match=r"^message: struct keys: unexpected 'taker'$"):
        typed_data_digest(DOMAIN, SCHEMA, message)


@pytest.mark.parametrize(
    ("field", "loose"),
    [("amount", 1.0), ("amount", True), ("amount", -1), ("who", "0xABC")],
    ids=["float", "bool", "negative", "short-address"],
)
def test_refused_by_both(field: str, loose: Any) -> None:
    """eth-account 0.14 (through eth_abi) refuses these too; we refuse them with the field named."""
    message = {**GOOD, field: loose}
    with pytest.raises(Exception):  # noqa: B017, PT011 - eth_abi raises assorted types
        eth_digest(DOMAIN, SCHEMA, message)
    with pytest.raises(TypedDataError, match=f"^message.{field}: "):
        typed_data_digest(DOMAIN, SCHEMA, message)
