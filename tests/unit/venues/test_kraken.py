"""signer/venues/kraken.py: one test (or a few) per invariant of its docstring."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy.intents import EndpointClass
from signer.domain import HttpRequest
from signer.errors import InvalidRequestError, ModeMismatchError, PolicyDeniedError
from signer.venues import kraken
from signer.venues.base import ParsedRequest
from signer.venues.kraken import VENUE

from .conftest import KRAKEN_SECRET, LIVE, SANDBOX, FixedClock, kraken_creds

# venue_endpoints.json ("kraken" allow list), copied so the test runs without shared/.
ALLOW = [
    "AddOrder", "AddOrderBatch", "AmendOrder", "EditOrder", "CancelOrder", "CancelOrderBatch",
    "CancelAll", "CancelAllOrdersAfter", "GetWebSocketsToken", "Balance", "BalanceEx",
    "TradeBalance", "CreditLines", "OpenOrders", "ClosedOrders", "QueryOrders", "OrderAmends",
    "TradesHistory", "QueryTrades", "OpenPositions", "Ledgers", "QueryLedgers", "TradeVolume",
    "GetApiKeyInfo",
]  # fmt: skip
TXID = "OQCLML-BW3P3-BUCMWZ"
ORDER = {"ordertype": "limit", "type": "buy", "volume": "1.25", "price": "37500"}

# A minimal valid request body for every allowed endpoint.
VALID: dict[str, bytes] = {
    "AddOrder": b"ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25",
    "AddOrderBatch": json.dumps({"pair": "XBTUSD", "orders": [ORDER, ORDER]}).encode(),
    "AmendOrder": f"txid={TXID}&order_qty=1.5".encode(),
    "EditOrder": f"txid={TXID}&pair=XBTUSD&volume=2".encode(),
    "CancelOrder": f"txid={TXID}".encode(),
    "CancelOrderBatch": json.dumps({"orders": [TXID, "12345"]}).encode(),
    "CancelAll": b"",
    "CancelAllOrdersAfter": b"timeout=60",
    "GetWebSocketsToken": b"",
    "Balance": b"",
    "BalanceEx": b"rebase_multiplier=base",
    "TradeBalance": b"asset=ZUSD",
    "CreditLines": b"",
    "OpenOrders": b"trades=true",
    "ClosedOrders": b"start=1688000000&closetime=both",
    "QueryOrders": f"txid={TXID},{TXID}".encode(),
    "OrderAmends": f"order_id={TXID}".encode(),
    "TradesHistory": b"type=no%20position&ofs=50",
    "QueryTrades": f"txid={TXID}".encode(),
    "OpenPositions": b"docalcs=true",
    "Ledgers": b"asset=XXBT,ZUSD&type=trade",
    "QueryLedgers": f"id={TXID}".encode(),
    "TradeVolume": b"pair=XBTUSD,ETHUSD",
    "GetApiKeyInfo": b"",
}


def post(name: str, body: bytes = b"", **kwargs: object) -> HttpRequest:
    return HttpRequest("POST", "/0/private/" + name, body=body, **kwargs)  # type: ignore[arg-type]


def _must_not_rebuild() -> object:
    raise AssertionError("the signer was rebuilt instead of taken from the handle's cache")


def parse(request: HttpRequest) -> ParsedRequest:
    return VENUE.parse(LIVE, request)


# --- invariant 1: the endpoint table --------------------------------------------------------


def test_endpoint_table_is_exactly_the_allow_list() -> None:
    assert sorted(e.path for e in kraken.ENDPOINTS) == sorted("/0/private/" + n for n in ALLOW)
    assert {e.method for e in kraken.ENDPOINTS} == {"POST"}
    assert set(kraken.SCHEMAS) == set(ALLOW)


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("AddOrder", EndpointClass.TRADE),
        ("AddOrderBatch", EndpointClass.TRADE),
        ("AmendOrder", EndpointClass.TRADE),
        ("EditOrder", EndpointClass.TRADE),
        ("CancelOrder", EndpointClass.CANCEL),
        ("CancelOrderBatch", EndpointClass.CANCEL),
        ("CancelAll", EndpointClass.CANCEL),
        ("CancelAllOrdersAfter", EndpointClass.CANCEL),
        ("GetWebSocketsToken", EndpointClass.READ),
        ("Ledgers", EndpointClass.READ),
    ],
)
def test_endpoint_classes(name: str, cls: EndpointClass) -> None:
    intent = parse(post(name, VALID[name])).intent
    assert intent.endpoint == f"POST /0/private/{name}"
    assert intent.endpoint_class is cls


@pytest.mark.parametrize("name", ALLOW)
def test_every_allowed_endpoint_parses_and_signs(name: str) -> None:
    parsed = parse(post(name, VALID[name]))
    assert parsed.intent.violations == ()
    assert parsed.host == "api.kraken.com"
    signed = VENUE.sign(parsed, kraken_creds(), FixedClock(nonce=42))
    content_type = dict(signed.request.headers)["Content-Type"]
    if name in kraken.JSON_METHODS:
        assert content_type == "application/json"
        assert signed.request.body.startswith(b'{"nonce":"42"')
    else:
        assert content_type == "application/x-www-form-urlencoded"
        assert signed.request.body.split(b"&")[0] == b"nonce=42"


def test_unknown_path_has_no_endpoint() -> None:
    intent = parse(post("Withdraw", b"asset=XBT&key=k&amount=1")).intent
    assert intent.endpoint is None
    assert intent.endpoint_class is None


# --- invariant 2: schemas -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "body", "needle"),
    [
        ("AddOrder", VALID["AddOrder"] + b"&nonce=1", "stamped by the daemon"),
        ("AddOrder", VALID["AddOrder"] + b"&foo=1", "'foo' is not allowed"),
        ("AddOrder", VALID["AddOrder"] + b"&address=x", "never signable"),
        ("AddOrder", VALID["AddOrder"] + b"&price=1", "more than once"),
        ("AddOrder", b"ordertype=limit&pair=XBTUSD&type=buy", "'volume' is required"),
        ("AddOrder", VALID["AddOrder"] + b"&oflags=post,evil", "oflags"),
        ("AddOrder", VALID["AddOrder"] + b"&userref=1&cl_ord_id=abc", "at most one"),
        ("AddOrder", VALID["AddOrder"] + b"&leverage=2%3A2", "'leverage'"),
        ("AmendOrder", b"order_qty=1", "one of txid, cl_ord_id"),
        ("CancelOrder", b"", "one of txid, cl_ord_id"),
        ("CancelAllOrdersAfter", b"timeout=86401", "0-86400"),
        ("CancelAll", b"x=1", "not allowed"),
        ("Balance", b"asset=XBT", "not allowed"),
        ("QueryOrders", b"txid=" + b",".join([TXID.encode()] * 51), "'txid'"),
        ("TradesHistory", b"type=everything", "'type'"),
    ],
)
def test_form_schema_violations(name: str, body: bytes, needle: str) -> None:
    violations = parse(post(name, body)).intent.violations
    assert any(needle in v for v in violations), violations


def _batch(**fields: object) -> bytes:
    return json.dumps({"pair": "XBTUSD", "orders": [ORDER, ORDER], **fields}).encode()


@pytest.mark.parametrize(
    ("name", "body", "needle"),
    [
        ("AddOrderBatch", _batch(orders=[ORDER]), "2 to 15"),
        ("AddOrderBatch", _batch(orders=[ORDER] * 16), "2 to 15"),
        ("AddOrderBatch", _batch(orders=[ORDER, {**ORDER, "x": 1}]), "orders[1]: parameter 'x'"),
        ("AddOrderBatch", _batch(orders=[ORDER, {**ORDER, "nonce": "1"}]), "stamped"),
        ("AddOrderBatch", _batch(nonce=1), "stamped by the daemon"),
        ("AddOrderBatch", _batch(validate="yes"), "'validate'"),
        ("AddOrderBatch", _batch(orders=[ORDER, {**ORDER, "userref": 1.5}]), "integer"),
        ("AddOrderBatch", _batch(orders=[ORDER, {**ORDER, "close": "x"}]), "must be a JSON object"),
        (
            "AddOrderBatch",
            _batch(orders=[ORDER, {**ORDER, "close": {"ordertype": "market"}}]),
            "close: parameter 'ordertype'",
        ),
        ("AddOrderBatch", b'{"pair":"XBTUSD","pair":"X","orders":[]}', "more than once"),
        ("CancelOrderBatch", json.dumps({"orders": []}).encode(), "1 to 50"),
        (
            "CancelOrderBatch",
            json.dumps({"orders": [TXID] * 30, "cl_ord_ids": ["a"] * 30}).encode(),
            "at most 50",
        ),
        ("CancelOrderBatch", json.dumps({"orders": [{"txid": TXID}]}).encode(), "order ids"),
        ("CancelOrderBatch", b"{}", "one of orders, cl_ord_ids"),
    ],
)
def test_json_schema_violations(name: str, body: bytes, needle: str) -> None:
    violations = parse(post(name, body)).intent.violations
    assert any(needle in v for v in violations), violations


def test_json_endpoint_refuses_form_body_and_form_endpoint_refuses_json() -> None:
    with pytest.raises(InvalidRequestError):
        parse(post("AddOrderBatch", b"pair=XBTUSD"))
    with pytest.raises(InvalidRequestError):
        parse(post("AddOrder", b'{"pair":"XBTUSD"}'))


def test_query_string_is_a_violation() -> None:
    request = HttpRequest("POST", "/0/private/Balance", query="asset=XBT")
    assert any("body only" in v for v in parse(request).intent.violations)


def test_content_type_must_match_the_body_kind() -> None:
    request = post("AddOrder", VALID["AddOrder"], headers=(("Content-Type", "application/json"),))
    assert any("Content-Type" in v for v in parse(request).intent.violations)
    ok = post("AddOrder", VALID["AddOrder"], headers=(("content-type", kraken.FORM),))
    assert parse(ok).intent.violations == ()


def test_caller_auth_headers_are_violations() -> None:
    request = post("Balance", headers=(("API-Sign", "x"),))
    assert any("API-Sign" in v for v in parse(request).intent.violations)


# --- invariant 3: no sandbox, host checks -------------------------------------------------------


def test_sandbox_principal_is_a_mode_mismatch() -> None:
    with pytest.raises(ModeMismatchError, match="no sandbox"):
        VENUE.parse(SANDBOX, post("Balance"))


def test_host_must_be_the_kraken_host() -> None:
    assert parse(post("Balance", host="api.kraken.com")).host == "api.kraken.com"
    with pytest.raises(InvalidRequestError):
        parse(post("Balance", host="futures.kraken.com"))


# --- invariant 4: signing -------------------------------------------------------------------------


def _reference_sign(path: str, nonce: str, body: bytes) -> str:
    inner = hashlib.sha256(nonce.encode() + body).digest()
    mac = hmac.new(base64.b64decode(KRAKEN_SECRET), path.encode() + inner, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


def test_sign_addorder_full_request(clock: FixedClock) -> None:
    request = post("AddOrder", VALID["AddOrder"], headers=(("User-Agent", "fe/1"),))
    signed = VENUE.sign(parse(request), kraken_creds("my-key"), clock)
    body = b"nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
    sign = (
        "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="
    )
    assert signed.request == HttpRequest(
        "POST",
        "/0/private/AddOrder",
        "",
        body,
        (
            ("API-Key", "my-key"),
            ("API-Sign", sign),
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("User-Agent", "fe/1"),
        ),
        "api.kraken.com",
    )
    assert signed.auth_headers == (("API-Key", "my-key"), ("API-Sign", sign))
    assert clock.scopes == ["kraken:my-key"]


def test_sign_re_encodes_canonically(clock: FixedClock) -> None:
    body = (
        b"ordertype=limit&pair=XBT/USD&price=%2B5%25&type=sell&volume=1&close%5Bordertype%5D=limit"
    )
    signed = VENUE.sign(parse(post("AddOrder", body)), kraken_creds(), clock)
    expected = (
        b"nonce=1616492376594&ordertype=limit&pair=XBT%2FUSD&price=%2B5%25&type=sell&volume=1"
        b"&close[ordertype]=limit"
    )
    assert signed.request.body == expected
    assert dict(signed.auth_headers)["API-Sign"] == _reference_sign(
        "/0/private/AddOrder", "1616492376594", expected
    )


def test_sign_json_puts_nonce_first_and_keeps_order(clock: FixedClock) -> None:
    body = b'{"orders": ["' + TXID.encode() + b'", 12], "cl_ord_ids": ["a-1"]}'
    signed = VENUE.sign(parse(post("CancelOrderBatch", body)), kraken_creds(), clock)
    expected = (
        b'{"nonce":"1616492376594","orders":["' + TXID.encode() + b'",12],"cl_ord_ids":["a-1"]}'
    )
    assert signed.request.body == expected
    assert dict(signed.auth_headers)["API-Sign"] == _reference_sign(
        "/0/private/CancelOrderBatch", "1616492376594", expected
    )


def test_nonces_increase_per_signature(clock: FixedClock) -> None:
    parsed = parse(post("Balance"))
    first = VENUE.sign(parsed, kraken_creds(), clock).request.body
    second = VENUE.sign(parsed, kraken_creds(), clock).request.body
    assert first == b"nonce=1616492376594"
    assert second == b"nonce=1616492376595"


def test_signer_is_cached_on_the_handle(clock: FixedClock) -> None:
    creds = kraken_creds()
    VENUE.sign(parse(post("Balance")), creds, clock)
    cached: object = creds.derived("kraken:hmac-sha512", _must_not_rebuild)
    assert "redacted" in repr(cached)


def test_sign_refuses_what_the_parser_refused(clock: FixedClock) -> None:
    parsed = parse(post("AddOrder", VALID["AddOrder"] + b"&nonce=1"))
    with pytest.raises(PolicyDeniedError):
        VENUE.sign(parsed, kraken_creds(), clock)
    unmatched = parse(post("Withdraw"))
    with pytest.raises(PolicyDeniedError):
        VENUE.sign(unmatched, kraken_creds(), clock)
    assert clock.scopes == []


# --- property: random requests only ever produce typed errors or intents ------------------


@settings(max_examples=300)
@given(
    st.sampled_from(["POST", "GET", "post", "PUT"]),
    st.one_of(st.sampled_from(["/0/private/" + n for n in ALLOW]), st.text(max_size=40)),
    st.text(max_size=60),
    st.one_of(st.binary(max_size=120), st.sampled_from(list(VALID.values()))),
    st.lists(st.tuples(st.text(max_size=12), st.text(max_size=12)), max_size=3),
)
def test_parse_random_requests_only_typed_errors(
    method: str, path: str, query: str, body: bytes, headers: list[tuple[str, str]]
) -> None:
    request = HttpRequest(method, path, query, body, tuple(headers))
    try:
        intent = parse(request).intent
    except (InvalidRequestError, ModeMismatchError):
        return
    assert intent.endpoint is None or intent.endpoint == f"POST {path}"
    assert all(isinstance(v, str) for v in intent.violations)
