"""signer/venues/coinbase.py: one test (or a few) per invariant of its docstring."""

from __future__ import annotations

import base64
import json
from types import SimpleNamespace
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from policy.intents import EndpointClass
from signer.domain import CredentialFields, HttpRequest
from signer.errors import (
    InvalidCredentialsError,
    InvalidRequestError,
    ModeMismatchError,
    PolicyDeniedError,
)
from signer.keystore.handles import VenueCredentials
from signer.schemes import jwt as scheme
from signer.schemes.jwt import CdpJwtSigner
from signer.venues import coinbase
from signer.venues.base import ParsedRequest
from signer.venues.coinbase import VENUE
from signer.venues.credentials import validate_credentials

from .conftest import LIVE, SANDBOX, FixedClock, make_creds

B = "/api/v3/brokerage"
KEY_NAME = "organizations/0a1b2c3d-0000/apiKeys/4e5f6a7b-1111"
EC_KEY = ec.generate_private_key(ec.SECP256R1())
EC_PEM = EC_KEY.private_bytes(
    serialization.Encoding.PEM,
    serialization.PrivateFormat.TraditionalOpenSSL,
    serialization.NoEncryption(),
)
ED_KEY = ed25519.Ed25519PrivateKey.generate()
ED_B64 = base64.b64encode(ED_KEY.private_bytes_raw())
U1 = "a9625b04-fc66-4999-a876-543c3684d702"
U2 = "0b3a6a4e-3e4c-4c59-9c4d-1a2b3c4d5e6f"
NONCE = "5a" * 32

# venue_endpoints.json ("coinbase" allow list), copied so the test runs without shared/.
ALLOW = [
    "POST /api/v3/brokerage/orders",
    "POST /api/v3/brokerage/orders/batch_cancel",
    "POST /api/v3/brokerage/orders/edit",
    "POST /api/v3/brokerage/orders/edit_preview",
    "POST /api/v3/brokerage/orders/preview",
    "POST /api/v3/brokerage/orders/close_position",
    "GET /api/v3/brokerage/orders/historical/{order_id}",
    "GET /api/v3/brokerage/orders/historical/batch",
    "GET /api/v3/brokerage/orders/historical/fills",
    "GET /api/v3/brokerage/accounts",
    "GET /api/v3/brokerage/accounts/{account_uuid}",
    "GET /api/v3/brokerage/transaction_summary",
    "GET /api/v3/brokerage/portfolios",
    "GET /api/v3/brokerage/portfolios/{portfolio_uuid}",
    "GET /api/v3/brokerage/cfm/balance_summary",
    "GET /api/v3/brokerage/cfm/positions",
    "GET /api/v3/brokerage/cfm/positions/{product_id}",
    "GET /api/v3/brokerage/intx/portfolio/{portfolio_uuid}",
    "GET /api/v3/brokerage/intx/positions/{portfolio_uuid}",
    "GET /api/v3/brokerage/intx/positions/{portfolio_uuid}/{symbol}",
    "GET /api/v3/brokerage/intx/balances/{portfolio_uuid}",
    "GET /api/v3/brokerage/key_permissions",
    "GET /api/v3/brokerage/products",
    "GET /api/v3/brokerage/products/{product_id}",
    "GET /api/v3/brokerage/product_book",
    "GET /api/v3/brokerage/best_bid_ask",
    "GET /api/v3/brokerage/products/{product_id}/candles",
    "GET /api/v3/brokerage/products/{product_id}/ticker",
]
WITHDRAW_NAMES = {
    "to",
    "type",
    "amount",
    "currency",
    "address",
    "destination",
    "network",
    "funds",
    "source_portfolio_uuid",
    "target_portfolio_uuid",
    "from_account",
    "to_account",
    "payment_method",
    "coin",
    "chain",
}

