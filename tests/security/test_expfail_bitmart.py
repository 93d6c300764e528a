"""Must-fail corpus for BitMart spot: every request here must be refused.

"Refused" means: ``parse`` raises ``InvalidRequestError``/``ModeMismatchError``
(envelope), or the intent has no endpoint or carries violations, and a policy
document that enables BitMart for every mode and class denies it. The shipped
default.toml still has BitMart disabled, so the document is the shipped one
with the BitMart table switched on. ``sign()`` is a tripwire for the whole
module. Positive controls prove that document allows the undisguised requests.

SECURITY: BitMart signs neither path nor method; the ``/account/v1/withdraw/apply``
and transfer bodies sent to ``/spot/v2/submit_order`` are the cases a path
allowlist alone would miss.
"""

from __future__ import annotations

import json
import re

import pytest

from policy.document import PolicyDocument, default_document_bytes, load_document
from policy.engine import decide
from signer.domain import HttpRequest, Mode, Principal
from signer.errors import InvalidRequestError, ModeMismatchError
from signer.venues import bitmart

LIVE = Principal("attacker-client", Mode.LIVE)
SANDBOX = Principal("attacker-client", Mode.SANDBOX)
ORDER_FIELDS = {"symbol": "BTC_USDT", "side": "buy", "type": "limit", "size": "0.01", "price": "30000"}  # fmt: skip
ORDER = json.dumps(ORDER_FIELDS)
# POST /account/v1/withdraw/apply: to an address, and to a BitMart account (type/value/areaCode).
WITHDRAW_FIELDS = {"currency": "USDT-TRC20", "amount": "50.000", "destination": "To Digital Address", "address": "0x1EE6FA5580d1e6a4e2b5d1f4b9b6e0e5b5f1f1f1", "address_memo": ""}  # fmt: skip
WITHDRAW_ACCOUNT_FIELDS = {"currency": "USDT", "amount": "50", "type": 1, "value": "876940329", "areaCode": ""}  # fmt: skip
SUB_TRANSFER_FIELDS = {"requestNo": "127", "amount": "1", "currency": "BTC", "subAccount": "sub@example.com"}  # fmt: skip
CONTRACT_TRANSFER_FIELDS = {"currency": "USDT", "amount": "10", "type": "spot_to_contract"}
MARGIN_TRANSFER_FIELDS = {"symbol": "BTC_USDT", "currency": "BTC", "amount": "1", "side": "in"}
WITHDRAW = json.dumps(WITHDRAW_FIELDS)

# venue_endpoints.json "bitmart" deny list.
DENY = [
    ("POST", "/account/v1/withdraw/apply"), ("POST", "/account/sub-account/main/v1/sub-to-main"),
    ("POST", "/account/sub-account/sub/v1/sub-to-main"),
    ("POST", "/account/sub-account/main/v1/main-to-sub"),
    ("POST", "/account/sub-account/sub/v1/sub-to-sub"),
    ("POST", "/account/sub-account/main/v1/sub-to-sub"),
    ("POST", "/spot/v1/margin/isolated/transfer"), ("POST", "/account/v1/transfer-contract"),
    ("POST", "/spot/v1/margin/isolated/borrow"), ("POST", "/spot/v1/margin/isolated/repay"),
    ("GET", "/account/v1/withdraw/charge"), ("GET", "/account/v1/withdraw/address/list"),
    ("GET", "/account/v1/deposit/address"),
]  # fmt: skip


def enabled_policy(venue: str) -> PolicyDocument:
    """The shipped document with ``venue`` enabled for every mode and endpoint class."""
    text = default_document_bytes().decode()
    table = re.compile(rf"^\[venues\.{venue}\]\n(?:(?!\[).*\n)*", re.MULTILINE)
    enabled = f'[venues.{venue}]\nenabled = true\nmodes = ["live", "sandbox"]\nclasses = ["trade", "cancel", "read"]\n\n'  # fmt: skip
    text, count = table.subn(enabled, text)
    assert count == 1
    return load_document(text.encode())


POLICY = enabled_policy("bitmart")


def post(path: str, body: str = ORDER, **kw: object) -> HttpRequest:
    return HttpRequest("POST", path, body=body.encode(), **kw)  # type: ignore[arg-type]


def get(path: str, query: str = "", **kw: object) -> HttpRequest:
    return HttpRequest("GET", path, query=query, **kw)  # type: ignore[arg-type]


def order(**fields: object) -> str:
    return json.dumps({**ORDER_FIELDS, **fields})


def _deny_case(method: str, path: str) -> HttpRequest:
    return post(path, WITHDRAW) if method == "POST" else get(path, "currency=USDT")


