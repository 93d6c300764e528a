"""signer/venues/bybit.py: one test (or a few) per invariant of its docstring."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.hashes import SHA256
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
from signer.keystore.handles import VenueCredentials
from signer.venues import bybit
from signer.venues.base import ParsedRequest
from signer.venues.bybit import VENUE, BybitVenue

from .conftest import LIVE, SANDBOX, FixedClock, make_creds

SHARED = Path(__file__).resolve().parents[4] / "shared" / "venues" / "venue_endpoints.json"
API_KEY = "XXXXXXXXXXbybitKEY"
SECRET = "bybit-test-secret-0123456789abcdef"
TS = "1499827319559"  # FixedClock's default

# venue_endpoints.json ("bybit" allow list), copied so the test runs without shared/.
ALLOW = [
    "POST /v5/order/create", "POST /v5/order/amend", "POST /v5/order/cancel",
    "POST /v5/order/cancel-all", "POST /v5/order/create-batch", "POST /v5/order/amend-batch",
    "POST /v5/order/cancel-batch", "POST /v5/order/disconnected-cancel-all",
    "POST /v5/order/pre-check", "POST /v5/position/trading-stop",
    "POST /v5/position/set-leverage", "GET /v5/order/realtime", "GET /v5/order/history",
    "GET /v5/execution/list", "GET /v5/position/list", "GET /v5/position/closed-pnl",
    "GET /v5/account/wallet-balance", "GET /v5/account/fee-rate", "GET /v5/account/info",
    "GET /v5/account/transaction-log",
]  # fmt: skip
# The brief / DESIGN.md invariant 3: no POST schema may admit any of these.
WITHDRAW_NAMES = {
    "address", "coin", "amount", "network", "chain", "toAccountType", "fromAccountType",
    "destination", "withdrawOrderId", "currency", "transferId", "toMemberId", "forceChain",
    "tag", "accountType",
}  # fmt: skip
STAMPED = {"timestamp", "recvWindow", "recv_window", "sign"}

_SPOT = '"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.1","price":"15600"'  # fmt: skip
# A valid request for every allowed endpoint, mostly the examples of Bybit's v5 docs.
VALID: dict[str, str] = {
    "POST /v5/order/create": '{' + _SPOT + ',"timeInForce":"PostOnly","orderLinkId":"spot-test-01","isLeverage":0,"orderFilter":"Order"}',
    "POST /v5/order/pre-check": '{"category":"linear","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"1","price":"25000","timeInForce":"GTC","positionIdx":0,"orderLinkId":"usdt-test-01","reduceOnly":false,"takeProfit":"28000","stopLoss":"20000","tpslMode":"Partial","tpOrderType":"Limit","slOrderType":"Limit","tpLimitPrice":"27500","slLimitPrice":"20500"}',
    "POST /v5/order/amend": '{"category":"linear","symbol":"ETHPERP","orderLinkId":"linear-004","triggerPrice":"1145","qty":"0.15","price":"1050","takeProfit":"0","stopLoss":"0"}',
    "POST /v5/order/cancel": '{"category":"linear","symbol":"BTCPERP","orderId":"c6f055d9-7f21-4079-913d-e6523a9cfffa"}',
    "POST /v5/order/cancel-all": '{"category":"linear","settleCoin":"USDT"}',
    "POST /v5/order/create-batch": '{"category":"option","request":[{"symbol":"ETH-30DEC22-500-C","orderType":"Limit","side":"Buy","qty":"1","orderIv":"6","timeInForce":"GTC","orderLinkId":"option-test-001","mmp":false,"reduceOnly":false},{"symbol":"ETH-30DEC22-700-C","orderType":"Limit","side":"Sell","qty":"2","price":"700","timeInForce":"GTC","orderLinkId":"option-test-001","mmp":false,"reduceOnly":false}]}',
    "POST /v5/order/amend-batch": '{"category":"option","request":[{"symbol":"ETH-30DEC22-500-C","orderIv":"6.8","orderId":"b551f227-7059-4fb5-a6a6-699c04dbd2f2"},{"symbol":"ETH-30DEC22-700-C","price":"650","orderId":"fa6a595f-1a57-483f-b9d3-30e9c8235a52"}]}',
    "POST /v5/order/cancel-batch": '{"category":"spot","request":[{"symbol":"BTCUSDT","orderId":"1666800494330512128"},{"symbol":"ATOMUSDT","orderLinkId":"1666800494330512129"}]}',
    "POST /v5/order/disconnected-cancel-all": '{"timeWindow":40}',
    "POST /v5/position/trading-stop": '{"category":"linear","symbol":"XRPUSDT","takeProfit":"0.6","stopLoss":"0.2","tpTriggerBy":"MarkPrice","slTriggerBy":"IndexPrice","tpslMode":"Partial","tpOrderType":"Limit","slOrderType":"Limit","tpSize":"50","slSize":"50","tpLimitPrice":"0.57","slLimitPrice":"0.21","positionIdx":0}',
    "POST /v5/position/set-leverage": '{"category":"linear","symbol":"BTCUSDT","buyLeverage":"6","sellLeverage":"6"}',
    "GET /v5/order/realtime": "symbol=ETHUSDT&category=linear&openOnly=0&limit=1",
    "GET /v5/order/history": "category=linear&limit=1&orderStatus=Filled",
    "GET /v5/execution/list": "category=linear&limit=100&execType=Trade",
    "GET /v5/position/list": "category=inverse&symbol=BTCUSD",
    "GET /v5/position/closed-pnl": "category=linear&limit=1&cursor=5a373bfe-188d%3A1672214887231423699%2C5a373bfe",
    "GET /v5/account/wallet-balance": "accountType=UNIFIED&coin=BTC,USDT",
    "GET /v5/account/fee-rate": "category=linear&symbol=ETHUSDT",
    "GET /v5/account/info": "",
    "GET /v5/account/transaction-log": "accountType=UNIFIED&category=linear&currency=USDT",
}  # fmt: skip
CLASSES = {
    "POST /v5/order/cancel": EndpointClass.CANCEL,
    "POST /v5/order/cancel-all": EndpointClass.CANCEL,
    "POST /v5/order/cancel-batch": EndpointClass.CANCEL,
    "POST /v5/order/disconnected-cancel-all": EndpointClass.CANCEL,
}


def req(key: str, params: str = "", **kw: object) -> HttpRequest:
    """``params`` are the JSON body for POST and the query string for GET."""
    method, path = key.split(" ", 1)
    if method == "POST":
        return HttpRequest(method, path, body=params.encode(), **kw)  # type: ignore[arg-type]
    return HttpRequest(method, path, query=params, **kw)  # type: ignore[arg-type]


def parse(request: HttpRequest) -> ParsedRequest:
    return VENUE.parse(LIVE, request)


def creds(secret: str | bytes = SECRET) -> VenueCredentials:
    return make_creds("bybit", API_KEY, secret)


def _mac(message: str) -> str:
    return hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()


def _violations(key: str, params: str) -> tuple[str, ...]:
    return parse(req(key, params)).intent.violations


def _order(**extra: object) -> str:
    body = json.loads("{" + _SPOT + "}")
    body.update(extra)
    return json.dumps(body)


# --- invariant 1: the endpoint table --------------------------------------------------------


def test_endpoint_table_is_exactly_the_allow_list() -> None:
    assert sorted(e.key for e in bybit.ENDPOINTS) == sorted(ALLOW)
    assert set(bybit.SCHEMAS) == set(ALLOW) == set(VALID)
    if SHARED.exists():
        shared = json.loads(SHARED.read_text())["bybit"]["allow"]
        assert sorted(f"{m} {p}" for m, p in shared) == sorted(ALLOW)


@pytest.mark.parametrize("key", ALLOW)
def test_endpoint_classes(key: str) -> None:
    default = EndpointClass.READ if key.startswith("GET") else EndpointClass.TRADE
    assert parse(req(key, VALID[key])).intent.endpoint_class is CLASSES.get(key, default)


def test_pre_check_is_trade_class() -> None:
    # SECURITY: its signature is equally valid on /v5/order/create (path unsigned).
    intent = parse(req("POST /v5/order/pre-check", VALID["POST /v5/order/pre-check"])).intent
    assert intent.endpoint_class is EndpointClass.TRADE


@pytest.mark.parametrize("key", ALLOW)
def test_every_allowed_endpoint_parses_and_signs(key: str, clock: FixedClock) -> None:
    parsed = parse(req(key, VALID[key]))
    assert parsed.intent.violations == ()
    assert parsed.intent.endpoint == key
    signed = VENUE.sign(parsed, creds(), clock)
    sent = signed.request
    if sent.method == "GET":
        assert sent.body == b""
        payload = sent.query
        assert payload == VALID[key].replace(",", "%2C")  # re-encoded: ',' is escaped
    else:
        assert sent.query == ""
        payload = sent.body.decode()
        assert json.loads(payload) == json.loads(VALID[key])
        assert payload == json.dumps(json.loads(VALID[key]), separators=(",", ":"))
    auth = dict(signed.auth_headers)
    assert auth == {
        "X-BAPI-API-KEY": API_KEY,
        "X-BAPI-TIMESTAMP": TS,
        "X-BAPI-RECV-WINDOW": "5000",
        "X-BAPI-SIGN": _mac(TS + API_KEY + "5000" + payload),
    }
    assert sent.headers == (*signed.auth_headers, ("Content-Type", "application/json"))
    assert sent.host == "api.bybit.com"


# --- invariant 2: schemas ---------------------------------------------------------------------

NESTED = {"create-batch item": bybit.BATCH_ORDER, "amend-batch item": bybit.BATCH_AMEND, "cancel-batch item": bybit.BATCH_CANCEL}  # fmt: skip


def test_no_post_schema_admits_a_withdrawal_or_transfer_parameter() -> None:
    posts = {k: s for k, s in bybit.SCHEMAS.items() if k.startswith("POST")} | NESTED
    assert len(posts) == 14
    for key, schema in posts.items():
        assert not schema.names & WITHDRAW_NAMES, key
        assert schema.forbidden >= WITHDRAW_NAMES, key
        assert schema.stamped >= STAMPED, key


def test_get_schemas_admit_only_read_selectors_never_amounts() -> None:
    gets = {k: s for k, s in bybit.SCHEMAS.items() if k.startswith("GET")}
    assert {"accountType", "coin", "currency"} == bybit.READ_ADMITTED
    for key, schema in gets.items():
        assert not schema.names & (WITHDRAW_NAMES - bybit.READ_ADMITTED), key
        assert schema.forbidden >= WITHDRAW_NAMES - bybit.READ_ADMITTED, key
        assert "amount" not in schema.names and "amount" in schema.forbidden, key


def test_the_batch_endpoints_use_the_nested_schemas() -> None:
    for key in ("create-batch", "amend-batch", "cancel-batch"):
        body = json.loads(VALID[f"POST /v5/order/{key}"])
        body["request"][1]["address"] = "0xabc"
        violations = _violations(f"POST /v5/order/{key}", json.dumps(body))
        assert violations == ("request[1]: parameter 'address' belongs to withdrawals or transfers and is never signable",)  # fmt: skip


@pytest.mark.parametrize("name", sorted(WITHDRAW_NAMES))
def test_withdraw_names_are_violations_on_the_order_path(name: str) -> None:
    assert any("never signable" in v for v in _violations("POST /v5/order/create", _order(**{name: "x"})))  # fmt: skip


@pytest.mark.parametrize(
    ("key", "params", "needle"),
    [
        ("POST /v5/order/create", _order(timestamp=1), "stamped by the daemon"),
        ("POST /v5/order/create", _order(recvWindow="60000"), "stamped by the daemon"),
        ("POST /v5/order/create", _order(foo="bar"), "'foo' is not allowed"),
        ("POST /v5/order/create", _order(category="SPOT"), "'category' must be one of"),
        ("POST /v5/order/create", _order(category="margin"), "'category' must be one of"),
        ("POST /v5/order/create", _order(side="buy"), "'side' must be one of"),
        ("POST /v5/order/create", _order(qty=0.1), "'qty' must be a string"),
        ("POST /v5/order/create", _order(qty="1e-2"), "'qty' has an invalid value"),
        ("POST /v5/order/create", _order(price=None), "'price' must be a string"),
        ("POST /v5/order/create", _order(positionIdx=True), "'positionIdx' must be a"),
        ("POST /v5/order/create", _order(positionIdx=3), "'positionIdx' must be one of"),
        ("POST /v5/order/create", _order(reduceOnly=1), "'reduceOnly' must be a boolean"),
        ("POST /v5/order/create", _order(symbol="btcusdt"), "'symbol' has an invalid value"),
        ("POST /v5/order/create", _order(orderLinkId="a" * 37), "'orderLinkId'"),
        ("POST /v5/order/create", _order(orderLinkId="a&coin=BTC"), "'orderLinkId'"),
        ("POST /v5/order/create", '{"category":"spot"}', "'symbol' is required"),
        ("POST /v5/order/create", "{" + _SPOT + ',"qty":"1"}', "'qty' appears more than once"),
        ("POST /v5/order/cancel", '{"category":"spot","symbol":"BTCUSDT"}', "one of orderId"),
        ("POST /v5/order/create-batch", '{"category":"spot","request":[]}', "1 to 20"),
        ("POST /v5/order/create-batch", '{"category":"spot","request":[1]}', "JSON object"),
        ("POST /v5/order/create-batch", '{"category":"spot","request":{}}', "JSON array"),
        ("POST /v5/order/disconnected-cancel-all", '{"timeWindow":301}', "'timeWindow'"),
        ("POST /v5/position/set-leverage", '{"category":"spot","symbol":"BTCUSDT","buyLeverage":"1","sellLeverage":"1"}', "'category'"),
        ("GET /v5/order/realtime", "category=linear&limit=51", "'limit'"),
        ("GET /v5/order/realtime", "category=linear&limit=007", ""),
        ("GET /v5/account/wallet-balance", "accountType=FUND", "'accountType' must be one of"),
        ("GET /v5/account/wallet-balance", "accountType=UNIFIED&amount=1", "never signable"),
        ("GET /v5/account/info", "coin=BTC", "'coin' is not allowed"),
        ("GET /v5/position/list", "category=spot", "'category' must be one of"),
    ],
)  # fmt: skip
def test_schema_violations(key: str, params: str, needle: str) -> None:
    violations = _violations(key, params)
    if needle:
        assert any(needle in v for v in violations), violations
    else:
        assert violations, params


def test_duplicate_json_keys_are_violations() -> None:
    body = '{"category":"spot","category":"linear","symbol":"BTCUSDT","side":"Buy","orderType":"Market","qty":"1"}'  # fmt: skip
    assert any("more than once" in v for v in _violations("POST /v5/order/create", body))


# --- invariant 3: where parameters may be ----------------------------------------------------


def test_post_with_query_and_get_with_body_are_violations() -> None:
    post = HttpRequest("POST", "/v5/order/create", query="coin=BTC", body=_order().encode())
    assert any("JSON body" in v for v in parse(post).intent.violations)
    get = HttpRequest("GET", "/v5/account/info", body=b'{"coin":"BTC"}')
    assert any("query only" in v for v in parse(get).intent.violations)


def test_content_type_and_auth_headers() -> None:
    form = req("POST /v5/order/create", _order(), headers=(("Content-Type", "application/x-www-form-urlencoded"),))  # fmt: skip
    assert any("Content-Type" in v for v in parse(form).intent.violations)
    for name in ("X-BAPI-API-KEY", "X-BAPI-SIGN", "X-BAPI-TIMESTAMP", "x-bapi-recv-window"):
        request = req("GET /v5/account/info", headers=((name, "1"),))
        assert any(name in v for v in parse(request).intent.violations)


@pytest.mark.parametrize("body", [b"[]", b'{"a":[[[[[[[[[1]]]]]]]]]}', b"{", b'{"a":NaN}', b"\xff"])
def test_malformed_bodies_are_envelope_errors(body: bytes) -> None:
    with pytest.raises(InvalidRequestError):
        parse(HttpRequest("POST", "/v5/order/create", body=body))


def test_hosts_and_modes() -> None:
    assert parse(req("GET /v5/account/info")).host == "api.bybit.com"
    sandbox = VENUE.parse(SANDBOX, req("GET /v5/account/info"))
    assert (sandbox.host, sandbox.intent.mode) == ("api-testnet.bybit.com", "sandbox")
    with pytest.raises(ModeMismatchError):
        parse(req("GET /v5/account/info", host="api-testnet.bybit.com"))
    with pytest.raises(ModeMismatchError):
        VENUE.parse(SANDBOX, req("GET /v5/account/info", host="api.bybit.com"))
    with pytest.raises(InvalidRequestError):
        parse(req("GET /v5/account/info", host="api.bytick.com"))


# --- invariant 4: signing ---------------------------------------------------------------------


def test_sign_reencodes_the_body_compactly_in_caller_order(clock: FixedClock) -> None:
    body = '{ "qty": "1",\n "category": "linear", "symbol": "BTCUSDT", "orderType": "Market", "side": "Sell", "reduceOnly": true }'  # fmt: skip
    signed = VENUE.sign(parse(req("POST /v5/order/create", body)), creds(), clock)
    sent = b'{"qty":"1","category":"linear","symbol":"BTCUSDT","orderType":"Market","side":"Sell","reduceOnly":true}'  # fmt: skip
    assert signed.request.body == sent
    assert dict(signed.auth_headers)["X-BAPI-SIGN"] == _mac(TS + API_KEY + "5000" + sent.decode())


def test_sandbox_signs_for_testnet(clock: FixedClock) -> None:
    parsed = VENUE.parse(SANDBOX, req("GET /v5/account/info"))
    assert VENUE.sign(parsed, creds(), clock).request.host == "api-testnet.bybit.com"


def test_recv_window_is_configurable(clock: FixedClock) -> None:
    venue = BybitVenue(recv_window_ms=20000)
    signed = venue.sign(venue.parse(LIVE, req("GET /v5/account/info")), creds(), clock)
    assert dict(signed.auth_headers)["X-BAPI-RECV-WINDOW"] == "20000"
    assert dict(signed.auth_headers)["X-BAPI-SIGN"] == _mac(TS + API_KEY + "20000")
    for bad in (0, 60001):
        with pytest.raises(ValueError, match="recv_window_ms"):
            BybitVenue(recv_window_ms=bad)


def test_passthrough_headers_are_kept(clock: FixedClock) -> None:
    request = req("GET /v5/account/info", headers=(("Accept", "application/json"),))
    signed = VENUE.sign(parse(request), creds(), clock)
    assert signed.request.headers[-1] == ("Accept", "application/json")


def _pem(key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _must_not_rebuild() -> object:
    raise AssertionError("the signer was rebuilt instead of taken from the handle's cache")


def test_rsa_key_signs_base64_pkcs1v15(clock: FixedClock) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    handle = creds(_pem(key))
    signed = VENUE.sign(parse(req("POST /v5/order/create", _order())), handle, clock)
    prehash = (TS + API_KEY + "5000").encode() + signed.request.body
    signature = base64.b64decode(dict(signed.auth_headers)["X-BAPI-SIGN"], validate=True)
    key.public_key().verify(signature, prehash, padding.PKCS1v15(), SHA256())
    cached: object = handle.derived("bybit:signer", _must_not_rebuild)
    assert callable(cached)


def test_ed25519_key_is_refused(clock: FixedClock) -> None:
    handle = creds(_pem(ed25519.Ed25519PrivateKey.generate()))
    with pytest.raises(InvalidCredentialsError):
        VENUE.sign(parse(req("GET /v5/account/info")), handle, clock)


def test_sign_refuses_what_the_parser_refused(clock: FixedClock) -> None:
    with pytest.raises(PolicyDeniedError):
        VENUE.sign(parse(req("POST /v5/order/create", _order(address="x"))), creds(), clock)
    with pytest.raises(PolicyDeniedError):
        VENUE.sign(parse(req("POST /v5/asset/withdraw/create", "{}")), creds(), clock)


# --- property: random requests only ever produce typed errors or intents ------------------


@settings(max_examples=300)
@given(
    st.sampled_from(["POST", "GET", "DELETE", "PUT", "get"]),
    st.one_of(st.sampled_from([k.split(" ")[1] for k in ALLOW]), st.text(max_size=40)),
    st.one_of(st.text(max_size=60), st.sampled_from([v for k, v in VALID.items() if k[0] == "G"])),
    st.one_of(
        st.binary(max_size=120),
        st.sampled_from([v.encode() for k, v in VALID.items() if k[0] == "P"]),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=8),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
            max_leaves=8,
        ).map(lambda v: json.dumps(v).encode()),
    ),
    st.lists(st.tuples(st.text(max_size=12), st.text(max_size=12)), max_size=3),
)  # fmt: skip
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