LIMIT_GTC = {"limit_limit_gtc": {"base_size": "0.01", "limit_price": "30000.5", "post_only": True}}
ORDER: dict[str, Any] = {
    "client_order_id": "0f1e2d3c4b5a",
    "product_id": "BTC-USD",
    "side": "BUY",
    "order_configuration": LIMIT_GTC,
}
# A valid request for every allowed endpoint: (concrete path, query, JSON body or None).
VALID: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    f"POST {B}/orders": (f"{B}/orders", "", ORDER),
    f"POST {B}/orders/batch_cancel": (f"{B}/orders/batch_cancel", "", {"order_ids": [U1, U2]}),
    f"POST {B}/orders/edit": (
        f"{B}/orders/edit",
        "",
        {"order_id": U1, "price": "31000", "size": "0.02"},
    ),
    f"POST {B}/orders/edit_preview": (
        f"{B}/orders/edit_preview",
        "",
        {"order_id": U1, "size": "1"},
    ),
    f"POST {B}/orders/preview": (
        f"{B}/orders/preview",
        "",
        {
            "product_id": "BTC-USD",
            "side": "SELL",
            "order_configuration": {"market_market_ioc": {"base_size": "1"}},
        },
    ),
    f"POST {B}/orders/close_position": (
        f"{B}/orders/close_position",
        "",
        {"client_order_id": "c1", "product_id": "BIT-28JUL23-CDE", "size": "1"},
    ),
    f"GET {B}/orders/historical/{{order_id}}": (f"{B}/orders/historical/{U1}", "", None),
    f"GET {B}/orders/historical/batch": (
        f"{B}/orders/historical/batch",
        "order_status=OPEN&order_status=PENDING&product_ids=BTC-USD&limit=100",
        None,
    ),
    f"GET {B}/orders/historical/fills": (
        f"{B}/orders/historical/fills",
        f"order_ids={U1}&order_ids={U2}&sort_by=TRADE_TIME",
        None,
    ),
    f"GET {B}/accounts": (f"{B}/accounts", "limit=49&cursor=abc%3D%3D", None),
    f"GET {B}/accounts/{{account_uuid}}": (f"{B}/accounts/{U1}", "", None),
    f"GET {B}/transaction_summary": (f"{B}/transaction_summary", "product_type=SPOT", None),
    f"GET {B}/portfolios": (f"{B}/portfolios", "portfolio_type=DEFAULT", None),
    f"GET {B}/portfolios/{{portfolio_uuid}}": (f"{B}/portfolios/{U2}", "currency=USD", None),
    f"GET {B}/cfm/balance_summary": (f"{B}/cfm/balance_summary", "", None),
    f"GET {B}/cfm/positions": (f"{B}/cfm/positions", "", None),
    f"GET {B}/cfm/positions/{{product_id}}": (f"{B}/cfm/positions/BIT-28JUL23-CDE", "", None),
    f"GET {B}/intx/portfolio/{{portfolio_uuid}}": (f"{B}/intx/portfolio/{U1}", "", None),
    f"GET {B}/intx/positions/{{portfolio_uuid}}": (f"{B}/intx/positions/{U1}", "", None),
    f"GET {B}/intx/positions/{{portfolio_uuid}}/{{symbol}}": (
        f"{B}/intx/positions/{U1}/BTC-PERP-INTX",
        "",
        None,
    ),
    f"GET {B}/intx/balances/{{portfolio_uuid}}": (f"{B}/intx/balances/{U1}", "", None),
    f"GET {B}/key_permissions": (f"{B}/key_permissions", "", None),
    f"GET {B}/products": (f"{B}/products", "product_type=FUTURE&get_tradability_status=true", None),
    f"GET {B}/products/{{product_id}}": (f"{B}/products/ETH-USDC", "", None),
    f"GET {B}/product_book": (f"{B}/product_book", "product_id=BTC-USD&limit=50", None),
    f"GET {B}/best_bid_ask": (f"{B}/best_bid_ask", "product_ids=BTC-USD&product_ids=ETH-USD", None),
    f"GET {B}/products/{{product_id}}/candles": (
        f"{B}/products/BTC-USD/candles",
        "start=1700000000&end=1700003600&granularity=ONE_HOUR",
        None,
    ),
    f"GET {B}/products/{{product_id}}/ticker": (f"{B}/products/BTC-USD/ticker", "limit=10", None),
}


