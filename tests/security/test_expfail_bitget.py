"""Must-fail corpus for Bitget: every request here must be refused.

"Refused" means: ``parse`` raises ``InvalidRequestError``/``ModeMismatchError``
(envelope), or the intent has no endpoint or carries violations, and the
default policy with bitget enabled for every mode and class denies it.
``sign()`` is replaced by a tripwire for the whole module. Positive controls
prove that document allows the undisguised requests.

SECURITY: Bitget's withdrawal body reuses the order field names ``size`` and
``clientOid``; the cases below send it (and transfer/convert bodies) to the
order endpoints, and try the legacy v1 and UTA v3 funding paths.
"""

from __future__ import annotations

import json
import re

import pytest

from policy.document import PolicyDocument, default_document_bytes, load_document
from policy.engine import decide
from signer.domain import HttpRequest, Mode, Principal
from signer.errors import InvalidRequestError, ModeMismatchError
from signer.venues import bitget

LIVE = Principal("attacker-client", Mode.LIVE)
SANDBOX = Principal("attacker-client", Mode.SANDBOX)
ORDER = {
    "symbol": "BTCUSDT",
    "side": "buy",
    "orderType": "limit",
    "force": "gtc",
    "price": "23222.5",
    "size": "1",
}
# Bodies of the denied wallet endpoints (Bitget v2 "Spot > Wallet" docs).
WITHDRAW = {
    "coin": "USDT",
    "transferType": "on_chain",
    "address": "TRH4o8mBhNn7mcBxVqZULM4dWhV7nbUZS5",
    "chain": "trc20",
    "size": "100",
    "clientOid": "w1",
}
TRANSFER = {
    "fromType": "spot",
    "toType": "usdt_futures",
    "amount": "300",
    "coin": "USDT",
    "symbol": "BTCUSDT",
}
CONVERT = {
    "fromCoin": "USDT",
    "toCoin": "BTC",
    "fromCoinSize": "10",
    "toCoinSize": "0.0001",
    "traceId": "t",
}

