"""Must-fail corpus for Crypto.com Exchange v1: every request here must be refused.

"Refused" means: ``parse`` raises ``InvalidRequestError``/``ModeMismatchError``
(envelope), or the intent has no endpoint or carries violations, and the
policy denies it. The shipped default.toml still has Crypto.com disabled, so
the policy used here is the default document with Crypto.com enabled for every
mode and class: a denial then comes from the code, not from the document.
``sign()`` is a tripwire for the whole module; positive controls prove the
undisguised requests are allowed by that document.

SECURITY: the signature covers ``method`` (in the body), not the URL path, so
a URL/body method mismatch in either direction, withdrawal parameters in
``params`` and caller-stamped ``id``/``nonce``/``api_key``/``sig`` are the
cases a path allowlist alone would miss.
"""

from __future__ import annotations

import json
import re

import pytest

from policy.document import PolicyDocument, default_document_bytes, load_document
from policy.engine import decide
from signer.domain import HttpRequest, Mode, Principal
from signer.errors import InvalidRequestError, ModeMismatchError
from signer.venues import cryptocom


def enabled_policy(venue: str) -> PolicyDocument:
    """The shipped default document with ``venue`` enabled for all modes and classes."""
    text = default_document_bytes().decode()
    table = (
        f'[venues.{venue}]\nenabled = true\nmodes = ["live", "sandbox"]\n'
        'classes = ["trade", "cancel", "read"]\n'
    )
    new, count = re.subn(rf"\[venues\.{venue}\]\n.*?(?=\n\[|\Z)", table, text, flags=re.DOTALL)
    assert count == 1
    return load_document(new.encode())


LIVE = Principal("attacker-client", Mode.LIVE)
SANDBOX = Principal("attacker-client", Mode.SANDBOX)
POLICY = enabled_policy("cryptocom")
P = "/exchange/v1/"
ORDER = {
    "instrument_name": "BTC_USDT",
    "side": "BUY",
    "type": "LIMIT",
    "price": "50000",
    "quantity": "0.01",
}
WITHDRAW = {
    "currency": "BTC",
    "amount": "1",
    "address": "2NBqqD5GRJ8wHy1PYyCXTe9ke5226FhavBf",
    "address_tag": "",
    "network_id": "BITCOIN",
    "client_wid": "w-1",
}
TRANSFER = {
    "from": "12345678-0000-0000-0000-000000000001",
    "to": "12345678-0000-0000-0000-000000000002",
    "currency": "USD",
    "amount": "100",
}

# venue_endpoints.json "cryptocom" deny list.
DENY = [
    "/exchange/v1/private/create-withdrawal",
    "/exchange/v1/private/fiat/fiat-create-withdraw",
    "/exchange/v1/private/create-subaccount-transfer",
    "/exchange/v1/private/create-isolated-margin-transfer",
    "/exchange/v1/private/staking/stake",
    "/exchange/v1/private/staking/unstake",
    "/exchange/v1/private/staking/convert",
    "/exchange/v1/private/get-deposit-address",
    "/exchange/v1/private/fiat/fiat-get-bank-accounts",
    "/exchange/v1/private/bot/create-trading-bot",
    "/exchange/v1/private/bot/update-trading-bot",
    "/v2/private/create-withdrawal",
]


def post(
    path: str,
    method: object,
    params: object = None,
    *,
    headers: tuple[tuple[str, str], ...] = (),
    host: str = "",
    **fields: object,
) -> HttpRequest:
    body: dict[str, object] = {"method": method, **fields}
    if params is not None:
        body["params"] = params
    return HttpRequest("POST", path, "", json.dumps(body).encode(), headers, host)


def order(params: object = ORDER, **extra: object) -> HttpRequest:
    return post(P + "private/create-order", "private/create-order", params, **extra)  # type: ignore[arg-type]


def _deny(path: str) -> HttpRequest:
    method = path.removeprefix(P).removeprefix("/v2/")
    return post(path, method, TRANSFER if "transfer" in path else WITHDRAW)


def _nested(depth: int) -> object:
    value: object = "x"
    for _ in range(depth):
        value = [{"a": value}]
    return value