def req(key: str, *, body: object = None, query: str | None = None, **kw: Any) -> HttpRequest:
    """The VALID request for ``key``, with ``body``/``query`` replaced when given."""
    path, valid_query, valid_body = VALID[key]
    method = key.split(" ")[0]
    payload = valid_body if body is None else body
    raw = (
        payload
        if isinstance(payload, bytes)
        else b""
        if payload is None
        else json.dumps(payload).encode()
    )
    return HttpRequest(
        method, kw.pop("path", path), valid_query if query is None else query, raw, **kw
    )


def parse(request: HttpRequest) -> ParsedRequest:
    return VENUE.parse(LIVE, request)


def violations(request: HttpRequest) -> tuple[str, ...]:
    return parse(request).intent.violations


def creds(secret: bytes = EC_PEM) -> VenueCredentials:
    return make_creds("coinbase", KEY_NAME, secret)


def decode(
    signed_auth: tuple[tuple[str, str], ...], key: Any, alg: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    ((name, value),) = signed_auth
    assert name == "Authorization" and value.startswith("Bearer ")
    token = value.removeprefix("Bearer ")
    header = pyjwt.get_unverified_header(token)
    claims = pyjwt.decode(
        token, key, algorithms=[alg], options={"verify_exp": False, "verify_nbf": False}
    )
    return header, claims


def _must_not_rebuild() -> object:
    raise AssertionError("the key was re-loaded instead of taken from the handle's cache")


# --- invariant 1: the endpoint table ----------------------------------------------------------


def test_endpoint_table_is_exactly_the_allow_list() -> None:
    assert sorted(e.key for e in coinbase.ENDPOINTS) == sorted(ALLOW)
    assert set(coinbase.SCHEMAS) == set(ALLOW) == set(VALID)
    assert len(ALLOW) == 28


@pytest.mark.parametrize("key", ALLOW)
def test_endpoint_classes(key: str) -> None:
    expected = EndpointClass.READ if key.startswith("GET") else EndpointClass.TRADE
    if key.endswith("batch_cancel"):
        expected = EndpointClass.CANCEL
    intent = parse(req(key)).intent
    assert (intent.endpoint, intent.endpoint_class, intent.violations) == (key, expected, ())


@pytest.mark.parametrize(
    "path",
    [
        f"{B}/portfolios/move_funds",  # GET template must not take a non-UUID segment
        f"{B}/accounts/not-a-uuid",
        f"{B}/orders/historical/{U1.upper()[:-1]}",
        f"{B}/products/btc-usd",
        f"{B}/intx/positions/{U1}/BTC_PERP",
    ],
)
def test_path_parameters_are_checked(path: str) -> None:
    intent = parse(HttpRequest("GET", path)).intent
    assert intent.endpoint is not None
    assert any("path parameter" in v for v in intent.violations)


@pytest.mark.parametrize(
    "path",
    [
        f"{B}/orders/historical/..",
        f"{B}/orders/historical/%2E%2E",
        f"{B}/orders/historical/a%2Fb",
        f"{B}/orders/historical/{U1}/",
        f"{B}/portfolios/move_funds/{U1}",
        "/v2/accounts",
        f"{B}/orders/historical/{U1}/../../../../v2/accounts",
    ],
)
def test_template_segments_cannot_swallow_traversal(path: str) -> None:
    assert parse(HttpRequest("GET", path)).intent.endpoint is None


def test_exact_paths_win_over_templates() -> None:
    assert (
        parse(req(f"GET {B}/orders/historical/batch")).intent.endpoint
        == f"GET {B}/orders/historical/batch"
    )


# --- invariant 2: strict bodies and queries --------------------------------------------------


def test_no_schema_admits_a_withdrawal_or_transfer_parameter() -> None:
    def names(schema: Any) -> set[str]:
        return {p.name for p in schema.params}

    for key, schema in coinbase.SCHEMAS.items():
        assert not names(schema) & WITHDRAW_NAMES - {"currency"}, key
        assert {"nonce", "timestamp", "signature"} <= schema.stamped, key
    for schema in (*coinbase.CONFIGS.values(), *coinbase.ATTACHED.values()):
        assert not names(schema) & WITHDRAW_NAMES
        assert schema.forbidden >= WITHDRAW_NAMES


def _order(**changes: Any) -> dict[str, Any]:
    return {**ORDER, **changes}


def _config(name: str, **fields: Any) -> dict[str, Any]:
    return _order(order_configuration={name: fields})


ORDER_KEY = f"POST {B}/orders"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (_order(type="send"), "'type' belongs to withdrawals"),
        (_order(to="0xabc", amount="1", currency="BTC"), "'to' belongs to withdrawals"),
        (_order(extra=1), "'extra' is not allowed"),
        (_order(nonce="1"), "stamped by the daemon"),
        (
            {k: v for k, v in ORDER.items() if k != "client_order_id"},
            "'client_order_id' is required",
        ),
        (_order(side="buy"), "'side' must be one of"),
        (_order(product_id="BTC/USD"), "'product_id'"),
        (_order(leverage=2), "'leverage' must be a JSON string"),
        (_order(margin_type=None), "'margin_type' must be a JSON string"),
        (_order(order_configuration={}), "exactly one"),
        (
            _order(order_configuration={**LIMIT_GTC, "market_market_ioc": {"base_size": "1"}}),
            "exactly one",
        ),
        (_order(order_configuration=[LIMIT_GTC]), "must be a JSON object"),
        (_config("scaled_limit_gtc", base_size="1"), "not an admitted configuration"),
        (
            _config("limit_limit_gtc", base_size="1", limit_price="2", to="x"),
            "limit_limit_gtc: parameter 'to'",
        ),
        (
            _config("limit_limit_gtc", base_size="1", limit_price="2", post_only="true"),
            "'post_only' must be a JSON boolean",
        ),
        (
            _config("limit_limit_gtc", base_size=0.01, limit_price="2"),
            "'base_size' must be a JSON string",
        ),
        (
            _config("limit_limit_gtc", base_size="1e-2", limit_price="2"),
            "'base_size' has an invalid value",
        ),
        (
            _config("limit_limit_gtc", base_size="1", quote_size="2", limit_price="2"),
            "at most one of quote_size, base_size",
        ),
        (_config("limit_limit_gtc", limit_price="2"), "one of quote_size, base_size is required"),
        (
            _config("market_market_ioc", base_size="1", limit_price="2"),
            "'limit_price' is not allowed",
        ),
        (
            _config("stop_limit_stop_limit_gtc", base_size="1", limit_price="2", stop_price="3"),
            "'stop_direction' is required",
        ),
        (
            _config(
                "stop_limit_stop_limit_gtc",
                base_size="1",
                limit_price="2",
                stop_price="3",
                stop_direction="UP",
            ),
            "'stop_direction' must be one of",
        ),
        (
            _config("limit_limit_gtd", base_size="1", limit_price="2", end_time="tomorrow"),
            "'end_time'",
        ),
        (
            _config("trigger_bracket_gtc", quote_size="1", limit_price="2", stop_trigger_price="1"),
            "'quote_size' is not allowed",
        ),
        (
            _order(
                attached_order_configuration={
                    "trigger_bracket_gtc": {
                        "base_size": "1",
                        "limit_price": "1",
                        "stop_trigger_price": "1",
                    }
                }
            ),
            "'base_size' is not allowed",
        ),
        (
            _order(attached_order_configuration={"limit_limit_gtc": {"limit_price": "1"}}),
            "not an admitted configuration",
        ),
        (_order(preview_id="preview"), "'preview_id'"),
    ],
)
def test_order_body_violations(body: dict[str, Any], needle: str) -> None:
    found = violations(req(ORDER_KEY, body=body))
    assert any(needle in v for v in found), found


