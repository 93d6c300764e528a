"""signer/venues/binance.py: one test (or a few) per invariant of its docstring."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import unquote

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.hashes import SHA256
from hypothesis import given, settings
from hypothesis import strategies as st

from policy.intents import EndpointClass
from signer.domain import HttpRequest
from signer.errors import InvalidRequestError, ModeMismatchError, PolicyDeniedError
from signer.venues import binance
from signer.venues._params import match_template
from signer.venues.base import ParsedRequest
from signer.venues.binance import VENUE, BinanceVenue

from .conftest import BINANCE_API_KEY, BINANCE_SECRET, LIVE, SANDBOX, FixedClock, binance_creds

# venue_endpoints.json ("binance" allow list), copied so the test runs without shared/.
ALLOW = [
    "POST /api/v3/order", "POST /api/v3/order/test", "POST /api/v3/order/cancelReplace",
    "POST /api/v3/orderList/oco", "POST /api/v3/orderList/oto", "POST /api/v3/orderList/otoco",
    "POST /api/v3/orderList/opo", "POST /api/v3/orderList/opoco", "POST /api/v3/order/oco",
    "POST /api/v3/sor/order", "POST /api/v3/sor/order/test", "DELETE /api/v3/order",
    "DELETE /api/v3/openOrders", "DELETE /api/v3/orderList",
    "PUT /api/v3/order/amend/keepPriority", "GET /api/v3/order", "GET /api/v3/openOrders",
    "GET /api/v3/allOrders", "GET /api/v3/orderList", "GET /api/v3/allOrderList",
    "GET /api/v3/openOrderList", "GET /api/v3/account", "GET /api/v3/myTrades",
    "GET /api/v3/rateLimit/order", "GET /api/v3/myPreventedMatches", "GET /api/v3/myAllocations",
    "GET /api/v3/account/commission", "GET /api/v3/order/amendments", "GET /api/v3/myFilters",
]  # fmt: skip
# DESIGN.md invariant 3 and the brief: no schema may admit any of these.
WITHDRAW_NAMES = {
    "address", "coin", "amount", "network", "toAccountType", "fromAccountType", "destination",
    "chain", "withdrawOrderId", "asset",
}  # fmt: skip

_LIMIT = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=30000"
_WORKING = "workingType=LIMIT&workingSide=BUY&workingPrice=1&workingQuantity=1&workingTimeInForce=GTC"  # fmt: skip
_OCO_BELOW = "pendingBelowType=STOP_LOSS&pendingBelowStopPrice=0.5"
# A minimal valid parameter string for every allowed endpoint.
VALID: dict[str, str] = {
    "POST /api/v3/order": _LIMIT + "&newClientOrderId=my-order_1",
    "POST /api/v3/order/test": _LIMIT + "&computeCommissionRates=true",
    "POST /api/v3/order/cancelReplace": _LIMIT
    + "&cancelReplaceMode=STOP_ON_FAILURE&cancelOrderId=12",
    "POST /api/v3/orderList/oco": "symbol=BTCUSDT&side=SELL&quantity=1&aboveType=LIMIT_MAKER&abovePrice=2&belowType=STOP_LOSS&belowStopPrice=0.5",
    "POST /api/v3/orderList/oto": f"symbol=BTCUSDT&{_WORKING}&pendingType=MARKET&pendingSide=SELL&pendingQuantity=1",
    "POST /api/v3/orderList/otoco": f"symbol=BTCUSDT&{_WORKING}&pendingSide=SELL&pendingQuantity=1&pendingAboveType=LIMIT_MAKER&pendingAbovePrice=2&{_OCO_BELOW}",
    "POST /api/v3/orderList/opo": f"symbol=BTCUSDT&{_WORKING}&pendingType=MARKET&pendingSide=SELL",
    "POST /api/v3/orderList/opoco": f"symbol=BTCUSDT&{_WORKING}&pendingSide=SELL&pendingAboveType=LIMIT_MAKER&pendingAbovePrice=2&{_OCO_BELOW}",
    "POST /api/v3/order/oco": "symbol=BTCUSDT&side=SELL&quantity=1&price=2&stopPrice=0.5&stopLimitPrice=0.4&stopLimitTimeInForce=GTC",
    "POST /api/v3/sor/order": "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1",
    "POST /api/v3/sor/order/test": "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1&computeCommissionRates=false",
    "DELETE /api/v3/order": "symbol=BTCUSDT&orderId=12345",
    "DELETE /api/v3/openOrders": "symbol=BTCUSDT",
    "DELETE /api/v3/orderList": "symbol=BTCUSDT&listClientOrderId=abc",
    "PUT /api/v3/order/amend/keepPriority": "symbol=BTCUSDT&orderId=1&newQty=0.5",
    "GET /api/v3/order": "symbol=BTCUSDT&origClientOrderId=my-order_1",
    "GET /api/v3/openOrders": "",
    "GET /api/v3/allOrders": "symbol=BTCUSDT&startTime=1700000000000&limit=1000",
    "GET /api/v3/orderList": "orderListId=27",
    "GET /api/v3/allOrderList": "fromId=1&limit=10",
    "GET /api/v3/openOrderList": "",
    "GET /api/v3/account": "omitZeroBalances=true",
    "GET /api/v3/myTrades": "symbol=BTCUSDT&fromId=5",
    "GET /api/v3/rateLimit/order": "",
    "GET /api/v3/myPreventedMatches": "symbol=BTCUSDT&preventedMatchId=1",
    "GET /api/v3/myAllocations": "symbol=BTCUSDT&fromAllocationId=1",
    "GET /api/v3/account/commission": "symbol=BTCUSDT",
    "GET /api/v3/order/amendments": "symbol=BTCUSDT&orderId=9",
    "GET /api/v3/myFilters": "symbol=BTCUSDT",
}


def req(key: str, params: str = "", *, in_body: bool | None = None, **kw: object) -> HttpRequest:
    """``params`` go in the body for POST/PUT and in the query otherwise (unless told)."""
    method, path = key.split(" ", 1)
    body = method in ("POST", "PUT") if in_body is None else in_body
    if body:
        return HttpRequest(method, path, body=params.encode(), **kw)  # type: ignore[arg-type]
    return HttpRequest(method, path, query=params, **kw)  # type: ignore[arg-type]


def _must_not_rebuild() -> object:
    raise AssertionError("the signer was rebuilt instead of taken from the handle's cache")


def parse(request: HttpRequest) -> ParsedRequest:
    return VENUE.parse(LIVE, request)


# --- invariant 1: the endpoint table --------------------------------------------------------


def test_endpoint_table_is_exactly_the_allow_list() -> None:
    assert sorted(e.key for e in binance.ENDPOINTS) == sorted(ALLOW)
    assert set(binance.SCHEMAS) == set(ALLOW)
    assert len(ALLOW) == 29


@pytest.mark.parametrize(
    ("method", "path"),
    [
        *(tuple(key.split(" ", 1)) for key in ALLOW),
        ("GET", "/api/v3/order/"), ("get", "/api/v3/order"), ("POST", "/api/v3/Order"),
        ("GET", "/sapi/v1/capital/withdraw/apply"), ("DELETE", "/api/v3/account"),
    ],
)  # fmt: skip
def test_exact_route_lookup_matches_the_template_match(method: str, path: str) -> None:
    by_template = next(
        (e for e in binance.ENDPOINTS if e.method == method and match_template(path, e.path)), None
    )
    assert binance.ROUTES.get((method, path)) is by_template


@pytest.mark.parametrize("key", ALLOW)
def test_endpoint_classes(key: str) -> None:
    method = key.split(" ")[0]
    expected = {
        "GET": EndpointClass.READ,
        "DELETE": EndpointClass.CANCEL,
        "POST": EndpointClass.TRADE,
        "PUT": EndpointClass.TRADE,
    }[method]
    assert parse(req(key, VALID[key])).intent.endpoint_class is expected


@pytest.mark.parametrize("key", ALLOW)
def test_every_allowed_endpoint_parses_and_signs(key: str, clock: FixedClock) -> None:
    parsed = parse(req(key, VALID[key]))
    assert parsed.intent.violations == ()
    assert parsed.intent.endpoint == key
    signed = VENUE.sign(parsed, binance_creds(), clock)
    sent = signed.request
    payload = sent.query if sent.method in ("GET", "DELETE") else sent.body.decode()
    unsigned, _, signature = payload.rpartition("&signature=")
    expected = hmac.new(BINANCE_SECRET.encode(), unsigned.encode(), hashlib.sha256).hexdigest()
    assert signature == expected
    assert unsigned.endswith("recvWindow=5000&timestamp=1499827319559")
    if sent.method in ("GET", "DELETE"):
        assert sent.body == b""
        assert sent.headers == (("X-MBX-APIKEY", BINANCE_API_KEY),)
    else:
        assert sent.query == ""
        assert ("Content-Type", binance.FORM) in sent.headers
    assert signed.auth_headers == (("X-MBX-APIKEY", BINANCE_API_KEY),)


# --- invariant 2: schemas ---------------------------------------------------------------------


def test_no_schema_admits_a_withdrawal_or_transfer_parameter() -> None:
    for key, schema in binance.SCHEMAS.items():
        assert not schema.names & WITHDRAW_NAMES, key
        assert schema.forbidden >= WITHDRAW_NAMES, key
        assert {"timestamp", "recvWindow", "signature"} <= schema.stamped, key


@pytest.mark.parametrize("name", sorted(WITHDRAW_NAMES))
def test_withdraw_names_are_violations_on_the_order_path(name: str) -> None:
    violations = parse(req("POST /api/v3/order", VALID["POST /api/v3/order"] + f"&{name}=x")).intent.violations  # fmt: skip
    assert any("never signable" in v for v in violations)


@pytest.mark.parametrize(
    ("key", "params", "needle"),
    [
        ("POST /api/v3/order", _LIMIT + "&timestamp=1", "stamped by the daemon"),
        ("POST /api/v3/order", _LIMIT + "&recvWindow=60000", "stamped by the daemon"),
        ("POST /api/v3/order", _LIMIT + "&signature=00", "stamped by the daemon"),
        ("POST /api/v3/order", _LIMIT + "&extra=1", "'extra' is not allowed"),
        ("POST /api/v3/order", _LIMIT + "&side=SELL", "more than once"),
        ("POST /api/v3/order", _LIMIT.replace("BUY", "buy"), "'side' must be one of"),
        ("POST /api/v3/order", _LIMIT + "&selfTradePreventionMode=TRANSFER", "selfTradePrev"),
        ("POST /api/v3/order", _LIMIT.replace("0.01", "1e-2"), "'quantity'"),
        ("POST /api/v3/order", _LIMIT.replace("BTCUSDT", "btcusdt"), "'symbol'"),
        ("POST /api/v3/order", _LIMIT.replace("BTCUSDT", "BTC%2FUSDT"), "'symbol'"),
        ("POST /api/v3/order", _LIMIT + "&strategyType=999999", "'strategyType'"),
        ("POST /api/v3/order", _LIMIT + "&newClientOrderId=" + "a" * 37, "'newClientOrderId'"),
        ("POST /api/v3/sor/order", "symbol=BTCUSDT&side=BUY&type=STOP_LOSS&quantity=1", "'type'"),
        ("DELETE /api/v3/order", "symbol=BTCUSDT", "one of orderId, origClientOrderId"),
        ("GET /api/v3/order/amendments", "symbol=BTCUSDT", "'orderId' is required"),
        ("GET /api/v3/allOrders", "symbol=BTCUSDT&limit=0", "'limit'"),
        ("GET /api/v3/openOrderList", "symbol=BTCUSDT", "not allowed"),
        (
            "POST /api/v3/orderList/opo",
            VALID["POST /api/v3/orderList/opo"] + "&pendingQuantity=1",
            "not allowed",
        ),
    ],
)
def test_schema_violations(key: str, params: str, needle: str) -> None:
    violations = parse(req(key, params)).intent.violations
    assert any(needle in v for v in violations), violations


def test_unicode_symbols() -> None:
    # Fullwidth digits: the published non-ASCII example; NFC letters/digits are admitted.
    ok = "%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96"
    assert parse(req("GET /api/v3/myFilters", f"symbol={ok}")).intent.violations == ()
    cjk = "%E5%B8%81%E5%AE%89USDT"
    assert parse(req("GET /api/v3/myFilters", f"symbol={cjk}")).intent.violations == ()
    # Decomposed (not NFC) e + combining acute; a symbol character; too long.
    for bad in ("E%CC%81USDT", "BTC%E2%82%ACUSDT", "A" * 21):
        assert parse(req("GET /api/v3/myFilters", f"symbol={bad}")).intent.violations, bad
    with pytest.raises(InvalidRequestError):  # zero-width space: refused by the parser
        parse(req("GET /api/v3/myFilters", "symbol=BTC%E2%80%8BUSDT"))


# --- invariant 3: where parameters may be --------------------------------------------------------


def test_parameters_may_be_split_between_query_and_body(clock: FixedClock) -> None:
    request = HttpRequest(
        "POST", "/api/v3/order", query="symbol=BTCUSDT&side=BUY", body=b"type=MARKET&quantity=1"
    )
    parsed = parse(request)
    assert parsed.intent.violations == ()
    signed = VENUE.sign(parsed, binance_creds(), clock)
    assert signed.request.query == ""
    assert signed.request.body.startswith(b"symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1&")


def test_a_key_in_query_and_body_is_a_violation() -> None:
    request = HttpRequest("POST", "/api/v3/order", query=_LIMIT, body=b"quantity=5")
    assert any("both the query and the body" in v for v in parse(request).intent.violations)


def test_get_with_body_is_a_violation() -> None:
    request = HttpRequest("GET", "/api/v3/account", body=b"omitZeroBalances=true")
    assert any("query only" in v for v in parse(request).intent.violations)


def test_body_content_type_must_be_form() -> None:
    request = req("POST /api/v3/order", _LIMIT, headers=(("Content-Type", "application/json"),))
    assert any("Content-Type" in v for v in parse(request).intent.violations)


def test_caller_api_key_header_is_a_violation() -> None:
    request = req("GET /api/v3/account", headers=(("X-MBX-APIKEY", "k"),))
    assert any("X-MBX-APIKEY" in v for v in parse(request).intent.violations)


def test_hosts_and_modes() -> None:
    assert parse(req("GET /api/v3/account")).host == "api.binance.com"
    sandbox = VENUE.parse(SANDBOX, req("GET /api/v3/account"))
    assert sandbox.host == "testnet.binance.vision"
    assert sandbox.intent.mode == "sandbox"
    with pytest.raises(ModeMismatchError):
        parse(req("GET /api/v3/account", host="testnet.binance.vision"))
    with pytest.raises(ModeMismatchError):
        VENUE.parse(SANDBOX, req("GET /api/v3/account", host="api.binance.com"))
    with pytest.raises(InvalidRequestError):
        parse(req("GET /api/v3/account", host="api.binance.us"))


# --- invariant 4: signing ---------------------------------------------------------------------


def test_sign_published_example_as_sent(clock: FixedClock) -> None:
    parsed = parse(req("POST /api/v3/order", "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"))  # fmt: skip
    signed = VENUE.sign(parsed, binance_creds(), clock)
    assert signed.request == HttpRequest(
        "POST",
        "/api/v3/order",
        "",
        b"symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000"
        b"&timestamp=1499827319559"
        b"&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71",
        (("X-MBX-APIKEY", BINANCE_API_KEY), ("Content-Type", binance.FORM)),
        "api.binance.com",
    )


def test_recv_window_is_configurable(clock: FixedClock) -> None:
    venue = BinanceVenue(recv_window_ms=60000)
    signed = venue.sign(venue.parse(LIVE, req("GET /api/v3/account")), binance_creds(), clock)
    assert signed.request.query.startswith("recvWindow=60000&timestamp=1499827319559&signature=")
    for bad in (0, 60001):
        with pytest.raises(ValueError, match="recv_window_ms"):
            BinanceVenue(recv_window_ms=bad)


def test_passthrough_headers_are_kept(clock: FixedClock) -> None:
    request = req("GET /api/v3/account", headers=(("Accept", "application/json"),))
    signed = VENUE.sign(parse(request), binance_creds(), clock)
    assert signed.request.headers == (
        ("X-MBX-APIKEY", BINANCE_API_KEY),
        ("Accept", "application/json"),
    )


def _pem(key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _split(signed_query: str) -> tuple[bytes, bytes]:
    payload, _, signature = signed_query.rpartition("&signature=")
    return payload.encode(), base64.b64decode(unquote(signature))


def test_ed25519_key_signs_the_payload(clock: FixedClock) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    creds = binance_creds(_pem(key))
    signed = VENUE.sign(parse(req("GET /api/v3/myFilters", "symbol=BTCUSDT")), creds, clock)
    payload, signature = _split(signed.request.query)
    key.public_key().verify(signature, payload)
    cached: object = creds.derived("binance:signer", _must_not_rebuild)
    assert callable(cached)


def test_rsa_key_signs_the_payload(clock: FixedClock) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signed = VENUE.sign(parse(req("GET /api/v3/account")), binance_creds(_pem(key)), clock)
    payload, signature = _split(signed.request.query)
    key.public_key().verify(signature, payload, padding.PKCS1v15(), SHA256())
    assert "%2B" in signed.request.query or "%2F" in signed.request.query or "%3D" in signed.request.query  # fmt: skip


def test_sign_refuses_what_the_parser_refused(clock: FixedClock) -> None:
    parsed = parse(req("POST /api/v3/order", _LIMIT + "&address=x"))
    with pytest.raises(PolicyDeniedError):
        VENUE.sign(parsed, binance_creds(), clock)
    with pytest.raises(PolicyDeniedError):
        VENUE.sign(parse(req("POST /sapi/v1/capital/withdraw/apply", "coin=BTC")), binance_creds(), clock)  # fmt: skip


# --- property: random requests only ever produce typed errors or intents ------------------


@settings(max_examples=300)
@given(
    st.sampled_from(["POST", "GET", "DELETE", "PUT", "get"]),
    st.one_of(st.sampled_from([k.split(" ")[1] for k in ALLOW]), st.text(max_size=40)),
    st.one_of(st.text(max_size=60), st.sampled_from(list(VALID.values()))),
    st.one_of(st.binary(max_size=120), st.sampled_from([v.encode() for v in VALID.values()])),
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
    assert intent.endpoint is None or intent.endpoint == f"{method} {path}"
    assert all(isinstance(v, str) for v in intent.violations)
