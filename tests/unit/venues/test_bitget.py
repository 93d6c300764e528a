"""signer/venues/bitget.py: one test (or a few) per invariant of its docstring."""

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
from signer.venues import bitget
from signer.venues.base import ParsedRequest
from signer.venues.bitget import VENUE, BitgetVenue

from .conftest import LIVE, SANDBOX, FixedClock

API_KEY = "bg_0123456789abcdef"
SECRET = "bitget-test-secret-0123456789abcdef"
PASSPHRASE = "Passphrase12"
TS = "1499827319559"  # FixedClock's now_ms

# venue_endpoints.json ("bitget" allow list), copied so the test runs without shared/.
ALLOW = [
    "POST /api/v2/spot/trade/place-order",
    "POST /api/v2/spot/trade/cancel-order",
    "POST /api/v2/spot/trade/batch-orders",
    "POST /api/v2/spot/trade/batch-cancel-order",
    "POST /api/v2/spot/trade/cancel-symbol-order",
    "POST /api/v2/spot/trade/cancel-replace-order",
    "POST /api/v2/spot/trade/place-plan-order",
    "POST /api/v2/spot/trade/modify-plan-order",
    "POST /api/v2/spot/trade/cancel-plan-order",
    "POST /api/v2/spot/trade/batch-cancel-plan-order",
    "GET /api/v2/spot/trade/orderInfo",
    "GET /api/v2/spot/trade/unfilled-orders",
    "GET /api/v2/spot/trade/history-orders",
    "GET /api/v2/spot/trade/fills",
    "GET /api/v2/spot/trade/current-plan-order",
    "GET /api/v2/spot/trade/history-plan-order",
    "GET /api/v2/spot/account/info",
    "GET /api/v2/spot/account/assets",
    "GET /api/v2/spot/account/bills",
]
CANCELS = {
    "POST /api/v2/spot/trade/cancel-order",
    "POST /api/v2/spot/trade/batch-cancel-order",
    "POST /api/v2/spot/trade/cancel-symbol-order",
    "POST /api/v2/spot/trade/cancel-plan-order",
    "POST /api/v2/spot/trade/batch-cancel-plan-order",
}
# DESIGN.md invariant 3 and the brief: no trade schema may admit any of these.
WITHDRAW_NAMES = {
    "address",
    "chain",
    "coin",
    "amount",
    "network",
    "toAccountType",
    "destination",
    "withdrawOrderId",
    "transferType",
    "fromType",
    "toType",
    "innerToType",
    "tag",
}
READS_WITH_COIN = {"GET /api/v2/spot/account/assets", "GET /api/v2/spot/account/bills"}

ORDER: dict[str, Any] = {
    "symbol": "BTCUSDT",
    "side": "buy",
    "orderType": "limit",
    "force": "gtc",
    "price": "23222.5",
    "size": "1",
    "clientOid": "121211212122",
}
ITEM = {k: v for k, v in ORDER.items() if k != "symbol"}
VALID: dict[str, Any] = {
    "POST /api/v2/spot/trade/place-order": ORDER,
    "POST /api/v2/spot/trade/cancel-order": {"symbol": "BTCUSDT", "orderId": "121211212122"},
    "POST /api/v2/spot/trade/batch-orders": {
        "symbol": "BTCUSDT",
        "orderList": [ITEM, {**ITEM, "clientOid": "x2"}],
    },
    "POST /api/v2/spot/trade/batch-cancel-order": {
        "symbol": "BTCUSDT",
        "orderList": [{"orderId": "1"}, {"clientOid": "x2"}],
    },
    "POST /api/v2/spot/trade/cancel-symbol-order": {"symbol": "BTCUSDT"},
    "POST /api/v2/spot/trade/cancel-replace-order": {
        "orderId": "12",
        "symbol": "BTCUSDT",
        "price": "3.24",
        "size": "4",
    },
    "POST /api/v2/spot/trade/place-plan-order": {
        "symbol": "TRXUSDT",
        "side": "buy",
        "triggerPrice": "0.041572",
        "executePrice": "0.041572",
        "size": "151",
        "triggerType": "mark_price",
        "orderType": "limit",
        "clientOid": "12345",
        "force": "gtc",
    },
    "POST /api/v2/spot/trade/modify-plan-order": {
        "orderId": "121211212122",
        "triggerPrice": "0.041222",
        "executePrice": "0.041272",
        "size": "156",
        "orderType": "limit",
    },
    "POST /api/v2/spot/trade/cancel-plan-order": {"clientOid": "12345"},
    "POST /api/v2/spot/trade/batch-cancel-plan-order": {"symbolList": ["BTCUSDT", "ETHUSDT"]},
    "GET /api/v2/spot/trade/orderInfo": "orderId=1234567890",
    "GET /api/v2/spot/trade/unfilled-orders": "symbol=BTCUSDT&startTime=1659036670000&endTime=1659076670000&limit=20",
    "GET /api/v2/spot/trade/history-orders": "symbol=BTCUSDT&tpslType=tpsl",
    "GET /api/v2/spot/trade/fills": "symbol=BTCUSDT&orderId=12",
    "GET /api/v2/spot/trade/current-plan-order": "symbol=BTCUSDT&limit=20",
    "GET /api/v2/spot/trade/history-plan-order": "symbol=BTCUSDT&startTime=1659036670000&endTime=1659076670000&limit=20",
    "GET /api/v2/spot/account/info": "",
    "GET /api/v2/spot/account/assets": "coin=USDT&assetType=hold_only",
    "GET /api/v2/spot/account/bills": "coin=USDT&groupType=transaction&limit=100",
}