@pytest.mark.parametrize(
    ("key", "body", "needle"),
    [
        (f"POST {B}/orders/batch_cancel", {"order_ids": []}, "'order_ids' must be a list"),
        (f"POST {B}/orders/batch_cancel", {"order_ids": [U1] * 101}, "'order_ids' must be a list"),
        (f"POST {B}/orders/batch_cancel", {"order_ids": ["../x"]}, "'order_ids' must be a list"),
        (f"POST {B}/orders/batch_cancel", {"order_ids": U1}, "must be a JSON array"),
        (
            f"POST {B}/orders/edit",
            {"order_id": U1, "price": "1", "product_id": "BTC-USD"},
            "'product_id' is not allowed",
        ),
        (
            f"POST {B}/orders/edit",
            {"order_id": U1, "cancel_attached_order": "true"},
            "JSON boolean",
        ),
        (f"POST {B}/orders/preview", ORDER, "'client_order_id' is not allowed"),
        (
            f"POST {B}/orders/close_position",
            {"client_order_id": "c", "product_id": "BTC-USD", "size": "1", "funds": "1"},
            "'funds' belongs",
        ),
    ],
)
def test_other_body_violations(key: str, body: dict[str, Any], needle: str) -> None:
    found = violations(req(key, body=body))
    assert any(needle in v for v in found), found


