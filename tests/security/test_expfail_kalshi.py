"""Must-fail corpus for Kalshi: every request here must be refused.

"Refused" means: ``parse`` raises ``InvalidRequestError``/``ModeMismatchError``
(envelope), or the intent has no endpoint or carries violations, and the
policy denies it. The shipped default.toml still has Kalshi disabled, so the
policy used here is the default document with Kalshi enabled for every mode
and class (the most permissive document an operator could write): a denial
then comes from the code's allowlist and schemas, not from the document.
``sign()`` is a tripwire for the whole module; positive controls prove the
undisguised requests are allowed by that document.

SECURITY: Kalshi signs ``timestamp || METHOD || path`` and neither the query
nor the body, so the transfer / key-management paths must never match and the
bodies and queries of allowed paths must be exactly what their schemas admit.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from policy.document import PolicyDocument, default_document_bytes, load_document
from policy.engine import decide
from signer.domain import HttpRequest, Mode, Principal
from signer.errors import InvalidRequestError, ModeMismatchError
from signer.venues import kalshi

LIVE = Principal("attacker-client", Mode.LIVE)
SANDBOX = Principal("attacker-client", Mode.SANDBOX)
V2 = "/trade-api/v2"
ORDER = {
    "ticker": "KXBTCD-25APR1517-T84999.99",
    "side": "yes",
    "action": "buy",
    "count": 3,
    "type": "limit",
    "yes_price": 42,
}
TRANSFER = {
    "client_transfer_id": "t-1",
    "from_subaccount": 0,
    "to_subaccount": 1,
    "amount_cents": 100000,
}
OID = "ee8f4a35-4bb1-4ba7-9c1a-2b1d4f6a1c7e"


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


POLICY = enabled_policy("kalshi")

# venue_endpoints.json "kalshi" deny list.
DENY = [
    ("POST", "/api_keys"),
    ("POST", "/api_keys/generate"),
    ("DELETE", "/api_keys/{api_key}"),
    ("GET", "/api_keys"),
    ("POST", "/portfolio/subaccounts"),
    ("POST", "/portfolio/subaccounts/transfer"),
    ("POST", "/portfolio/subaccounts/positions/transfer"),
    ("POST", "/portfolio/intra_exchange_instance_transfer"),
    ("POST", "/portfolio/margin/subaccounts/transfer"),
]


def r(method: str, path: str, body: object = None, query: str = "", **kw: object) -> HttpRequest:
    data = b"" if body is None else json.dumps(body).encode()
    return HttpRequest(method, path, query=query, body=data, **kw)  # type: ignore[arg-type]


def order(path: str = V2 + "/portfolio/orders", body: object = ORDER, **kw: Any) -> HttpRequest:
    return r("POST", path, body, **kw)


CASES: dict[str, tuple[Principal, HttpRequest]] = {
    **{
        f"deny_{m}_{p.strip('/').replace('/', '_').replace('{', '').replace('}', '')}": (
            LIVE,
            r(m, V2 + p.replace("{api_key}", OID), None if m in ("GET", "DELETE") else TRANSFER),
        )
        for m, p in DENY
    },
    "api_keys_get_with_query": (LIVE, r("GET", V2 + "/api_keys", query="limit=1")),
    "subaccount_balances_read": (LIVE, r("GET", V2 + "/portfolio/subaccounts/balances")),
    "deposits_read": (LIVE, r("GET", V2 + "/portfolio/deposits")),
    "order_groups_trigger_unlisted": (LIVE, r("PUT", V2 + "/portfolio/order_groups/og-1/trigger")),
    # Transfer / key-management bodies on allowed paths (Kalshi does not sign the body).
    "transfer_body_on_order_path": (LIVE, order(body=TRANSFER)),
    "transfer_body_plus_order": (LIVE, order(body={**ORDER, **TRANSFER})),
    "amount_on_order": (LIVE, order(body={**ORDER, "amount": 100})),
    "destination_on_order": (LIVE, order(body={**ORDER, "destination": "margined"})),
    "api_key_body_on_order": (
        LIVE,
        order(
            body={**ORDER, "public_key": "-----BEGIN PUBLIC KEY-----", "scopes": ["read", "write"]}
        ),
    ),
    "transfer_in_batch_item": (
        LIVE,
        order(V2 + "/portfolio/orders/batched", {"orders": [ORDER, TRANSFER]}),
    ),
    "transfer_on_order_group_reset": (
        LIVE,
        r("POST", V2 + "/portfolio/order_groups/og-1/reset", TRANSFER),
    ),
    "transfer_on_rfq": (
        LIVE,
        r(
            "POST",
            V2 + "/communications/rfqs",
            {"market_ticker": "KX", "rest_remainder": True, **TRANSFER},
        ),
    ),
    "transfer_body_on_cancel": (LIVE, r("DELETE", f"{V2}/portfolio/orders/{OID}", TRANSFER)),
    "transfer_body_on_read": (LIVE, r("GET", V2 + "/portfolio/balance", TRANSFER)),
    "transfer_query_on_read": (
        LIVE,
        r("GET", V2 + "/portfolio/orders", query="to_subaccount=1&amount=5"),
    ),
    "subtrader_on_rfq": (
        LIVE,
        r(
            "POST",
            V2 + "/communications/rfqs",
            {"market_ticker": "KX", "rest_remainder": True, "subtrader_id": "other-user"},
        ),
    ),
    "subaccount_out_of_range": (LIVE, order(body={**ORDER, "subaccount": 99})),
    # Path disguises.
    "case_segment": (LIVE, order(V2 + "/portfolio/Orders")),
    "case_prefix": (LIVE, order("/Trade-API/v2/portfolio/orders")),
    "case_version": (LIVE, order("/trade-api/V2/portfolio/orders")),
    "no_prefix": (LIVE, order("/portfolio/orders")),
    "ws_prefix": (LIVE, order("/trade-api/ws/v2/portfolio/orders")),
    "pct_letter": (LIVE, order(V2 + "/portfolio/%6Frders")),
    "pct_slash": (LIVE, order(V2 + "/portfolio%2Forders")),
    "pct_encoded_transfer": (LIVE, r("POST", V2 + "/portfolio/subaccounts%2Ftransfer", TRANSFER)),
    "dotdot_to_transfer": (
        LIVE,
        r("POST", V2 + "/portfolio/orders/../subaccounts/transfer", TRANSFER),
    ),
    "dotdot_from_transfer": (LIVE, order(V2 + "/portfolio/subaccounts/transfer/../../orders")),
    "dotdot_as_order_id": (LIVE, r("DELETE", V2 + "/portfolio/orders/..")),
    "pct_dotdot_as_order_id": (LIVE, r("DELETE", V2 + "/portfolio/orders/%2E%2E")),
    "dot_segment": (LIVE, order(V2 + "/portfolio/./orders")),
    "trailing_slash": (LIVE, order(V2 + "/portfolio/orders/")),
    "double_slash": (LIVE, order(V2 + "/portfolio//orders")),
    "leading_double_slash": (LIVE, order("/" + V2 + "/portfolio/orders")),
    "lookalike_raw": (LIVE, order(V2 + "/portfolio/\u043erders")),
    "lookalike_pct": (LIVE, order(V2 + "/portfolio/%D0%BErders")),
    "path_with_query": (LIVE, order(V2 + "/portfolio/orders?x=1")),
    "order_id_with_dot": (LIVE, r("DELETE", V2 + "/portfolio/orders/a.b")),
    "wrong_method_put": (LIVE, r("PUT", V2 + "/portfolio/orders", ORDER)),
    "wrong_method_reset_put": (LIVE, r("PUT", V2 + "/portfolio/order_groups/og-1/reset")),
    "lowercase_method": (LIVE, r("post", V2 + "/portfolio/orders", ORDER)),
    # Body / query disguises.
    "duplicate_json_key": (
        LIVE,
        HttpRequest(
            "POST",
            V2 + "/portfolio/orders",
            body=b'{"ticker":"KX","side":"yes","action":"buy","count":1,"count":1000}',
        ),
    ),
    "duplicate_query_key": (LIVE, r("GET", V2 + "/portfolio/fills", query="limit=1&limit=2")),
    "extra_param": (LIVE, order(body={**ORDER, "foo": "bar"})),
    "string_for_int": (LIVE, order(body={**ORDER, "count": "3"})),
    "float_price": (LIVE, order(body={**ORDER, "yes_price": 42.5})),
    "string_bool": (LIVE, order(body={**ORDER, "post_only": "true"})),
    "nan_constant": (
        LIVE,
        HttpRequest(
            "POST",
            V2 + "/portfolio/orders",
            body=b'{"ticker":"KX","side":"yes","action":"buy","count":NaN}',
        ),
    ),
    "json_array_body": (LIVE, HttpRequest("POST", V2 + "/portfolio/orders", body=b"[1]")),
    "body_on_get": (LIVE, r("GET", V2 + "/portfolio/balance", {})),
    "query_on_create": (LIVE, order(query="subaccount=1")),
    "missing_body": (LIVE, r("POST", V2 + "/portfolio/orders")),
    "form_body": (LIVE, HttpRequest("POST", V2 + "/portfolio/orders", body=b"ticker=KX&side=yes")),
    "caller_timestamp_in_body": (LIVE, order(body={**ORDER, "timestamp": 1})),
    "caller_signature_in_query": (LIVE, r("GET", V2 + "/portfolio/balance", query="signature=abc")),
    # Caller auth headers.
    "auth_header_signature": (
        LIVE,
        r("GET", V2 + "/portfolio/balance", headers=(("KALSHI-ACCESS-SIGNATURE", "x"),)),
    ),
    "auth_header_timestamp": (
        LIVE,
        r("GET", V2 + "/portfolio/balance", headers=(("KALSHI-ACCESS-TIMESTAMP", "1"),)),
    ),
    "auth_header_key_lower": (
        LIVE,
        r("GET", V2 + "/portfolio/balance", headers=(("kalshi-access-key", "k"),)),
    ),
    "auth_header_authorization": (
        LIVE,
        r("GET", V2 + "/portfolio/balance", headers=(("Authorization", "Bearer x"),)),
    ),
    "wrong_content_type": (LIVE, order(headers=(("Content-Type", "text/plain"),))),
    # Host / mode.
    "foreign_host": (
        LIVE,
        r("GET", V2 + "/portfolio/balance", host="api.elections.kalshi.com.evil.example"),
    ),
    "old_host": (LIVE, r("GET", V2 + "/portfolio/balance", host="trading-api.kalshi.com")),
    "live_principal_demo_host": (
        LIVE,
        r("GET", V2 + "/portfolio/balance", host="demo-api.kalshi.co"),
    ),
    "sandbox_principal_live_host": (
        SANDBOX,
        r("GET", V2 + "/portfolio/balance", host="api.elections.kalshi.com"),
    ),
}


@pytest.fixture(autouse=True)
def _sign_is_a_tripwire(monkeypatch: pytest.MonkeyPatch) -> None:
    def tripwire(*_: object) -> None:
        raise AssertionError("sign() reached for a must-fail request")

    monkeypatch.setattr(kalshi.VENUE, "sign", tripwire)


@pytest.mark.parametrize(
    ("principal", "request_"), CASES.values(), ids=[f"expfail_{n}" for n in CASES]
)
def test_refused(principal: Principal, request_: HttpRequest) -> None:
    try:
        parsed = kalshi.VENUE.parse(principal, request_)
    except (InvalidRequestError, ModeMismatchError):
        return
    intent = parsed.intent
    assert intent.endpoint is None or intent.violations
    assert not decide(POLICY, intent).allowed


def test_deny_list_is_complete() -> None:
    assert len(DENY) == 9 and sum(n.startswith("deny_") for n in CASES) == 9


@pytest.mark.parametrize(
    ("principal", "request_"),
    [
        (LIVE, order()),
        (LIVE, r("DELETE", f"{V2}/portfolio/orders/{OID}")),
        (LIVE, r("GET", V2 + "/portfolio/balance")),
        (LIVE, order(V2 + "/portfolio/orders/batched", {"orders": [ORDER]})),
        (
            SANDBOX,
            r("GET", V2 + "/portfolio/positions", query="limit=5", host="demo-api.kalshi.co"),
        ),
    ],
    ids=["control_order", "control_cancel", "control_balance", "control_batch", "control_sandbox"],
)
def test_controls_are_allowed(principal: Principal, request_: HttpRequest) -> None:
    intent = kalshi.VENUE.parse(principal, request_).intent
    assert intent.violations == ()
    assert decide(POLICY, intent).allowed
