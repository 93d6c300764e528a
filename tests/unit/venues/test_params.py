"""signer/venues/_params.py: one test (or a few) per invariant of its docstring."""

from __future__ import annotations

import contextlib
import re
import unicodedata
from decimal import Decimal
from urllib.parse import quote, unquote_to_bytes

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy.intents import EndpointClass
from signer.domain import HttpRequest, Mode
from signer.errors import InvalidRequestError, ModeMismatchError
from signer.venues import _params as P
from signer.venues._params import Kind, Param, Schema, param

from .conftest import LIVE

# --- invariant 1: envelope -----------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
def test_methods_allowed(method: str) -> None:
    assert P.check_method(method) == method


@pytest.mark.parametrize("method", ["get", "Post", "PATCH", "HEAD", " GET", "GET ", ""])
def test_methods_refused(method: str) -> None:
    with pytest.raises(InvalidRequestError):
        P.check_method(method)


@pytest.mark.parametrize("path", ["/", "/api/v3/order", "/0/private/AddOrder", "/a%2Fb"])
def test_paths_allowed(path: str) -> None:
    assert P.check_path(path) == path


@pytest.mark.parametrize(
    "path",
    [
        "",
        "api/v3/order",
        "/api v3",
        "/api/v3/\u043erder",
        "/a?b=1",
        "/a#x",
        "/\x00",
        "/" + "a" * 2048,
    ],
)
def test_paths_refused(path: str) -> None:
    with pytest.raises(InvalidRequestError):
        P.check_path(path)


def test_match_template() -> None:
    assert P.match_template("/api/v3/order", "/api/v3/order")
    assert not P.match_template("/api/v3/Order", "/api/v3/order")
    assert not P.match_template("/api/v3/order/", "/api/v3/order")
    assert P.match_template("/orders/abc-1_2", "/orders/{id}")
    assert not P.match_template("/orders/a.b", "/orders/{id}")
    assert not P.match_template("/orders/", "/orders/{id}")
    assert not P.match_template("/orders/a/b", "/orders/{id}")
    assert not P.match_template("/orders/" + "a" * 129, "/orders/{id}")


def test_resolve_host() -> None:
    hosts: dict[Mode, str | None] = {Mode.LIVE: "live.example", Mode.SANDBOX: "test.example"}
    assert P.resolve_host("v", hosts, Mode.LIVE, "") == "live.example"
    assert P.resolve_host("v", hosts, Mode.SANDBOX, "test.example") == "test.example"
    with pytest.raises(ModeMismatchError):
        P.resolve_host("v", hosts, Mode.LIVE, "test.example")
    with pytest.raises(InvalidRequestError):
        P.resolve_host("v", hosts, Mode.LIVE, "evil.example")
    with pytest.raises(ModeMismatchError, match="no sandbox"):
        P.resolve_host("v", {Mode.LIVE: "x", Mode.SANDBOX: None}, Mode.SANDBOX, "")


def test_make_intent() -> None:
    intent = P.make_intent(LIVE, "v", HttpRequest("GET", "/x"), None, ["other"])
    assert intent.endpoint is None
    assert intent.endpoint_class is None
    assert intent.violations == ("other",)
    matched = P.make_intent(LIVE, "v", HttpRequest("GET", "/x"), ("GET /x", EndpointClass.READ), [])
    assert matched.violations == ()
    assert matched.mode == "live"


# --- invariant 2: form parsing ----------------------------------------------------------


def test_parse_form_basic() -> None:
    got = P.parse_form("a=1&b_c=x.y-z~&d=", where="request.query")
    assert got == (("a", "1"), ("b_c", "x.y-z~"), ("d", ""))
    assert P.parse_form("", where="request.query") == ()
    assert P.parse_form(b"k=%E2%82%AC", where="request.body") == (("k", "\u20ac"),)


def test_parse_form_brackets_raw_or_escaped() -> None:
    got = P.parse_form("close[price]=1&close%5Bprice2%5D=2", where="request.body")
    assert got == (("close[price]", "1"), ("close[price2]", "2"))