def test_every_configuration_has_a_valid_example() -> None:
    examples: dict[str, dict[str, Any]] = {
        "market_market_ioc": {"quote_size": "10", "rfq_disabled": True},
        "market_market_fok": {"base_size": "0.001"},
        "sor_limit_ioc": {"base_size": "1", "limit_price": "2"},
        "limit_limit_gtc": {"quote_size": "10", "limit_price": "2", "post_only": False},
        "limit_limit_gtd": {
            "base_size": "1",
            "limit_price": "2",
            "end_time": "2030-05-31T09:59:59.000Z",
        },
        "limit_limit_fok": {"base_size": "1", "limit_price": "2"},
        "twap_limit_gtd": {
            "base_size": "1",
            "limit_price": "2",
            "start_time": "2030-05-31T07:59:59Z",
            "end_time": "2030-05-31T09:59:59Z",
            "number_buckets": "5",
            "bucket_size": "2.00",
            "bucket_duration": "300s",
        },
        "stop_limit_stop_limit_gtc": {
            "base_size": "1",
            "limit_price": "2",
            "stop_price": "3",
            "stop_direction": "STOP_DIRECTION_STOP_UP",
        },
        "stop_limit_stop_limit_gtd": {
            "base_size": "1",
            "limit_price": "2",
            "stop_price": "3",
            "stop_direction": "STOP_DIRECTION_STOP_DOWN",
            "end_time": "2030-01-01T00:00:00+01:00",
        },
        "trigger_bracket_gtc": {"base_size": "1", "limit_price": "2", "stop_trigger_price": "1"},
        "trigger_bracket_gtd": {
            "base_size": "1",
            "limit_price": "2",
            "stop_trigger_price": "1",
            "end_time": "2030-01-01T00:00:00Z",
        },
    }
    assert set(examples) == set(coinbase.CONFIGS)
    for name, fields in examples.items():
        assert violations(req(ORDER_KEY, body=_config(name, **fields))) == (), name
    attached = {"trigger_bracket_gtc": {"limit_price": "35000", "stop_trigger_price": "25000"}}
    full = _order(
        attached_order_configuration=attached,
        leverage="2.5",
        margin_type="ISOLATED",
        retail_portfolio_id=U2,
        preview_id=U1,
        self_trade_prevention_id="stp-1",
    )
    assert violations(req(ORDER_KEY, body=full)) == ()


def test_duplicate_json_keys_are_violations_at_any_level() -> None:
    top = b'{"client_order_id":"a","product_id":"BTC-USD","side":"BUY","side":"SELL","order_configuration":{"market_market_ioc":{"base_size":"1"}}}'
    inner = b'{"client_order_id":"a","product_id":"BTC-USD","side":"BUY","order_configuration":{"market_market_ioc":{"base_size":"1","base_size":"9"}}}'
    for raw in (top, inner):
        assert any("more than once" in v for v in violations(req(ORDER_KEY, body=raw)))