CASES: dict[str, tuple[Principal, HttpRequest]] = {
    **{f"deny_{p.strip('/').replace('/', '_')}": (LIVE, _deny(p)) for p in DENY},
    "v2_order_path": (LIVE, post("/v2/private/create-order", "private/create-order", ORDER)),
    "get_withdrawal_history": (
        LIVE,
        post(P + "private/get-withdrawal-history", "private/get-withdrawal-history", {}),
    ),
    "change_account_leverage": (
        LIVE,
        post(
            P + "private/change-account-leverage",
            "private/change-account-leverage",
            {"account_id": "x", "leverage": "10"},
        ),
    ),
    # URL path vs body method (the signature binds the body method only).
    "order_path_withdraw_method": (
        LIVE,
        post(P + "private/create-order", "private/create-withdrawal", WITHDRAW),
    ),
    "order_path_withdraw_method_order_params": (
        LIVE,
        post(P + "private/create-order", "private/create-withdrawal", ORDER),
    ),
    "withdraw_path_order_method": (
        LIVE,
        post(P + "private/create-withdrawal", "private/create-order", ORDER),
    ),
    "transfer_method_on_read_path": (
        LIVE,
        post(P + "private/user-balance", "private/create-subaccount-transfer", TRANSFER),
    ),
    "read_path_order_method": (
        LIVE,
        post(P + "private/get-trades", "private/create-order", ORDER),
    ),
    "method_case_upper": (LIVE, post(P + "private/create-order", "private/Create-Order", ORDER)),
    "method_case_all_upper": (
        LIVE,
        post(P + "private/create-order", "PRIVATE/CREATE-ORDER", ORDER),
    ),
    "method_leading_slash": (
        LIVE,
        post(P + "private/create-order", "/private/create-order", ORDER),
    ),
    "method_trailing_space": (
        LIVE,
        post(P + "private/create-order", "private/create-order ", ORDER),
    ),
    "method_missing": (
        LIVE,
        HttpRequest(
            "POST", P + "private/create-order", body=json.dumps({"params": ORDER}).encode()
        ),
    ),
    "method_not_a_string": (
        LIVE,
        post(P + "private/create-order", ["private/create-order"], ORDER),
    ),
    "path_case_variant": (LIVE, post(P + "private/Create-Order", "private/Create-Order", ORDER)),
    # Withdrawal / transfer parameters in params.
    **{f"withdraw_param_{k}": (LIVE, order({**ORDER, k: v})) for k, v in WITHDRAW.items()},
    "withdraw_set_as_order": (LIVE, order(WITHDRAW)),
    "transfer_set_as_order": (LIVE, order(TRANSFER)),
    "isolated_margin_amount": (LIVE, order({**ORDER, "isolated_margin_amount": "100"})),
    "withdraw_set_on_read": (
        LIVE,
        post(P + "private/user-balance", "private/user-balance", WITHDRAW),
    ),
    "withdraw_in_order_list_leg": (
        LIVE,
        post(
            P + "private/create-order-list",
            "private/create-order-list",
            {"contingency_type": "LIST", "order_list": [{**ORDER, **WITHDRAW}]},
        ),
    ),
    "withdraw_fields_at_top_level": (LIVE, order(ORDER, **WITHDRAW)),
    # Nesting and value shapes.
    "nested_depth_4": (LIVE, order({**ORDER, "client_oid": _nested(2)})),
    "nested_order_list_depth": (
        LIVE,
        post(
            P + "private/create-order-list",
            "private/create-order-list",
            {"contingency_type": "LIST", "order_list": [{**ORDER, "price": [{"a": [{"b": "c"}]}]}]},
        ),
    ),
    "exec_inst_nested_list": (LIVE, order({**ORDER, "exec_inst": [["POST_ONLY"]]})),
    "exec_inst_object": (LIVE, order({**ORDER, "exec_inst": [{"a": "POST_ONLY"}]})),
    "order_list_in_leg": (
        LIVE,
        post(
            P + "private/create-order-list",
            "private/create-order-list",
            {"contingency_type": "LIST", "order_list": [{**ORDER, "order_list": [ORDER]}]},
        ),
    ),
    "deeply_nested_envelope": (LIVE, order({**ORDER, "client_oid": _nested(8)})),
    "object_param": (LIVE, order({**ORDER, "price": {"value": "1"}})),
    "number_param": (LIVE, order({**ORDER, "quantity": 1})),
    "bool_param": (LIVE, order({**ORDER, "quantity": True})),
    "null_param": (LIVE, order({**ORDER, "client_oid": None})),
    "exec_inst_in_leg": (
        LIVE,
        post(
            P + "private/create-order-list",
            "private/create-order-list",
            {"contingency_type": "LIST", "order_list": [{**ORDER, "exec_inst": ["POST_ONLY"]}]},
        ),
    ),
    "params_not_object": (LIVE, order(["instrument_name", "BTC_USDT"])),
    # Caller-stamped fields.
    "caller_id": (LIVE, order(ORDER, id=1)),
    "caller_nonce": (LIVE, order(ORDER, nonce=1587846358253)),
    "caller_api_key": (LIVE, order(ORDER, api_key="someone-else")),
    "caller_sig": (LIVE, order(ORDER, sig="0" * 64)),
    "caller_sig_in_params": (LIVE, order({**ORDER, "sig": "0" * 64})),
    "caller_nonce_in_params": (LIVE, order({**ORDER, "nonce": "1"})),
    # Parameter disguises.
    "duplicate_key_params": (
        LIVE,
        HttpRequest(
            "POST",
            P + "private/create-order",
            body=b'{"method":"private/create-order","params":{"instrument_name":"BTC_USDT","side":"BUY","type":"LIMIT","quantity":"1","quantity":"100"}}',
        ),
    ),
    "duplicate_key_method": (
        LIVE,
        HttpRequest(
            "POST",
            P + "private/create-order",
            body=b'{"method":"private/create-withdrawal","method":"private/create-order","params":{}}',
        ),
    ),
    "extra_param": (LIVE, order({**ORDER, "foo": "bar"})),
    "extra_top_level_field": (LIVE, order(ORDER, foo="bar")),
    "query_string": (
        LIVE,
        HttpRequest("POST", P + "private/create-order", query="address=x", body=order().body),
    ),
    "empty_body": (LIVE, HttpRequest("POST", P + "private/create-order")),
    "form_body": (
        LIVE,
        HttpRequest("POST", P + "private/create-order", body=b"method=private/create-order"),
    ),
    # Path disguises.
    "case_prefix": (LIVE, post("/Exchange/v1/private/create-order", "private/create-order", ORDER)),
    "pct_letter": (LIVE, post(P + "private/%63reate-order", "private/create-order", ORDER)),
    "pct_slash": (LIVE, post("/exchange/v1/private%2Fcreate-order", "private/create-order", ORDER)),
    "dotdot_to_withdraw": (
        LIVE,
        post(
            P + "private/create-order/../create-withdrawal", "private/create-withdrawal", WITHDRAW
        ),
    ),
    "dotdot_from_withdraw": (
        LIVE,
        post(P + "private/create-withdrawal/../create-order", "private/create-order", ORDER),
    ),
    "dot_segment": (LIVE, post(P + "private/./create-order", "private/create-order", ORDER)),
    "trailing_slash": (LIVE, post(P + "private/create-order/", "private/create-order", ORDER)),
    "double_slash": (
        LIVE,
        post("/exchange/v1//private/create-order", "private/create-order", ORDER),
    ),
    "lookalike_raw": (
        LIVE,
        post(P + "private/cr\u0435ate-order", "private/cr\u0435ate-order", ORDER),
    ),
    "lookalike_pct": (LIVE, post(P + "private/cr%D0%B5ate-order", "private/create-order", ORDER)),
    "wrong_http_method": (LIVE, HttpRequest("GET", P + "private/create-order", body=order().body)),
    "lowercase_http_method": (
        LIVE,
        HttpRequest("post", P + "private/create-order", body=order().body),
    ),
    # Caller auth headers and host / mode.
    "auth_header_authorization": (LIVE, order(headers=(("Authorization", "x"),))),
    "auth_header_api_key": (LIVE, order(headers=(("api_key", "x"),))),
    "wrong_content_type": (
        LIVE,
        order(headers=(("Content-Type", "application/x-www-form-urlencoded"),)),
    ),
    "foreign_host": (LIVE, order(host="api.crypto.com.evil.example")),
    "host_with_port": (LIVE, order(host="api.crypto.com:443")),
    "live_principal_uat_host": (LIVE, order(host="uat-api.3ona.co")),
    "sandbox_principal_live_host": (SANDBOX, order(host="api.crypto.com")),
}