@pytest.mark.parametrize(
    "text",
    [
        "a=1+2",  # '+' is ambiguous (space or plus)
        "a=1;b=2",  # ';' is a separator for some servers
        "a=1&&b=2",
        "a=1&",
        "&a=1",
        "a",
        "=1",
        "a=b=c",
        "a=%G1",
        "a=%4",
        "a=%",
        "a=%FF",  # not UTF-8
        "a=%00",
        "a=%0A",
        "a=%E2%80%8B",  # zero-width space
        "a=%E2%80%AE",  # right-to-left override
        "a=%E2%80%A8",  # line separator
        "a=b c",
        "a=b#c",
        "%73ymbol=X",  # percent-encoded letters in a key
        "sym%20bol=X",
        "a-b=1",
        "a.b=1",
        "k" * 65 + "=1",
    ],
)
def test_parse_form_refuses(text: str) -> None:
    with pytest.raises(InvalidRequestError):
        P.parse_form(text, where="request.query")


def test_parse_form_refuses_non_ascii_bytes_and_limits() -> None:
    with pytest.raises(InvalidRequestError, match="ASCII"):
        P.parse_form("a=\u00e9".encode(), where="request.body")
    with pytest.raises(InvalidRequestError, match="longer"):
        P.parse_form("a=" + "1" * P.MAX_QUERY_CHARS, where="request.query")
    with pytest.raises(InvalidRequestError, match="more than"):
        P.parse_form("&".join(f"k{i}=1" for i in range(P.MAX_ITEMS + 1)), where="request.query")


# --- invariant 3: duplicates are violations ----------------------------------------------


def test_duplicate_violations() -> None:
    pairs = P.parse_form("a=1&b=2&a=3&a=4", where="request.query")
    found = P.duplicate_violations((k for k, _ in pairs), "request.query")
    assert found == ["parameter 'a' appears more than once in request.query"]
    assert P.duplicate_violations(["a", "b"], "x") == []


# --- invariant 4: JSON ---------------------------------------------------------------------


def test_parse_json_object() -> None:
    value, violations = P.parse_json_object(b'{"a":"1","b":[1,2],"c":{"d":true},"e":1.5}')
    assert violations == []
    assert value == {"a": "1", "b": [1, 2], "c": {"d": True}, "e": Decimal("1.5")}


def test_parse_json_duplicates_reported_at_any_depth() -> None:
    _, violations = P.parse_json_object(b'{"a":1,"a":2,"o":{"x":1,"x":2}}')
    assert len(violations) == 2
    assert all("more than once" in v for v in violations)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[1]",
        b'"x"',
        b'{"a":NaN}',
        b'{"a":Infinity}',
        b'{"a":-Infinity}',
        b'{"a":1',
        b"\xff{}",
        b'{"a":' + b"1" * 5000 + b"}",
        b"[" * 9 + b"]" * 9,
        b'{"a":' * 9 + b"1" + b"}" * 9,
        b'{"a":"' + b"x" * P.MAX_BODY_BYTES + b'"}',
    ],
)
def test_parse_json_refuses(body: bytes) -> None:
    with pytest.raises(InvalidRequestError):
        P.parse_json_object(body)


def test_parse_json_depth_ignores_brackets_in_strings() -> None:
    value, _ = P.parse_json_object(b'{"a":"[[[[[[[[[[[[{{{{{{{{\\"]]]"}')
    assert isinstance(value["a"], str)


# --- invariant 5: canonical re-encoding ------------------------------------------------------


def test_encode_value_safe_set() -> None:
    assert P.encode_value("AZaz09-._~") == "AZaz09-._~"
    assert P.encode_value("a b+c/d%e&f=g") == "a%20b%2Bc%2Fd%25e%26f%3Dg"
    assert P.encode_value("\uff11") == "%EF%BC%91"


def test_encode_form_and_canonical_json() -> None:
    assert P.encode_form([("close[price]", "+5%"), ("a", "1")]) == "close[price]=%2B5%25&a=1"
    assert P.canonical_json({"nonce": "1", "x": ["\u00e9", 1, True]}) == (
        '{"nonce":"1","x":["\\u00e9",1,true]}'
    )


_SAFE_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")),
    max_size=20,
)
_KEYS = st.from_regex(re.compile(r"[A-Za-z0-9_\[\]]{1,20}"), fullmatch=True)


@given(st.lists(st.tuples(_KEYS, _SAFE_TEXT), max_size=10))
def test_form_round_trip(pairs: list[tuple[str, str]]) -> None:
    text = P.encode_form(pairs)
    assert P.parse_form(text, where="request.query") == tuple(pairs)


# --- invariant 6: headers ----------------------------------------------------------------