def bitget_creds(passphrase: str | bytes = PASSPHRASE) -> VenueCredentials:
    return VenueCredentials("bitget", API_KEY, Secret(SECRET), Secret(passphrase), {})


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
    assert sorted(e.key for e in bitget.ENDPOINTS) == sorted(ALLOW)
    assert set(bitget.SCHEMAS) == set(VALID) == set(ALLOW)
    assert len(ALLOW) == 19


@pytest.mark.parametrize("key", ALLOW)
def test_endpoint_classes(key: str) -> None:
    if key.startswith("GET"):
        expected = EndpointClass.READ
    else:
        expected = EndpointClass.CANCEL if key in CANCELS else EndpointClass.TRADE
    assert parse(req(key, VALID[key])).intent.endpoint_class is expected


# --- invariants 2-5: every allowed endpoint parses and signs the bytes it sends ---------------


@pytest.mark.parametrize("key", ALLOW)
def test_every_allowed_endpoint_parses_and_signs(key: str, clock: FixedClock) -> None:
    parsed = parse(req(key, VALID[key]))
    assert parsed.intent.violations == ()
    assert parsed.intent.endpoint == key
    signed = VENUE.sign(parsed, bitget_creds(), clock)
    sent = signed.request
    query = f"?{sent.query}" if sent.query else ""
    assert dict(signed.auth_headers) == {
        "ACCESS-KEY": API_KEY,
        "ACCESS-SIGN": expected_sign(TS + sent.method + sent.path + query + sent.body.decode()),
        "ACCESS-TIMESTAMP": TS,
        "ACCESS-PASSPHRASE": PASSPHRASE,
    }
    assert sent.headers[4:] == (("Content-Type", "application/json"), ("locale", "en-US"))
    assert sent.host == "api.bitget.com"
    stamped = key in bitget.RECEIVE_WINDOW
    if sent.method == "GET":
        assert sent.body == b""
        assert sent.query.endswith(f"requestTime={TS}&receiveWindow=5000") == stamped
        assert sent.query.startswith(VALID[key])
    else:
        assert sent.query == ""
        body = json.loads(sent.body)
        extra = {"requestTime": TS, "receiveWindow": "5000"} if stamped else {}
        assert body == {**VALID[key], **extra}
        assert list(body) == [*VALID[key], *extra]


