"""signer/venues/kalshi.py: one test (or a few) per invariant of its docstring."""

from __future__ import annotations

import base64
import json
from functools import cache

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from policy.intents import EndpointClass
from signer.domain import HttpRequest
from signer.errors import InvalidRequestError, ModeMismatchError, PolicyDeniedError
from signer.keystore.handles import VenueCredentials
from signer.venues import _params as P
from signer.venues import kalshi
from signer.venues.base import ParsedRequest
from signer.venues.kalshi import VENUE

from .conftest import LIVE, SANDBOX, FixedClock, make_creds

API_KEY = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"
PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
V2 = "/trade-api/v2"

# venue_endpoints.json ("kalshi" allow list), copied so the test runs without shared/.
ALLOW = [
    "POST /portfolio/orders",
    "DELETE /portfolio/orders/{order_id}",
    "POST /portfolio/orders/batched",
    "DELETE /portfolio/orders/batched",
    "POST /portfolio/orders/{order_id}/amend",
    "POST /portfolio/orders/{order_id}/decrease",
    "POST /portfolio/order_groups/create",
    "POST /portfolio/order_groups/{order_group_id}/reset",
    "DELETE /portfolio/order_groups/{order_group_id}",
    "POST /communications/rfqs",
    "DELETE /communications/rfqs/{rfq_id}",
    "POST /communications/quotes",
    "DELETE /communications/quotes/{quote_id}",
    "PUT /communications/quotes/{quote_id}/accept",
    "PUT /communications/quotes/{quote_id}/confirm",
    "GET /portfolio/balance",
    "GET /portfolio/positions",
    "GET /portfolio/fills",
    "GET /portfolio/orders",
    "GET /portfolio/orders/{order_id}",
    "GET /portfolio/orders/{order_id}/queue_position",
    "POST /portfolio/orders/queue_positions",
    "GET /portfolio/settlements",
    "GET /portfolio/order_groups",
    "GET /portfolio/summary/total_resting_order_value",
    "GET /communications/rfqs",
    "GET /communications/quotes",
    "GET /communications/id",
]
OID = "ee8f4a35-4bb1-4ba7-9c1a-2b1d4f6a1c7e"
ORDER = {
    "ticker": "KXBTCD-25APR1517-T84999.99",
    "side": "yes",
    "action": "buy",
    "count": 3,
    "type": "limit",
    "yes_price": 42,
    "client_order_id": "c-1",
}
# A concrete path, query and body for every allowed endpoint.
VALID: dict[str, tuple[str, str, dict[str, object] | None]] = {
    "POST /portfolio/orders": ("/portfolio/orders", "", ORDER),
    "DELETE /portfolio/orders/{order_id}": (f"/portfolio/orders/{OID}", "subaccount=2", None),
    "POST /portfolio/orders/batched": (
        "/portfolio/orders/batched",
        "",
        {"orders": [ORDER, {**ORDER, "side": "no", "no_price_dollars": "0.5800"}]},
    ),
    "DELETE /portfolio/orders/batched": (
        "/portfolio/orders/batched",
        "",
        {"orders": [{"order_id": OID, "subaccount": 1}]},
    ),
    "POST /portfolio/orders/{order_id}/amend": (
        f"/portfolio/orders/{OID}/amend",
        "",
        {"ticker": "KX-1", "side": "yes", "action": "buy", "yes_price": 40, "count": 5},
    ),
    "POST /portfolio/orders/{order_id}/decrease": (
        f"/portfolio/orders/{OID}/decrease",
        "",
        {"reduce_by": 1},
    ),
    "POST /portfolio/order_groups/create": (
        "/portfolio/order_groups/create",
        "",
        {"contracts_limit": 100},
    ),
    "POST /portfolio/order_groups/{order_group_id}/reset": (
        "/portfolio/order_groups/og-1/reset",
        "",
        {},
    ),
    "DELETE /portfolio/order_groups/{order_group_id}": ("/portfolio/order_groups/og-1", "", None),
    "POST /communications/rfqs": (
        "/communications/rfqs",
        "",
        {"market_ticker": "KX-1", "contracts": 10, "rest_remainder": False},
    ),
    "DELETE /communications/rfqs/{rfq_id}": ("/communications/rfqs/rfq-1", "", None),
    "POST /communications/quotes": (
        "/communications/quotes",
        "",
        {"rfq_id": "rfq-1", "yes_bid": "0.4200", "no_bid": "0.5500", "rest_remainder": True},
    ),
    "DELETE /communications/quotes/{quote_id}": ("/communications/quotes/q-1", "", None),
    "PUT /communications/quotes/{quote_id}/accept": (
        "/communications/quotes/q-1/accept",
        "",
        {"accepted_side": "no"},
    ),
    "PUT /communications/quotes/{quote_id}/confirm": (
        "/communications/quotes/q-1/confirm",
        "",
        None,
    ),
    "GET /portfolio/balance": ("/portfolio/balance", "", None),
    "GET /portfolio/positions": (
        "/portfolio/positions",
        "limit=1000&count_filter=position,total_traded&event_ticker=KXA,KXB",
        None,
    ),
    "GET /portfolio/fills": (
        "/portfolio/fills",
        "ticker=KX-1&min_ts=1700000000&limit=200&cursor=abc%3D%3D",
        None,
    ),
    "GET /portfolio/orders": ("/portfolio/orders", "status=resting&subaccount=0", None),
    "GET /portfolio/orders/{order_id}": (f"/portfolio/orders/{OID}", "", None),
    "GET /portfolio/orders/{order_id}/queue_position": (
        f"/portfolio/orders/{OID}/queue_position",
        "",
        None,
    ),
    "POST /portfolio/orders/queue_positions": (
        "/portfolio/orders/queue_positions",
        "",
        {"order_ids": [OID]},
    ),
    "GET /portfolio/settlements": ("/portfolio/settlements", "limit=5", None),
    "GET /portfolio/order_groups": ("/portfolio/order_groups", "", None),
    "GET /portfolio/summary/total_resting_order_value": (
        "/portfolio/summary/total_resting_order_value",
        "",
        None,
    ),
    "GET /communications/rfqs": ("/communications/rfqs", "status=open&limit=100", None),
    "GET /communications/quotes": ("/communications/quotes", "rfq_id=rfq-1&limit=500", None),
    "GET /communications/id": ("/communications/id", "", None),
}
# DESIGN.md invariant 3 plus Kalshi's transfer / key-management body names.
TRANSFER_NAMES = [
    "amount",
    "from_subaccount",
    "to_subaccount",
    "client_transfer_id",
    "destination",
    "source",
    "public_key",
    "scopes",
]