def test_check_headers() -> None:
    check = P.check_headers(
        [("Content-Type", "application/json"), ("Accept", "*/*"), ("User-Agent", "ua/1")]
    )
    assert check.violations == ()
    assert check.content_type == "application/json"
    assert check.passthrough == (("Accept", "*/*"), ("User-Agent", "ua/1"))


@pytest.mark.parametrize(
    "headers",
    [
        [("Authorization", "Bearer x")],
        [("API-Key", "k")],
        [("api-sign", "s")],
        [("X-MBX-APIKEY", "k")],
        [("Cookie", "a=b")],
        [("Host", "evil")],
        [("Accept", "a"), ("accept", "b")],
        [("User-Agent", "a\r\nX-MBX-APIKEY: k")],
        [("Bad Name", "x")],
        [("Accept", "x" * 300)],
    ],
)
def test_check_headers_refuses(headers: list[tuple[str, str]]) -> None:
    assert P.check_headers(headers).violations


def test_content_type_violations() -> None:
    form = "application/x-www-form-urlencoded"
    assert P.content_type_violations(None, form) == []
    assert P.content_type_violations("Application/X-WWW-Form-Urlencoded", form) == []
    assert P.content_type_violations(form + "; charset=UTF-8", form) == []
    assert P.content_type_violations("application/json", form)
    assert P.content_type_violations(form + "; boundary=x", form)


# --- invariant 7: schemas -------------------------------------------------------------------

_SCHEMA = Schema(
    (
        param("symbol", re.compile(r"[A-Z]{1,10}"), required=True),
        param("side", frozenset({"BUY", "SELL"})),
        param("n", re.compile(r"[0-9]{1,3}"), kind=Kind.INT),
        param("flag", frozenset({"true", "false"}), kind=Kind.BOOL),
        param("a", re.compile("x")),
        param("b", re.compile("x")),
    ),
    one_of=(("a", "b"),),
    at_most_one=(("a", "b"),),
    stamped=frozenset({"timestamp"}),
    forbidden=frozenset({"address"}),
)


def test_schema_accepts() -> None:
    assert _SCHEMA.validate([("symbol", "BTC"), ("side", "BUY"), ("a", "x")]) == []
    assert _SCHEMA.validate([("symbol", "BTC"), ("n", 12), ("flag", True), ("b", "x")]) == []
    assert _SCHEMA.validate([("symbol", "BTC"), ("n", "12"), ("flag", "false"), ("b", "x")]) == []


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([("a", "x")], "parameter 'symbol' is required"),
        ([("symbol", "btc"), ("a", "x")], "parameter 'symbol' has an invalid value"),
        ([("symbol", "BTC"), ("side", "buy"), ("a", "x")], "must be one of: BUY, SELL"),
        ([("symbol", "BTC"), ("zzz", "1"), ("a", "x")], "'zzz' is not allowed"),
        ([("symbol", "BTC"), ("timestamp", "1"), ("a", "x")], "stamped by the daemon"),
        ([("symbol", "BTC"), ("address", "bc1q"), ("a", "x")], "never signable"),
        ([("symbol", "BTC")], "one of a, b is required"),
        ([("symbol", "BTC"), ("a", "x"), ("b", "x")], "at most one of a, b"),
        ([("symbol", "BTC"), ("n", True), ("a", "x")], "must be a integer"),
        ([("symbol", "BTC"), ("n", 1.5), ("a", "x")], "must be a integer"),
        ([("symbol", "BTC"), ("flag", 1), ("a", "x")], "must be a boolean"),
        ([("symbol", ["BTC"]), ("a", "x")], "must be a string"),
        ([("symbol", "B" * 2000), ("a", "x")], "too long"),
    ],
)
def test_schema_violations(items: list[tuple[str, object]], expected: str) -> None:
    found = _SCHEMA.validate(items)
    assert any(expected in v for v in found), found


def test_schema_never_echoes_long_values() -> None:
    secretish = "S3CR3T" * 50
    found = _SCHEMA.validate([("symbol", secretish), (secretish, "1")])
    assert found
    assert all(secretish not in v for v in found)
    assert all(len(v) < 200 for v in found)


def test_schema_refuses_reserved_names_at_construction() -> None:
    with pytest.raises(ValueError, match="reserved"):
        Schema((param("address", re.compile("x")),), forbidden=frozenset({"address"}))
    with pytest.raises(ValueError, match="reserved"):
        Schema((param("nonce", re.compile("x")),), stamped=frozenset({"nonce"}))
    with pytest.raises(ValueError, match="twice"):
        Schema((param("a", re.compile("x")), param("a", re.compile("y"))))
    with pytest.raises(ValueError, match="unknown"):
        Schema((param("a", re.compile("x")),), one_of=(("a", "b"),))