def test_sign_exact_request_for_the_documented_example(clock: FixedClock) -> None:
    body = json.dumps({**ORDER, "requestTime": TS, "receiveWindow": "5000"}, separators=(",", ":"))
    signed = VENUE.sign(
        parse(req("POST /api/v2/spot/trade/place-order", ORDER)), bitget_creds(), clock
    )
    auth = (
        ("ACCESS-KEY", API_KEY),
        ("ACCESS-SIGN", expected_sign(TS + "POST/api/v2/spot/trade/place-order" + body)),
        ("ACCESS-TIMESTAMP", TS),
        ("ACCESS-PASSPHRASE", PASSPHRASE),
    )
    assert signed.auth_headers == auth
    assert signed.request == HttpRequest(
        "POST",
        "/api/v2/spot/trade/place-order",
        "",
        body.encode(),
        (*auth, ("Content-Type", "application/json"), ("locale", "en-US")),
        "api.bitget.com",
    )


def test_prehash_matches_the_documented_example() -> None:
    # Bitget "Signature" doc: pre-hash of GET /api/mix/v2/market/depth?symbol=BTCUSDT&limit=20.
    expected = b"16273667805456GET/api/mix/v2/market/depth?symbol=BTCUSDT&limit=20"
    assert (
        bitget.prehash(
            "16273667805456", "GET", "/api/mix/v2/market/depth", "symbol=BTCUSDT&limit=20", ""
        )
        == expected
    )
    assert bitget.prehash("1", "POST", "/p", "", '{"a":"b"}') == b'1POST/p{"a":"b"}'


def test_no_schema_admits_a_withdrawal_or_transfer_parameter() -> None:
    nested = [bitget.BATCH_ITEM, bitget.CANCEL_ITEM]
    for key, schema in [*bitget.SCHEMAS.items(), *(("nested", s) for s in nested)]:
        names = WITHDRAW_NAMES - {"coin"} if key in READS_WITH_COIN else WITHDRAW_NAMES
        assert not schema.names & names, key
        assert schema.forbidden >= names, key
        assert {"requestTime", "receiveWindow"} <= schema.stamped, key
    trade = [s for k, s in bitget.SCHEMAS.items() if k not in READS_WITH_COIN]
    assert all("coin" in s.forbidden for s in trade)


@pytest.mark.parametrize("name", sorted(WITHDRAW_NAMES))
def test_withdraw_names_are_violations_on_the_order_path(name: str) -> None:
    found = violations("POST /api/v2/spot/trade/place-order", {**ORDER, name: "x"})
    assert any("never signable" in v for v in found), found