@cache
def rsa_key() -> rsa.RSAPrivateKey:
    """One 2048-bit key per session (generation is slow); shared by the Kalshi tests."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def key_pem(fmt: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8) -> bytes:
    return rsa_key().private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


def kalshi_creds(
    fmt: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8,
) -> VenueCredentials:
    return make_creds("kalshi", API_KEY, key_pem(fmt))


def req(method: str, path: str, query: str = "", body: object = None, **kw: object) -> HttpRequest:
    data = b"" if body is None else json.dumps(body).encode()
    return HttpRequest(method, V2 + path, query=query, body=data, **kw)  # type: ignore[arg-type]


def valid(key: str) -> HttpRequest:
    path, query, body = VALID[key]
    return req(key.split(" ")[0], path, query, body)


def parse(request: HttpRequest) -> ParsedRequest:
    return VENUE.parse(LIVE, request)


def violations(key: str, body: object = None, query: str | None = None) -> tuple[str, ...]:
    path, default_query, _ = VALID[key]
    q = default_query if query is None else query
    return parse(req(key.split(" ")[0], path, q, body)).intent.violations


def verify(headers: dict[str, str], method: str, path: str) -> None:
    message = f"{headers['KALSHI-ACCESS-TIMESTAMP']}{method}{path}".encode()
    signature = base64.b64decode(headers["KALSHI-ACCESS-SIGNATURE"], validate=True)
    rsa_key().public_key().verify(signature, message, PSS, hashes.SHA256())


def _must_not_rebuild() -> object:
    raise AssertionError("the signer was rebuilt instead of taken from the handle's cache")


# --- invariant 1: the endpoint table --------------------------------------------------------


def test_endpoint_table_is_exactly_the_allow_list() -> None:
    keys = sorted(e.key for e in kalshi.ENDPOINTS)
    assert keys == sorted(f"{k.split(' ')[0]} {V2}{k.split(' ')[1]}" for k in ALLOW)
    assert len(ALLOW) == 28 == len(VALID)


@pytest.mark.parametrize("key", ALLOW)
def test_endpoint_classes(key: str) -> None:
    method = key.split(" ")[0]
    expected = {"GET": EndpointClass.READ, "DELETE": EndpointClass.CANCEL}.get(
        method, EndpointClass.TRADE
    )
    if key == "POST /portfolio/orders/queue_positions":
        expected = EndpointClass.READ
    assert parse(valid(key)).intent.endpoint_class is expected


def test_literal_paths_win_over_templates() -> None:
    intent = parse(valid("DELETE /portfolio/orders/batched")).intent
    assert intent.endpoint == f"DELETE {V2}/portfolio/orders/batched" and intent.violations == ()
    # Without a body it is still the batch cancel (which requires one), never "cancel order 'batched'".
    assert "requires a JSON body" in " ".join(
        parse(req("DELETE", "/portfolio/orders/batched")).intent.violations
    )


@pytest.mark.parametrize("key", ALLOW)
def test_every_allowed_endpoint_parses_and_signs(key: str, clock: FixedClock) -> None:
    method, (path, query, body) = key.split(" ")[0], VALID[key]
    parsed = parse(valid(key))
    assert parsed.intent.violations == ()
    assert parsed.intent.endpoint == f"{method} {V2}{key.split(' ')[1]}"
    signed = VENUE.sign(parsed, kalshi_creds(), clock)
    sent = signed.request
    assert (sent.method, sent.path, sent.host) == (method, V2 + path, "api.elections.kalshi.com")
    headers = dict(sent.headers)
    assert headers["KALSHI-ACCESS-KEY"] == API_KEY
    assert headers["KALSHI-ACCESS-TIMESTAMP"] == "1499827319559"
    verify(headers, method, V2 + path)
    assert dict(signed.auth_headers) == {
        k: v for k, v in headers.items() if k.startswith("KALSHI-")
    }
    if body is None:
        assert sent.body == b"" and "Content-Type" not in headers
    else:
        assert json.loads(sent.body) == body and headers["Content-Type"] == "application/json"
    assert P.parse_form(sent.query, where="q") == P.parse_form(query, where="q")


# --- invariant 2: strict query and body ---------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "body", "query", "needle"),
    [
        ("POST /portfolio/orders", {**ORDER, "count": "3"}, None, "'count' must be a JSON integer"),
        (
            "POST /portfolio/orders",
            {**ORDER, "post_only": "true"},
            None,
            "'post_only' must be a JSON boolean",
        ),
        (
            "POST /portfolio/orders",
            {**ORDER, "yes_price": 42.0},
            None,
            "'yes_price' must be a JSON integer",
        ),
        ("POST /portfolio/orders", {**ORDER, "yes_price": 100}, None, "from 1 to 99"),
        ("POST /portfolio/orders", {**ORDER, "side": "YES"}, None, "'side' must be one of"),
        ("POST /portfolio/orders", {**ORDER, "extra": 1}, None, "'extra' is not allowed"),
        ("POST /portfolio/orders", {**ORDER, "subaccount": 33}, None, "from 0 to 32"),
        (
            "POST /portfolio/orders",
            {**ORDER, "subtrader_id": "u"},
            None,
            "'subtrader_id' is not allowed",
        ),
        ("POST /portfolio/orders", {**ORDER, "sell_position_floor": 5}, None, "from 0 to 0"),
        (
            "POST /portfolio/orders",
            {k: v for k, v in ORDER.items() if k != "count"},
            None,
            "one of count, count_fp",
        ),
        (
            "POST /portfolio/orders",
            {k: v for k, v in ORDER.items() if k != "ticker"},
            None,
            "'ticker' is required",
        ),
        ("POST /portfolio/orders", ORDER, "subaccount=1", "'subaccount' is not allowed"),
        ("POST /portfolio/orders/batched", {"orders": [ORDER] * 21}, None, "1 to 20 items"),
        (
            "POST /portfolio/orders/batched",
            {"orders": [{**ORDER, "amount": 1}]},
            None,
            "orders[0]: parameter 'amount' belongs",
        ),
        (
            "DELETE /portfolio/orders/batched",
            {"ids": [OID], "orders": [{"order_id": OID}]},
            None,
            "at most one of ids, orders",
        ),
        (
            "POST /portfolio/orders/{order_id}/amend",
            {"ticker": "KX", "side": "yes", "action": "buy", "yes_price": 4, "no_price": 5},
            None,
            "at most one of",
        ),
        (
            "POST /portfolio/orders/{order_id}/decrease",
            {"reduce_by": 1, "reduce_to": 0},
            None,
            "not both",
        ),
        (
            "POST /portfolio/order_groups/{order_group_id}/reset",
            {"x": 1},
            None,
            "'x' is not allowed",
        ),
        ("GET /portfolio/orders", None, "status=open", "'status' must be one of"),
        ("GET /portfolio/orders", None, "limit=201", "from 1 to 200"),
        ("GET /portfolio/orders", None, "limit=5&limit=6", "more than once"),
        ("GET /portfolio/balance", None, "subaccount=1", "'subaccount' is not allowed"),
        ("GET /portfolio/balance", {"a": 1}, "", "takes no request body"),
        ("GET /communications/quotes", None, "rfq_creator_subtrader_id=x", "not allowed"),
    ],
)
def test_violations(key: str, body: object, query: str | None, needle: str) -> None:
    found = violations(key, body, query)
    assert any(needle in v for v in found), found


def test_duplicate_json_keys_are_violations() -> None:
    raw = b'{"ticker":"KX","side":"yes","action":"buy","count":1,"count":1000}'
    found = parse(HttpRequest("POST", V2 + "/portfolio/orders", body=raw)).intent.violations
    assert any("more than once" in v for v in found)


@pytest.mark.parametrize("name", TRANSFER_NAMES)
def test_transfer_names_are_never_admitted(name: str) -> None:
    for key, schema in kalshi.BODIES.items():
        assert name not in schema.names, key
    found = violations("POST /portfolio/orders", {**ORDER, name: "x"})
    assert any("never signable" in v for v in found), found


def test_caller_auth_headers_and_content_type() -> None:
    for header in ("KALSHI-ACCESS-SIGNATURE", "kalshi-access-timestamp", "KALSHI-ACCESS-KEY"):
        request = req("GET", "/portfolio/balance", headers=((header, "x"),))
        assert parse(request).intent.violations, header
    request = req(
        "POST", "/portfolio/orders", body=ORDER, headers=(("Content-Type", "text/plain"),)
    )
    assert any("Content-Type" in v for v in parse(request).intent.violations)


def test_hosts_and_modes() -> None:
    sandbox = VENUE.parse(SANDBOX, valid("GET /portfolio/balance"))
    assert sandbox.host == "demo-api.kalshi.co" and sandbox.intent.mode == "sandbox"
    with pytest.raises(ModeMismatchError):
        parse(req("GET", "/portfolio/balance", host="demo-api.kalshi.co"))
    with pytest.raises(ModeMismatchError):
        VENUE.parse(SANDBOX, req("GET", "/portfolio/balance", host="api.elections.kalshi.com"))
    with pytest.raises(InvalidRequestError):
        parse(req("GET", "/portfolio/balance", host="api.kalshi.com"))


# --- invariant 4: signing ---------------------------------------------------------------------


def test_signed_body_is_the_validated_body_re_encoded(clock: FixedClock) -> None:
    raw = b'{ "ticker" : "KX-1", "side":"yes", "action":"buy", "count":1, "yes_price":5 }'
    signed = VENUE.sign(
        parse(HttpRequest("POST", V2 + "/portfolio/orders", body=raw)), kalshi_creds(), clock
    )
    assert (
        signed.request.body
        == b'{"ticker":"KX-1","side":"yes","action":"buy","count":1,"yes_price":5}'
    )


def test_query_is_not_signed_but_re_encoded(clock: FixedClock) -> None:
    signed = VENUE.sign(parse(valid("GET /portfolio/fills")), kalshi_creds(), clock)
    assert signed.request.query == "ticker=KX-1&min_ts=1700000000&limit=200&cursor=abc%3D%3D"
    verify(dict(signed.request.headers), "GET", V2 + "/portfolio/fills")


def test_sandbox_sign_and_pkcs1_key(clock: FixedClock) -> None:
    parsed = VENUE.parse(SANDBOX, valid("GET /portfolio/balance"))
    signed = VENUE.sign(parsed, kalshi_creds(serialization.PrivateFormat.TraditionalOpenSSL), clock)
    assert signed.request.host == "demo-api.kalshi.co"
    verify(dict(signed.request.headers), "GET", V2 + "/portfolio/balance")


def test_signer_is_cached_on_the_handle(clock: FixedClock) -> None:
    creds = kalshi_creds()
    VENUE.sign(parse(valid("GET /portfolio/balance")), creds, clock)
    cached = creds.derived("kalshi:rsa-pss", _must_not_rebuild)
    assert repr(cached) == "RsaPssSha256Signer(<redacted>)"
    VENUE.sign(parse(valid("GET /portfolio/balance")), creds, clock)


def test_passthrough_headers_are_kept(clock: FixedClock) -> None:
    request = req("GET", "/portfolio/balance", headers=(("Accept", "application/json"),))
    signed = VENUE.sign(parse(request), kalshi_creds(), clock)
    assert signed.request.headers[-1] == ("Accept", "application/json")


def test_sign_refuses_what_the_parser_refused(clock: FixedClock) -> None:
    with pytest.raises(PolicyDeniedError):
        VENUE.sign(
            parse(req("POST", "/portfolio/orders", body={**ORDER, "amount": 1})),
            kalshi_creds(),
            clock,
        )
    with pytest.raises(PolicyDeniedError):
        VENUE.sign(
            parse(req("POST", "/portfolio/subaccounts/transfer", body={})), kalshi_creds(), clock
        )


def test_signed_message_helper() -> None:
    assert (
        kalshi.signed_message("1703123456789", "GET", V2 + "/portfolio/orders")
        == b"1703123456789GET/trade-api/v2/portfolio/orders"
    )


# --- property: random requests only ever produce typed errors or intents ------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
# Body names the schemas know (plus transfer names), so that generated bodies reach the
# value validators and the nested batch schemas, not only the unknown-name check.
_NAMES = sorted({n for s in kalshi.BODIES.values() for n in s.names} | kalshi.FORBIDDEN)
_known = st.dictionaries(
    st.sampled_from(_NAMES),
    _json | st.lists(st.dictionaries(st.sampled_from(_NAMES), _json, max_size=5), max_size=3),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["POST", "GET", "DELETE", "PUT", "post"]),
    st.one_of(
        st.sampled_from([V2 + VALID[k][0] for k in ALLOW] + [V2 + k.split(" ")[1] for k in ALLOW]),
        st.text(max_size=40),
    ),
    st.one_of(st.text(max_size=40), st.sampled_from([VALID[k][1] for k in ALLOW])),
    st.one_of(st.binary(max_size=80), (_json | _known).map(lambda v: json.dumps(v).encode())),
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
    assert intent.endpoint is None or intent.endpoint.startswith(f"{method} {V2}/")
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


@pytest.mark.parametrize("key", ALLOW)
@settings(max_examples=60, deadline=None)
@given(data=st.data(), query=st.sampled_from(["", "subaccount=1", "limit=x", "a=b"]))
def test_parse_random_bodies_on_allowed_endpoints(
    key: str, data: st.DataObject, query: str
) -> None:
    """Schema-aware fuzzing: the endpoint's own body names with arbitrary JSON values."""
    schema = kalshi.BODIES.get(key)
    names = sorted(schema.names) if schema is not None and schema.names else ["x"]
    body = data.draw(st.dictionaries(st.sampled_from(names), _values | _known, max_size=6))
    try:
        intent = parse(req(key.split(" ")[0], VALID[key][0], query, body)).intent
    except InvalidRequestError:
        return
    assert intent.endpoint == f"{key.split(' ')[0]} {V2}{key.split(' ')[1]}"
    assert all(isinstance(v, str) for v in intent.violations)