def test_body_envelope_errors() -> None:
    for raw in (b"", b"[]", b"{", b'{"a": NaN}', b"\xff"):
        with pytest.raises(InvalidRequestError):
            parse(req(ORDER_KEY, body=raw))


def test_body_number_is_never_admitted_or_reencoded() -> None:
    parsed = parse(
        req(
            ORDER_KEY,
            body=b'{"client_order_id":"a","product_id":"BTC-USD","side":"BUY","order_configuration":{"market_market_ioc":{"base_size":1.5}}}',
        )
    )
    assert parsed.intent.violations
    assert isinstance(parsed.detail, coinbase.CoinbaseDetail)
    assert parsed.detail.body == b""


def test_post_takes_no_query_and_json_only() -> None:
    assert any("no query string" in v for v in violations(req(ORDER_KEY, query="type=send")))
    form = req(ORDER_KEY, headers=(("Content-Type", "application/x-www-form-urlencoded"),))
    assert any("Content-Type" in v for v in violations(form))
    ok = req(ORDER_KEY, headers=(("Content-Type", "application/json; charset=utf-8"),))
    assert violations(ok) == ()


@pytest.mark.parametrize(
    ("key", "query", "needle"),
    [
        (f"GET {B}/accounts", "limit=1&limit=2", "more than once"),
        (f"GET {B}/accounts", "to=x", "'to' belongs to withdrawals"),
        (f"GET {B}/accounts", "foo=1", "'foo' is not allowed"),
        (f"GET {B}/accounts", "timestamp=1", "stamped by the daemon"),
        (f"GET {B}/orders/historical/batch", "order_side=buy", "'order_side'"),
        (f"GET {B}/orders/historical/batch", "order_ids=x", "'order_ids' has an invalid value"),
        (f"GET {B}/orders/historical/batch", "sort_by=PRICE&sort_by=TRADE_TIME", "more than once"),
        (f"GET {B}/products/{{product_id}}/candles", "start=1&end=2", "'granularity' is required"),
        (
            f"GET {B}/products/{{product_id}}/candles",
            "start=1&end=2&granularity=1h",
            "'granularity' must be one of",
        ),
        (f"GET {B}/products/{{product_id}}/ticker", "", "'limit' is required"),
        (f"GET {B}/product_book", "limit=5", "'product_id' is required"),
        (f"GET {B}/products", "get_all_products=yes", "'get_all_products' must be one of"),
        (f"GET {B}/key_permissions", "portfolio_uuid=" + U1, "'portfolio_uuid' belongs"),
        (f"GET {B}/portfolios/{{portfolio_uuid}}", "currency=USD&amount=1", "'amount' belongs"),
    ],
)
def test_query_violations(key: str, query: str, needle: str) -> None:
    found = violations(req(key, query=query))
    assert any(needle in v for v in found), found


def test_get_takes_no_body_and_envelope_query_errors() -> None:
    assert any("no body" in v for v in violations(req(f"GET {B}/accounts", body=b"{}")))
    for query in ("limit=1+2", "limit=1;to=x", "limit", "limit=%zz"):
        with pytest.raises(InvalidRequestError):
            parse(req(f"GET {B}/accounts", query=query))


def test_caller_auth_headers_are_violations() -> None:
    for name in ("Authorization", "authorization", "CB-ACCESS-KEY", "X-Forwarded-Host"):
        found = violations(req(f"GET {B}/accounts", headers=((name, "Bearer x"),)))
        assert any("not allowed" in v for v in found), name


# --- invariant 3: signing ---------------------------------------------------------------------


