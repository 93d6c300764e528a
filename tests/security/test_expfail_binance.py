"""Must-fail corpus for Binance: every request here must be refused.

"Refused" means: ``parse`` raises ``InvalidRequestError``/``ModeMismatchError``
(envelope), or the intent has no endpoint or carries violations, and the
shipped default policy denies it. ``sign()`` is replaced by a tripwire for the
whole module. Positive controls prove the default policy allows the
undisguised requests, so the denials are not vacuous.

SECURITY: Binance signs neither path nor method; the withdrawal parameter sets
sent to ``/api/v3/order`` are the cases that a path allowlist alone would miss.
"""

from __future__ import annotations

import pytest

from policy.document import default_document_bytes, load_document
from policy.engine import decide
from signer.domain import HttpRequest, Mode, Principal
from signer.errors import InvalidRequestError, ModeMismatchError
from signer.venues import binance

LIVE = Principal("attacker-client", Mode.LIVE)
SANDBOX = Principal("attacker-client", Mode.SANDBOX)
POLICY = load_document(default_document_bytes())
ORDER = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=30000"
WITHDRAW = "coin=BTC&address=bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh&amount=1&network=BTC"
TRANSFER = "type=MAIN_UMFUTURE&asset=USDT&amount=100"

# venue_endpoints.json "binance" deny list.
DENY = [
    ("POST", "/sapi/v1/capital/withdraw/apply"), ("POST", "/sapi/v1/localentity/withdraw/apply"),
    ("POST", "/sapi/v1/giftcard/createCode"), ("POST", "/sapi/v1/giftcard/buyCode"),
    ("POST", "/sapi/v1/giftcard/redeemCode"), ("POST", "/sapi/v1/account/enableFastWithdrawSwitch"),
    ("POST", "/sapi/v1/account/disableFastWithdrawSwitch"), ("POST", "/sapi/v1/asset/transfer"),
    ("POST", "/sapi/v1/sub-account/universalTransfer"),
    ("POST", "/sapi/v1/sub-account/transfer/subToSub"),
    ("POST", "/sapi/v1/sub-account/transfer/subToMaster"),
    ("POST", "/sapi/v1/sub-account/futures/transfer"),
    ("POST", "/sapi/v1/sub-account/futures/internalTransfer"),
    ("POST", "/sapi/v1/sub-account/margin/transfer"), ("POST", "/sapi/v1/managed-subaccount/deposit"),
    ("POST", "/sapi/v1/managed-subaccount/withdraw"), ("POST", "/sapi/v1/futures/transfer"),
    ("POST", "/sapi/v1/margin/transfer"), ("POST", "/sapi/v1/margin/isolated/transfer"),
    ("POST", "/sapi/v1/asset/dust"), ("POST", "/sapi/v1/asset/dust-btc"),
    ("POST", "/sapi/v1/asset/convert-transfer"), ("POST", "/sapi/v1/convert/getQuote"),
    ("POST", "/sapi/v1/convert/acceptQuote"), ("POST", "/sapi/v1/convert/limit/placeOrder"),
    ("POST", "/sapi/v1/margin/borrow-repay"), ("POST", "/sapi/v1/margin/loan"),
    ("POST", "/sapi/v1/margin/repay"), ("POST", "/sapi/v1/broker/subAccountApi"),
    ("POST", "/sapi/v1/broker/subAccountApi/permission"),
    ("POST", "/sapi/v1/broker/subAccountApi/ipRestriction"), ("POST", "/sapi/v1/broker/transfer"),
    ("POST", "/sapi/v1/broker/universalTransfer"), ("GET", "/sapi/v1/capital/withdraw/address/list"),
    ("POST", "/sapi/v2/sub-account/subAccountApi/ipRestriction"),
    ("DELETE", "/sapi/v1/sub-account/subAccountApi/ipRestriction/ipList"),
    ("DELETE", "/sapi/v1/broker/subAccountApi"),
]  # fmt: skip