SUBMIT = "/spot/v2/submit_order"
CASES: dict[str, tuple[Principal, HttpRequest]] = {
    **{f"deny_{m}_{p.strip('/').replace('/', '_')}": (LIVE, _deny_case(m, p)) for m, p in DENY},
    "v1_submit_order": (LIVE, post("/spot/v1/submit_order")),
    "v1_batch_orders": (LIVE, post("/spot/v1/batch_orders")),
    "v2_cancel_order": (
        LIVE,
        post("/spot/v2/cancel_order", '{"symbol":"BTC_USDT","order_id":"1"}'),
    ),
    "margin_submit_order": (LIVE, post("/spot/v1/margin/submit_order")),
    "contract_submit_order": (LIVE, post("/contract/private/submit-order")),
    "deposit_withdraw_history": (
        LIVE,
        get("/account/v2/deposit-withdraw/history", "operation_type=withdraw&N=10"),
    ),
    # The endpoint is not bound by the signature: withdraw/transfer bodies on trade paths.
    "withdraw_apply_body_on_submit_order": (LIVE, post(SUBMIT, WITHDRAW)),
    "withdraw_apply_plus_order": (LIVE, post(SUBMIT, order(**WITHDRAW_FIELDS))),
    "withdraw_to_account_on_submit_order": (
        LIVE,
        post(SUBMIT, json.dumps(WITHDRAW_ACCOUNT_FIELDS)),
    ),
    "withdraw_to_account_plus_order": (
        LIVE,
        post(SUBMIT, order(**{k: v for k, v in WITHDRAW_ACCOUNT_FIELDS.items() if k != "type"})),
    ),
    "withdraw_type_int": (LIVE, post(SUBMIT, order(type=1))),
    "contract_transfer_type": (LIVE, post(SUBMIT, order(type="spot_to_contract"))),
    "contract_transfer_body": (LIVE, post(SUBMIT, json.dumps(CONTRACT_TRANSFER_FIELDS))),
    "sub_transfer_body": (LIVE, post(SUBMIT, json.dumps(SUB_TRANSFER_FIELDS))),
    "margin_transfer_body": (LIVE, post(SUBMIT, json.dumps(MARGIN_TRANSFER_FIELDS))),
    "margin_transfer_on_cancel_all": (
        LIVE,
        post("/spot/v4/cancel_all", json.dumps(MARGIN_TRANSFER_FIELDS)),
    ),
    "withdraw_on_batch": (
        LIVE,
        post(
            "/spot/v4/batch_orders",
            json.dumps(
                {
                    "symbol": "BTC_USDT",
                    "orderParams": [{"side": "buy", "type": "market", **WITHDRAW_FIELDS}],
                }
            ),
        ),
    ),
    "withdraw_on_query": (LIVE, post("/spot/v4/query/open-orders", WITHDRAW)),
    "withdraw_on_cancel_orders": (LIVE, post("/spot/v4/cancel_orders", WITHDRAW)),
    "address_memo_only": (LIVE, post(SUBMIT, order(address_memo="123"))),
    "destination_only": (LIVE, post(SUBMIT, order(destination="To Digital Address"))),
    "withdraw_query_on_wallet": (
        LIVE,
        get("/account/v1/wallet", "currency=USDT&amount=1&address=x"),
    ),
    "withdraw_query_on_post": (
        LIVE,
        HttpRequest("POST", SUBMIT, query="currency=USDT&amount=1", body=ORDER.encode()),
    ),
    # Path disguises.
    "case_segment": (LIVE, post("/spot/v2/Submit_order")),
    "case_prefix": (LIVE, post("/SPOT/v2/submit_order")),
    "case_version": (LIVE, post("/spot/V2/submit_order")),
    "pct_letter": (LIVE, post("/spot/v2/%73ubmit_order")),
    "pct_slash": (LIVE, post("/spot%2Fv2/submit_order")),
    "dotdot_to_withdraw": (
        LIVE,
        post("/spot/v2/submit_order/../../../account/v1/withdraw/apply", WITHDRAW),
    ),
    "dotdot_from_account": (LIVE, post("/account/v1/../../spot/v2/submit_order")),
    "pct_dotdot": (LIVE, post("/spot/v2/%2E%2E/v2/submit_order")),
    "dot_segment": (LIVE, post("/spot/v2/./submit_order")),
    "trailing_slash": (LIVE, post("/spot/v2/submit_order/")),
    "double_slash": (LIVE, post("/spot//v2/submit_order")),
    "leading_double_slash": (LIVE, post("//spot/v2/submit_order")),
    "hyphen_for_underscore": (LIVE, post("/spot/v2/submit-order")),
    "lookalike_raw": (LIVE, post("/spot/v2/submit_\u043erder")),
    "lookalike_pct": (LIVE, post("/spot/v2/submit_%D0%BErder")),
    "path_with_query": (LIVE, post("/spot/v2/submit_order?currency=USDT")),
    "wrong_method_get": (LIVE, get(SUBMIT, "symbol=BTC_USDT")),
    "wrong_method_post_on_get": (LIVE, post("/spot/v1/wallet", "{}")),
    "wrong_method_delete": (LIVE, HttpRequest("DELETE", SUBMIT)),
    "lowercase_method": (LIVE, HttpRequest("post", SUBMIT, body=ORDER.encode())),
    # Parameter disguises.
    "duplicate_key": (LIVE, post(SUBMIT, ORDER[:-1] + ', "size": "100"}')),
    "duplicate_in_batch_item": (
        LIVE,
        post(
            "/spot/v4/batch_orders",
            '{"symbol":"BTC_USDT","orderParams":[{"side":"buy","type":"market","notional":"1","notional":"99"}]}',
        ),
    ),
    "duplicate_query_key": (LIVE, get("/spot/v1/trade_fee", "symbol=BTC_USDT&symbol=ETH_USDT")),
    "extra_param": (LIVE, post(SUBMIT, order(foo="bar"))),
    "v1_count_param": (LIVE, post(SUBMIT, order(count="100"))),
    "batch_item_symbol": (
        LIVE,
        post(
            "/spot/v4/batch_orders",
            json.dumps({"symbol": "BTC_USDT", "orderParams": [ORDER_FIELDS]}),
        ),
    ),
    "too_many_batch_items": (
        LIVE,
        post(
            "/spot/v4/batch_orders",
            json.dumps(
                {
                    "symbol": "BTC_USDT",
                    "orderParams": [{"side": "buy", "type": "market", "notional": "1"}] * 11,
                }
            ),
        ),
    ),
    "float_size": (LIVE, post(SUBMIT, ORDER.replace('"0.01"', "0.01"))),
    "caller_recv_window": (LIVE, post("/spot/v4/query/trades", '{"recvWindow":60000}')),
    "caller_recv_window_lower": (LIVE, post("/spot/v4/query/trades", '{"recvwindow":60000}')),
    "caller_timestamp": (LIVE, post(SUBMIT, order(timestamp="1589793796145"))),
    "caller_sign": (LIVE, post(SUBMIT, order(sign="00"))),
    "auth_header_key": (LIVE, get("/spot/v1/wallet", headers=(("X-BM-KEY", "k"),))),
    "auth_header_sign": (LIVE, post(SUBMIT, headers=(("X-BM-SIGN", "00"),))),
    "auth_header_timestamp": (LIVE, post(SUBMIT, headers=(("x-bm-timestamp", "1"),))),
    "auth_header_broker": (LIVE, post(SUBMIT, headers=(("X-BM-BROKER-ID", "x"),))),
    "form_content_type": (
        LIVE,
        post(SUBMIT, headers=(("Content-Type", "application/x-www-form-urlencoded"),)),
    ),
    "get_with_body": (LIVE, HttpRequest("GET", "/spot/v1/wallet", body=b'{"currency":"BTC"}')),
    "json_array_body": (LIVE, post(SUBMIT, "[" + ORDER + "]")),
    "plus_in_query": (LIVE, get("/spot/v1/trade_fee", "symbol=BTC+USDT")),
    # Host / mode: BitMart spot has no sandbox.
    "sandbox_principal": (SANDBOX, post(SUBMIT)),
    "sandbox_principal_live_host": (SANDBOX, get("/spot/v1/wallet", host="api-cloud.bitmart.com")),
    "foreign_host": (LIVE, get("/spot/v1/wallet", host="api-cloud.bitmart.com.evil.example")),
    "futures_host": (LIVE, get("/spot/v1/wallet", host="api-cloud-v2.bitmart.com")),
}


