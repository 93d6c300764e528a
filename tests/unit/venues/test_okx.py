"""signer/venues/okx.py: one test (or a few) per invariant of its docstring."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy.intents import EndpointClass
from signer.domain import HttpRequest
from signer.errors import (
    InvalidCredentialsError,
    InvalidRequestError,
    ModeMismatchError,
    PolicyDeniedError,
)
from signer.keystore.handles import Secret, VenueCredentials
from signer.venues import okx
from signer.venues.base import ParsedRequest
from signer.venues.okx import VENUE, OkxVenue

from .conftest import LIVE, SANDBOX, FixedClock

API_KEY = "okx-api-key-0123"
SECRET = "OKX-TEST-SECRET-0123456789ABCDEF"
PASSPHRASE = "Pass phrase 1!"
TS = "2017-07-12T02:41:59.559Z"  # FixedClock's now_ms as OKX writes it

# venue_endpoints.json ("okx" allow list), copied so the test runs without shared/.
ALLOW = [
    "POST /api/v5/trade/order",
    "POST /api/v5/trade/batch-orders",
    "POST /api/v5/trade/cancel-order",
    "POST /api/v5/trade/cancel-batch-orders",
    "POST /api/v5/trade/amend-order",
    "POST /api/v5/trade/amend-batch-orders",
    "POST /api/v5/trade/close-position",
    "POST /api/v5/trade/mass-cancel",
    "POST /api/v5/trade/cancel-all-after",
    "POST /api/v5/trade/order-precheck",
    "POST /api/v5/trade/order-algo",
    "POST /api/v5/trade/cancel-algos",
    "POST /api/v5/trade/amend-algos",
    "GET /api/v5/trade/order",
    "GET /api/v5/trade/orders-pending",
    "GET /api/v5/trade/orders-history",
    "GET /api/v5/trade/orders-history-archive",
    "GET /api/v5/trade/fills",
    "GET /api/v5/trade/fills-history",
    "GET /api/v5/trade/order-algo",
    "GET /api/v5/trade/orders-algo-pending",
    "GET /api/v5/trade/orders-algo-history",
    "GET /api/v5/account/balance",
    "GET /api/v5/account/positions",
    "GET /api/v5/account/config",
    "GET /api/v5/account/trade-fee",
    "GET /api/v5/account/max-size",
    "GET /api/v5/account/max-avail-size",
]
CANCELS = {
    "POST /api/v5/trade/cancel-order",
    "POST /api/v5/trade/cancel-batch-orders",
    "POST /api/v5/trade/mass-cancel",
    "POST /api/v5/trade/cancel-all-after",
    "POST /api/v5/trade/cancel-algos",
}
# DESIGN.md invariant 3 and the brief: no schema may admit any of these.
WITHDRAW_NAMES = {
    "amt",
    "toAddr",
    "dest",
    "chain",
    "fee",
    "address",
    "coin",
    "amount",
    "network",
    "toAccountType",
    "destination",
    "withdrawOrderId",
    "from",
    "to",
    "subAcct",
    "type",
}

ORDER: dict[str, Any] = {
    "instId": "BTC-USDT",
    "tdMode": "cash",
    "clOrdId": "b15",
    "side": "buy",
    "ordType": "limit",
    "px": "2.15",
    "sz": "2",
}
ATTACHED = {
    "attachAlgoClOrdId": "tp1",
    "tpTriggerPx": "3",
    "tpOrdPx": "-1",
    "slTriggerPx": "1",
    "slOrdPx": "-1",
}
AMEND = {"instId": "BTC-USDT", "ordId": "590909145319051111", "newSz": "2"}
CANCEL = {"instId": "BTC-USDT", "ordId": "590908157585625111"}
# A minimal valid request for every allowed endpoint: a JSON value (POST) or a query (GET).
VALID: dict[str, Any] = {
    "POST /api/v5/trade/order": {**ORDER, "attachAlgoOrds": [ATTACHED]},
    "POST /api/v5/trade/batch-orders": [ORDER, {**ORDER, "clOrdId": "b16", "reduceOnly": True}],
    "POST /api/v5/trade/cancel-order": CANCEL,
    "POST /api/v5/trade/cancel-batch-orders": [CANCEL, {"instId": "BTC-USDT", "clOrdId": "b16"}],
    "POST /api/v5/trade/amend-order": AMEND,
    "POST /api/v5/trade/amend-batch-orders": [AMEND, {**AMEND, "ordId": "1", "newPx": "3"}],
    "POST /api/v5/trade/close-position": {"instId": "BTC-USDT-SWAP", "mgnMode": "cross"},
    "POST /api/v5/trade/mass-cancel": {"instType": "OPTION", "instFamily": "BTC-USD"},
    "POST /api/v5/trade/cancel-all-after": {"timeOut": "60"},
    "POST /api/v5/trade/order-precheck": ORDER,
    "POST /api/v5/trade/order-algo": {
        "instId": "BTC-USDT-SWAP",
        "side": "buy",
        "tdMode": "cross",
        "posSide": "net",
        "sz": "1",
        "ordType": "trigger",
        "triggerPx": "25920",
        "triggerPxType": "last",
        "orderPx": "-1",
        "attachAlgoOrds": [{"slTriggerPx": "100", "slOrdPx": "600"}],
    },
    "POST /api/v5/trade/cancel-algos": [{"algoId": "590919993110396111", "instId": "BTC-USDT"}],
    "POST /api/v5/trade/amend-algos": {
        "algoId": "2510789768709120",
        "newSz": "2",
        "instId": "BTC-USDT",
    },
    "GET /api/v5/trade/order": "ordId=1753197687182819328&instId=BTC-USDT",
    "GET /api/v5/trade/orders-pending": "ordType=post_only,fok,ioc&instType=SPOT",
    "GET /api/v5/trade/orders-history": "ordType=post_only,fok,ioc&instType=SPOT",
    "GET /api/v5/trade/orders-history-archive": "instType=SPOT&begin=1700000000000&limit=100",
    "GET /api/v5/trade/fills": "instType=SPOT&subType=1",
    "GET /api/v5/trade/fills-history": "instType=SWAP&instFamily=BTC-USD",
    "GET /api/v5/trade/order-algo": "algoClOrdId=algo01",
    "GET /api/v5/trade/orders-algo-pending": "ordType=conditional,oco",
    "GET /api/v5/trade/orders-algo-history": "ordType=trigger&state=effective",
    "GET /api/v5/account/balance": "ccy=BTC,ETH",
    "GET /api/v5/account/positions": "instType=SWAP&instId=BTC-USDT-SWAP,ETH-USDT-SWAP",
    "GET /api/v5/account/config": "",
    "GET /api/v5/account/trade-fee": "instType=SPOT&instId=BTC-USDT",
    "GET /api/v5/account/max-size": "instId=BTC-USDT&tdMode=isolated",
    "GET /api/v5/account/max-avail-size": "instId=BTC-USDT&tdMode=cross&ccy=USDT&reduceOnly=false",
}


def okx_creds(passphrase: str | bytes = PASSPHRASE) -> VenueCredentials:
    return VenueCredentials("okx", API_KEY, Secret(SECRET), Secret(passphrase), {})


def req(key: str, params: Any = None, **kw: Any) -> HttpRequest:
    """``params`` as the JSON body for POST and as the query for GET."""
    method, path = key.split(" ", 1)
    if method == "GET":
        return HttpRequest(method, path, query=params or "", **kw)
    return HttpRequest(method, path, body=json.dumps(params).encode(), **kw)


def parse(request: HttpRequest) -> ParsedRequest:
    return VENUE.parse(LIVE, request)


def violations(key: str, params: Any) -> tuple[str, ...]:
    return parse(req(key, params)).intent.violations


def expected_sign(message: str) -> str:
    mac = hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


# --- invariant 1: the endpoint table --------------------------------------------------------


def test_endpoint_table_is_exactly_the_allow_list() -> None:
    assert sorted(e.key for e in okx.ENDPOINTS) == sorted(ALLOW)
    assert set(okx.SCHEMAS) == set(VALID) == set(ALLOW)
    assert len(ALLOW) == 28


@pytest.mark.parametrize("key", ALLOW)
def test_endpoint_classes(key: str) -> None:
    if key.startswith("GET"):
        expected = EndpointClass.READ
    else:
        expected = EndpointClass.CANCEL if key in CANCELS else EndpointClass.TRADE
    assert parse(req(key, VALID[key])).intent.endpoint_class is expected


@pytest.mark.parametrize(
    "path", ["/api/v5/asset/withdrawal", "/api/v5/asset/transfer", "/api/v5/trade/easy-convert"]
)
def test_other_paths_do_not_match(path: str) -> None:
    intent = parse(HttpRequest("POST", path, body=b"{}")).intent
    assert intent.endpoint is None and intent.endpoint_class is None


# --- invariants 2-4: every allowed endpoint parses and signs the bytes it sends ---------------


@pytest.mark.parametrize("key", ALLOW)
def test_every_allowed_endpoint_parses_and_signs(key: str, clock: FixedClock) -> None:
    parsed = parse(req(key, VALID[key]))
    assert parsed.intent.violations == ()
    assert parsed.intent.endpoint == key
    sent = VENUE.sign(parsed, okx_creds(), clock).request
    headers = dict(sent.headers)
    request_path = sent.path + (f"?{sent.query}" if sent.query else "")
    assert headers["OK-ACCESS-SIGN"] == expected_sign(
        TS + sent.method + request_path + sent.body.decode()
    )
    assert headers["OK-ACCESS-TIMESTAMP"] == TS
    assert headers["OK-ACCESS-KEY"] == API_KEY
    assert headers["OK-ACCESS-PASSPHRASE"] == PASSPHRASE
    assert headers["Content-Type"] == "application/json"
    assert "x-simulated-trading" not in headers
    assert sent.host == "www.okx.com"
    if sent.method == "GET":
        assert sent.body == b""
    else:
        assert sent.query == ""
        assert json.loads(sent.body) == VALID[key]


def test_sign_exact_request_for_the_documented_example(clock: FixedClock) -> None:
    body = json.dumps(ORDER, separators=(",", ":"))
    signed = VENUE.sign(parse(req("POST /api/v5/trade/order", ORDER)), okx_creds(), clock)
    auth = (
        ("OK-ACCESS-KEY", API_KEY),
        ("OK-ACCESS-SIGN", expected_sign(TS + "POST/api/v5/trade/order" + body)),
        ("OK-ACCESS-TIMESTAMP", TS),
        ("OK-ACCESS-PASSPHRASE", PASSPHRASE),
    )
    assert signed.auth_headers == auth
    assert signed.request == HttpRequest(
        "POST",
        "/api/v5/trade/order",
        "",
        body.encode(),
        (*auth, ("Content-Type", "application/json"), ("expTime", "1499827324559")),
        "www.okx.com",
    )


def test_body_is_re_encoded_compactly_in_the_callers_key_order(clock: FixedClock) -> None:
    spaced = b'{ "sz" : "2", "side": "buy", "instId": "BTC-USDT", "tdMode": "cash", "ordType": "market" }'
    sent = VENUE.sign(
        parse(HttpRequest("POST", "/api/v5/trade/order", body=spaced)), okx_creds(), clock
    ).request
    assert (
        sent.body
        == b'{"sz":"2","side":"buy","instId":"BTC-USDT","tdMode":"cash","ordType":"market"}'
    )


def test_query_keeps_the_callers_order_and_is_percent_encoded(clock: FixedClock) -> None:
    parsed = parse(req("GET /api/v5/trade/orders-pending", "ordType=post_only,fok&instType=SPOT"))
    sent = VENUE.sign(parsed, okx_creds(), clock).request
    assert sent.query == "ordType=post_only%2Cfok&instType=SPOT"
    message = TS + "GET/api/v5/trade/orders-pending?" + sent.query
    assert dict(sent.headers)["OK-ACCESS-SIGN"] == expected_sign(message)


def test_no_schema_admits_a_withdrawal_or_transfer_parameter() -> None:
    nested = [okx.ATTACH, okx.ATTACH_AMEND, okx.ATTACH_ALGO_AMEND, okx.TRIGGER_PARAMS]
    for schema in [*okx.SCHEMAS.values(), *nested]:
        assert not schema.names & WITHDRAW_NAMES
        assert schema.forbidden >= WITHDRAW_NAMES
        assert {"expTime", "timestamp", "sign"} <= schema.stamped


@pytest.mark.parametrize("name", sorted(WITHDRAW_NAMES))
def test_withdraw_names_are_violations_on_the_order_path(name: str) -> None:
    found = violations("POST /api/v5/trade/order", {**ORDER, name: "x"})
    assert any("never signable" in v for v in found), found


@pytest.mark.parametrize(
    ("key", "params", "needle"),
    [
        ("POST /api/v5/trade/order", {**ORDER, "extra": "1"}, "'extra' is not allowed"),
        ("POST /api/v5/trade/order", {**ORDER, "expTime": "1"}, "stamped by the daemon"),
        ("POST /api/v5/trade/order", {**ORDER, "side": "BUY"}, "'side' must be one of"),
        ("POST /api/v5/trade/order", {**ORDER, "sz": 2}, "'sz' must be a string"),
        ("POST /api/v5/trade/order", {**ORDER, "sz": "1e3"}, "'sz' has an invalid value"),
        ("POST /api/v5/trade/order", {**ORDER, "clOrdId": "a-b"}, "'clOrdId'"),
        ("POST /api/v5/trade/order", {**ORDER, "clOrdId": "a" * 33}, "'clOrdId'"),
        ("POST /api/v5/trade/order", {**ORDER, "instId": "btc-usdt"}, "'instId'"),
        ("POST /api/v5/trade/order", {**ORDER, "reduceOnly": "yes"}, "'reduceOnly'"),
        ("POST /api/v5/trade/order", {**ORDER, "pxUsd": "1"}, "at most one of px, pxUsd, pxVol"),
        (
            "POST /api/v5/trade/order",
            {k: v for k, v in ORDER.items() if k != "tdMode"},
            "'tdMode' is required",
        ),
        ("POST /api/v5/trade/order", {**ORDER, "attachAlgoOrds": {}}, "must be a JSON array"),
        ("POST /api/v5/trade/order", {**ORDER, "attachAlgoOrds": []}, "1 to 11 objects"),
        ("POST /api/v5/trade/order", {**ORDER, "attachAlgoOrds": ["x"]}, "must be a JSON object"),
        (
            "POST /api/v5/trade/order",
            {**ORDER, "attachAlgoOrds": [{"toAddr": "x"}]},
            "attachAlgoOrds[0]: parameter 'toAddr' belongs to withdrawals",
        ),
        (
            "POST /api/v5/trade/order",
            {**ORDER, "attachAlgoOrds": [{"tpTriggerPx": "1", "tpTriggerRatio": "0.3"}]},
            "at most one of",
        ),
        ("POST /api/v5/trade/order", [ORDER], "takes a JSON object body"),
        ("POST /api/v5/trade/batch-orders", ORDER, "request.body must be a JSON array"),
        ("POST /api/v5/trade/batch-orders", [ORDER] * 21, "1 to 20 objects"),
        ("POST /api/v5/trade/batch-orders", [], "1 to 20 objects"),
        (
            "POST /api/v5/trade/batch-orders",
            [ORDER, {**ORDER, "amt": "1"}],
            "request.body[1]: parameter 'amt'",
        ),
        (
            "POST /api/v5/trade/cancel-algos",
            [{"instId": "BTC-USDT", "algoId": "1"}] * 11,
            "1 to 10 objects",
        ),
        ("POST /api/v5/trade/cancel-order", {"instId": "BTC-USDT"}, "one of ordId, clOrdId"),
        ("POST /api/v5/trade/cancel-all-after", {"timeOut": "5"}, "'timeOut'"),
        ("POST /api/v5/trade/cancel-all-after", {"timeOut": "121"}, "'timeOut'"),
        (
            "POST /api/v5/trade/mass-cancel",
            {"instType": "SPOT", "instFamily": "BTC-USD"},
            "'instType'",
        ),
        (
            "POST /api/v5/trade/order-algo",
            {**VALID["POST /api/v5/trade/order-algo"], "closeFraction": "1"},
            "at most one of sz, closeFraction",
        ),
        (
            "POST /api/v5/trade/order-algo",
            {
                **VALID["POST /api/v5/trade/order-algo"],
                "triggerParams": [{"triggerAction": "stop", "triggerStrategy": "price"}],
            },
            "triggerParams[0]: parameter 'triggerAction'",
        ),
        (
            "POST /api/v5/trade/amend-order",
            {**AMEND, "attachAlgoOrds": [{"tpTriggerPx": "1"}]},
            "'tpTriggerPx' is not allowed",
        ),
        ("GET /api/v5/trade/order", "instId=BTC-USDT", "one of ordId, clOrdId"),
        ("GET /api/v5/trade/orders-pending", "ordType=limit,swap", "comma list"),
        ("GET /api/v5/trade/orders-pending", "ordType=limit,limit", "comma list"),
        ("GET /api/v5/trade/orders-pending", "limit=101", "'limit'"),
        ("GET /api/v5/trade/orders-history", "instId=BTC-USDT", "'instType' is required"),
        ("GET /api/v5/trade/orders-algo-history", "ordType=oco", "one of state, algoId"),
        ("GET /api/v5/account/balance", "ccy=" + ",".join(["BTC"] * 21), "'ccy'"),
        ("GET /api/v5/account/config", "ccy=BTC", "not allowed"),
        ("GET /api/v5/account/balance", "ccy=BTC&ccy=ETH", "more than once"),
        ("GET /api/v5/account/balance", "type=1", "belongs to withdrawals"),
    ],
)
def test_schema_violations(key: str, params: Any, needle: str) -> None:
    found = violations(key, params)
    assert any(needle in v for v in found), found


def test_array_bodies_are_parsed_strictly() -> None:
    dup = b'[{"instId":"BTC-USDT","instId":"ETH-USDT","tdMode":"cash","side":"buy","ordType":"market","sz":"1"}]'
    found = parse(HttpRequest("POST", "/api/v5/trade/batch-orders", body=dup)).intent.violations
    assert any("'instId' appears more than once" in v for v in found), found
    for bad in (
        b'[{"sz":"1"}],"_":[{"amt":"1"}]',  # would be a second key of the wrapper object
        b'[{"sz":"1"}]} ,{"x":1',
        b'[{"sz":NaN}]',
        b'[{"sz":1.5}',
        b"[" * 20 + b"]" * 20,
        b"",
    ):
        with pytest.raises(InvalidRequestError):
            parse(HttpRequest("POST", "/api/v5/trade/batch-orders", body=bad))


def test_json_floats_are_refused() -> None:
    found = violations("POST /api/v5/trade/order", {**ORDER, "sz": 1.5})
    assert any("'sz' must be a string" in v for v in found)


# --- invariant 3: where parameters may be ------------------------------------------------------


def test_get_with_body_and_post_with_query_are_violations() -> None:
    get = HttpRequest("GET", "/api/v5/account/balance", body=b'{"ccy":"BTC"}')
    assert any("query only" in v for v in parse(get).intent.violations)
    post = HttpRequest(
        "POST",
        "/api/v5/trade/cancel-order",
        query="instId=BTC-USDT",
        body=json.dumps(CANCEL).encode(),
    )
    assert any("request.query must be empty" in v for v in parse(post).intent.violations)


def test_body_content_type_must_be_json() -> None:
    request = req("POST /api/v5/trade/order", ORDER, headers=(("Content-Type", "text/plain"),))
    assert any("Content-Type" in v for v in parse(request).intent.violations)
    ok = req(
        "POST /api/v5/trade/order",
        ORDER,
        headers=(("Content-Type", "application/json; charset=utf-8"),),
    )
    assert parse(ok).intent.violations == ()


@pytest.mark.parametrize(
    "header",
    [
        "OK-ACCESS-KEY",
        "ok-access-sign",
        "OK-ACCESS-PASSPHRASE",
        "OK-ACCESS-TIMESTAMP",
        "x-simulated-trading",
        "expTime",
    ],
)
def test_caller_auth_and_mode_headers_are_violations(header: str) -> None:
    request = req("GET /api/v5/account/balance", headers=((header, "1"),))
    assert any(repr(header) in v for v in parse(request).intent.violations)


# --- invariant 4: timestamp, expTime ----------------------------------------------------------


def test_iso_timestamp_matches_the_documented_format() -> None:
    # OKX docs "REST Authentication": OK-ACCESS-TIMESTAMP e.g. 2020-12-08T09:08:57.715Z.
    assert okx.iso_timestamp(1607418537715) == "2020-12-08T09:08:57.715Z"
    assert okx.iso_timestamp(1607418537005) == "2020-12-08T09:08:57.005Z"
    assert okx.iso_timestamp(0) == "1970-01-01T00:00:00.000Z"


def test_prehash_matches_the_documented_example() -> None:
    # OKX docs: sign = Base64(HmacSHA256(timestamp + 'GET' + '/api/v5/account/balance?ccy=BTC', SecretKey))
    expected = b"2020-12-08T09:08:57.715ZGET/api/v5/account/balance?ccy=BTC"
    assert (
        okx.prehash("2020-12-08T09:08:57.715Z", "GET", "/api/v5/account/balance?ccy=BTC", "")
        == expected
    )
    parsed = parse(req("GET /api/v5/account/balance", "ccy=BTC"))
    sent = VENUE.sign(parsed, okx_creds(), FixedClock(now_ms=1607418537715)).request
    assert dict(sent.headers)["OK-ACCESS-SIGN"] == expected_sign(expected.decode())


@pytest.mark.parametrize("key", ALLOW)
def test_exp_time_only_where_okx_documents_it(key: str, clock: FixedClock) -> None:
    sent = VENUE.sign(parse(req(key, VALID[key])), okx_creds(), clock).request
    exp = dict(sent.headers).get("expTime")
    if key in okx.EXP_TIME:
        assert exp == str(1499827319559 + 5000)
    else:
        assert exp is None
    documented = {
        "POST /api/v5/trade/order",
        "POST /api/v5/trade/batch-orders",
        "POST /api/v5/trade/amend-order",
        "POST /api/v5/trade/amend-batch-orders",
    }
    assert documented == okx.EXP_TIME


def test_exp_window_is_configurable(clock: FixedClock) -> None:
    venue = OkxVenue(exp_window_ms=1500)
    sent = venue.sign(
        venue.parse(LIVE, req("POST /api/v5/trade/order", ORDER)), okx_creds(), clock
    ).request
    assert dict(sent.headers)["expTime"] == str(1499827319559 + 1500)
    for bad in (0, 30001):
        with pytest.raises(ValueError, match="exp_window_ms"):
            OkxVenue(exp_window_ms=bad)


def test_signing_objects_are_cached_on_the_handle(clock: FixedClock) -> None:
    creds = okx_creds()
    VENUE.sign(parse(req("GET /api/v5/account/config")), creds, clock)

    def must_not_rebuild() -> object:
        raise AssertionError("rebuilt instead of cached")

    assert creds.derived("okx:hmac-sha256", must_not_rebuild) is not None
    assert creds.derived("okx:passphrase", must_not_rebuild) == PASSPHRASE


@pytest.mark.parametrize("bad", [b"", b"line\r\nX-Evil: 1", b"caf\xc3\xa9"])
def test_unsafe_passphrase_is_a_credential_error(bad: bytes, clock: FixedClock) -> None:
    with pytest.raises(InvalidCredentialsError) as err:
        VENUE.sign(parse(req("GET /api/v5/account/config")), okx_creds(bad), clock)
    assert "passphrase" in str(err.value) and "Evil" not in str(err.value)


def test_sign_refuses_what_the_parser_refused(clock: FixedClock) -> None:
    with pytest.raises(PolicyDeniedError):
        VENUE.sign(
            parse(req("POST /api/v5/trade/order", {**ORDER, "toAddr": "x"})), okx_creds(), clock
        )
    with pytest.raises(PolicyDeniedError):
        VENUE.sign(
            parse(HttpRequest("POST", "/api/v5/asset/withdrawal", body=b"{}")), okx_creds(), clock
        )


# --- invariant 5: modes ---------------------------------------------------------------------


def test_sandbox_gets_the_simulated_trading_header_live_never(clock: FixedClock) -> None:
    sandbox = VENUE.parse(SANDBOX, req("GET /api/v5/account/balance", "ccy=BTC"))
    assert sandbox.host == "www.okx.com" and sandbox.intent.mode == "sandbox"
    sent = VENUE.sign(sandbox, okx_creds(), clock).request
    assert ("x-simulated-trading", "1") in sent.headers
    live = VENUE.sign(parse(req("GET /api/v5/account/balance", "ccy=BTC")), okx_creds(), clock)
    assert all(name.lower() != "x-simulated-trading" for name, _ in live.request.headers)


def test_hosts() -> None:
    assert parse(req("GET /api/v5/account/config", host="www.okx.com")).host == "www.okx.com"
    for host in ("aws.okx.com", "www.okx.com:443", "www.okx.com.evil.example", "WWW.OKX.COM"):
        with pytest.raises(InvalidRequestError):
            parse(req("GET /api/v5/account/config", host=host))


def test_passthrough_headers_are_kept(clock: FixedClock) -> None:
    request = req("GET /api/v5/account/config", headers=(("Accept", "application/json"),))
    sent = VENUE.sign(parse(request), okx_creds(), clock).request
    assert sent.headers[-1] == ("Accept", "application/json")


# --- property: random requests only ever produce typed errors or intents ------------------


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["POST", "GET", "DELETE", "PUT", "get"]),
    st.one_of(st.sampled_from([k.split(" ")[1] for k in ALLOW]), st.text(max_size=40)),
    st.one_of(
        st.text(max_size=60), st.sampled_from([v for v in VALID.values() if isinstance(v, str)])
    ),
    st.one_of(
        st.binary(max_size=120),
        _JSON.map(lambda v: json.dumps(v).encode()),
        st.sampled_from([json.dumps(v).encode() for v in VALID.values() if not isinstance(v, str)]),
    ),
    st.lists(st.tuples(st.text(max_size=12), st.text(max_size=12)), max_size=3),
    st.sampled_from([LIVE, SANDBOX]),
)
def test_parse_random_requests_only_typed_errors(
    method: str, path: str, query: str, body: bytes, headers: list[tuple[str, str]], who: Any
) -> None:
    request = HttpRequest(method, path, query, body, tuple(headers))
    try:
        intent = VENUE.parse(who, request).intent
    except (InvalidRequestError, ModeMismatchError):
        return
    assert intent.endpoint is None or intent.endpoint == f"{method} {path}"
    assert all(isinstance(v, str) for v in intent.violations)