def post(path: str, body: str = "", **kw: object) -> HttpRequest:
    return HttpRequest("POST", path, body=body.encode(), **kw)  # type: ignore[arg-type]


def get(path: str, query: str = "", **kw: object) -> HttpRequest:
    return HttpRequest("GET", path, query=query, **kw)  # type: ignore[arg-type]


def _deny_case(method: str, path: str) -> HttpRequest:
    if method == "POST":
        return post(path, WITHDRAW)
    return HttpRequest(method, path, query=WITHDRAW)


CASES: dict[str, tuple[Principal, HttpRequest]] = {
    **{f"deny_{m}_{p.strip('/').replace('/', '_')}": (LIVE, _deny_case(m, p)) for m, p in DENY},
    "sapi_prefix_anything": (LIVE, post("/sapi/v1/order", ORDER)),
    "fapi_order": (LIVE, post("/fapi/v1/order", ORDER)),
    # The endpoint is not bound by the signature: withdrawal parameters on an order path.
    "withdraw_set_on_order_body": (LIVE, post("/api/v3/order", WITHDRAW)),
    "withdraw_set_on_order_query": (LIVE, HttpRequest("POST", "/api/v3/order", query=WITHDRAW)),
    "withdraw_set_plus_order": (LIVE, post("/api/v3/order", ORDER + "&" + WITHDRAW)),
    "withdraw_split_query_body": (
        LIVE,
        HttpRequest("POST", "/api/v3/order", query=ORDER, body=WITHDRAW.encode()),
    ),
    "withdraw_order_id": (LIVE, post("/api/v3/order", ORDER + "&withdrawOrderId=x")),
    "destination_chain": (LIVE, post("/api/v3/order", ORDER + "&destination=x&chain=ETH")),
    "transfer_set_on_order": (LIVE, post("/api/v3/order", TRANSFER)),
    "account_types_on_test_order": (
        LIVE,
        post("/api/v3/order/test", ORDER + "&fromAccountType=SPOT&toAccountType=USDT_FUTURE"),
    ),
    "withdraw_set_on_read": (LIVE, get("/api/v3/account", WITHDRAW)),
    "withdraw_set_on_cancel": (
        LIVE,
        HttpRequest("DELETE", "/api/v3/openOrders", query="symbol=BTCUSDT&" + WITHDRAW),
    ),
    "smuggled_in_client_id": (
        LIVE,
        post("/api/v3/order", ORDER + "&newClientOrderId=a%26address%3Dx"),
    ),
    # Path disguises.
    "case_segment": (LIVE, post("/api/v3/Order", ORDER)),
    "case_prefix": (LIVE, post("/API/v3/order", ORDER)),
    "case_version": (LIVE, post("/api/V3/order", ORDER)),
    "pct_letter": (LIVE, post("/api/v3/%6Frder", ORDER)),
    "pct_slash": (LIVE, post("/api%2Fv3/order", ORDER)),
    "pct_slash_inner": (LIVE, post("/api/v3%2Forder", ORDER)),
    "dotdot_to_withdraw": (
        LIVE,
        post("/api/v3/order/../../../sapi/v1/capital/withdraw/apply", WITHDRAW),
    ),
    "dotdot_from_sapi": (LIVE, post("/sapi/v1/../../api/v3/order", ORDER)),
    "pct_dotdot": (LIVE, post("/api/v3/%2E%2E/v3/order", ORDER)),
    "dot_segment": (LIVE, post("/api/v3/./order", ORDER)),
    "trailing_slash": (LIVE, post("/api/v3/order/", ORDER)),
    "double_slash": (LIVE, post("/api//v3/order", ORDER)),
    "leading_double_slash": (LIVE, post("//api/v3/order", ORDER)),
    "lookalike_raw": (LIVE, post("/api/v3/\u043erder", ORDER)),
    "lookalike_pct": (LIVE, post("/api/v3/%D0%BErder", ORDER)),
    "path_with_query": (LIVE, post("/api/v3/order?coin=BTC", ORDER)),
    "wrong_method_put": (LIVE, HttpRequest("PUT", "/api/v3/order", body=ORDER.encode())),
    "wrong_method_get_test": (LIVE, get("/api/v3/order/test", ORDER)),
    "lowercase_method": (LIVE, HttpRequest("post", "/api/v3/order", body=ORDER.encode())),
    # Parameter disguises.
    "duplicate_key": (LIVE, post("/api/v3/order", ORDER + "&quantity=100")),
    "duplicate_query_body": (
        LIVE,
        HttpRequest("POST", "/api/v3/order", query="quantity=100", body=ORDER.encode()),
    ),
    "extra_param": (LIVE, post("/api/v3/order", ORDER + "&foo=bar")),
    "caller_timestamp": (LIVE, post("/api/v3/order", ORDER + "&timestamp=1499827319559")),
    "caller_recv_window": (LIVE, post("/api/v3/order", ORDER + "&recvWindow=60000")),
    "caller_signature": (LIVE, post("/api/v3/order", ORDER + "&signature=" + "0" * 64)),
    "caller_signature_query": (
        LIVE,
        HttpRequest("POST", "/api/v3/order", query="signature=ab", body=ORDER.encode()),
    ),
    "pct_encoded_key": (LIVE, post("/api/v3/order", ORDER + "&%61ddress=x")),
    "plus_in_value": (LIVE, post("/api/v3/order", ORDER.replace("0.01", "+1"))),
    "semicolon_separator": (LIVE, post("/api/v3/order", ORDER + ";address=x")),
    "get_with_body": (LIVE, HttpRequest("GET", "/api/v3/account", body=b"omitZeroBalances=true")),
    "auth_header_apikey": (LIVE, get("/api/v3/account", headers=(("X-MBX-APIKEY", "k"),))),
    "auth_header_lowercase": (LIVE, get("/api/v3/account", headers=(("x-mbx-apikey", "k"),))),
    "auth_header_authorization": (
        LIVE,
        get("/api/v3/account", headers=(("Authorization", "x"),)),
    ),
    "stp_transfer_mode": (
        LIVE,
        post("/api/v3/order", ORDER + "&selfTradePreventionMode=TRANSFER"),
    ),
    # Host / mode.
    "foreign_host": (LIVE, get("/api/v3/account", host="api.binance.com.evil.example")),
    "host_with_port": (LIVE, get("/api/v3/account", host="api.binance.com:443")),
    "live_principal_testnet_host": (LIVE, get("/api/v3/account", host="testnet.binance.vision")),
    "sandbox_principal_live_host": (SANDBOX, get("/api/v3/account", host="api.binance.com")),
}


