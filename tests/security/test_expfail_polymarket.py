"""Must-fail corpus for Polymarket: every request here must be refused.

"Refused" means: ``parse`` raises ``InvalidRequestError``/``ModeMismatchError``
(envelope), or the intent has no endpoint or carries violations and the
default policy with polymarket enabled for every mode and class denies it;
``sign()`` is a tripwire for those. Checks that need the credentials (our
signer key, funder, L2 key, builder) happen in ``sign()``, which must raise
``PolicyDeniedError`` (``CRED_CASES``). Positive controls prove the policy
document allows the undisguised requests.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from policy.document import PolicyDocument, default_document_bytes, load_document
from policy.engine import decide
from signer.domain import HttpRequest, Mode, Principal
from signer.errors import InvalidRequestError, ModeMismatchError, PolicyDeniedError
from signer.keystore.handles import Secret, VenueCredentials
from signer.schemes import polymarket as pm
from signer.venues import polymarket
from signer.venues.polymarket import PolymarketVenue
from tests.unit.venues.conftest import FixedClock

LIVE = Principal("attacker-client", Mode.LIVE)
SANDBOX = Principal("attacker-client", Mode.SANDBOX)
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
OTHER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
PROXY = "0x1111111111111111111111111111111111111111"
API_KEY = "00000000-0000-4000-8000-000000000001"
ORDER_ID = "0x" + "12" * 32
SANDBOX_VENUE = PolymarketVenue("clob-staging.example.org")

# venue_endpoints.json "polymarket" deny list.
DENY = [
    ("POST", "/auth/api-key"),
    ("DELETE", "/auth/api-key"),
    ("GET", "/auth/derive-api-key"),
    ("GET", "/auth/api-keys"),
    ("POST", "/auth/readonly-api-key"),
    ("DELETE", "/auth/readonly-api-key"),
    ("GET", "/auth/readonly-api-keys"),
    ("POST", "/auth/builder-api-key"),
    ("DELETE", "/auth/builder-api-key"),
    ("GET", "/auth/builder-api-key"),
]
RFQ = [
    ("POST", "/rfq/request"),
    ("POST", "/rfq/quote"),
    ("POST", "/rfq/request/accept"),
    ("POST", "/rfq/quote/approve"),
    ("GET", "/rfq/data/requests"),
]
V1_CTF = "0x4bFb41d5B3570DeFd03C39a9A4D8dE6Bd8B8982E"
V1_NEG_RISK = "0xC5d563A36AE78145C45a50134d48A1215220f80a"
V3 = "0xe3333700cA9d93003F00f0F71f8515005F6c00Aa"
AMOY_V1 = "0xdFE02Eb6733538f8Ea35D585af8DE5958AD99E40"
NEG_RISK_ADAPTER = "0xd91E80cF2E7be2e162c6513ceD06f1dD0dA35296"
USDC_E = "0x2791Bca1f2de4661ED88A30C99A7a9449Aa84174"
PERMIT = {
    "types": {"Permit": [["owner", "address"], ["spender", "address"], ["value", "uint256"]]},
    "primaryType": "Permit",
    "domain": {"name": "USD Coin", "version": "2", "chainId": 137, "verifyingContract": USDC_E},
    "message": {"owner": ADDRESS, "spender": OTHER, "value": "1000000000"},
}
SAFE_TX = {"to": USDC_E, "value": "0", "data": "0xa9059cbb", "operation": 0, "safeTxGas": "0"}


def order_body(**over: Any) -> dict[str, Any]:
    order = {
        "salt": 479249096354,
        "maker": ADDRESS,
        "signer": ADDRESS,
        "tokenId": "1234",
        "makerAmount": "100000000",
        "takerAmount": "50000000",
        "side": "BUY",
        "expiration": "0",
        "signatureType": 0,
        **over.pop("order", {}),
    }
    return {
        "order": order,
        "owner": API_KEY,
        "orderType": "GTC",
        "exchange": pm.CTF_EXCHANGE_V2,
        **over,
    }


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


POLICY = enabled_policy("polymarket")


def post(path: str, body: object = None, **kw: Any) -> HttpRequest:
    data = body if isinstance(body, bytes) else json.dumps(body or order_body()).encode()
    return HttpRequest("POST", path, body=data, **kw)


def get(path: str, query: str = "", **kw: Any) -> HttpRequest:
    return HttpRequest("GET", path, query=query, **kw)


def without(key: str) -> dict[str, Any]:
    body = order_body()
    del body["order"][key]
    return body


V = polymarket.VENUE
CASES: dict[str, tuple[PolymarketVenue, Principal, HttpRequest]] = {
    **{f"deny_{m}_{p.strip('/').replace('/', '_')}": (V, LIVE, HttpRequest(m, p)) for m, p in DENY},
    **{f"rfq_{m}_{p.strip('/').replace('/', '_')}": (V, LIVE, HttpRequest(m, p)) for m, p in RFQ},
    "auth_with_body": (V, LIVE, post("/auth/api-key", {"nonce": 5})),
    # Order shape.
    "taker_in_order": (V, LIVE, post("/order", order_body(order={"taker": OTHER}))),
    "zero_taker_in_order": (V, LIVE, post("/order", order_body(order={"taker": "0x" + "00" * 20}))),
    "v1_nonce_in_order": (V, LIVE, post("/order", order_body(order={"nonce": "0"}))),
    "v1_fee_in_order": (V, LIVE, post("/order", order_body(order={"feeRateBps": "100"}))),
    "extra_order_field": (V, LIVE, post("/order", order_body(order={"price": "0.5"}))),
    "extra_top_field": (V, LIVE, post("/order", order_body(funder=PROXY))),
    "caller_signature": (V, LIVE, post("/order", order_body(order={"signature": "0x" + "11" * 65}))),
    "caller_top_signature": (V, LIVE, post("/order", order_body(signature="0x" + "11" * 65))),
    "caller_timestamp": (V, LIVE, post("/order", order_body(order={"timestamp": "1710000000000"}))),
    "caller_timestamp_int": (V, LIVE, post("/order", order_body(order={"timestamp": 1}))),
    "missing_exchange": (V, LIVE, post("/order", {k: v for k, v in order_body().items() if k != "exchange"})),
    "missing_salt": (V, LIVE, post("/order", without("salt"))),
    "missing_expiration": (V, LIVE, post("/order", without("expiration"))),
    "missing_owner": (V, LIVE, post("/order", {k: v for k, v in order_body().items() if k != "owner"})),
    "type0_maker_not_signer": (V, LIVE, post("/order", order_body(order={"maker": PROXY}))),
    "type1_maker_is_signer": (V, LIVE, post("/order", order_body(order={"signatureType": 1}))),
    "poly_1271_maker_not_signer": (
        V, LIVE, post("/order", order_body(order={"signatureType": 3, "maker": PROXY}))
    ),
    "signature_type_4": (V, LIVE, post("/order", order_body(order={"signatureType": 4}))),
    "sig_type_string": (V, LIVE, post("/order", order_body(order={"signatureType": "0"}))),
    "side_int": (V, LIVE, post("/order", order_body(order={"side": 0}))),
    "side_lower": (V, LIVE, post("/order", order_body(order={"side": "buy"}))),
    "salt_string": (V, LIVE, post("/order", order_body(order={"salt": "479249096354"}))),
    "salt_huge": (V, LIVE, post("/order", order_body(order={"salt": 2**64}))),
    "amount_int": (V, LIVE, post("/order", order_body(order={"makerAmount": 100000000}))),
    "amount_zero": (V, LIVE, post("/order", order_body(order={"takerAmount": "0"}))),
    "amount_negative": (V, LIVE, post("/order", order_body(order={"makerAmount": "-1"}))),
    "amount_leading_zero": (V, LIVE, post("/order", order_body(order={"makerAmount": "0100"}))),
    "amount_overflow": (V, LIVE, post("/order", order_body(order={"makerAmount": str(2**256)}))),
    "amount_float": (
        V,
        LIVE,
        post("/order", json.dumps(order_body()).replace('"100000000"', "1e8").encode()),
    ),
    "token_hex": (V, LIVE, post("/order", order_body(order={"tokenId": "0x4d2"}))),
    "bad_address_checksum": (V, LIVE, post("/order", order_body(order={"maker": ADDRESS.replace("f", "F", 1), "signer": ADDRESS.replace("f", "F", 1)}))),
    "short_builder": (V, LIVE, post("/order", order_body(order={"builder": "0x01"}))),
    "bad_order_type": (V, LIVE, post("/order", order_body(orderType="IOC"))),
    "gtc_with_expiration": (V, LIVE, post("/order", order_body(order={"expiration": "1900000000"}))),
    "gtd_without_expiration": (V, LIVE, post("/order", order_body(orderType="GTD"))),
    "post_only_fok": (V, LIVE, post("/order", order_body(orderType="FOK", postOnly=True))),
    "defer_exec_string": (V, LIVE, post("/order", order_body(deferExec="false"))),
    "duplicate_key": (
        V,
        LIVE,
        post("/order", json.dumps(order_body()).replace('"owner"', '"owner": "x", "owner"').encode()),
    ),
    # Chain and domain swaps.
    "v1_ctf_exchange": (V, LIVE, post("/order", order_body(exchange=V1_CTF))),
    "v1_neg_risk_exchange": (V, LIVE, post("/order", order_body(exchange=V1_NEG_RISK))),
    "v3_exchange": (V, LIVE, post("/order", order_body(exchange=V3))),
    "amoy_v1_exchange": (SANDBOX_VENUE, SANDBOX, post("/order", order_body(exchange=AMOY_V1, chainId=80002))),
    "neg_risk_adapter": (V, LIVE, post("/order", order_body(exchange=NEG_RISK_ADAPTER))),
    "usdc_as_exchange": (V, LIVE, post("/order", order_body(exchange=USDC_E))),
    "live_with_amoy_chain": (V, LIVE, post("/order", order_body(chainId=80002))),
    "sandbox_with_polygon_chain": (SANDBOX_VENUE, SANDBOX, post("/order", order_body(chainId=137))),
    "chain_id_other": (V, LIVE, post("/order", order_body(chainId=1))),
    "sandbox_without_host": (V, SANDBOX, post("/order")),
    "live_on_sandbox_host": (SANDBOX_VENUE, LIVE, post("/order", host="clob-staging.example.org")),
    "sandbox_on_live_host": (SANDBOX_VENUE, SANDBOX, post("/order", host="clob.polymarket.com")),
    "foreign_host": (V, LIVE, post("/order", host="clob.polymarket.com.evil.example")),
    # Other typed data has no path.
    "permit_on_order": (V, LIVE, post("/order", PERMIT)),
    "safe_tx_on_order": (V, LIVE, post("/order", SAFE_TX)),
    "permit_in_order_field": (V, LIVE, post("/order", {**order_body(), "order": PERMIT})),
    "typed_data_path": (V, LIVE, post("/sign-typed-data", PERMIT)),
    "safe_relayer_path": (V, LIVE, post("/submit", SAFE_TX)),
    # Batch.
    "batch_bad_item": (V, LIVE, post("/orders", [order_body(), order_body(order={"taker": OTHER})])),
    "batch_v1_item": (V, LIVE, post("/orders", [order_body(), order_body(exchange=V1_CTF)])),
    "batch_too_large": (V, LIVE, post("/orders", [order_body()] * 16)),
    "batch_empty": (V, LIVE, post("/orders", b"[]")),
    "batch_object": (V, LIVE, post("/orders", order_body())),
    "order_array": (V, LIVE, post("/order", [order_body()])),
    "array_wrapper_escape": (
        V,
        LIVE,
        post("/orders", b"[" + json.dumps(order_body()).encode() + b'],"_":[1]'),
    ),
    # Cancels and reads.
    "cancel_extra_field": (V, LIVE, HttpRequest("DELETE", "/order", body=json.dumps({"orderID": ORDER_ID, "market": ORDER_ID}).encode())),
    "cancel_bad_id": (V, LIVE, HttpRequest("DELETE", "/order", body=b'{"orderID":"1 OR 1"}')),
    "cancel_ids_not_list": (V, LIVE, HttpRequest("DELETE", "/orders", body=b'{"ids":[]}')),
    "cancel_ids_dup": (V, LIVE, HttpRequest("DELETE", "/orders", body=json.dumps([ORDER_ID, ORDER_ID]).encode())),
    "cancel_all_with_body": (V, LIVE, HttpRequest("DELETE", "/cancel-all", body=b'{"market":"x"}')),
    "cancel_market_empty": (V, LIVE, HttpRequest("DELETE", "/cancel-market-orders", body=b"{}")),
    "get_with_body": (V, LIVE, HttpRequest("GET", "/data/orders", body=b'{"id":"1"}')),
    "read_unknown_query": (V, LIVE, get("/data/orders", "owner=x")),
    "read_duplicate_query": (V, LIVE, get("/data/orders", f"id={ORDER_ID}&id={ORDER_ID}")),
    "balance_missing_type": (V, LIVE, get("/balance-allowance", "token_id=1")),
    "query_on_post": (V, LIVE, HttpRequest("POST", "/order", query="owner=x", body=json.dumps(order_body()).encode())),
    "form_body": (V, LIVE, post("/order", b"order=1&owner=x")),
    "json_content_type_mismatch": (V, LIVE, post("/order", headers=(("Content-Type", "text/plain"),))),
    # Caller auth headers.
    "poly_signature_header": (V, LIVE, get("/data/orders", headers=(("POLY_SIGNATURE", "x"),))),
    "poly_address_header": (V, LIVE, get("/data/orders", headers=(("POLY_ADDRESS", OTHER),))),
    "poly_nonce_header": (V, LIVE, get("/data/orders", headers=(("POLY_NONCE", "5"),))),
    # Path disguises.
    "case_path": (V, LIVE, post("/Order")),
    "trailing_slash": (V, LIVE, post("/order/")),
    "double_slash": (V, LIVE, post("//order")),
    "dotdot_to_auth": (V, LIVE, HttpRequest("GET", "/data/../auth/derive-api-key")),
    "pct_auth": (V, LIVE, HttpRequest("GET", "/%61uth/derive-api-key")),
    "path_with_query": (V, LIVE, post("/order?x=1")),
    "wrong_method_put": (V, LIVE, HttpRequest("PUT", "/order", body=json.dumps(order_body()).encode())),
    "lowercase_method": (V, LIVE, HttpRequest("post", "/order", body=json.dumps(order_body()).encode())),
}  # fmt: skip


@pytest.fixture(autouse=True)
def _sign_is_a_tripwire(monkeypatch: pytest.MonkeyPatch) -> None:
    def tripwire(*_: object) -> None:
        raise AssertionError("sign() reached for a must-fail request")

    monkeypatch.setattr(polymarket.VENUE, "sign", tripwire)
    monkeypatch.setattr(SANDBOX_VENUE, "sign", tripwire)


@pytest.mark.parametrize(
    ("venue", "principal", "request_"), CASES.values(), ids=[f"expfail_{n}" for n in CASES]
)
def test_refused(venue: PolymarketVenue, principal: Principal, request_: HttpRequest) -> None:
    try:
        parsed = venue.parse(principal, request_)
    except (InvalidRequestError, ModeMismatchError):
        return
    intent = parsed.intent
    assert intent.endpoint is None or intent.violations
    assert not decide(POLICY, intent).allowed


def creds(**extra: str) -> VenueCredentials:
    secrets = {"signer_private_key": Secret(KEY), **{k: Secret(v) for k, v in extra.items()}}
    return VenueCredentials(
        "polymarket", API_KEY, Secret(pm.ZERO_BYTES32[2:46]), Secret("pp"), secrets
    )


CRED_CASES: dict[str, tuple[dict[str, Any], VenueCredentials]] = {
    "signer_not_our_key": (order_body(order={"signer": OTHER, "maker": OTHER}), creds()),
    "maker_not_funder": (order_body(order={"maker": OTHER, "signatureType": 2}), creds(proxy_address=PROXY)),
    "funder_not_configured": (order_body(order={"maker": PROXY, "signatureType": 1}), creds()),
    "owner_mismatch": (order_body(owner="someone-else"), creds()),
    "non_zero_builder": (order_body(order={"builder": "0x" + "ab" * 32}), creds()),
    "other_builder": (order_body(order={"builder": "0x" + "ab" * 32}), creds(builder="0x" + "cd" * 32)),
    "non_zero_metadata": (order_body(order={"metadata": "0x" + "01" * 32}), creds()),
    "deposit_wallet_not_configured": (order_body(order={"maker": PROXY, "signer": PROXY, "signatureType": 3}), creds()),
    "deposit_wallet_not_ours": (order_body(order={"maker": OTHER, "signer": OTHER, "signatureType": 3}), creds(proxy_address=PROXY)),
    "key_address_as_deposit_wallet": (order_body(order={"signatureType": 3}), creds(proxy_address=PROXY)),
}  # fmt: skip


@pytest.mark.parametrize(("body", "handle"), CRED_CASES.values(), ids=list(CRED_CASES))
def test_credential_checks_refuse_in_sign(body: dict[str, Any], handle: VenueCredentials) -> None:
    venue = PolymarketVenue()  # not tripwired: sign() itself must refuse
    for request_ in (post("/order", body), post("/orders", [order_body(), body])):
        parsed = venue.parse(LIVE, request_)
        assert parsed.intent.violations == ()
        assert decide(POLICY, parsed.intent).allowed
        with pytest.raises(PolicyDeniedError):
            venue.sign(parsed, handle, FixedClock())


@pytest.mark.parametrize(
    ("venue", "principal", "request_"),
    [
        (V, LIVE, post("/order")),
        (V, LIVE, post("/order", order_body(exchange=pm.NEG_RISK_EXCHANGE_V2, chainId=137))),
        (V, LIVE, post("/orders", [order_body(), order_body(orderType="FAK")])),
        (V, LIVE, HttpRequest("DELETE", "/order", body=json.dumps({"orderID": ORDER_ID}).encode())),
        (V, LIVE, get("/data/orders", f"id={ORDER_ID}")),
        (SANDBOX_VENUE, SANDBOX, post("/order", order_body(chainId=80002))),
    ],
    ids=[
        "control_order",
        "control_neg_risk",
        "control_batch",
        "control_cancel",
        "control_read",
        "control_sandbox",
    ],
)
def test_controls_are_allowed(
    venue: PolymarketVenue, principal: Principal, request_: HttpRequest
) -> None:
    intent = venue.parse(principal, request_).intent
    assert intent.violations == ()
    assert decide(POLICY, intent).allowed


def test_shipped_default_policy_allows_live_orders_only() -> None:
    shipped = load_document(default_document_bytes())
    live = polymarket.VENUE.parse(LIVE, post("/order")).intent
    assert decide(shipped, live).allowed
    sandbox = SANDBOX_VENUE.parse(SANDBOX, post("/order")).intent
    denied = decide(shipped, sandbox)
    assert not denied.allowed
    assert denied.rule_id == "venue.mode-disabled"


def test_key_provisioning_flag_only_opens_two_endpoints() -> None:
    venue = PolymarketVenue(allow_key_provisioning=True)
    opened = {f"{m} {p}" for m, p in DENY if venue.parse(LIVE, HttpRequest(m, p)).intent.endpoint}
    assert opened == {"POST /auth/api-key", "GET /auth/derive-api-key"}