def test_param_needs_exactly_one_check() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Param("a")
    with pytest.raises(ValueError, match="exactly one"):
        Param("a", pattern=re.compile("x"), enum=frozenset({"x"}))
    with pytest.raises(ValueError, match="validator"):
        Param("a", pattern=re.compile("x"), kind=Kind.LIST)


def test_structured_params() -> None:
    schema = Schema((param("orders", lambda v: [] if v == [1] else ["bad"], kind=Kind.LIST),))
    assert schema.validate([("orders", [1])]) == []
    assert schema.validate([("orders", [2])]) == ["bad"]
    assert "JSON array" in schema.validate([("orders", "1")])[0]


def test_describe() -> None:
    assert P.describe("abc") == "'abc'"
    assert P.describe("\u202e") == "'\\u202e'"
    assert len(P.describe("x" * 100)) <= 42


# --- property tests: only typed errors, never a crash ------------------------------------------


@settings(max_examples=300)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_parse_form_only_typed_errors(data: str | bytes) -> None:
    try:
        pairs = P.parse_form(data, where="request.query")
    except InvalidRequestError:
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in pairs)
    P.duplicate_violations((k for k, _ in pairs), "request.query")


_FORMISH = st.text(alphabet="ab[]_=&%+;0123456789ABCDEFéz ", max_size=60)


@settings(max_examples=300)
@given(_FORMISH)
def test_parse_form_formish_only_typed_errors(data: str) -> None:
    with contextlib.suppress(InvalidRequestError):
        P.parse_form(data, where="request.body")


@settings(max_examples=300)
@given(st.one_of(st.binary(max_size=200), st.text(alphabet='{}[]":,0123456789aeNtrufl\\ ', max_size=80).map(str.encode)))  # fmt: skip
def test_parse_json_only_typed_errors(body: bytes) -> None:
    try:
        value, violations = P.parse_json_object(body)
    except InvalidRequestError:
        return
    assert isinstance(value, dict)
    assert all(isinstance(v, str) for v in violations)


@given(st.text(max_size=100))
def test_check_path_only_typed_errors(path: str) -> None:
    with contextlib.suppress(InvalidRequestError):
        P.check_path(path)


@given(st.lists(st.tuples(st.text(max_size=20), st.text(max_size=20)), max_size=5))
def test_check_headers_never_raises(headers: list[tuple[str, str]]) -> None:
    check = P.check_headers(headers)
    assert all(isinstance(v, str) for v in check.violations)


_JSONISH: st.SearchStrategy[object] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)  # fmt: skip


@given(st.lists(st.tuples(st.text(max_size=10), _JSONISH), max_size=6))
def test_schema_validate_only_returns_sentences(items: list[tuple[str, object]]) -> None:
    found = _SCHEMA.validate(items)
    assert all(isinstance(v, str) for v in found)


def _decode_reference(raw: str) -> str | None:
    """The value decoder before its fast paths (every value unquoted and scanned)."""
    if not P._VALUE_RE.fullmatch(raw):
        return None
    try:
        value = unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(unicodedata.category(ch)[0] == "C" or unicodedata.category(ch) in ("Zl", "Zp") for ch in value):  # fmt: skip
        return None
    return value


_RAW_PIECES = st.sampled_from(
    [*"AZaz09-._~!$'()*,/:@+; &=#%", "%41", "%2B", "%00", "%7F", "%C2%A0", "%E2%80%8B",
     "%E2%80%A8", "%C3%A9", "%FF", "%F0%9F%98%80", "%ED%A0%80", "%zz", "%4"]
)  # fmt: skip
_RAW_VALUES = st.lists(_RAW_PIECES, max_size=8).map("".join)


@given(_RAW_VALUES)
def test_value_fast_paths_decide_like_the_full_decoder(raw: str) -> None:
    expected = _decode_reference(raw)
    if expected is None:
        with pytest.raises(InvalidRequestError):
            P.parse_form(f"k={raw}", where="request.query")
    else:
        assert P.parse_form(f"k={raw}", where="request.query") == (("k", expected),)


@given(st.text(max_size=24))
def test_encode_value_fast_path_equals_quote(value: str) -> None:
    assert P.encode_value(value) == quote(value, safe="")
