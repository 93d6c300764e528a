"""coinbase-advanced-py 1.8.4 as a test oracle for the Coinbase JWT (compared, never copied).

For generated (method, path) pairs of the allow list, key types (EC P-256 SEC1
PEM, Ed25519 PKCS#8 PEM, Ed25519 base64 seed) and modes, the daemon's token
from ``VENUE.sign`` is compared with the SDK's ``RESTClient.set_headers`` /
``jwt_generator.build_rest_jwt``. The SDK module's ``time`` and ``secrets``
are replaced (in that module only) so that both sides use the same clock and
nonce; the daemon's nonce is pinned the same way.

* EdDSA is deterministic: the tokens must be byte-identical.
* ES256 is randomised: both tokens are decoded with PyJWT (the SDK's own
  dependency) and verified with the public key; headers and claims must be equal.

The SDK's HTTP session is a tripwire: nothing here can touch the network.
A second test feeds requests the SDK itself builds (``create_order``,
``list_orders``... with ``send_request`` captured) through ``parse`` + ``sign``:
the daemon must accept them and send the same JSON and query.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any
from unittest import mock

import jwt as pyjwt
import pytest
import requests
from coinbase import jwt_generator as sdk_jwt  # type: ignore[import-untyped]
from coinbase.rest import RESTClient  # type: ignore[import-untyped]
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from signer.domain import HttpRequest, Principal
from signer.schemes import jwt as scheme
from signer.venues import coinbase

from .conftest import LIVE, SANDBOX, FixedClock, make_creds

KEY_NAME = "organizations/5d0f2e8a-aaaa-bbbb-cccc-0123456789ab/apiKeys/7c1e9a3b-dddd-eeee-ffff-ba9876543210"
_EC = ec.generate_private_key(ec.SECP256R1())
_ED = ed25519.Ed25519PrivateKey.generate()
KEYS: dict[str, tuple[str, Any, str]] = {
    # kind: (secret text as stored, public key, alg)
    "ec_sec1_pem": (
        _EC.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode(),
        _EC.public_key(),
        "ES256",
    ),
    "ed25519_pkcs8_pem": (
        _ED.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
        _ED.public_key(),
        "EdDSA",
    ),
    "ed25519_base64_seed": (
        base64.b64encode(_ED.private_bytes_raw()).decode(),
        _ED.public_key(),
        "EdDSA",
    ),
    "ed25519_base64_seed_and_public": (
        base64.b64encode(_ED.private_bytes_raw() + _ED.public_key().public_bytes_raw()).decode(),
        _ED.public_key(),
        "EdDSA",
    ),
}
SETTINGS = settings(max_examples=120, deadline=None)


def _no_network(*_: object, **__: object) -> None:
    raise AssertionError("the Coinbase SDK tried to use the network")


def sdk_client(secret: str, host: str) -> Any:
    client = RESTClient(api_key=KEY_NAME, api_secret=secret, base_url=host)
    client.session.request = _no_network
    return client


@contextmanager
def pinned(now_s: int, nonce: str) -> Iterator[None]:
    """Freeze the SDK module's clock and both modules' nonce source."""
    clock = SimpleNamespace(time=lambda: float(now_s) + 0.75)
    nonces = SimpleNamespace(token_hex=lambda n=32: nonce)
    with (
        mock.patch.object(sdk_jwt, "time", clock),
        mock.patch.object(sdk_jwt, "secrets", nonces),
        mock.patch.object(scheme, "secrets", nonces),
    ):
        yield


# --- strategies -----------------------------------------------------------------------------

_uuids = st.uuids().map(str)
_products = st.from_regex(r"[A-Z0-9]{2,6}-[A-Z0-9]{2,6}(-[A-Z0-9]{2,7})?", fullmatch=True)
_SEGMENTS = {
    "order_id": _uuids,
    "account_uuid": _uuids,
    "portfolio_uuid": _uuids,
    "product_id": _products,
    "symbol": _products,
}


@st.composite
def allowed_paths(draw: st.DrawFn) -> tuple[str, str]:
    """(method, concrete path) for a random allow-list entry."""
    endpoint = draw(st.sampled_from(coinbase.ENDPOINTS))
    parts = [draw(_SEGMENTS[p[1:-1]]) if p.startswith("{") else p for p in endpoint.path.split("/")]
    return endpoint.method, "/".join(parts)


_BODIES: dict[str, dict[str, Any]] = {
    "/orders": {
        "client_order_id": "x1",
        "product_id": "BTC-USD",
        "side": "BUY",
        "order_configuration": {"market_market_ioc": {"quote_size": "10"}},
    },
    "/orders/batch_cancel": {"order_ids": [str(uuid.uuid4())]},
    "/orders/edit": {"order_id": str(uuid.uuid4()), "price": "1"},
    "/orders/edit_preview": {"order_id": str(uuid.uuid4()), "size": "1"},
    "/orders/preview": {
        "product_id": "BTC-USD",
        "side": "SELL",
        "order_configuration": {"market_market_ioc": {"base_size": "1"}},
    },
    "/orders/close_position": {"client_order_id": "x2", "product_id": "BTC-USD"},
}
_QUERIES = {
    "/product_book": "product_id=BTC-USD",
    "/candles": "start=1&end=2&granularity=ONE_DAY",
    "/ticker": "limit=1",
}


def _request(method: str, path: str, host: str) -> HttpRequest:
    if method == "POST":
        body = _BODIES[path.removeprefix(coinbase.B)]
        return HttpRequest(method, path, body=json.dumps(body).encode(), host=host)
    query = next((q for suffix, q in _QUERIES.items() if path.endswith(suffix)), "")
    return HttpRequest(method, path, query=query, host=host)


def _bearer(headers: Any) -> str:
    value = dict(headers)["Authorization"]
    assert value.startswith("Bearer ")
    return str(value.removeprefix("Bearer "))


# --- the JWT ----------------------------------------------------------------------------------


@SETTINGS
@given(
    allowed_paths(),
    st.sampled_from(sorted(KEYS)),
    st.booleans(),
    st.integers(1_500_000_000, 2_500_000_000),
    st.binary(min_size=32, max_size=32).map(bytes.hex),
    st.integers(0, 999),
)
def test_jwt_matches_the_sdk(
    method_path: tuple[str, str], kind: str, sandbox: bool, now_s: int, nonce: str, ms: int
) -> None:
    method, path = method_path
    secret, public, alg = KEYS[kind]
    principal: Principal = SANDBOX if sandbox else LIVE
    host = "api-sandbox.coinbase.com" if sandbox else "api.coinbase.com"
    parsed = coinbase.VENUE.parse(principal, _request(method, path, host))
    assert parsed.intent.violations == (), parsed.intent.violations
    with pinned(now_s, nonce):
        ours = coinbase.VENUE.sign(
            parsed, make_creds("coinbase", KEY_NAME, secret), FixedClock(now_ms=now_s * 1000 + ms)
        )
        theirs_headers = sdk_client(secret, host).set_headers(method, path)
        if not sandbox:  # the SDK's own URI helper only knows the live host
            uri = sdk_jwt.format_jwt_uri(method, path)
            assert sdk_jwt.build_rest_jwt(uri, KEY_NAME, secret).count(".") == 2
    our_token, their_token = _bearer(ours.auth_headers), _bearer(theirs_headers)
    assert (
        dict(ours.request.headers).get("Content-Type", "application/json")
        == theirs_headers["Content-Type"]
    )

    options: Any = {"verify_exp": False, "verify_nbf": False}
    our_claims = pyjwt.decode(our_token, public, algorithms=[alg], options=options)
    their_claims = pyjwt.decode(their_token, public, algorithms=[alg], options=options)
    assert our_claims == their_claims
    assert our_claims["uri"] == f"{method} {host}{path}"
    our_header = pyjwt.get_unverified_header(our_token)
    their_header = pyjwt.get_unverified_header(their_token)
    assert our_header == their_header
    assert our_header["nonce"] == nonce and our_header["alg"] == alg
    if alg == "EdDSA":
        assert our_token == their_token
    else:  # ES256: same signing input, randomised signature
        assert our_token.rsplit(".", 1)[0] == their_token.rsplit(".", 1)[0]


@pytest.mark.parametrize("kind", sorted(KEYS))
def test_tokens_differ_when_the_clock_differs(kind: str) -> None:
    """The comparison above would be vacuous if the SDK ignored the pinned clock."""
    secret, public, alg = KEYS[kind]
    parsed = coinbase.VENUE.parse(LIVE, _request("GET", f"{coinbase.B}/accounts", ""))
    with pinned(1_700_000_000, "00" * 32):
        theirs = pyjwt.decode(
            _bearer(
                sdk_client(secret, "api.coinbase.com").set_headers("GET", f"{coinbase.B}/accounts")
            ),
            public,
            algorithms=[alg],
            options={"verify_exp": False, "verify_nbf": False},
        )
        ours = coinbase.VENUE.sign(
            parsed, make_creds("coinbase", KEY_NAME, secret), FixedClock(now_ms=1_700_000_001_000)
        )
    mine = pyjwt.decode(
        _bearer(ours.auth_headers),
        public,
        algorithms=[alg],
        options={"verify_exp": False, "verify_nbf": False},
    )
    assert mine["nbf"] == theirs["nbf"] + 1


# --- requests the SDK itself builds ------------------------------------------------------------

U1, U2 = str(uuid.uuid4()), str(uuid.uuid4())
SDK_CALLS: list[tuple[str, Any]] = [
    (
        "limit_order_gtc_buy",
        lambda c: c.limit_order_gtc_buy("cid-1", "BTC-USD", "0.01", "30000", post_only=True),
    ),
    ("market_order_sell", lambda c: c.market_order_sell("cid-2", "ETH-USD", base_size="1.5")),
    ("market_order_buy_quote", lambda c: c.market_order_buy("cid-3", "ETH-USD", quote_size="100")),
    (
        "limit_order_gtd_sell",
        lambda c: c.limit_order_gtd_sell("cid-4", "BTC-USD", "1", "70000", "2030-01-01T00:00:00Z"),
    ),
    ("limit_order_fok_buy", lambda c: c.limit_order_fok_buy("cid-5", "BTC-USD", "1", "70000")),
    ("limit_order_ioc_buy", lambda c: c.limit_order_ioc_buy("cid-6", "BTC-USD", "1", "70000")),
    (
        "stop_limit_order_gtc_sell",
        lambda c: c.stop_limit_order_gtc_sell(
            "cid-7", "BTC-USD", "1", "59000", "60000", "STOP_DIRECTION_STOP_DOWN"
        ),
    ),
    (
        "stop_limit_order_gtd_buy",
        lambda c: c.stop_limit_order_gtd_buy(
            "cid-8",
            "BTC-USD",
            "1",
            "71000",
            "70000",
            "2030-01-01T00:00:00Z",
            "STOP_DIRECTION_STOP_UP",
        ),
    ),
    (
        "trigger_bracket_order_gtc_buy",
        lambda c: c.trigger_bracket_order_gtc_buy("cid-9", "BTC-USD", "1", "70000", "60000"),
    ),
    (
        "trigger_bracket_order_gtd_sell",
        lambda c: c.trigger_bracket_order_gtd_sell(
            "cid-10", "BTC-USD", "1", "70000", "80000", "2030-01-01T00:00:00Z"
        ),
    ),
    (
        "preview_limit_order_gtc_sell",
        lambda c: c.preview_limit_order_gtc_sell("BTC-USD", "1", "70000"),
    ),
    ("edit_order", lambda c: c.edit_order(U1, size="2", price="69000")),
    ("preview_edit_order", lambda c: c.preview_edit_order(U1, price="69000")),
    ("cancel_orders", lambda c: c.cancel_orders([U1, U2])),
    ("close_position", lambda c: c.close_position("cid-11", "BIT-28JUL23-CDE", size="1")),
    ("get_order", lambda c: c.get_order(U1)),
    (
        "list_orders",
        lambda c: c.list_orders(
            order_status=["OPEN", "PENDING"],
            product_ids=["BTC-USD", "ETH-USD"],
            limit=10,
            sort_by="LAST_FILL_TIME",
        ),
    ),
    ("get_fills", lambda c: c.get_fills(order_ids=[U1, U2], limit=5, cursor="abc")),
    ("get_accounts", lambda c: c.get_accounts(limit=50, retail_portfolio_id=U2)),
    ("get_account", lambda c: c.get_account(U1)),
    ("get_portfolios", lambda c: c.get_portfolios(portfolio_type="DEFAULT")),
    ("get_portfolio_breakdown", lambda c: c.get_portfolio_breakdown(U1, currency="USD")),
    ("get_transaction_summary", lambda c: c.get_transaction_summary(product_type="SPOT")),
    (
        "get_products",
        lambda c: c.get_products(limit=5, product_ids=["BTC-USD"], get_tradability_status=True),
    ),
    ("get_product", lambda c: c.get_product("BTC-USD", get_tradability_status=False)),
    ("get_product_book", lambda c: c.get_product_book("BTC-USD", limit=5)),
    ("get_best_bid_ask", lambda c: c.get_best_bid_ask(product_ids=["BTC-USD", "ETH-USD"])),
    (
        "get_candles",
        lambda c: c.get_candles("BTC-USD", "1700000000", "1700003600", "ONE_HOUR", limit=10),
    ),
    ("get_market_trades", lambda c: c.get_market_trades("BTC-USD", 10, start="1700000000")),
    ("get_futures_balance_summary", lambda c: c.get_futures_balance_summary()),
    ("list_futures_positions", lambda c: c.list_futures_positions()),
    ("get_futures_position", lambda c: c.get_futures_position("BIT-28JUL23-CDE")),
    ("get_perps_portfolio_summary", lambda c: c.get_perps_portfolio_summary(U1)),
    ("list_perps_positions", lambda c: c.list_perps_positions(U1)),
    ("get_perps_position", lambda c: c.get_perps_position(U1, "BTC-PERP-INTX")),
    ("get_perps_portfolio_balances", lambda c: c.get_perps_portfolio_balances(U1)),
    ("get_api_key_permissions", lambda c: c.get_api_key_permissions()),
]


def _capture(call: Any) -> tuple[str, str, str, bytes]:
    """What the SDK would send: (method, path, query, body), prepared without a network."""
    client = sdk_client(KEYS["ec_sec1_pem"][0], "api.coinbase.com")
    seen: list[tuple[str, str, Any, Any]] = []

    def capture(
        method: str, url_path: str, params: Any, headers: Any, data: Any = None
    ) -> dict[str, Any]:
        seen.append((method, url_path, params, data))
        return {}

    client.send_request = capture
    call(client)
    ((method, path, params, data),) = seen
    prepared = requests.Request(
        method,
        f"https://api.coinbase.com{path}",
        params=params,
        json=data if method == "POST" else None,
    ).prepare()
    query = (prepared.url or "").partition("?")[2]
    body = prepared.body if isinstance(prepared.body, bytes) else b""
    return method, path, query, body


@pytest.mark.parametrize(("name", "call"), SDK_CALLS, ids=[n for n, _ in SDK_CALLS])
def test_requests_the_sdk_builds_are_accepted_and_kept(name: str, call: Any) -> None:
    method, path, query, body = _capture(call)
    parsed = coinbase.VENUE.parse(LIVE, HttpRequest(method, path, query, body))
    assert parsed.intent.endpoint is not None, (name, path)
    assert parsed.intent.violations == (), (name, parsed.intent.violations)
    sent = coinbase.VENUE.sign(
        parsed, make_creds("coinbase", KEY_NAME, KEYS["ec_sec1_pem"][0]), FixedClock()
    ).request
    assert sent.query == query
    assert (json.loads(sent.body) if sent.body else None) == (json.loads(body) if body else None)


def test_sdk_withdraw_shaped_calls_are_refused() -> None:
    """SDK calls for endpoints outside the allow list never match one."""
    refused = [
        lambda c: c.move_portfolio_funds("1", "USD", U1, U2),
        lambda c: c.create_portfolio("p"),
        lambda c: c.delete_portfolio(U1),
        lambda c: c.edit_portfolio(U1, "p"),
        lambda c: c.create_convert_quote("USD", "USDC", "1"),
        lambda c: c.commit_convert_trade("t1", "USD", "USDC"),
        lambda c: c.allocate_portfolio(U1, "BTC-PERP-INTX", "1", "USDC"),
        lambda c: c.schedule_futures_sweep("1"),
        lambda c: c.cancel_pending_futures_sweep(),
        lambda c: c.set_intraday_margin_setting("INTRADAY_MARGIN_SETTING_STANDARD"),
        lambda c: c.get_payment_method("pm1"),
    ]
    for call in refused:
        method, path, query, body = _capture(call)
        intent = coinbase.VENUE.parse(LIVE, HttpRequest(method, path, query, body)).intent
        assert intent.endpoint is None, path