@pytest.mark.parametrize("key", ALLOW)
def test_every_allowed_endpoint_signs_es256(key: str) -> None:
    clock = FixedClock(now_ms=1700000000999)
    request = req(key, headers=(("Accept", "application/json"),))
    signed = VENUE.sign(parse(request), creds(), clock)
    sent = signed.request
    header, claims = decode(signed.auth_headers, EC_KEY.public_key(), "ES256")
    assert header["alg"] == "ES256" and header["kid"] == KEY_NAME and header["typ"] == "JWT"
    assert claims == {
        "sub": KEY_NAME,
        "iss": "cdp",
        "nbf": 1700000000,
        "exp": 1700000120,
        "uri": f"{request.method} api.coinbase.com{request.path}",
    }
    assert (sent.method, sent.path, sent.host) == (request.method, request.path, "api.coinbase.com")
    if request.method == "POST":
        assert sent.query == ""
        assert json.loads(sent.body) == json.loads(request.body)
        assert b" " not in sent.body  # compact canonical JSON
        assert sent.headers == (
            *signed.auth_headers,
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
        )
    else:
        assert sent.body == b""
        assert sent.query == request.query  # already canonical in VALID
        assert sent.headers == (*signed.auth_headers, ("Accept", "application/json"))


def test_sent_body_and_query_are_reencoded_from_what_was_validated() -> None:
    spaced = json.dumps(ORDER, indent=2).encode()
    signed = VENUE.sign(parse(req(ORDER_KEY, body=spaced)), creds(), FixedClock())
    assert signed.request.body == json.dumps(ORDER, separators=(",", ":")).encode()
    query = "cursor=a%2bb%2F%3d&limit=5"
    signed = VENUE.sign(parse(req(f"GET {B}/accounts", query=query)), creds(), FixedClock())
    assert signed.request.query == "cursor=a%2Bb%2F%3D&limit=5"


def test_ed25519_token_is_exactly_the_expected_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheme, "secrets", SimpleNamespace(token_hex=lambda n: NONCE))
    signed = VENUE.sign(parse(req(ORDER_KEY)), creds(ED_B64), FixedClock(now_ms=1499827319559))
    token = dict(signed.auth_headers)["Authorization"].removeprefix("Bearer ")
    header = json.dumps(
        {"alg": "EdDSA", "kid": KEY_NAME, "nonce": NONCE, "typ": "JWT"}, separators=(",", ":")
    )
    claims = json.dumps(
        {
            "sub": KEY_NAME,
            "iss": "cdp",
            "nbf": 1499827319,
            "exp": 1499827439,
            "uri": f"POST api.coinbase.com{B}/orders",
        },
        separators=(",", ":"),
    )
    signing_input = ".".join(
        base64.urlsafe_b64encode(part.encode()).rstrip(b"=").decode() for part in (header, claims)
    )
    signature = base64.urlsafe_b64encode(ED_KEY.sign(signing_input.encode())).rstrip(b"=").decode()
    assert token == f"{signing_input}.{signature}"


def test_sandbox_uses_the_sandbox_host_in_request_and_jwt() -> None:
    parsed = VENUE.parse(SANDBOX, req(ORDER_KEY))
    assert parsed.host == "api-sandbox.coinbase.com"
    signed = VENUE.sign(parsed, creds(), FixedClock())
    assert signed.request.host == "api-sandbox.coinbase.com"
    _, claims = decode(signed.auth_headers, EC_KEY.public_key(), "ES256")
    assert claims["uri"] == f"POST api-sandbox.coinbase.com{B}/orders"


def test_hosts_and_modes() -> None:
    assert parse(req(ORDER_KEY, host="api.coinbase.com")).host == "api.coinbase.com"
    with pytest.raises(ModeMismatchError):
        parse(req(ORDER_KEY, host="api-sandbox.coinbase.com"))
    with pytest.raises(ModeMismatchError):
        VENUE.parse(SANDBOX, req(ORDER_KEY, host="api.coinbase.com"))
    for host in (
        "api.coinbase.com.evil.example",
        "API.COINBASE.COM",
        "api.coinbase.com:443",
        "api.exchange.coinbase.com",
    ):
        with pytest.raises(InvalidRequestError):
            parse(req(ORDER_KEY, host=host))