@pytest.fixture(autouse=True)
def _sign_is_a_tripwire(monkeypatch: pytest.MonkeyPatch) -> None:
    def tripwire(*_: object) -> None:
        raise AssertionError("sign() reached for a must-fail request")

    monkeypatch.setattr(binance.VENUE, "sign", tripwire)


@pytest.mark.parametrize(("principal", "request_"), CASES.values(), ids=[f"expfail_{n}" for n in CASES])  # fmt: skip
def test_refused(principal: Principal, request_: HttpRequest) -> None:
    try:
        parsed = binance.VENUE.parse(principal, request_)
    except (InvalidRequestError, ModeMismatchError):
        return
    intent = parsed.intent
    assert intent.endpoint is None or intent.violations
    assert not decide(POLICY, intent).allowed


@pytest.mark.parametrize(
    ("principal", "request_"),
    [
        (LIVE, post("/api/v3/order", ORDER)),
        (LIVE, get("/api/v3/account")),
        (SANDBOX, get("/api/v3/account", host="testnet.binance.vision")),
    ],
    ids=["control_order", "control_account", "control_sandbox"],
)
def test_controls_are_allowed(principal: Principal, request_: HttpRequest) -> None:
    intent = binance.VENUE.parse(principal, request_).intent
    assert intent.violations == ()
    assert decide(POLICY, intent).allowed