@pytest.mark.parametrize(
    ("key", "params", "needle"),
    [
        (
            "POST /api/v2/spot/trade/place-order",
            {**ORDER, "requestTime": TS},
            "stamped by the daemon",
        ),
        (
            "POST /api/v2/spot/trade/place-order",
            {**ORDER, "receiveWindow": "60000"},
            "stamped by the daemon",
        ),
        ("POST /api/v2/spot/trade/place-order", {**ORDER, "extra": "1"}, "'extra' is not allowed"),
        ("POST /api/v2/spot/trade/place-order", {**ORDER, "side": "BUY"}, "'side' must be one of"),
        ("POST /api/v2/spot/trade/place-order", {**ORDER, "size": 151}, "'size' must be a string"),
        (
            "POST /api/v2/spot/trade/place-order",
            {**ORDER, "price": 1.5},
            "'price' must be a string",
        ),
        ("POST /api/v2/spot/trade/place-order", {**ORDER, "symbol": "btcusdt"}, "'symbol'"),
        ("POST /api/v2/spot/trade/place-order", {**ORDER, "symbol": "BTC/USDT"}, "'symbol'"),
        ("POST /api/v2/spot/trade/place-order", {**ORDER, "clientOid": "a" * 51}, "'clientOid'"),
        (
            "POST /api/v2/spot/trade/place-order",
            {k: v for k, v in ORDER.items() if k != "force"},
            "'force' is required",
        ),
        ("POST /api/v2/spot/trade/place-order", {**ORDER, "stpMode": "transfer"}, "'stpMode'"),
        (
            "POST /api/v2/spot/trade/cancel-order",
            {"symbol": "BTCUSDT"},
            "one of orderId, clientOid",
        ),
        ("POST /api/v2/spot/trade/batch-orders", {"orderList": []}, "1 to 50 objects"),
        ("POST /api/v2/spot/trade/batch-orders", {"orderList": [ITEM] * 51}, "1 to 50 objects"),
        (
            "POST /api/v2/spot/trade/batch-orders",
            {"orderList": {"side": "buy"}},
            "must be a JSON array",
        ),
        (
            "POST /api/v2/spot/trade/batch-orders",
            {"orderList": [ITEM, {**ITEM, "address": "x"}]},
            "orderList[1]: parameter 'address' belongs to withdrawals",
        ),
        (
            "POST /api/v2/spot/trade/batch-orders",
            {"orderList": [ITEM, 5]},
            "orderList[1] must be a JSON object",
        ),
        (
            "POST /api/v2/spot/trade/batch-orders",
            {"orderList": [{**ITEM, "requestTime": "1"}]},
            "orderList[0]: parameter 'requestTime' is stamped",
        ),
        (
            "POST /api/v2/spot/trade/batch-cancel-order",
            {"orderList": [{"symbol": "BTCUSDT"}]},
            "orderList[0]: one of orderId, clientOid",
        ),
        (
            "POST /api/v2/spot/trade/batch-cancel-plan-order",
            {"symbolList": "BTCUSDT"},
            "must be a JSON array",
        ),
        (
            "POST /api/v2/spot/trade/batch-cancel-plan-order",
            {"symbolList": ["btc"]},
            "'symbolList'",
        ),
        ("GET /api/v2/spot/trade/orderInfo", "orderId=1&requestTime=1", "stamped by the daemon"),
        ("GET /api/v2/spot/trade/orderInfo", "", "one of orderId, clientOid"),
        (
            "GET /api/v2/spot/trade/orderInfo",
            "clientOid=a.b~c",
            "'clientOid' has an invalid value",
        ),
        ("GET /api/v2/spot/trade/fills", "orderId=1", "'symbol' is required"),
        ("GET /api/v2/spot/trade/history-plan-order", "symbol=BTCUSDT", "'startTime' is required"),
        ("GET /api/v2/spot/trade/unfilled-orders", "limit=101", "'limit'"),
        (
            "GET /api/v2/spot/trade/unfilled-orders",
            "symbol=BTCUSDT&symbol=ETHUSDT",
            "more than once",
        ),
        ("GET /api/v2/spot/account/assets", "coin=USDT&address=x", "belongs to withdrawals"),
        ("GET /api/v2/spot/account/info", "coin=USDT", "belongs to withdrawals"),
    ],
)
def test_schema_violations(key: str, params: Any, needle: str) -> None:
    found = violations(key, params)
    assert any(needle in v for v in found), found


def test_query_values_must_not_need_percent_encoding() -> None:
    # Bitget verifies over the decoded query; an encoded value would be ambiguous.
    found = violations("GET /api/v2/spot/trade/fills", "symbol=BTC%55SDT")
    assert found == ()  # %55 decodes to 'U': the value is re-encoded as plain BTCUSDT
    found = violations("GET /api/v2/spot/account/bills", "businessType=A%2CB")
    assert any("unreserved characters" in v for v in found), found


def test_stamped_values_follow_the_callers_query(clock: FixedClock) -> None:
    parsed = parse(req("GET /api/v2/spot/trade/unfilled-orders", "symbol=BTCUSDT&limit=20"))
    sent = VENUE.sign(parsed, bitget_creds(), clock).request
    assert sent.query == f"symbol=BTCUSDT&limit=20&requestTime={TS}&receiveWindow=5000"
    message = TS + "GET/api/v2/spot/trade/unfilled-orders?" + sent.query
    assert dict(sent.headers)["ACCESS-SIGN"] == expected_sign(message)


def test_receive_window_is_configurable(clock: FixedClock) -> None:
    venue = BitgetVenue(receive_window_ms=60000)
    parsed = venue.parse(LIVE, req("GET /api/v2/spot/trade/orderInfo", "orderId=1"))
    assert venue.sign(parsed, bitget_creds(), clock).request.query.endswith("&receiveWindow=60000")
    for bad in (0, 60001):
        with pytest.raises(ValueError, match="receive_window_ms"):
            BitgetVenue(receive_window_ms=bad)


# --- invariant 3: where parameters may be ------------------------------------------------------