@pytest.fixture(autouse=True)
def _sign_is_a_tripwire(monkeypatch: pytest.MonkeyPatch) -> None:
    def tripwire(*_: object) -> None:
        raise AssertionError("sign() reached for a must-fail request")

    monkeypatch.setattr(cryptocom.VENUE, "sign", tripwire)


@pytest.mark.parametrize(
    ("principal", "request_"), CASES.values(), ids=[f"expfail_{n}" for n in CASES]
)
def test_refused(principal: Principal, request_: HttpRequest) -> None:
    try:
        parsed = cryptocom.VENUE.parse(principal, request_)
    except (InvalidRequestError, ModeMismatchError):
        return
    intent = parsed.intent
    assert intent.endpoint is None or intent.violations
    assert not decide(POLICY, intent).allowed


def test_deny_list_is_complete() -> None:
    assert len(DENY) == 12 and sum(n.startswith("deny_") for n in CASES) == 12


@pytest.mark.parametrize(
    ("principal", "request_"),
    [
        (LIVE, order()),
        (LIVE, post(P + "private/cancel-order", "private/cancel-order", {"order_id": "1"})),
        (LIVE, post(P + "private/user-balance", "private/user-balance", {})),
        (SANDBOX, order(host="uat-api.3ona.co")),
    ],
    ids=["control_order", "control_cancel", "control_balance", "control_sandbox"],
)
def test_controls_are_allowed(principal: Principal, request_: HttpRequest) -> None:
    intent = cryptocom.VENUE.parse(principal, request_).intent
    assert intent.violations == ()
    assert decide(POLICY, intent).allowed
