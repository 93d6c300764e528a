"""The parsers below the venues, fed adversarial values (in process).

1. EIP-712: every schema the daemon signs with (Polymarket orders and auth,
   Hyperliquid agent and user-signed actions) hashes a JSON-like value or
   raises ``TypedDataError`` (a SignerError with INVALID_REQUEST); a compiled
   graph of random types is a schema or a ``TypedDataError``.
2. Hyperliquid msgpack: ``pack_action`` returns bytes or raises ValueError
   (its contract), whatever the action (deep, huge ints, floats, bytes keys).
3. EIP-191 recovery: ``siwe.signer_of`` returns an address or None for any
   message and signature bytes.
4. JSON bodies: ``parse_json_object`` and the array-capable body parsers of OKX
   and Polymarket raise only ``InvalidRequestError`` (deep nesting, lone
   surrogates, huge numbers, NaN, BOM, non-UTF-8).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signer.errors import InvalidRequestError, Reason
from signer.schemes import hyperliquid as hl
from signer.schemes import polymarket as pm
from signer.schemes import siwe
from signer.schemes.eip712 import TypedDataError, TypedDataSchema
from signer.venues import _params as P

SCHEMAS = {
    "pm.order": pm.ORDER_V2, "pm.deposit": pm.DEPOSIT_WALLET_SIGN, "pm.auth": pm.CLOB_AUTH,
    "hl.agent": hl.AGENT, **{f"hl.{k}": v for k, v in hl.USER_SIGNED.items()},
}  # fmt: skip
EDGES: list[object] = [
    None, True, 0, -1, 2**255, 2**256, -(2**255) - 1, 1.5, float("nan"), "", "\ud800",
    "0x" + "f" * 64, "0x" + "F" * 40, "0x" + "g" * 40, b"\x00" * 32, b"", "x" * 5000,
]  # fmt: skip
scalars = st.one_of(st.sampled_from(EDGES), st.integers(), st.text(max_size=20), st.binary(max_size=40))  # fmt: skip
json_like = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=10,
)


def _deep(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


@st.composite
def struct_values(draw: st.DrawFn, schema: TypedDataSchema) -> dict[str, Any]:
    """Mostly the declared keys (so the field encoders run), with adversarial values."""
    fields = schema.types[schema.primary_type]
    value = {name: draw(json_like) for name, _ in fields}
    if draw(st.integers(0, 4)) == 0:
        value[draw(st.text(max_size=8))] = draw(json_like)
    return value


@pytest.mark.parametrize("name", sorted(SCHEMAS))
@settings(max_examples=25)
@given(data=st.data())
def test_signing_schemas_hash_or_refuse_typed(name: str, data: st.DataObject) -> None:
    schema = SCHEMAS[name]
    message = data.draw(st.one_of(struct_values(schema), json_like))
    try:
        digest = schema.hash_struct(message)
    except TypedDataError as exc:
        refused: TypedDataError | None = exc
    else:
        refused = None
        assert len(digest) == 32
    assert refused is None or refused.reason is Reason.INVALID_REQUEST


def test_a_deep_value_is_refused_not_a_recursion_error() -> None:
    schema = TypedDataSchema.compile({"T": [("kids", "T[]"), ("v", "uint8")]}, "T")
    node: Any = {"kids": [], "v": 1}
    for _ in range(5000):
        node = {"kids": [node], "v": 1}
    with pytest.raises(TypedDataError, match="nested too deeply"):
        schema.hash_struct(node)


TYPES = ["uint256", "int8", "bool", "string", "bytes", "bytes32", "bytes0", "address", "uint",
         "uint7", "A", "B", "A[]", "B[2]", "uint8[1024][1024]", "string[][][][][][][][][]", ""]  # fmt: skip
graphs = st.dictionaries(
    st.sampled_from(["A", "B", "EIP712Domain", "1x", "A:b", ""]),
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "a", "", "1"]), st.sampled_from(TYPES)), max_size=3
    ),
    max_size=3,
)


@settings(max_examples=100)
@given(types=graphs, primary=st.sampled_from(["A", "B", "C"]), message=json_like)
def test_random_type_graphs_compile_or_refuse_typed(
    types: dict[str, list[tuple[str, str]]], primary: str, message: Any
) -> None:
    try:
        schema = TypedDataSchema.compile(types, primary)
        schema.hash_struct(message)
    except TypedDataError:
        pass


packable = st.recursive(
    st.one_of(scalars, st.just(2**64), st.just(-(2**63) - 1), st.just(_deep(40))),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.one_of(st.text(max_size=6), st.integers(), st.binary(max_size=3)), inner, max_size=3
        ),
    ),
    max_leaves=12,
)


@settings(max_examples=80)
@given(action=st.one_of(packable, st.dictionaries(st.text(max_size=6), packable, max_size=4)))
def test_pack_action_returns_bytes_or_raises_value_error(action: Any) -> None:
    try:
        packed = hl.pack_action(action)
    except ValueError:
        return
    assert isinstance(packed, bytes)


@settings(max_examples=100)
@given(message=st.text(max_size=200), signature=st.binary(max_size=70))
def test_signer_of_is_an_address_or_none(message: str, signature: bytes) -> None:
    found = siwe.signer_of(message, signature)
    assert found is None or (found.startswith("0x") and len(found) == 42)


BODIES = [
    b"[" * 10_000 + b"]" * 10_000, b'{"a":' * 10_000 + b"1" + b"}" * 10_000, b'{"a":"\\ud800"}',
    b'{"a":' + b"9" * 5000 + b"}", b'{"a":1e400}', b'{"a":NaN}', b'[-Infinity]', b"\xef\xbb\xbf{}",
    b'{"a":"\xff"}', b'{"a":1,"a":2}', b"[" + b"1," * 30_000 + b"1]", b'[{"a":1}]{"b":2}',
    b'["x"],"_":1', b"", b"null", b"  [ ]  ",
]  # fmt: skip
json_bodies = st.one_of(
    st.sampled_from(BODIES),
    json_like.map(
        lambda v: json.dumps(v, allow_nan=True, default=bytes.hex).encode("utf-8", "surrogatepass")
    ),
    st.binary(max_size=60),
)


@pytest.mark.parametrize("parse", [P.parse_json_object, P.parse_json_body])
@settings(max_examples=80)
@given(body=json_bodies)
def test_json_body_parsers_raise_only_invalid_request(parse: Any, body: bytes) -> None:
    try:
        value, violations = parse(body)
    except InvalidRequestError as exc:
        refused: InvalidRequestError | None = exc
    else:
        refused = None
        assert isinstance(value, dict | list) and isinstance(violations, list)
        json.dumps(value, default=str)  # a plain tree: no NaN/Infinity floats, no cycles
    assert refused is None or refused.reason is Reason.INVALID_REQUEST
