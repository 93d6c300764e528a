"""signer/venues/bitmart.py: one test (or a few) per invariant of its docstring."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

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
from signer.schemes.memo_hmac import MemoHmacSha256
from signer.venues import bitmart
from signer.venues.base import ParsedRequest
from signer.venues.bitmart import VENUE, BitMartVenue

from .conftest import LIVE, SANDBOX, FixedClock

SHARED = Path(__file__).resolve().parents[4] / "shared" / "venues" / "venue_endpoints.json"
API_KEY = "80618e45710812162b04892c7ee5ead4a3cc3e56"
SECRET = "6c6c98544461bbe71db2bca4c6d7fd0021e0ba9efc215f9c6ad41852df9d9df9"
MEMO = "test001"
TS = "1499827319559"  # FixedClock's default

# venue_endpoints.json ("bitmart" allow list), copied so the test runs without shared/.
ALLOW = [
    "POST /spot/v2/submit_order", "POST /spot/v4/batch_orders", "POST /spot/v3/cancel_order",
    "POST /spot/v4/cancel_orders", "POST /spot/v4/cancel_all", "POST /spot/v4/query/order",
    "POST /spot/v4/query/client-order", "POST /spot/v4/query/open-orders",
    "POST /spot/v4/query/history-orders", "POST /spot/v4/query/trades",
    "POST /spot/v4/query/order-trades", "GET /spot/v1/wallet", "GET /account/v1/wallet",
    "GET /spot/v1/trade_fee", "GET /spot/v1/user_fee",
]  # fmt: skip
# The brief: no POST schema may admit any of these (BitMart withdraw/transfer names).
WITHDRAW_NAMES = {
    "currency", "amount", "destination", "address", "address_memo", "value", "areaCode",
    "requestNo", "subAccount", "fromAccount", "toAccount", "coin", "network", "chain",
    "toAccountType", "fromAccountType", "withdrawOrderId", "transferId", "tag", "accountType",
}  # fmt: skip
V4 = {
    "/spot/v4/batch_orders", "/spot/v4/cancel_orders", "/spot/v4/query/order",
    "/spot/v4/query/client-order", "/spot/v4/query/open-orders",
    "/spot/v4/query/history-orders", "/spot/v4/query/trades", "/spot/v4/query/order-trades",
}  # fmt: skip
ORDER = '{"symbol":"BTC_USDT","side":"buy","type":"limit","size":"10","price":"7000"}'
VALID: dict[str, str] = {
    "POST /spot/v2/submit_order": '{"symbol":"BTC_USDT","side":"buy","type":"limit","size":"10","price":"7000","client_order_id":"abc123","stpMode":"cancel_maker"}',
    "POST /spot/v4/batch_orders": '{"symbol":"BTC_USDT","orderParams":[{"clientOrderId":"123abcd","size":"0.1","price":"8800","side":"sell","type":"limit"},{"size":"0.1","side":"sell","type":"market"},{"notional":"100","side":"buy","type":"market","stpMode":"none"}]}',
    "POST /spot/v3/cancel_order": '{"symbol":"BTC_USDT","order_id":"137478201134228938"}',
    "POST /spot/v4/cancel_orders": '{"symbol":"BTC_USDT","orderIds":["1","2"]}',
    "POST /spot/v4/cancel_all": '{"symbol":"BTC_USDT","side":"buy"}',
    "POST /spot/v4/query/order": '{"orderId":"118100034543076010","queryState":"open"}',
    "POST /spot/v4/query/client-order": '{"clientOrderId":"118100034543076010","queryState":"history"}',
    "POST /spot/v4/query/open-orders": '{"symbol":"BTC_USDT","orderMode":"spot","startTime":1682585225000,"endTime":1682585226000,"limit":200}',
    "POST /spot/v4/query/history-orders": '{"symbol":"BTC_USDT","orderMode":"iso_margin","limit":10}',
    "POST /spot/v4/query/trades": "{}",
    "POST /spot/v4/query/order-trades": '{"orderId":"118100034543076010"}',
    "GET /spot/v1/wallet": "",
    "GET /account/v1/wallet": "currency=USDT",
    "GET /spot/v1/trade_fee": "symbol=BTC_USDT",
    "GET /spot/v1/user_fee": "",
}  # fmt: skip
CLASSES = {
    "submit_order": EndpointClass.TRADE, "batch_orders": EndpointClass.TRADE,
    "cancel_order": EndpointClass.CANCEL, "cancel_orders": EndpointClass.CANCEL,
    "cancel_all": EndpointClass.CANCEL,
}  # fmt: skip


def req(key: str, params: str = "", **kw: object) -> HttpRequest:
    """``params`` are the JSON body for POST and the query string for GET."""
    method, path = key.split(" ", 1)
    if method == "POST":
        return HttpRequest(method, path, body=params.encode(), **kw)  # type: ignore[arg-type]
    return HttpRequest(method, path, query=params, **kw)  # type: ignore[arg-type]


# The four KEYED GETs are sent unsigned by default; tests that check the GET
# signature itself use this venue, configured like ccxt.
SIGNED_READS = BitMartVenue(sign_keyed_reads=True)


def parse(request: HttpRequest) -> ParsedRequest:
    return VENUE.parse(LIVE, request)


def creds(memo: str = MEMO) -> VenueCredentials:
    return VenueCredentials("bitmart", API_KEY, Secret(SECRET), Secret(memo), {})


def _mac(message: str) -> str:
    return hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()


def _violations(key: str, params: str) -> tuple[str, ...]:
    return parse(req(key, params)).intent.violations


def _order(**extra: object) -> str:
    return json.dumps({**json.loads(ORDER), **extra})


# --- invariant 1: the endpoint table --------------------------------------------------------


def test_endpoint_table_is_exactly_the_allow_list() -> None:
    assert sorted(e.key for e in bitmart.ENDPOINTS) == sorted(ALLOW)
    assert set(bitmart.SCHEMAS) == set(ALLOW) == set(VALID)
    assert bitmart.RECV_WINDOW == V4
    if SHARED.exists():
        shared = json.loads(SHARED.read_text())["bitmart"]["allow"]
        assert sorted(f"{m} {p}" for m, p in shared) == sorted(ALLOW)


@pytest.mark.parametrize("key", ALLOW)
def test_endpoint_classes(key: str) -> None:
    expected = CLASSES.get(key.rsplit("/", 1)[1], EndpointClass.READ)
    assert parse(req(key, VALID[key])).intent.endpoint_class is expected


@pytest.mark.parametrize("key", ALLOW)
def test_every_allowed_endpoint_parses_and_signs(key: str, clock: FixedClock) -> None:
    parsed = parse(req(key, VALID[key]))
    assert parsed.intent.violations == ()
    assert parsed.intent.endpoint == key
    signed = SIGNED_READS.sign(parsed, creds(), clock)
    sent = signed.request
    method, path = key.split(" ", 1)
    if method == "GET":
        assert (sent.body, sent.query) == (b"", VALID[key])
        payload = sent.query
    else:
        assert sent.query == ""
        expected = json.loads(VALID[key]) | ({"recvWindow": 5000} if path in V4 else {})
        payload = sent.body.decode()
        assert payload == json.dumps(expected, separators=(",", ":"))
    assert signed.auth_headers == (
        ("X-BM-KEY", API_KEY),
        ("X-BM-TIMESTAMP", TS),
        ("X-BM-SIGN", _mac(f"{TS}#{MEMO}#{payload}")),
    )
    assert sent.headers == (*signed.auth_headers, ("Content-Type", "application/json"))
    assert sent.host == "api-cloud.bitmart.com"


# --- invariant 2: schemas ---------------------------------------------------------------------


def test_no_post_schema_admits_a_withdrawal_or_transfer_parameter() -> None:
    posts = {k: s for k, s in bitmart.SCHEMAS.items() if k.startswith("POST")}
    posts["batch order item"] = bitmart.BATCH_ITEM
    assert len(posts) == 12
    for key, schema in posts.items():
        assert not schema.names & WITHDRAW_NAMES, key
        assert schema.forbidden >= WITHDRAW_NAMES, key
        assert {"recvWindow", "timestamp"} <= schema.stamped, key


def test_get_schemas_admit_only_currency_never_amounts() -> None:
    assert {"currency"} == bitmart.READ_ADMITTED
    for key, schema in bitmart.SCHEMAS.items():
        if key.startswith("GET"):
            assert not schema.names & (WITHDRAW_NAMES - {"currency"}), key
            assert schema.forbidden >= WITHDRAW_NAMES - {"currency"}, key


def test_order_type_admits_only_order_types() -> None:
    # A withdrawal's type is an integer account kind; a contract transfer's a direction.
    for bad in (1, "1", "spot_to_contract", "contract_to_spot", "LIMIT", "in"):
        assert any("'type'" in v for v in _violations("POST /spot/v2/submit_order", _order(type=bad)))  # fmt: skip


def test_the_batch_endpoint_uses_the_nested_schema() -> None:
    body = json.loads(VALID["POST /spot/v4/batch_orders"])
    body["orderParams"][2]["address"] = "0xabc"
    assert _violations("POST /spot/v4/batch_orders", json.dumps(body)) == (
        "orderParams[2]: parameter 'address' belongs to withdrawals or transfers and is never signable",
    )  # fmt: skip


@pytest.mark.parametrize("name", sorted(WITHDRAW_NAMES))
def test_withdraw_names_are_violations_on_the_order_path(name: str) -> None:
    violations = _violations("POST /spot/v2/submit_order", _order(**{name: "x"}))
    assert any("never signable" in v for v in violations)


@pytest.mark.parametrize(
    ("key", "params", "needle"),
    [
        ("POST /spot/v2/submit_order", _order(recvWindow=60000), "stamped by the daemon"),
        ("POST /spot/v2/submit_order", _order(timestamp="1"), "stamped by the daemon"),
        ("POST /spot/v4/query/order", '{"orderId":"1","recvwindow":1}', "stamped by the daemon"),
        ("POST /spot/v2/submit_order", _order(count="100"), "'count' is not allowed"),
        ("POST /spot/v2/submit_order", _order(side="BUY"), "'side' must be one of"),
        ("POST /spot/v2/submit_order", _order(symbol="BTCUSDT"), "'symbol' has an invalid value"),
        ("POST /spot/v2/submit_order", _order(size=10), "'size' must be a string"),
        ("POST /spot/v2/submit_order", _order(price="-1"), "'price' has an invalid value"),
        ("POST /spot/v2/submit_order", _order(client_order_id="a-b"), "'client_order_id'"),
        ("POST /spot/v2/submit_order", _order(stpMode="expire_maker"), "'stpMode'"),
        ("POST /spot/v2/submit_order", '{"symbol":"BTC_USDT"}', "'side' is required"),
        ("POST /spot/v2/submit_order", ORDER[:-1] + ',"size":"1"}', "'size' appears more than once"),
        ("POST /spot/v4/batch_orders", '{"symbol":"BTC_USDT","orderParams":[]}', "1 to 10"),
        ("POST /spot/v4/batch_orders", '{"symbol":"BTC_USDT","orderParams":["x"]}', "wrong JSON type"),
        ("POST /spot/v4/batch_orders", '{"symbol":"BTC_USDT","orderParams":[{"side":"buy","type":"limit","client_order_id":"a"}]}', "'client_order_id' is not allowed"),
        ("POST /spot/v4/batch_orders", json.dumps({"symbol": "BTC_USDT", "orderParams": [{"side": "buy", "type": "market", "notional": "1"}] * 11}), "1 to 10"),
        ("POST /spot/v3/cancel_order", '{"symbol":"BTC_USDT"}', "one of order_id"),
        ("POST /spot/v4/cancel_orders", '{"symbol":"BTC_USDT","orderIds":[1]}', "wrong JSON type"),
        ("POST /spot/v4/cancel_orders", '{"symbol":"BTC_USDT","orderIds":["x1"]}', "invalid value"),
        ("POST /spot/v4/query/open-orders", '{"limit":201}', "'limit'"),
        ("POST /spot/v4/query/open-orders", '{"limit":true}', "'limit' must be a"),
        ("POST /spot/v4/query/open-orders", '{"orderMode":"margin"}', "'orderMode'"),
        ("POST /spot/v4/query/order", '{"queryState":"open"}', "'orderId' is required"),
        ("GET /spot/v1/trade_fee", "", "'symbol' is required"),
        ("GET /spot/v1/wallet", "currency=BTC", "'currency' is not allowed"),
        ("GET /account/v1/wallet", "currency=BTC&amount=1", "never signable"),
    ],
)  # fmt: skip
def test_schema_violations(key: str, params: str, needle: str) -> None:
    violations = _violations(key, params)
    assert any(needle in v for v in violations), violations


# --- invariant 3: where parameters may be ----------------------------------------------------


def test_post_with_query_and_get_with_body_are_violations() -> None:
    post = HttpRequest("POST", "/spot/v2/submit_order", query="currency=BTC", body=ORDER.encode())
    assert any("JSON body" in v for v in parse(post).intent.violations)
    get = HttpRequest("GET", "/spot/v1/wallet", body=b'{"currency":"BTC"}')
    assert any("query only" in v for v in parse(get).intent.violations)


def test_content_type_and_auth_headers() -> None:
    form = req("POST /spot/v2/submit_order", ORDER, headers=(("Content-Type", "text/plain"),))
    assert any("Content-Type" in v for v in parse(form).intent.violations)
    for name in ("X-BM-KEY", "X-BM-SIGN", "x-bm-timestamp", "X-BM-BROKER-ID"):
        request = req("GET /spot/v1/wallet", headers=((name, "1"),))
        assert any(name in v for v in parse(request).intent.violations)


@pytest.mark.parametrize("body", [b"[]", b"{", b'{"a":Infinity}', b"\xff\xfe"])
def test_malformed_bodies_are_envelope_errors(body: bytes) -> None:
    with pytest.raises(InvalidRequestError):
        parse(HttpRequest("POST", "/spot/v2/submit_order", body=body))


# --- invariant 4: signing ---------------------------------------------------------------------


def test_empty_post_body_is_signed_as_an_empty_object(clock: FixedClock) -> None:
    signed = VENUE.sign(parse(req("POST /spot/v4/cancel_all")), creds(), clock)
    assert signed.request.body == b"{}"
    assert dict(signed.auth_headers)["X-BM-SIGN"] == _mac(f"{TS}#{MEMO}#{{}}")


def test_recv_window_is_configurable_and_only_on_v4(clock: FixedClock) -> None:
    venue = BitMartVenue(recv_window_ms=1500)
    signed = venue.sign(venue.parse(LIVE, req("POST /spot/v4/query/trades", "{}")), creds(), clock)
    assert signed.request.body == b'{"recvWindow":1500}'
    order = venue.sign(venue.parse(LIVE, req("POST /spot/v2/submit_order", ORDER)), creds(), clock)
    assert order.request.body == ORDER.encode()
    for bad in (0, 60001):
        with pytest.raises(ValueError, match="recv_window_ms"):
            BitMartVenue(recv_window_ms=bad)


def test_keyed_reads_are_sent_unsigned_by_default(clock: FixedClock) -> None:
    venue = VENUE
    read = venue.sign(venue.parse(LIVE, req("GET /spot/v1/wallet")), creds(), clock)
    assert read.auth_headers == (("X-BM-KEY", API_KEY),)
    assert read.request.headers == (("X-BM-KEY", API_KEY), ("Content-Type", "application/json"))
    post = venue.sign(venue.parse(LIVE, req("POST /spot/v2/submit_order", ORDER)), creds(), clock)
    assert [name for name, _ in post.auth_headers] == ["X-BM-KEY", "X-BM-TIMESTAMP", "X-BM-SIGN"]


def _must_not_rebuild() -> object:
    raise AssertionError("the signer was rebuilt instead of taken from the handle's cache")


def test_signer_is_cached_and_redacted(clock: FixedClock) -> None:
    handle = creds()
    SIGNED_READS.sign(parse(req("GET /spot/v1/wallet")), handle, clock)
    cached: object = handle.derived("bitmart:signer", _must_not_rebuild)
    assert isinstance(cached, MemoHmacSha256)
    assert MEMO not in repr(cached) and SECRET not in repr(cached)


def test_empty_memo_is_a_credential_error(clock: FixedClock) -> None:
    with pytest.raises(InvalidCredentialsError, match="memo"):
        VENUE.sign(parse(req("POST /spot/v4/cancel_all", "{}")), creds(memo=""), clock)


def test_sign_refuses_what_the_parser_refused(clock: FixedClock) -> None:
    with pytest.raises(PolicyDeniedError):
        VENUE.sign(parse(req("POST /spot/v2/submit_order", _order(amount="1"))), creds(), clock)
    with pytest.raises(PolicyDeniedError):
        VENUE.sign(parse(req("POST /account/v1/withdraw/apply", "{}")), creds(), clock)


# --- invariant 5: no sandbox ------------------------------------------------------------------


def test_hosts_and_modes() -> None:
    assert parse(req("GET /spot/v1/wallet")).host == "api-cloud.bitmart.com"
    with pytest.raises(ModeMismatchError):
        VENUE.parse(SANDBOX, req("GET /spot/v1/wallet"))
    with pytest.raises(InvalidRequestError):
        parse(req("GET /spot/v1/wallet", host="api-cloud-v2.bitmart.com"))


# --- property: random requests only ever produce typed errors or intents ------------------


@settings(max_examples=300)
@given(
    st.sampled_from(["POST", "GET", "DELETE", "PUT", "post"]),
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
