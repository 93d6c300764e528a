"""Must-fail corpus for OKX: every request here must be refused.

"Refused" means: ``parse`` raises ``InvalidRequestError``/``ModeMismatchError``
(envelope), or the intent has no endpoint or carries violations, and the
default policy with okx enabled for every mode and class denies it. ``sign()``
is replaced by a tripwire for the whole module. Positive controls prove that
document allows the undisguised requests, so the denials are not vacuous.

SECURITY: OKX binds path and body in its signature, so the interesting cases
are the ones a careless allowlist would pass: a withdrawal body on an order
path, withdrawal fields mixed into an order, path spellings that a proxy
might normalise to a funding endpoint, and demo/live header games.
"""

from __future__ import annotations

import json
import re

import pytest

from policy.document import PolicyDocument, default_document_bytes, load_document
from policy.engine import decide
from signer.domain import HttpRequest, Mode, Principal
from signer.errors import InvalidRequestError, ModeMismatchError
from signer.venues import okx

LIVE = Principal("attacker-client", Mode.LIVE)
SANDBOX = Principal("attacker-client", Mode.SANDBOX)
ORDER = {
    "instId": "BTC-USDT",
    "tdMode": "cash",
    "side": "buy",
    "ordType": "limit",
    "px": "2.15",
    "sz": "2",
}
# Bodies of the denied Funding endpoints (OKX v5 docs, "Funding Account").
WITHDRAW = {
    "ccy": "USDT",
    "amt": "100",
    "dest": "4",
    "toAddr": "TRH4o8mBhNn7mcBxVqZULM4dWhV7nbUZS5",
    "chain": "USDT-TRC20",
}
TRANSFER = {"ccy": "USDT", "amt": "1.5", "from": "6", "to": "18", "type": "0"}
CONVERT = {"fromCcy": "BTC", "toCcy": "USDT", "amt": "1", "quoteId": "q1", "side": "sell"}

# venue_endpoints.json "okx" deny list.
DENY = [
    "/api/v5/asset/withdrawal",
    "/api/v5/asset/withdrawal-lightning",
    "/api/v5/asset/cancel-withdrawal",
    "/api/v5/fiat/create-withdrawal",
    "/api/v5/fiat/cancel-withdrawal",
    "/api/v5/tradingBot/grid/withdraw-income",
    "/api/v5/asset/transfer",
    "/api/v5/asset/subaccount/transfer",
    "/api/v5/users/subaccount/set-transfer-out",
    "/api/v5/asset/convert/trade",
    "/api/v5/asset/convert/estimate-quote",
    "/api/v5/asset/convert-dust-assets",
    "/api/v5/trade/easy-convert",
    "/api/v5/trade/one-click-repay",
    "/api/v5/trade/one-click-repay-v2",
    "/api/v5/fiat/buy-sell/trade",
    "/api/v5/users/subaccount/apikey",
    "/api/v5/users/subaccount/modify-apikey",
    "/api/v5/users/subaccount/delete-apikey",
    "/api/v5/users/subaccount/subaccount-apikey",
    "/api/v5/users/subaccount/create-subaccount",
    "/api/v5/broker/nd/subaccount/apikey",
    "/api/v5/broker/nd/subaccount/modify-apikey",
    "/api/v5/broker/nd/subaccount/delete-apikey",
    "/api/v5/account/borrow-repay",
    "/api/v5/account/spot-manual-borrow-repay",
    "/api/v5/account/quick-margin-borrow-repay",
    "/api/v5/account/fixed-loan/borrowing-order",
    "/api/v5/finance/flexible-loan/borrow",
    "/api/v5/finance/flexible-loan/repay",
    "/api/v5/finance/flexible-loan/adjust-collateral",
]


