"""signer/venues/cryptocom.py: one test (or a few) per invariant of its docstring."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy.intents import EndpointClass
from signer.domain import HttpRequest
from signer.errors import InvalidRequestError, ModeMismatchError, PolicyDeniedError
from signer.keystore.handles import VenueCredentials
from signer.venues import cryptocom
from signer.venues.base import ParsedRequest
from signer.venues.cryptocom import VENUE, param_string

from .conftest import LIVE, SANDBOX, FixedClock, make_creds

API_KEY = "cdc-api-key-0123456789"
SECRET = "cdc-secret-ABCDEFGHIJKLMNOPQRSTUV"

# venue_endpoints.json ("cryptocom" allow list), copied so the test runs without shared/.
ALLOW = [
    "private/create-order",
    "private/amend-order",
    "private/cancel-order",
    "private/cancel-all-orders",
    "private/create-order-list",
    "private/cancel-order-list",
    "private/close-position",
    "private/set-cancel-on-disconnect",
    "private/get-cancel-on-disconnect",
    "private/user-balance",
    "private/user-balance-history",
    "private/get-positions",
    "private/get-open-orders",
    "private/get-order-detail",
    "private/get-order-history",
    "private/get-trades",
    "private/get-transactions",
    "private/get-order-list",
    "private/get-accounts",
    "private/get-fee-rate",
    "private/get-instrument-fee-rate",
]
ORDER = {
    "instrument_name": "BTC_USDT",
    "side": "BUY",
    "type": "LIMIT",
    "price": "50000.5",
    "quantity": "0.01",
    "client_oid": "c-1",
}
LEG = {
    "instrument_name": "CRO_USD",
    "side": "SELL",
    "type": "LIMIT",
    "quantity": "10",
    "price": "0.12",
}
VALID: dict[str, dict[str, object]] = {
    "private/create-order": {
        **ORDER,
        "exec_inst": ["POST_ONLY"],
        "time_in_force": "GOOD_TILL_CANCEL",
        "stp_scope": "M",
        "stp_inst": "B",
        "stp_id": "100",
        "fee_instrument_name": "USDT",
    },
    "private/amend-order": {
        "order_id": "6530219466236720401",
        "new_price": "82000",
        "new_quantity": "0.0002",
    },
    "private/cancel-order": {"order_id": "18342311"},
    "private/cancel-all-orders": {"instrument_name": "BTCUSD-PERP", "type": "ALL"},
    "private/create-order-list": {
        "contingency_type": "LIST",
        "order_list": [LEG, {**LEG, "price": "0.122", "client_oid": "api_leg2"}],
    },
    "private/cancel-order-list": {
        "contingency_type": "LIST",
        "order_list": [{"instrument_name": "CRO_USD", "order_id": "1"}],
    },
    "private/close-position": {
        "instrument_name": "BTCUSD-PERP",
        "type": "LIMIT",
        "price": "30000.0",
    },
    "private/set-cancel-on-disconnect": {"scope": "CONNECTION"},
    "private/get-cancel-on-disconnect": {},
    "private/user-balance": {},
    "private/user-balance-history": {"timeframe": "H1", "limit": "120"},
    "private/get-positions": {"instrument_name": "BTCUSD-PERP"},
    "private/get-open-orders": {},
    "private/get-order-detail": {"client_oid": "c-1"},
    "private/get-order-history": {
        "instrument_name": "BTCUSD-PERP",
        "start_time": "1610905028000081486",
        "end_time": "1613570791058211357",
        "limit": "20",
    },
    "private/get-trades": {"limit": "100"},
    "private/get-transactions": {"journal_type": "TRADING"},
    "private/get-order-list": {
        "contingency_type": "OCO",
        "list_id": "6498090546073120100",
        "instrument_name": "BTCUSD-PERP",
    },
    "private/get-accounts": {"page_size": "30", "page": "2"},
    "private/get-fee-rate": {},
    "private/get-instrument-fee-rate": {"instrument_name": "BTC_USD"},
}
WITHDRAW = {
    "currency": "BTC",
    "amount": "1",
    "address": "2NBqqD5GRJ8wHy1PYyCXTe9ke5226FhavBf",
    "network_id": "BTC",
    "address_tag": "",
    "client_wid": "w",
}


def creds() -> VenueCredentials:
    return make_creds("cryptocom", API_KEY, SECRET)


def req(
    method_name: str, params: object = None, *, path: str | None = None, **body_extra: object
) -> HttpRequest:
    body: dict[str, object] = {"method": method_name, **body_extra}
    if params is not None:
        body["params"] = params
    return HttpRequest(
        "POST", path or "/exchange/v1/" + method_name, body=json.dumps(body).encode()
    )


def parse(request: HttpRequest) -> ParsedRequest:
    return VENUE.parse(LIVE, request)


def found(method_name: str, params: object, **kw: object) -> tuple[str, ...]:
    return parse(req(method_name, params, **kw)).intent.violations  # type: ignore[arg-type]


# --- invariant 1: the endpoint table --------------------------------------------------------


def test_endpoint_table_is_exactly_the_allow_list() -> None:
    assert sorted(e.key for e in cryptocom.ENDPOINTS) == sorted(
        f"POST /exchange/v1/{m}" for m in ALLOW
    )
    assert len(ALLOW) == 21 == len(VALID)


@pytest.mark.parametrize("method_name", ALLOW)
def test_endpoint_classes(method_name: str) -> None:
    name = method_name.removeprefix("private/")
    if name.startswith("cancel-"):
        expected = EndpointClass.CANCEL
    elif name in (
        "create-order",
        "amend-order",
        "create-order-list",
        "close-position",
        "set-cancel-on-disconnect",
    ):
        expected = EndpointClass.TRADE
    else:
        expected = EndpointClass.READ
    assert parse(req(method_name, VALID[method_name])).intent.endpoint_class is expected


@pytest.mark.parametrize("method_name", ALLOW)
def test_every_allowed_endpoint_parses_and_signs(method_name: str) -> None:
    parsed = parse(req(method_name, VALID[method_name]))
    assert parsed.intent.violations == ()
    clock = FixedClock(now_ms=1587846358253, nonce=1587846358300)
    signed = VENUE.sign(parsed, creds(), clock)
    sent = signed.request
    assert (sent.method, sent.path, sent.query, sent.host) == (
        "POST",
        "/exchange/v1/" + method_name,
        "",
        "api.crypto.com",
    )
    assert sent.headers == (("Content-Type", "application/json"),)
    assert signed.auth_headers == ()
    body = json.loads(sent.body)
    assert list(body) == ["id", "method", "api_key", "params", "nonce", "sig"]
    assert body["id"] == 1587846358300 and body["nonce"] == 1587846358253
    assert clock.scopes == [f"cryptocom-id:{API_KEY}"]
    assert body["params"] == VALID[method_name] and body["method"] == method_name
    preimage = f"{method_name}{body['id']}{API_KEY}{param_string(body['params'])}{body['nonce']}"
    assert body["sig"] == hmac.new(SECRET.encode(), preimage.encode(), hashlib.sha256).hexdigest()


def test_params_may_be_omitted_and_are_sent_empty(clock: FixedClock) -> None:
    signed = VENUE.sign(parse(req("private/user-balance")), creds(), clock)
    assert json.loads(signed.request.body)["params"] == {}


# --- invariant 2: the envelope the caller may send -------------------------------------------------


@pytest.mark.parametrize("field", ["id", "nonce", "api_key", "sig"])
def test_stamped_fields_are_violations(field: str) -> None:
    assert any(
        "stamped by the daemon" in v for v in found("private/user-balance", {}, **{field: "1"})
    )
    assert any("stamped by the daemon" in v for v in found("private/user-balance", {field: "1"}))


@pytest.mark.parametrize(
    ("path", "method_name"),
    [
        ("/exchange/v1/private/create-order", "private/create-withdrawal"),
        ("/exchange/v1/private/get-trades", "private/create-order"),
        ("/exchange/v1/private/create-order", "private/Create-Order"),
        ("/exchange/v1/private/create-order", "/private/create-order"),
        ("/exchange/v1/private/create-order", "private/create-order "),
    ],
)
def test_body_method_must_equal_the_path(path: str, method_name: str) -> None:
    violations = parse(req(method_name, ORDER, path=path)).intent.violations
    assert any("body.method must equal" in v for v in violations)


def test_missing_method_unknown_fields_and_query() -> None:
    request = HttpRequest("POST", "/exchange/v1/private/user-balance", body=b'{"params":{}}')
    assert any("body.method" in v for v in parse(request).intent.violations)
    assert any("'extra' is not allowed" in v for v in found("private/user-balance", {}, extra=1))
    request = HttpRequest(
        "POST",
        "/exchange/v1/private/user-balance",
        query="a=1",
        body=req("private/user-balance", {}).body,
    )
    assert any("query must be empty" in v for v in parse(request).intent.violations)
    assert any(
        "JSON object with method" in v
        for v in parse(HttpRequest("POST", "/exchange/v1/private/user-balance")).intent.violations
    )
    assert any("params must be a JSON object" in v for v in found("private/user-balance", []))


# --- invariant 3: strict params ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method_name", "params", "needle"),
    [
        ("private/create-order", {**ORDER, "quantity": 1}, "'quantity' must be a string"),
        ("private/create-order", {**ORDER, "price": 50000.5}, "'price' must be a string"),
        ("private/create-order", {**ORDER, "client_oid": None}, "'client_oid' must be a string"),
        ("private/create-order", {**ORDER, "reduce_only": True}, "'reduce_only' is not allowed"),
        ("private/create-order", {**ORDER, "side": "buy"}, "'side' must be one of"),
        ("private/create-order", {**ORDER, "exec_inst": "POST_ONLY"}, "must be a JSON array"),
        (
            "private/create-order",
            {**ORDER, "exec_inst": ["POST_ONLY", "SMART_POST_ONLY"]},
            "'exec_inst'",
        ),
        ("private/create-order", {**ORDER, "stp_id": "32768"}, "from 0 to 32767"),
        ("private/create-order", {**ORDER, "client_oid": "x" * 37}, "'client_oid'"),
        ("private/create-order", {**ORDER, "isolation_id": "1"}, "'isolation_id' is not allowed"),
        ("private/create-order", {**ORDER, "isolated_margin_amount": "1"}, "never signable"),
        ("private/create-order", {**ORDER, "nested": {"a": "b"}}, "not allowed"),
        (
            "private/create-order",
            {k: v for k, v in ORDER.items() if k != "side"},
            "'side' is required",
        ),
        (
            "private/create-order-list",
            {"contingency_type": "LIST", "order_list": [{**LEG, "exec_inst": ["POST_ONLY"]}]},
            "order_list[0]: parameter 'exec_inst' is not allowed",
        ),
        (
            "private/create-order-list",
            {"contingency_type": "LIST", "order_list": [LEG] * 11},
            "1 to 10",
        ),
        (
            "private/create-order-list",
            {"contingency_type": "OCO", "order_list": [LEG]},
            "exactly 2",
        ),
        (
            "private/create-order-list",
            {"contingency_type": "LIST", "order_list": [{**LEG, "price": 1}]},
            "'price' must be a string",
        ),
        (
            "private/create-order-list",
            {"contingency_type": "LIST", "order_list": ["x"]},
            "must be a JSON object",
        ),
        ("private/cancel-order-list", {"contingency_type": "OCO", "list_id": "1"}, "OCO cancel"),
        (
            "private/cancel-order-list",
            {"contingency_type": "LIST", "list_id": "1", "order_list": [{"order_id": "1"}]},
            "LIST cancel",
        ),
        ("private/cancel-order", {}, "one of order_id, client_oid"),
        ("private/get-trades", {"limit": "101"}, "from 1 to 100"),
        ("private/user-balance", {"currency": "BTC"}, "never signable"),
        ("private/set-cancel-on-disconnect", {"scope": "ACCOUNT"}, "'scope' must be one of"),
    ],
)
def test_schema_violations(method_name: str, params: object, needle: str) -> None:
    violations = found(method_name, params)
    assert any(needle in v for v in violations), violations


@pytest.mark.parametrize("name", sorted(WITHDRAW))
def test_withdraw_names_are_violations_on_the_order_path(name: str) -> None:
    for method_name, schema in cryptocom.SCHEMAS.items():
        assert name not in schema.names, method_name
    violations = found("private/create-order", {**ORDER, name: WITHDRAW[name]})
    assert any("never signable" in v for v in violations), violations


def test_duplicate_json_keys_are_violations() -> None:
    raw = b'{"method":"private/cancel-order","params":{"order_id":"1","order_id":"2"}}'
    violations = parse(
        HttpRequest("POST", "/exchange/v1/private/cancel-order", body=raw)
    ).intent.violations
    assert any("more than once" in v for v in violations)


def test_deep_nesting_is_refused() -> None:
    deep: object = "x"
    for _ in range(10):
        deep = [deep]
    with pytest.raises(InvalidRequestError):
        parse(req("private/create-order", {**ORDER, "exec_inst": deep}))
    three = {"contingency_type": "LIST", "order_list": [{**LEG, "client_oid": [{"a": "b"}]}]}
    assert found("private/create-order-list", three)


def test_hosts_and_modes() -> None:
    sandbox = VENUE.parse(SANDBOX, req("private/user-balance", {}))
    assert sandbox.host == "uat-api.3ona.co" and sandbox.intent.mode == "sandbox"
    with pytest.raises(ModeMismatchError):
        parse(HttpRequest("POST", "/exchange/v1/private/user-balance", host="uat-api.3ona.co"))
    with pytest.raises(ModeMismatchError):
        VENUE.parse(
            SANDBOX, HttpRequest("POST", "/exchange/v1/private/user-balance", host="api.crypto.com")
        )
    with pytest.raises(InvalidRequestError):
        parse(HttpRequest("POST", "/exchange/v1/private/user-balance", host="api.crypto.com.evil"))


# --- invariant 4: signing ------------------------------------------------------------------------


def test_param_string_reference_examples() -> None:
    # Crypto.com's documented algorithm: keys sorted, key || value, lists concatenated.
    assert param_string({}) == ""
    assert param_string({"order_id": "53287421324"}) == "order_id53287421324"
    assert (
        param_string({"b": "2", "a": "1", "exec_inst": ["POST_ONLY"]}) == "a1b2exec_instPOST_ONLY"
    )
    legs = {
        "contingency_type": "LIST",
        "order_list": [{"side": "BUY", "price": "0.24"}, {"quantity": "1.0"}],
    }
    assert param_string(legs) == "contingency_typeLISTorder_listprice0.24sideBUYquantity1.0"


@pytest.mark.parametrize(
    "bad",
    [{"a": 1}, {"a": True}, {"a": None}, {"a": {"b": "c"}}, {"a": [["x"]]}, {"a": [{"b": ["c"]}]}],
)
def test_param_string_refuses_unadmitted_shapes(bad: dict[str, object]) -> None:
    with pytest.raises(TypeError):
        param_string(bad)


def test_signer_is_cached_and_passthrough_kept(clock: FixedClock) -> None:
    handle = creds()
    request = HttpRequest(
        "POST",
        "/exchange/v1/private/user-balance",
        body=req("private/user-balance", {}).body,
        headers=(("Accept", "application/json"),),
    )
    signed = VENUE.sign(parse(request), handle, clock)
    assert signed.request.headers == (
        ("Content-Type", "application/json"),
        ("Accept", "application/json"),
    )

    def fail() -> object:
        raise AssertionError("rebuilt")

    assert repr(handle.derived("cryptocom:hmac-sha256", fail)) == "HmacSha256(<redacted>)"


def test_sign_refuses_what_the_parser_refused(clock: FixedClock) -> None:
    with pytest.raises(PolicyDeniedError):
        VENUE.sign(parse(req("private/create-order", {**ORDER, "address": "x"})), creds(), clock)
    with pytest.raises(PolicyDeniedError):
        VENUE.sign(parse(req("private/create-withdrawal", WITHDRAW)), creds(), clock)


# --- property: random requests only ever produce typed errors or intents ------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
# Parameter names the schemas know (plus stamped and withdrawal names), so that the
# generated params reach the value validators, not only the unknown-name check.
_NAMES = sorted(
    {n for s in cryptocom.SCHEMAS.values() for n in s.names}
    | cryptocom.STAMPED
    | cryptocom.FORBIDDEN
)
_known = st.dictionaries(
    st.sampled_from(_NAMES),
    _json | st.lists(st.dictionaries(st.sampled_from(_NAMES), _json, max_size=4), max_size=3),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["POST", "GET", "post"]),
    st.one_of(st.sampled_from(ALLOW), st.text(max_size=30)),
    st.one_of(st.none(), st.sampled_from(ALLOW), st.text(max_size=30), st.integers()),
    st.one_of(_json, _known, st.sampled_from(list(VALID.values()))),
    st.one_of(st.text(max_size=10), st.just("")),
    st.booleans(),
)
def test_parse_random_requests_only_typed_errors(
    http_method: str, path_method: str, body_method: object, params: object, query: str, raw: bool
) -> None:
    method = path_method if body_method is None else body_method
    body = (
        json.dumps({"method": method, "params": params}).encode()
        if not raw
        else str(params).encode()
    )
    request = HttpRequest(http_method, "/exchange/v1/" + path_method, query, body)
    try:
        intent = parse(request).intent
    except (InvalidRequestError, ModeMismatchError):
        return
    assert intent.endpoint is None or intent.endpoint == f"POST /exchange/v1/{path_method}"
    assert all(isinstance(v, str) for v in intent.violations)


_values = st.one_of(
    _json,
    st.lists(
        st.one_of(
            st.text(max_size=4),
            st.dictionaries(st.text(max_size=4), _json, max_size=2),
            st.lists(_json, max_size=2),
        ),
        min_size=1,
        max_size=2,
    ),
)


@pytest.mark.parametrize("method_name", ALLOW)
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_parse_random_params_on_allowed_methods(method_name: str, data: st.DataObject) -> None:
    """Schema-aware fuzzing: the method's own names with arbitrary JSON values."""
    names = sorted(cryptocom.SCHEMAS[method_name].names) or ["x"]
    params = data.draw(st.dictionaries(st.sampled_from(names), _values | _known, max_size=6))
    try:
        intent = parse(req(method_name, params)).intent
    except InvalidRequestError:
        return
    assert intent.endpoint == f"POST /exchange/v1/{method_name}"
    assert all(isinstance(v, str) for v in intent.violations)
