"""Must-fail corpus for Bybit v5: every request here must be refused.

"Refused" means: ``parse`` raises ``InvalidRequestError``/``ModeMismatchError``
(envelope), or the intent has no endpoint or carries violations, and a policy
document that enables Bybit for every mode and class denies it. The shipped
default.toml still has Bybit disabled, so the document is the shipped one with
the Bybit table switched on. ``sign()`` is a tripwire for the whole module.
Positive controls prove that document allows the undisguised requests.

SECURITY: Bybit signs neither path nor method; the withdrawal and transfer
parameter sets sent to ``/v5/order/create`` are the cases a path allowlist
alone would miss.
"""

from __future__ import annotations

import json
import re

import pytest

from policy.document import PolicyDocument, default_document_bytes, load_document
from policy.engine import decide
from signer.domain import HttpRequest, Mode, Principal
from signer.errors import InvalidRequestError, ModeMismatchError
from signer.venues import bybit

LIVE = Principal("attacker-client", Mode.LIVE)
SANDBOX = Principal("attacker-client", Mode.SANDBOX)
ORDER_FIELDS = {"category": "spot", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.01", "price": "30000"}  # fmt: skip
ORDER = json.dumps(ORDER_FIELDS)
# POST /v5/asset/withdraw/create, /v5/asset/transfer/inter-transfer, universal-transfer bodies.
WITHDRAW_FIELDS = {"coin": "USDT", "chain": "ETH", "address": "0x99ee9a0b61dbd7f5c8a6f9b7bc0e6b6e4c0e4b1f", "amount": "24", "timestamp": 1672196561407, "forceChain": 0, "accountType": "FUND"}  # fmt: skip
TRANSFER_FIELDS = {"transferId": "42c0cfb0-6bca-c242-bc76-4e6df6cbcb16", "coin": "BTC", "amount": "0.05", "fromAccountType": "UNIFIED", "toAccountType": "FUND"}  # fmt: skip
UNIVERSAL_FIELDS = {**TRANSFER_FIELDS, "fromMemberId": 592334, "toMemberId": 691355}
WITHDRAW, TRANSFER = json.dumps(WITHDRAW_FIELDS), json.dumps(TRANSFER_FIELDS)

# venue_endpoints.json "bybit" deny list.
DENY = [
    ("POST", "/v5/asset/withdraw/create"), ("POST", "/v5/asset/withdraw/cancel"),
    ("POST", "/v5/asset/transfer/inter-transfer"), ("POST", "/v5/asset/transfer/universal-transfer"),
    ("POST", "/v5/asset/transfer/save-transfer-sub-member"),
    ("POST", "/v5/asset/deposit/deposit-to-account"), ("POST", "/v5/position/move-positions"),
    ("POST", "/v5/asset/exchange/quote-apply"), ("POST", "/v5/asset/exchange/convert-execute"),
    ("POST", "/v5/asset/covert/get-quote"), ("POST", "/v5/asset/covert/small-balance-execute"),
    ("POST", "/v5/fiat/quote-apply"), ("POST", "/v5/fiat/trade-execute"),
    ("POST", "/v5/user/create-sub-api"), ("POST", "/v5/user/update-api"),
    ("POST", "/v5/user/update-sub-api"), ("POST", "/v5/user/delete-api"),
    ("POST", "/v5/user/delete-sub-api"), ("POST", "/v5/user/create-sub-member"),
    ("POST", "/v5/user/frozen-sub-member"), ("POST", "/v5/account/borrow"),
    ("POST", "/v5/account/repay"), ("POST", "/v5/crypto-loan/borrow"),
    ("POST", "/v5/crypto-loan-flexible/borrow"), ("POST", "/v5/crypto-loan-fixed/borrow"),
    ("POST", "/v5/lending/purchase"), ("POST", "/v5/earn/place-order"),
    ("GET", "/v5/asset/withdraw/query-address"), ("GET", "/v5/asset/withdraw/vasp/list"),
]  # fmt: skip


def enabled_policy(venue: str) -> PolicyDocument:
    """The shipped document with ``venue`` enabled for every mode and endpoint class."""
    text = default_document_bytes().decode()
    table = re.compile(rf"^\[venues\.{venue}\]\n(?:(?!\[).*\n)*", re.MULTILINE)
    enabled = f'[venues.{venue}]\nenabled = true\nmodes = ["live", "sandbox"]\nclasses = ["trade", "cancel", "read"]\n\n'  # fmt: skip
    text, count = table.subn(enabled, text)
    assert count == 1
    return load_document(text.encode())


POLICY = enabled_policy("bybit")


def post(path: str, body: str = ORDER, **kw: object) -> HttpRequest:
    return HttpRequest("POST", path, body=body.encode(), **kw)  # type: ignore[arg-type]


def get(path: str, query: str = "", **kw: object) -> HttpRequest:
    return HttpRequest("GET", path, query=query, **kw)  # type: ignore[arg-type]


def order(**fields: object) -> str:
    return json.dumps({**ORDER_FIELDS, **fields})


def _deny_case(method: str, path: str) -> HttpRequest:
    return post(path, WITHDRAW) if method == "POST" else get(path, "coin=USDT&chain=ETH")


CASES: dict[str, tuple[Principal, HttpRequest]] = {
    **{f"deny_{m}_{p.strip('/').replace('/', '_')}": (LIVE, _deny_case(m, p)) for m, p in DENY},
    "asset_prefix_anything": (LIVE, post("/v5/asset/order/create")),
    "v3_private_order": (LIVE, post("/spot/v3/private/order")),
    "v5_user_query_api": (LIVE, get("/v5/user/query-api")),
    # The endpoint is not bound by the signature: withdraw/transfer parameters on trade paths.
    "withdraw_set_on_create": (LIVE, post("/v5/order/create", WITHDRAW)),
    "withdraw_set_plus_order": (LIVE, post("/v5/order/create", order(**WITHDRAW_FIELDS))),
    "withdraw_set_on_pre_check": (LIVE, post("/v5/order/pre-check", WITHDRAW)),
    "withdraw_set_on_amend": (LIVE, post("/v5/order/amend", WITHDRAW)),
    "withdraw_set_on_cancel_all": (LIVE, post("/v5/order/cancel-all", WITHDRAW)),
    "withdraw_set_on_trading_stop": (LIVE, post("/v5/position/trading-stop", WITHDRAW)),
    "withdraw_in_batch_item": (
        LIVE,
        post(
            "/v5/order/create-batch",
            json.dumps({"category": "linear", "request": [{**ORDER_FIELDS, **WITHDRAW_FIELDS}]}),
        ),
    ),
    "inter_transfer_on_create": (LIVE, post("/v5/order/create", TRANSFER)),
    "inter_transfer_plus_order": (LIVE, post("/v5/order/create", order(**TRANSFER_FIELDS))),
    "universal_transfer_on_create": (LIVE, post("/v5/order/create", json.dumps(UNIVERSAL_FIELDS))),
    "transfer_on_set_leverage": (LIVE, post("/v5/position/set-leverage", TRANSFER)),
    "address_only": (
        LIVE,
        post("/v5/order/create", order(address="0x99ee9a0b61dbd7f5c8a6f9b7bc0e6b6e4c0e4b1f")),
    ),
    "to_member_id": (LIVE, post("/v5/order/create", order(toMemberId=691355))),
    "withdraw_order_id": (LIVE, post("/v5/order/create", order(withdrawOrderId="x"))),
    "convert_quote_on_create": (
        LIVE,
        post(
            "/v5/order/create",
            order(fromCoin="BTC", toCoin="USDT", requestCoin="BTC", requestAmount="1"),
        ),
    ),
    "withdraw_params_on_read": (LIVE, get("/v5/account/info", "coin=USDT&address=x&amount=1")),
    "withdraw_query_on_post": (
        LIVE,
        HttpRequest("POST", "/v5/order/create", query="coin=USDT&amount=1", body=ORDER.encode()),
    ),
    # Categories outside spot/linear/inverse/option.
    **{
        f"category_{name}": (LIVE, post("/v5/order/create", order(category=value)))
        for name, value in [
            ("upper", "SPOT"),
            ("margin", "margin"),
            ("funding", "FUND"),
            ("futures", "futures"),
            ("empty", ""),
            ("space", "spot "),
            ("list", ["spot"]),
            ("null", None),
            ("int", 1),
        ]
    },
    "category_on_read": (LIVE, get("/v5/order/realtime", "category=FUND")),
    # Path disguises.
    "case_segment": (LIVE, post("/v5/Order/create")),
    "case_version": (LIVE, post("/V5/order/create")),
    "case_action": (LIVE, post("/v5/order/CREATE")),
    "pct_letter": (LIVE, post("/v5/order/%63reate")),
    "pct_slash": (LIVE, post("/v5%2Forder/create")),
    "dotdot_to_withdraw": (LIVE, post("/v5/order/create/../../asset/withdraw/create", WITHDRAW)),
    "dotdot_from_asset": (LIVE, post("/v5/asset/withdraw/../../order/create")),
    "pct_dotdot": (LIVE, post("/v5/order/%2E%2E/order/create")),
    "dot_segment": (LIVE, post("/v5/order/./create")),
    "trailing_slash": (LIVE, post("/v5/order/create/")),
    "double_slash": (LIVE, post("/v5//order/create")),
    "leading_double_slash": (LIVE, post("//v5/order/create")),
    "lookalike_raw": (LIVE, post("/v5/order/cr\u0435ate")),
    "lookalike_pct": (LIVE, post("/v5/order/cr%D0%B5ate")),
    "path_with_query": (LIVE, post("/v5/order/create?coin=USDT")),
    "wrong_method_get": (LIVE, get("/v5/order/create", "category=spot")),
    "wrong_method_put": (LIVE, HttpRequest("PUT", "/v5/order/create", body=ORDER.encode())),
    "lowercase_method": (LIVE, HttpRequest("post", "/v5/order/create", body=ORDER.encode())),
    # Parameter disguises.
    "duplicate_key": (LIVE, post("/v5/order/create", ORDER[:-1] + ', "qty": "100"}')),
    "duplicate_category": (
        LIVE,
        post("/v5/order/create", ORDER[:-1] + ', "category": "linear"}'),
    ),
    "duplicate_query_key": (LIVE, get("/v5/order/realtime", "category=spot&category=linear")),
    "extra_param": (LIVE, post("/v5/order/create", order(foo="bar"))),
    "category_in_batch_item": (
        LIVE,
        post(
            "/v5/order/create-batch",
            json.dumps({"category": "spot", "request": [{**ORDER_FIELDS}]}),
        ),
    ),
    "too_many_batch_items": (
        LIVE,
        post(
            "/v5/order/cancel-batch",
            json.dumps(
                {"category": "spot", "request": [{"symbol": "BTCUSDT", "orderId": "1"}] * 21}
            ),
        ),
    ),
    "float_qty": (LIVE, post("/v5/order/create", ORDER.replace('"0.01"', "0.01"))),
    "caller_timestamp": (LIVE, post("/v5/order/create", order(timestamp=1672196561407))),
    "caller_recv_window": (LIVE, post("/v5/order/create", order(recvWindow=60000))),
    "caller_recv_window_query": (LIVE, get("/v5/account/info", "recv_window=60000")),
    "caller_sign": (LIVE, post("/v5/order/create", order(sign="00" * 32))),
    "caller_api_key": (LIVE, get("/v5/account/info", "api_key=x")),
    "auth_header_apikey": (LIVE, get("/v5/account/info", headers=(("X-BAPI-API-KEY", "k"),))),
    "auth_header_sign": (LIVE, post("/v5/order/create", headers=(("X-BAPI-SIGN", "00"),))),
    "auth_header_timestamp": (
        LIVE,
        post("/v5/order/create", headers=(("x-bapi-timestamp", "1"),)),
    ),
    "auth_header_recv_window": (
        LIVE,
        get("/v5/account/info", headers=(("X-BAPI-RECV-WINDOW", "60000"),)),
    ),
    "auth_header_sign_type": (
        LIVE,
        get("/v5/account/info", headers=(("X-BAPI-SIGN-TYPE", "2"),)),
    ),
    "form_content_type": (
        LIVE,
        post("/v5/order/create", headers=(("Content-Type", "application/x-www-form-urlencoded"),)),
    ),
    "get_with_body": (LIVE, HttpRequest("GET", "/v5/account/info", body=b'{"coin":"BTC"}')),
    "json_array_body": (LIVE, post("/v5/order/create", "[" + ORDER + "]")),
    "plus_in_query": (LIVE, get("/v5/order/realtime", "category=spot&symbol=BTC+USDT")),
    "semicolon_in_query": (LIVE, get("/v5/order/realtime", "category=spot;coin=BTC")),
    # Host / mode.
    "foreign_host": (LIVE, get("/v5/account/info", host="api.bybit.com.evil.example")),
    "host_with_port": (LIVE, get("/v5/account/info", host="api.bybit.com:443")),
    "live_principal_testnet_host": (LIVE, get("/v5/account/info", host="api-testnet.bybit.com")),
    "sandbox_principal_live_host": (SANDBOX, get("/v5/account/info", host="api.bybit.com")),
}


@pytest.fixture(autouse=True)
def _sign_is_a_tripwire(monkeypatch: pytest.MonkeyPatch) -> None:
    def tripwire(*_: object) -> None:
        raise AssertionError("sign() reached for a must-fail request")

    monkeypatch.setattr(bybit.VENUE, "sign", tripwire)


@pytest.mark.parametrize(("principal", "request_"), CASES.values(), ids=[f"expfail_{n}" for n in CASES])  # fmt: skip
def test_refused(principal: Principal, request_: HttpRequest) -> None:
    try:
        parsed = bybit.VENUE.parse(principal, request_)
    except (InvalidRequestError, ModeMismatchError):
        return
    intent = parsed.intent
    assert intent.endpoint is None or intent.violations
    assert not decide(POLICY, intent).allowed


def test_every_deny_entry_is_covered() -> None:
    assert len(DENY) == 29
    assert all(f"deny_{m}_{p.strip('/').replace('/', '_')}" in CASES for m, p in DENY)


@pytest.mark.parametrize(
    ("principal", "request_"),
    [
        (LIVE, post("/v5/order/create")),
        (LIVE, post("/v5/order/cancel", '{"category":"spot","symbol":"BTCUSDT","orderId":"1"}')),
        (LIVE, get("/v5/account/wallet-balance", "accountType=UNIFIED&coin=BTC")),
        (SANDBOX, get("/v5/account/info", host="api-testnet.bybit.com")),
    ],
    ids=["control_order", "control_cancel", "control_wallet", "control_sandbox"],
)
def test_controls_are_allowed(principal: Principal, request_: HttpRequest) -> None:
    intent = bybit.VENUE.parse(principal, request_).intent
    assert intent.violations == ()
    assert decide(POLICY, intent).allowed