def enabled_policy(venue: str) -> PolicyDocument:
    """The shipped default document with ``venue`` enabled for all modes and classes."""
    text = default_document_bytes().decode()
    block = (
        f'[venues.{venue}]\nenabled = true\nmodes = ["live", "sandbox"]\n'
        'classes = ["trade", "cancel", "read"]\n\n'
    )
    text, count = re.subn(rf"\[venues\.{venue}\]\n(?:[^\[\n][^\n]*\n|\n)*", block, text)
    assert count == 1
    document = load_document(text.encode())
    policy = document.venue(venue)
    assert policy is not None and policy.enabled
    return document


POLICY = enabled_policy("okx")


def post(path: str, body: object = ORDER, **kw: object) -> HttpRequest:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpRequest("POST", path, body=data, **kw)  # type: ignore[arg-type]


def get(path: str, query: str = "", **kw: object) -> HttpRequest:
    return HttpRequest("GET", path, query=query, **kw)  # type: ignore[arg-type]


ORDER_PATH = "/api/v5/trade/order"
CASES: dict[str, tuple[Principal, HttpRequest]] = {
    **{f"deny_{p.strip('/').replace('/', '_')}": (LIVE, post(p, WITHDRAW)) for p in DENY},
    **{f"deny_get_{p.strip('/').replace('/', '_')}": (LIVE, get(p, "ccy=USDT")) for p in DENY[:3]},
    "asset_balances_read": (LIVE, get("/api/v5/asset/balances", "ccy=USDT")),
    "deposit_address_read": (LIVE, get("/api/v5/asset/deposit-address", "ccy=USDT")),
    # Bodies of other endpoints on the order path.
    "withdrawal_body_on_order": (LIVE, post(ORDER_PATH, WITHDRAW)),
    "transfer_body_on_order": (LIVE, post(ORDER_PATH, TRANSFER)),
    "convert_body_on_order": (LIVE, post(ORDER_PATH, CONVERT)),
    "withdrawal_body_on_batch": (LIVE, post("/api/v5/trade/batch-orders", [WITHDRAW])),
    "withdrawal_item_in_batch": (
        LIVE,
        post("/api/v5/trade/batch-orders", [ORDER, {**ORDER, **WITHDRAW}]),
    ),
    "withdrawal_body_on_algo": (LIVE, post("/api/v5/trade/order-algo", WITHDRAW)),
    "withdrawal_body_on_cancel": (
        LIVE,
        post("/api/v5/trade/cancel-order", {"instId": "BTC-USDT", "ordId": "1", **WITHDRAW}),
    ),
    "ccy_amt_to_addr_in_order": (
        LIVE,
        post(ORDER_PATH, {**ORDER, "ccy": "USDT", "amt": "1", "toAddr": "x"}),
    ),
    "ccy_amt_dest_in_order": (
        LIVE,
        post(ORDER_PATH, {**ORDER, "ccy": "USDT", "amt": "1", "dest": "4"}),
    ),
    "to_addr_in_attached_algo": (
        LIVE,
        post(ORDER_PATH, {**ORDER, "attachAlgoOrds": [{"toAddr": "x", "amt": "1"}]}),
    ),
    "sub_account_in_order": (LIVE, post(ORDER_PATH, {**ORDER, "subAcct": "mule"})),
    "withdraw_query_on_read": (LIVE, get("/api/v5/account/balance", "ccy=USDT&toAddr=x&amt=1")),
    "withdraw_query_on_post": (
        LIVE,
        HttpRequest("POST", ORDER_PATH, query="toAddr=x&amt=1", body=json.dumps(ORDER).encode()),
    ),
    "smuggled_in_cl_ord_id": (LIVE, post(ORDER_PATH, {**ORDER, "clOrdId": '","toAddr":"x'})),
    # Path disguises.
    "case_segment": (LIVE, post("/api/v5/trade/Order")),
    "case_prefix": (LIVE, post("/API/v5/trade/order")),
    "case_version": (LIVE, post("/api/V5/trade/order")),
    "pct_letter": (LIVE, post("/api/v5/trade/%6Frder")),
    "pct_slash": (LIVE, post("/api%2Fv5/trade/order")),
    "dotdot_to_withdrawal": (LIVE, post("/api/v5/trade/../asset/withdrawal", WITHDRAW)),
    "dotdot_from_asset": (LIVE, post("/api/v5/asset/../trade/order")),
    "pct_dotdot": (LIVE, post("/api/v5/trade/%2E%2E/asset/withdrawal", WITHDRAW)),
    "dot_segment": (LIVE, post("/api/v5/./trade/order")),
    "trailing_slash": (LIVE, post("/api/v5/trade/order/")),
    "double_slash": (LIVE, post("/api/v5//trade/order")),
    "leading_double_slash": (LIVE, post("//api/v5/trade/order")),
    "lookalike_raw": (LIVE, post("/api/v5/trade/\u043erder")),
    "lookalike_pct": (LIVE, post("/api/v5/trade/%D0%BErder")),
    "path_with_query": (LIVE, post("/api/v5/trade/order?toAddr=x")),
    "v3_legacy_path": (LIVE, post("/api/v3/order")),
    "wrong_method_put": (LIVE, HttpRequest("PUT", ORDER_PATH, body=json.dumps(ORDER).encode())),
    "wrong_method_delete": (
        LIVE,
        HttpRequest("DELETE", ORDER_PATH, query="instId=BTC-USDT&ordId=1"),
    ),
    "lowercase_method": (LIVE, HttpRequest("post", ORDER_PATH, body=json.dumps(ORDER).encode())),
    "get_on_post_only": (LIVE, get("/api/v5/trade/cancel-order", "instId=BTC-USDT&ordId=1")),
    # Parameter disguises.
    "duplicate_key": (
        LIVE,
        post(
            ORDER_PATH,
            b'{"instId":"BTC-USDT","tdMode":"cash","side":"buy","ordType":"market","sz":"1","sz":"1000"}',
        ),
    ),
    "duplicate_query_key": (LIVE, get("/api/v5/trade/order", "instId=BTC-USDT&ordId=1&ordId=2")),
    "extra_param": (LIVE, post(ORDER_PATH, {**ORDER, "foo": "bar"})),
    "caller_timestamp": (
        LIVE,
        post(ORDER_PATH, {**ORDER, "timestamp": "2020-12-08T09:08:57.715Z"}),
    ),
    "caller_exp_time_body": (LIVE, post(ORDER_PATH, {**ORDER, "expTime": "99999999999999"})),
    "caller_sign": (LIVE, post(ORDER_PATH, {**ORDER, "sign": "AAAA"})),
    "caller_nonce": (LIVE, post(ORDER_PATH, {**ORDER, "nonce": "1"})),
    "float_size": (
        LIVE,
        post(
            ORDER_PATH,
            b'{"instId":"BTC-USDT","tdMode":"cash","side":"buy","ordType":"market","sz":1e9}',
        ),
    ),
    "nan_size": (
        LIVE,
        post(
            ORDER_PATH,
            b'{"instId":"BTC-USDT","tdMode":"cash","side":"buy","ordType":"market","sz":NaN}',
        ),
    ),
    "array_wrapper_escape": (
        LIVE,
        post(
            "/api/v5/trade/batch-orders",
            b'[{"sz":"1"}],"_":[' + json.dumps(WITHDRAW).encode() + b"]",
        ),
    ),
    "batch_too_large": (LIVE, post("/api/v5/trade/batch-orders", [ORDER] * 21)),
    "form_body": (
        LIVE,
        post(ORDER_PATH, b"instId=BTC-USDT&tdMode=cash&side=buy&ordType=market&sz=1"),
    ),
    "get_with_body": (LIVE, HttpRequest("GET", "/api/v5/account/balance", body=b'{"ccy":"BTC"}')),
    "plus_in_query": (LIVE, get("/api/v5/account/balance", "ccy=BTC+ETH")),
    "semicolon_query": (LIVE, get("/api/v5/account/balance", "ccy=BTC;toAddr=x")),
    # Caller headers: auth, demo flag, expiry.
    "auth_header_key": (LIVE, get("/api/v5/account/config", headers=(("OK-ACCESS-KEY", "k"),))),
    "auth_header_sign": (LIVE, get("/api/v5/account/config", headers=(("OK-ACCESS-SIGN", "s"),))),
    "auth_header_lowercase": (
        LIVE,
        get("/api/v5/account/config", headers=(("ok-access-passphrase", "p"),)),
    ),
    "auth_header_timestamp": (
        LIVE,
        get(
            "/api/v5/account/config", headers=(("OK-ACCESS-TIMESTAMP", "2020-12-08T09:08:57.715Z"),)
        ),
    ),
    "live_caller_adds_simulated": (
        LIVE,
        get("/api/v5/account/config", headers=(("x-simulated-trading", "1"),)),
    ),
    "sandbox_caller_zeroes_simulated": (
        SANDBOX,
        get("/api/v5/account/config", headers=(("x-simulated-trading", "0"),)),
    ),
    "caller_exp_time_header": (LIVE, post(ORDER_PATH, headers=(("expTime", "99999999999999"),))),
    "json_content_type_mismatch": (
        LIVE,
        post(ORDER_PATH, headers=(("Content-Type", "application/x-www-form-urlencoded"),)),
    ),
    # Host.
    "foreign_host": (LIVE, get("/api/v5/account/config", host="www.okx.com.evil.example")),
    "host_with_port": (LIVE, get("/api/v5/account/config", host="www.okx.com:443")),
    "aws_host": (LIVE, get("/api/v5/account/config", host="aws.okx.com")),
}