def test_get_with_body_and_post_with_query_are_violations() -> None:
    get = HttpRequest("GET", "/api/v2/spot/account/info", body=b"{}")
    assert any("query only" in v for v in parse(get).intent.violations)
    post = HttpRequest(
        "POST",
        "/api/v2/spot/trade/cancel-symbol-order",
        query="symbol=BTCUSDT",
        body=b'{"symbol":"BTCUSDT"}',
    )
    assert any("request.query must be empty" in v for v in parse(post).intent.violations)


def test_post_body_must_be_a_json_object() -> None:
    for bad in (b"", b"[]", b'{"symbol":NaN}', b"symbol=BTCUSDT"):
        with pytest.raises(InvalidRequestError):
            parse(HttpRequest("POST", "/api/v2/spot/trade/cancel-symbol-order", body=bad))


@pytest.mark.parametrize(
    "header",
    [
        "ACCESS-KEY",
        "access-sign",
        "ACCESS-PASSPHRASE",
        "ACCESS-TIMESTAMP",
        "paptrading",
        "PAPTRADING",
        "locale",
    ],
)
def test_caller_auth_and_mode_headers_are_violations(header: str) -> None:
    request = req("GET /api/v2/spot/account/info", headers=((header, "1"),))
    assert any(repr(header) in v for v in parse(request).intent.violations)


def test_signing_objects_are_cached_on_the_handle(clock: FixedClock) -> None:
    creds = bitget_creds()
    VENUE.sign(parse(req("GET /api/v2/spot/account/info")), creds, clock)

    def must_not_rebuild() -> object:
        raise AssertionError("rebuilt instead of cached")

    assert creds.derived("bitget:hmac-sha256", must_not_rebuild) is not None
    assert creds.derived("bitget:passphrase", must_not_rebuild) == PASSPHRASE


def test_unsafe_passphrase_is_a_credential_error(clock: FixedClock) -> None:
    with pytest.raises(InvalidCredentialsError, match="passphrase"):
        VENUE.sign(parse(req("GET /api/v2/spot/account/info")), bitget_creds(b"a\nb"), clock)


def test_sign_refuses_what_the_parser_refused(clock: FixedClock) -> None:
    with pytest.raises(PolicyDeniedError):
        VENUE.sign(
            parse(req("POST /api/v2/spot/trade/place-order", {**ORDER, "chain": "x"})),
            bitget_creds(),
            clock,
        )
    with pytest.raises(PolicyDeniedError):
        VENUE.sign(
            parse(HttpRequest("POST", "/api/v2/spot/wallet/withdrawal", body=b"{}")),
            bitget_creds(),
            clock,
        )


# --- invariant 6: modes ---------------------------------------------------------------------


def test_sandbox_gets_paptrading_live_never(clock: FixedClock) -> None:
    sandbox = VENUE.parse(SANDBOX, req("GET /api/v2/spot/account/info"))
    assert sandbox.host == "api.bitget.com" and sandbox.intent.mode == "sandbox"
    assert ("paptrading", "1") in VENUE.sign(sandbox, bitget_creds(), clock).request.headers
    live = VENUE.sign(parse(req("GET /api/v2/spot/account/info")), bitget_creds(), clock)
    assert all(name.lower() != "paptrading" for name, _ in live.request.headers)


def test_hosts() -> None:
    for host in ("api.bitget.com.evil.example", "api.bitget.com:443", "capi.bitget.com"):
        with pytest.raises(InvalidRequestError):
            parse(req("GET /api/v2/spot/account/info", host=host))


# --- property: random requests only ever produce typed errors or intents ------------------


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["POST", "GET", "DELETE", "PUT", "get"]),
    st.one_of(st.sampled_from([k.split(" ")[1] for k in ALLOW]), st.text(max_size=40)),
    st.one_of(
        st.text(max_size=60), st.sampled_from([v for v in VALID.values() if isinstance(v, str)])
    ),
    st.one_of(
        st.binary(max_size=120),
        st.dictionaries(
            st.text(max_size=8),
            st.text(max_size=8) | st.integers() | st.lists(st.text(max_size=4), max_size=3),
            max_size=4,
        ).map(lambda v: json.dumps(v).encode()),
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