# venue_endpoints.json "bitget" deny list.
DENY = [
    "/api/v2/spot/wallet/withdrawal",
    "/api/v2/spot/wallet/cancel-withdrawal",
    "/api/v2/spot/wallet/transfer",
    "/api/v2/spot/wallet/subaccount-transfer",
    "/api/v2/spot/wallet/modify-deposit-account",
    "/api/v2/spot/account/upgrade",
    "/api/v3/account/withdrawal",
    "/api/v3/account/transfer",
    "/api/v3/account/sub-transfer",
    "/api/v3/account/sub-master-transfer",
    "/api/v3/broker/sub-withdrawal",
    "/api/v3/broker/create-sub-apikey",
    "/api/v3/broker/modify-sub-apikey",
    "/api/v3/broker/delete-sub-apikey",
    "/api/v2/convert/trade",
    "/api/v2/convert/bgb-convert",
    "/api/v2/broker/account/subaccount-withdrawal",
    "/api/v2/broker/manage/create-subaccount-apikey",
    "/api/v2/broker/manage/modify-subaccount-apikey",
    "/api/v2/user/create-virtual-subaccount",
    "/api/v2/user/create-virtual-subaccount-apikey",
    "/api/v2/user/modify-virtual-subaccount",
    "/api/v2/user/modify-virtual-subaccount-apikey",
    "/api/v2/user/batch-create-subaccount-and-apikey",
    "/api/spot/v1/wallet/withdrawal",
    "/api/spot/v1/wallet/withdrawal-v2",
    "/api/spot/v1/wallet/withdrawal-inner",
    "/api/spot/v1/wallet/withdrawal-inner-v2",
    "/api/spot/v1/wallet/transfer",
    "/api/spot/v1/wallet/transfer-v2",
    "/api/spot/v1/wallet/subTransfer",
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


POLICY = enabled_policy("bitget")


def post(path: str, body: object = ORDER, **kw: object) -> HttpRequest:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpRequest("POST", path, body=data, **kw)  # type: ignore[arg-type]


def get(path: str, query: str = "", **kw: object) -> HttpRequest:
    return HttpRequest("GET", path, query=query, **kw)  # type: ignore[arg-type]


PLACE = "/api/v2/spot/trade/place-order"
CASES: dict[str, tuple[Principal, HttpRequest]] = {
    **{f"deny_{p.strip('/').replace('/', '_')}": (LIVE, post(p, WITHDRAW)) for p in DENY},
    "deposit_address_read": (LIVE, get("/api/v2/spot/wallet/deposit-address", "coin=USDT")),
    "withdrawal_records_read": (LIVE, get("/api/v2/spot/wallet/withdrawal-records")),
    "uta_place_order": (LIVE, post("/api/v3/trade/place-order")),
    "mix_place_order": (LIVE, post("/api/v2/mix/order/place-order")),
    "margin_place_order": (LIVE, post("/api/v2/margin/crossed/place-order")),
    # Bodies of other endpoints on the order paths.
    "withdrawal_body_on_place": (LIVE, post(PLACE, WITHDRAW)),
    "withdrawal_body_with_order_fields": (LIVE, post(PLACE, {**ORDER, **WITHDRAW})),
    "transfer_body_on_place": (LIVE, post(PLACE, TRANSFER)),
    "convert_body_on_place": (LIVE, post(PLACE, CONVERT)),
    "withdrawal_item_in_batch": (
        LIVE,
        post("/api/v2/spot/trade/batch-orders", {"symbol": "BTCUSDT", "orderList": [WITHDRAW]}),
    ),
    "withdrawal_body_on_plan": (LIVE, post("/api/v2/spot/trade/place-plan-order", WITHDRAW)),
    "withdrawal_body_on_cancel_replace": (
        LIVE,
        post(
            "/api/v2/spot/trade/cancel-replace-order",
            {
                "symbol": "BTCUSDT",
                "price": "1",
                "size": "1",
                "orderId": "1",
                "address": "x",
                "chain": "trc20",
            },
        ),
    ),
    "coin_amount_in_order": (LIVE, post(PLACE, {**ORDER, "coin": "USDT", "amount": "1"})),
    "coin_in_cancel": (
        LIVE,
        post("/api/v2/spot/trade/cancel-symbol-order", {"symbol": "BTCUSDT", "coin": "USDT"}),
    ),
    "withdraw_query_on_read": (
        LIVE,
        get("/api/v2/spot/account/assets", "coin=USDT&address=x&chain=trc20"),
    ),
    "withdraw_query_on_post": (
        LIVE,
        HttpRequest("POST", PLACE, query="address=x", body=json.dumps(ORDER).encode()),
    ),
    # Path disguises.
    "case_segment": (LIVE, post("/api/v2/spot/trade/Place-Order")),
    "case_prefix": (LIVE, post("/API/v2/spot/trade/place-order")),
    "case_read": (LIVE, get("/api/v2/spot/trade/orderinfo", "orderId=1")),
    "pct_letter": (LIVE, post("/api/v2/spot/trade/%70lace-order")),
    "pct_slash": (LIVE, post("/api/v2%2Fspot/trade/place-order")),
    "dotdot_to_withdrawal": (LIVE, post("/api/v2/spot/trade/../wallet/withdrawal", WITHDRAW)),
    "dotdot_from_wallet": (LIVE, post("/api/v2/spot/wallet/../trade/place-order")),
    "pct_dotdot": (LIVE, post("/api/v2/spot/trade/%2E%2E/wallet/withdrawal", WITHDRAW)),
    "trailing_slash": (LIVE, post("/api/v2/spot/trade/place-order/")),
    "double_slash": (LIVE, post("/api/v2/spot//trade/place-order")),
    "lookalike_pct": (LIVE, post("/api/v2/spot/trade/pl%D0%B0ce-order")),
    "lookalike_raw": (LIVE, post("/api/v2/spot/trade/pl\u0430ce-order")),
    "v1_spot_order": (LIVE, post("/api/spot/v1/trade/orders")),
    "wrong_method_get": (LIVE, get(PLACE, "symbol=BTCUSDT")),
    "wrong_method_delete": (
        LIVE,
        HttpRequest("DELETE", "/api/v2/spot/trade/cancel-order", query="symbol=BTCUSDT&orderId=1"),
    ),
    # Parameter disguises.
    "duplicate_key": (
        LIVE,
        post(
            PLACE,
            b'{"symbol":"BTCUSDT","side":"buy","orderType":"market","force":"gtc","size":"1","size":"9999"}',
        ),
    ),
    "duplicate_query_key": (LIVE, get("/api/v2/spot/trade/fills", "symbol=BTCUSDT&symbol=ETHUSDT")),
    "extra_param": (LIVE, post(PLACE, {**ORDER, "foo": "bar"})),
    "caller_request_time": (LIVE, post(PLACE, {**ORDER, "requestTime": "1659076670000"})),
    "caller_receive_window": (LIVE, post(PLACE, {**ORDER, "receiveWindow": "60000"})),
    "caller_request_time_on_read": (
        LIVE,
        get("/api/v2/spot/trade/orderInfo", "orderId=1&requestTime=1"),
    ),
    "caller_timestamp": (LIVE, post(PLACE, {**ORDER, "timestamp": "1659076670000"})),
    "caller_sign": (LIVE, post(PLACE, {**ORDER, "sign": "AAAA"})),
    "numeric_size": (LIVE, post(PLACE, {**ORDER, "size": 151})),
    "float_price": (
        LIVE,
        post(
            PLACE,
            b'{"symbol":"BTCUSDT","side":"buy","orderType":"limit","force":"gtc","price":0.041572,"size":"1"}',
        ),
    ),
    "array_body": (LIVE, post("/api/v2/spot/trade/batch-orders", [ORDER])),
    "encoded_query_value": (LIVE, get("/api/v2/spot/account/bills", "businessType=A%26coin%3DX")),
    "get_with_body": (
        LIVE,
        HttpRequest("GET", "/api/v2/spot/account/info", body=b'{"coin":"USDT"}'),
    ),
    # Caller headers: auth, demo flag, locale.
    "auth_header_key": (LIVE, get("/api/v2/spot/account/info", headers=(("ACCESS-KEY", "k"),))),
    "auth_header_sign": (LIVE, get("/api/v2/spot/account/info", headers=(("ACCESS-SIGN", "s"),))),
    "auth_header_passphrase": (
        LIVE,
        get("/api/v2/spot/account/info", headers=(("access-passphrase", "p"),)),
    ),
    "auth_header_timestamp": (
        LIVE,
        get("/api/v2/spot/account/info", headers=(("ACCESS-TIMESTAMP", "1"),)),
    ),
    "live_caller_adds_paptrading": (
        LIVE,
        get("/api/v2/spot/account/info", headers=(("paptrading", "1"),)),
    ),
    "sandbox_caller_zeroes_paptrading": (
        SANDBOX,
        get("/api/v2/spot/account/info", headers=(("PAPTRADING", "0"),)),
    ),
    "caller_channel_code": (LIVE, post(PLACE, headers=(("X-CHANNEL-API-CODE", "x"),))),
    # Host.
    "foreign_host": (LIVE, get("/api/v2/spot/account/info", host="api.bitget.com.evil.example")),
    "host_with_port": (LIVE, get("/api/v2/spot/account/info", host="api.bitget.com:443")),
}


@pytest.fixture(autouse=True)
def _sign_is_a_tripwire(monkeypatch: pytest.MonkeyPatch) -> None:
    def tripwire(*_: object) -> None:
        raise AssertionError("sign() reached for a must-fail request")

    monkeypatch.setattr(bitget.VENUE, "sign", tripwire)


@pytest.mark.parametrize(
    ("principal", "request_"), CASES.values(), ids=[f"expfail_{n}" for n in CASES]
)
def test_refused(principal: Principal, request_: HttpRequest) -> None:
    try:
        parsed = bitget.VENUE.parse(principal, request_)
    except (InvalidRequestError, ModeMismatchError):
        return
    intent = parsed.intent
    assert intent.endpoint is None or intent.violations
    assert not decide(POLICY, intent).allowed


@pytest.mark.parametrize(
    ("principal", "request_"),
    [
        (LIVE, post(PLACE)),
        (
            LIVE,
            post(
                "/api/v2/spot/trade/batch-orders",
                {
                    "symbol": "BTCUSDT",
                    "orderList": [{k: v for k, v in ORDER.items() if k != "symbol"}],
                },
            ),
        ),
        (LIVE, get("/api/v2/spot/account/assets", "coin=USDT")),
        (SANDBOX, post("/api/v2/spot/trade/cancel-order", {"symbol": "BTCUSDT", "orderId": "1"})),
        (SANDBOX, get("/api/v2/spot/account/info", host="api.bitget.com")),
    ],
    ids=[
        "control_order",
        "control_batch",
        "control_assets",
        "control_sandbox_cancel",
        "control_sandbox_read",
    ],
)
def test_controls_are_allowed(principal: Principal, request_: HttpRequest) -> None:
    intent = bitget.VENUE.parse(principal, request_).intent
    assert intent.violations == ()
    assert decide(POLICY, intent).allowed


def test_shipped_default_policy_still_denies_bitget_until_enabled() -> None:
    intent = bitget.VENUE.parse(LIVE, post(PLACE)).intent
    default = load_document(default_document_bytes())
    shipped = default.venue("bitget")
    if shipped is None or not shipped.enabled:
        assert not decide(default, intent).allowed