def test_key_is_loaded_once_per_handle() -> None:
    handle = creds(ED_B64)
    VENUE.sign(parse(req(ORDER_KEY)), handle, FixedClock())
    cached = handle.derived("coinbase:jwt", _must_not_rebuild)
    assert isinstance(cached, CdpJwtSigner)
    VENUE.sign(parse(req(ORDER_KEY)), handle, FixedClock())


def test_bad_credentials_are_credential_errors() -> None:
    with pytest.raises(InvalidCredentialsError):
        VENUE.sign(parse(req(ORDER_KEY)), creds(b"not a key"), FixedClock())
    with pytest.raises(InvalidCredentialsError):
        VENUE.sign(parse(req(ORDER_KEY)), make_creds("coinbase", "bad key\n", EC_PEM), FixedClock())


def test_sign_refuses_what_the_parser_refused() -> None:
    for request in (
        req(ORDER_KEY, body=_order(type="send")),
        HttpRequest("POST", "/v2/accounts/x/transactions", body=b'{"type":"send"}'),
    ):
        with pytest.raises(PolicyDeniedError):
            VENUE.sign(parse(request), creds(), FixedClock())
    parsed = parse(req(ORDER_KEY))
    forged = ParsedRequest(parsed.intent, "api.coinbase.com.evil.example", parsed.detail)
    with pytest.raises(PolicyDeniedError):
        VENUE.sign(forged, creds(), FixedClock())


# --- property: random requests only ever produce typed errors or intents ------------------

_paths = st.one_of(st.sampled_from([v[0] for v in VALID.values()]), st.text(max_size=40))
_json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
_bodies = st.one_of(
    st.binary(max_size=120),
    st.sampled_from([json.dumps(v[2]).encode() for v in VALID.values() if v[2]]),
    st.dictionaries(
        st.sampled_from(["order_configuration", "side", "order_ids", "x"]), _json_values
    ).map(lambda d: json.dumps(d).encode()),
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["POST", "GET", "DELETE", "PUT", "post"]),
    _paths,
    st.one_of(st.text(max_size=60), st.sampled_from([v[1] for v in VALID.values()])),
    _bodies,
    st.lists(st.tuples(st.text(max_size=12), st.text(max_size=12)), max_size=3),
    st.sampled_from(["", "api.coinbase.com", "api-sandbox.coinbase.com", "evil"]),
)
def test_parse_random_requests_only_typed_errors(
    method: str, path: str, query: str, body: bytes, headers: list[tuple[str, str]], host: str
) -> None:
    request = HttpRequest(method, path, query, body, tuple(headers), host)
    try:
        intent = parse(request).intent
    except (InvalidRequestError, ModeMismatchError):
        return
    assert intent.endpoint is None or intent.endpoint.split(" ")[0] == method
    assert all(isinstance(v, str) for v in intent.violations)


# --- stored credentials: what SetCredentials accepts, sign() can load -------------------------


def _stored_secrets() -> list[str]:
    fmt = serialization.PrivateFormat
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    return [
        EC_PEM.decode(),
        ec_key.private_bytes(
            serialization.Encoding.PEM, fmt.PKCS8, serialization.NoEncryption()
        ).decode(),
        ed_key.private_bytes(
            serialization.Encoding.PEM, fmt.PKCS8, serialization.NoEncryption()
        ).decode(),
        base64.b64encode(ed_key.private_bytes_raw()).decode(),
        base64.b64encode(
            ed_key.private_bytes_raw() + ed_key.public_key().public_bytes_raw()
        ).decode(),
    ]


@pytest.mark.parametrize("secret", _stored_secrets())
def test_every_accepted_credential_signs(secret: str) -> None:
    stored = validate_credentials("coinbase", CredentialFields(KEY_NAME, "\n" + secret + "\n"))
    assert isinstance(stored["api_secret"], str)
    signed = VENUE.sign(parse(req(ORDER_KEY)), creds(stored["api_secret"].encode()), FixedClock())
    assert dict(signed.auth_headers)["Authorization"].count(".") == 2