@pytest.fixture(autouse=True)
def _sign_is_a_tripwire(monkeypatch: pytest.MonkeyPatch) -> None:
    def tripwire(*_: object) -> None:
        raise AssertionError("sign() reached for a must-fail request")

    monkeypatch.setattr(bitmart.VENUE, "sign", tripwire)


@pytest.mark.parametrize(("principal", "request_"), CASES.values(), ids=[f"expfail_{n}" for n in CASES])  # fmt: skip
def test_refused(principal: Principal, request_: HttpRequest) -> None:
    try:
        parsed = bitmart.VENUE.parse(principal, request_)
    except (InvalidRequestError, ModeMismatchError):
        return
    intent = parsed.intent
    assert intent.endpoint is None or intent.violations
    assert not decide(POLICY, intent).allowed


def test_every_deny_entry_is_covered() -> None:
    assert len(DENY) == 13
    assert all(f"deny_{m}_{p.strip('/').replace('/', '_')}" in CASES for m, p in DENY)


@pytest.mark.parametrize(
    ("principal", "request_"),
    [
        (LIVE, post(SUBMIT)),
        (LIVE, post("/spot/v4/cancel_all", '{"symbol":"BTC_USDT"}')),
        (LIVE, post("/spot/v4/query/open-orders", "{}")),
        (LIVE, get("/account/v1/wallet", "currency=USDT")),
    ],
    ids=["control_order", "control_cancel_all", "control_query", "control_wallet"],
)
def test_controls_are_allowed(principal: Principal, request_: HttpRequest) -> None:
    intent = bitmart.VENUE.parse(principal, request_).intent
    assert intent.violations == ()
    assert decide(POLICY, intent).allowed