@pytest.fixture(autouse=True)
def _sign_is_a_tripwire(monkeypatch: pytest.MonkeyPatch) -> None:
    def tripwire(*_: object) -> None:
        raise AssertionError("sign() reached for a must-fail request")

    monkeypatch.setattr(okx.VENUE, "sign", tripwire)


@pytest.mark.parametrize(
    ("principal", "request_"), CASES.values(), ids=[f"expfail_{n}" for n in CASES]
)
def test_refused(principal: Principal, request_: HttpRequest) -> None:
    try:
        parsed = okx.VENUE.parse(principal, request_)
    except (InvalidRequestError, ModeMismatchError):
        return
    intent = parsed.intent
    assert intent.endpoint is None or intent.violations
    assert not decide(POLICY, intent).allowed


@pytest.mark.parametrize(
    ("principal", "request_"),
    [
        (LIVE, post(ORDER_PATH)),
        (LIVE, post("/api/v5/trade/batch-orders", [ORDER, {**ORDER, "clOrdId": "b2"}])),
        (LIVE, post(ORDER_PATH, {**ORDER, "ccy": "USDT", "tdMode": "cross"})),
        (LIVE, get("/api/v5/account/balance", "ccy=BTC")),
        (SANDBOX, post("/api/v5/trade/cancel-order", {"instId": "BTC-USDT", "ordId": "1"})),
        (SANDBOX, get("/api/v5/account/config", host="www.okx.com")),
    ],
    ids=[
        "control_order",
        "control_batch",
        "control_margin_ccy",
        "control_balance",
        "control_sandbox_cancel",
        "control_sandbox_read",
    ],
)
def test_controls_are_allowed(principal: Principal, request_: HttpRequest) -> None:
    intent = okx.VENUE.parse(principal, request_).intent
    assert intent.violations == ()
    assert decide(POLICY, intent).allowed


def test_shipped_default_policy_still_denies_okx_until_enabled() -> None:
    intent = okx.VENUE.parse(LIVE, post(ORDER_PATH)).intent
    default = load_document(default_document_bytes())
    shipped = default.venue("okx")
    if shipped is None or not shipped.enabled:
        assert not decide(default, intent).allowed
