"""Must-fail corpus for Coinbase Advanced Trade: every request here must be refused.

"Refused" means: ``parse`` raises ``InvalidRequestError``/``ModeMismatchError``
(envelope), or the intent has no endpoint or carries violations, and a policy
document that enables coinbase for every mode and class (the shipped default
with only the coinbase table changed) denies it. ``sign()`` is replaced by a
tripwire for the whole module. Positive controls prove that document allows the
undisguised requests, so the denials are not vacuous.

SECURITY: the Coinbase JWT binds METHOD + host + path only, never the body or
the query, so the body disguises on allowed paths (a send body on
``/api/v3/brokerage/orders``...) are the cases a path allowlist alone would miss;
the JWT is just as valid on the v2 send/withdraw endpoints, which must never
match.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from policy.document import default_document_bytes, load_document
from policy.engine import decide
from signer.domain import HttpRequest, Mode, Principal
from signer.errors import InvalidRequestError, ModeMismatchError
from signer.venues import coinbase

LIVE = Principal("attacker-client", Mode.LIVE)
SANDBOX = Principal("attacker-client", Mode.SANDBOX)
_DISABLED = "[venues.coinbase]\nenabled = false  # enabled when its venue module lands\n"
_ENABLED = (
    '[venues.coinbase]\nenabled = true\nmodes = ["live", "sandbox"]\n'
    'classes = ["trade", "cancel", "read"]\n'
)


def _policy_bytes() -> bytes:
    text = default_document_bytes().decode()
    if _DISABLED in text:
        return text.replace(_DISABLED, _ENABLED).encode()
    assert '[venues.coinbase]\nenabled = true\nmodes = ["live", "sandbox"]' in text
    return text.encode()


POLICY = load_document(_policy_bytes())
B = "/api/v3/brokerage"
U1 = "a9625b04-fc66-4999-a876-543c3684d702"
U2 = "0b3a6a4e-3e4c-4c59-9c4d-1a2b3c4d5e6f"
ORDER: dict[str, Any] = {
    "client_order_id": "cid-1",
    "product_id": "BTC-USD",
    "side": "BUY",
    "order_configuration": {"limit_limit_gtc": {"base_size": "0.01", "limit_price": "30000"}},
}
SEND = {
    "type": "send",
    "to": "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh",
    "amount": "1",
    "currency": "BTC",
}
WITHDRAW = {"amount": "100", "currency": "USD", "payment_method": U2}
MOVE_FUNDS = {
    "funds": {"value": "100", "currency": "USD"},
    "source_portfolio_uuid": U1,
    "target_portfolio_uuid": U2,
}
CONVERT = {"from_account": "USD", "to_account": "USDC", "amount": "100"}

# venue_endpoints.json "coinbase" deny list, with its path parameters filled in.
DENY: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", f"{B}/portfolios/move_funds", MOVE_FUNDS),
    ("POST", f"{B}/portfolios", {"name": "p"}),
    ("POST", f"{B}/convert/quote", CONVERT),
    ("POST", f"{B}/convert/trade/{U1}", CONVERT),
    (
        "POST",
        f"{B}/intx/allocate",
        {"portfolio_uuid": U1, "symbol": "BTC-PERP-INTX", "amount": "1", "currency": "USDC"},
    ),
    ("POST", f"{B}/cfm/sweeps/schedule", {"usd_amount": "1"}),
    (
        "POST",
        f"{B}/intx/multi_asset_collateral",
        {"portfolio_uuid": U1, "multi_asset_collateral_enabled": True},
    ),
    ("POST", f"{B}/cfm/intraday/margin_setting", {"setting": "INTRADAY_MARGIN_SETTING_STANDARD"}),
    ("PUT", f"{B}/portfolios/{U1}", {"name": "p"}),
    ("DELETE", f"{B}/portfolios/{U1}", {}),
    ("DELETE", f"{B}/cfm/sweeps", {}),
    ("POST", f"/v2/accounts/{U1}/transactions", SEND),
    ("POST", f"/v2/accounts/{U1}/transactions/{U2}/complete", {}),
    ("POST", f"/v2/accounts/{U1}/transactions/{U2}/resend", {}),
    ("POST", f"/v2/accounts/{U1}/withdrawals", WITHDRAW),
    ("POST", f"/v2/accounts/{U1}/withdrawals/{U2}/commit", {}),
    ("POST", f"/v2/accounts/{U1}/deposits", WITHDRAW),
    ("POST", f"/v2/accounts/{U1}/deposits/{U2}/commit", {}),
    ("POST", f"/v2/accounts/{U1}/addresses", {"name": "a"}),
    ("POST", f"/v2/accounts/{U1}/buys", WITHDRAW),
    ("POST", f"/v2/accounts/{U1}/buys/{U2}/commit", {}),
    ("POST", f"/v2/accounts/{U1}/sells", WITHDRAW),
    ("POST", f"/v2/accounts/{U1}/sells/{U2}/commit", {}),
    ("POST", "/v2/accounts", {"name": "a"}),
    ("POST", f"/v2/accounts/{U1}/primary", {}),
    ("PUT", f"/v2/accounts/{U1}", {"name": "a"}),
    ("DELETE", f"/v2/accounts/{U1}", {}),
    ("DELETE", f"/v2/accounts/{U1}/transactions/{U2}", {}),
    ("PUT", "/v2/user", {"name": "a"}),
]


def post(path: str, body: object = ORDER, **kw: Any) -> HttpRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpRequest("POST", path, body=raw, **kw)


def get(path: str, query: str = "", **kw: Any) -> HttpRequest:
    return HttpRequest("GET", path, query=query, **kw)


def _with(**changes: Any) -> dict[str, Any]:
    return {**ORDER, **changes}


def _deny_case(method: str, path: str, body: dict[str, Any]) -> HttpRequest:
    return HttpRequest(method, path, body=json.dumps(body).encode() if body else b"")


ORDERS = f"{B}/orders"
CASES: dict[str, tuple[Principal, HttpRequest]] = {
    **{
        f"deny_{m}_{p.strip('/').replace('/', '_')}": (LIVE, _deny_case(m, p, b))
        for m, p, b in DENY
    },
    # The same deny paths as GET (a read template must not take them).
    "get_portfolios_move_funds": (LIVE, get(f"{B}/portfolios/move_funds")),
    "get_v2_accounts": (LIVE, get("/v2/accounts")),
    "get_v2_transactions": (LIVE, get(f"/v2/accounts/{U1}/transactions")),
    "get_convert_trade": (LIVE, get(f"{B}/convert/trade/{U1}")),
    "get_payment_methods": (LIVE, get(f"{B}/payment_methods")),
    "get_cfm_sweeps": (LIVE, get(f"{B}/cfm/sweeps")),
    "post_portfolio_uuid": (LIVE, post(f"{B}/portfolios/{U1}", {"name": "x"})),
    # Coinbase disguises: send/withdraw bodies on the order paths (the JWT binds no body).
    "v2_transactions_with_send_body": (LIVE, post(f"/v2/accounts/{U1}/transactions", SEND)),
    "send_body_on_orders": (LIVE, post(ORDERS, SEND)),
    "order_plus_type_send": (LIVE, post(ORDERS, _with(type="send"))),
    "order_plus_to": (LIVE, post(ORDERS, _with(to="0x0000000000000000000000000000000000000001"))),
    "order_plus_send_fields": (LIVE, post(ORDERS, {**ORDER, **SEND})),
    "order_plus_destination": (LIVE, post(ORDERS, _with(destination="x", network="ethereum"))),
    "send_inside_configuration": (
        LIVE,
        post(
            ORDERS,
            _with(
                order_configuration={
                    "limit_limit_gtc": {"base_size": "1", "limit_price": "1", "to": "x"}
                }
            ),
        ),
    ),
    "send_as_configuration": (LIVE, post(ORDERS, _with(order_configuration={"send": SEND}))),
    "move_funds_on_preview": (LIVE, post(f"{B}/orders/preview", MOVE_FUNDS)),
    "withdraw_on_close_position": (
        LIVE,
        post(
            f"{B}/orders/close_position",
            {"client_order_id": "c", "product_id": "BTC-USD", **WITHDRAW},
        ),
    ),
    "convert_on_edit": (LIVE, post(f"{B}/orders/edit", {"order_id": U1, **CONVERT})),
    "transfer_on_batch_cancel": (
        LIVE,
        post(f"{B}/orders/batch_cancel", {"order_ids": [U1], **MOVE_FUNDS}),
    ),
    "send_query_on_post": (
        LIVE,
        HttpRequest(
            "POST", ORDERS, query="type=send&to=x&amount=1", body=json.dumps(ORDER).encode()
        ),
    ),
    "harmless_query_on_post": (
        LIVE,
        HttpRequest("POST", ORDERS, query="limit=1", body=json.dumps(ORDER).encode()),
    ),
    "send_query_on_read": (LIVE, get(f"{B}/accounts", "type=send&to=x&amount=1&currency=BTC")),
    "get_with_send_body": (
        LIVE,
        HttpRequest("GET", f"{B}/accounts", body=json.dumps(SEND).encode()),
    ),
    "json_number_sizes": (
        LIVE,
        post(
            ORDERS,
            b'{"client_order_id":"c","product_id":"BTC-USD","side":"BUY","order_configuration":{"market_market_ioc":{"base_size":1}}}',
        ),
    ),
    "null_field": (LIVE, post(ORDERS, _with(retail_portfolio_id=None))),
    "two_configurations": (
        LIVE,
        post(
            ORDERS,
            _with(
                order_configuration={
                    "market_market_ioc": {"base_size": "1"},
                    "limit_limit_gtc": {"base_size": "1", "limit_price": "1"},
                }
            ),
        ),
    ),
    # uri host tricks: the JWT names the host the daemon resolved, never a caller's.
    "host_other": (LIVE, post(ORDERS, host="api.exchange.coinbase.com")),
    "host_suffix": (LIVE, post(ORDERS, host="api.coinbase.com.evil.example")),
    "host_userinfo": (LIVE, post(ORDERS, host="api.coinbase.com@evil.example")),
    "host_port": (LIVE, post(ORDERS, host="api.coinbase.com:443")),
    "host_case": (LIVE, post(ORDERS, host="API.coinbase.com")),
    "host_path": (LIVE, post(ORDERS, host="api.coinbase.com/v2/accounts")),
    "live_principal_sandbox_host": (LIVE, post(ORDERS, host="api-sandbox.coinbase.com")),
    "sandbox_principal_live_host": (SANDBOX, post(ORDERS, host="api.coinbase.com")),
    # Path disguises.
    "case_segment": (LIVE, post(f"{B}/Orders")),
    "case_prefix": (LIVE, post("/API/v3/brokerage/orders")),
    "pct_letter": (LIVE, post(f"{B}/%6Frders")),
    "pct_slash": (LIVE, post("/api/v3%2Fbrokerage/orders")),
    "pct_slash_in_order_id": (LIVE, get(f"{B}/orders/historical/{U1}%2F..%2F..%2Fv2")),
    "dotdot_in_order_id": (LIVE, get(f"{B}/orders/historical/..")),
    "dotdot_to_v2": (LIVE, post(f"{B}/orders/../../../../v2/accounts/{U1}/transactions", SEND)),
    "dotdot_from_v2": (LIVE, post("/v2/../api/v3/brokerage/orders")),
    "pct_dotdot": (LIVE, post(f"{B}/%2E%2E/brokerage/orders")),
    "dot_segment": (LIVE, post(f"{B}/./orders")),
    "trailing_slash": (LIVE, post(f"{ORDERS}/")),
    "double_slash": (LIVE, post(f"{B}//orders")),
    "leading_double_slash": (LIVE, post(f"/{ORDERS}")),
    "lookalike_raw": (LIVE, post(f"{B}/\u043erders")),
    "lookalike_pct": (LIVE, post(f"{B}/%D0%BErders")),
    "path_with_query": (LIVE, post(f"{ORDERS}?type=send")),
    "path_with_fragment": (LIVE, post(f"{ORDERS}#x")),
    "wrong_method_put": (LIVE, HttpRequest("PUT", ORDERS, body=json.dumps(ORDER).encode())),
    "wrong_method_get_orders": (LIVE, get(ORDERS)),
    "wrong_method_delete_order": (LIVE, HttpRequest("DELETE", f"{B}/orders/historical/{U1}")),
    "lowercase_method": (LIVE, HttpRequest("post", ORDERS, body=json.dumps(ORDER).encode())),
    "order_id_not_uuid": (LIVE, get(f"{B}/orders/historical/move_funds")),
    # Parameter disguises.
    "duplicate_key_top": (LIVE, post(ORDERS, json.dumps(ORDER)[:-1].encode() + b',"side":"SELL"}')),
    "duplicate_key_nested": (
        LIVE,
        post(
            ORDERS,
            b'{"client_order_id":"c","product_id":"BTC-USD","side":"BUY","order_configuration":{"market_market_ioc":{"base_size":"1","base_size":"100"}}}',
        ),
    ),
    "duplicate_query": (LIVE, get(f"{B}/accounts", "limit=1&limit=250")),
    "extra_param": (LIVE, post(ORDERS, _with(foo="bar"))),
    "extra_query": (LIVE, get(f"{B}/accounts", "foo=bar")),
    "caller_nonce": (LIVE, post(ORDERS, _with(nonce="1"))),
    "caller_timestamp": (LIVE, get(f"{B}/accounts", "timestamp=1700000000")),
    "caller_jwt": (LIVE, get(f"{B}/accounts", "jwt=eyJ")),
    "caller_signature": (LIVE, post(ORDERS, _with(signature="00"))),
    "auth_header": (LIVE, post(ORDERS, headers=(("Authorization", "Bearer eyJ"),))),
    "auth_header_lowercase": (LIVE, post(ORDERS, headers=(("authorization", "Bearer eyJ"),))),
    "cb_access_headers": (
        LIVE,
        get(f"{B}/accounts", headers=(("CB-ACCESS-KEY", "k"), ("CB-ACCESS-SIGN", "s"))),
    ),
    "forwarded_host": (LIVE, post(ORDERS, headers=(("X-Forwarded-Host", "evil.example"),))),
    "form_content_type": (
        LIVE,
        post(ORDERS, headers=(("Content-Type", "application/x-www-form-urlencoded"),)),
    ),
    "plus_in_query": (LIVE, get(f"{B}/accounts", "cursor=a+b")),
    "semicolon_query": (LIVE, get(f"{B}/accounts", "limit=1;to=x")),
    "body_not_json": (LIVE, post(ORDERS, b"type=send&to=x")),
    "body_nan": (LIVE, post(ORDERS, b'{"client_order_id":NaN}')),
    "body_array": (LIVE, post(ORDERS, b"[]")),
}


@pytest.fixture(autouse=True)
def _sign_is_a_tripwire(monkeypatch: pytest.MonkeyPatch) -> None:
    def tripwire(*_: object) -> None:
        raise AssertionError("sign() reached for a must-fail request")

    monkeypatch.setattr(coinbase.VENUE, "sign", tripwire)


@pytest.mark.parametrize(
    ("principal", "request_"), CASES.values(), ids=[f"expfail_{n}" for n in CASES]
)
def test_refused(principal: Principal, request_: HttpRequest) -> None:
    try:
        parsed = coinbase.VENUE.parse(principal, request_)
    except (InvalidRequestError, ModeMismatchError):
        return
    intent = parsed.intent
    assert intent.endpoint is None or intent.violations
    assert not decide(POLICY, intent).allowed


def test_every_deny_entry_is_covered() -> None:
    assert len(DENY) == 29
    assert {f"deny_{m}_{p.strip('/').replace('/', '_')}" for m, p, _ in DENY} <= set(CASES)


@pytest.mark.parametrize(
    ("principal", "request_"),
    [
        (LIVE, post(ORDERS)),
        (LIVE, post(f"{B}/orders/batch_cancel", {"order_ids": [U1]})),
        (LIVE, get(f"{B}/accounts", "limit=1")),
        (LIVE, get(f"{B}/portfolios/{U1}")),
        (LIVE, get(f"{B}/orders/historical/{U1}")),
        (SANDBOX, post(ORDERS, host="api-sandbox.coinbase.com")),
    ],
    ids=[
        "control_order",
        "control_cancel",
        "control_accounts",
        "control_portfolio",
        "control_get_order",
        "control_sandbox",
    ],
)
def test_controls_are_allowed(principal: Principal, request_: HttpRequest) -> None:
    intent = coinbase.VENUE.parse(principal, request_).intent
    assert intent.violations == ()
    assert decide(POLICY, intent).allowed
