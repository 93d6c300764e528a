"""Polymarket venue: parsing, L2 endpoints, batch, sandbox, key provisioning, sign() checks."""

from __future__ import annotations

import base64
import hmac
import json
from typing import Any

import pytest

from signer.domain import HttpRequest, Mode, Principal
from signer.errors import ModeMismatchError, PolicyDeniedError
from signer.keystore.handles import Secret, VenueCredentials
from signer.schemes import polymarket as pm
from signer.schemes.eip712 import typed_data_digest
from signer.schemes.secp256k1 import recover_address
from signer.venues import _params as P
from signer.venues import polymarket
from signer.venues.polymarket import PolymarketVenue
from tests.unit.venues.conftest import FixedClock

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
PROXY = "0x1111111111111111111111111111111111111111"
BUILDER = "0x" + "ab" * 32
L2_SECRET = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
API_KEY = "00000000-0000-4000-8000-000000000001"
LIVE = Principal("c", Mode.LIVE)
SANDBOX = Principal("c", Mode.SANDBOX)
NOW = 1710000000123
ORDER_ID = "0x" + "12" * 32


def creds(**extra: str) -> VenueCredentials:
    secrets = {"signer_private_key": Secret(KEY), **{k: Secret(v) for k, v in extra.items()}}
    return VenueCredentials("polymarket", API_KEY, Secret(L2_SECRET), Secret("pp"), secrets)


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


def post(path: str, body: object) -> HttpRequest:
    return HttpRequest("POST", path, body=json.dumps(body).encode())


def l2(ts: str, method: str, path: str, body: str) -> str:
    mac = hmac.new(
        base64.urlsafe_b64decode(L2_SECRET), (ts + method + path + body).encode(), "sha256"
    )
    return base64.urlsafe_b64encode(mac.digest()).decode()


def sign(
    request: HttpRequest,
    venue: PolymarketVenue = polymarket.VENUE,
    principal: Principal = LIVE,
    handle: VenueCredentials | None = None,
) -> tuple[dict[str, str], HttpRequest]:
    parsed = venue.parse(principal, request)
    assert parsed.intent.violations == ()
    signed = venue.sign(parsed, handle or creds(), FixedClock(now_ms=NOW))
    return dict(signed.auth_headers), signed.request


def test_order_body_and_headers() -> None:
    headers, sent = sign(post("/order", order_body(postOnly=True, deferExec=False)))
    body = json.loads(sent.body)
    assert list(body) == ["order", "owner", "orderType", "deferExec", "postOnly"]
    assert body["order"]["timestamp"] == str(NOW)
    assert body["order"]["metadata"] == body["order"]["builder"] == pm.ZERO_BYTES32
    assert "exchange" not in body and "chainId" not in body
    assert headers["POLY_SIGNATURE"] == l2(str(NOW // 1000), "POST", "/order", sent.body.decode())
    assert headers["POLY_ADDRESS"] == ADDRESS and headers["POLY_PASSPHRASE"] == "pp"
    assert ("Content-Type", "application/json") in sent.headers


def test_neg_risk_exchange_signature_recovers() -> None:
    _, sent = sign(post("/order", order_body(exchange=pm.NEG_RISK_EXCHANGE_V2.lower())))
    order = json.loads(sent.body)["order"]
    message = pm.OrderV2(
        order["salt"], ADDRESS, ADDRESS, 1234, 100000000, 50000000, 0, 0, NOW
    ).message()
    digest = typed_data_digest(pm.order_domain(137, pm.NEG_RISK_EXCHANGE_V2), pm.ORDER_V2, message)
    assert recover_address(digest, bytes.fromhex(order["signature"][2:])) == ADDRESS


def test_proxy_order_with_allowed_builder() -> None:
    body = order_body(order={"maker": PROXY, "signatureType": 2, "builder": BUILDER})
    body["order"]["metadata"] = "0x" + "01" * 32
    _, sent = sign(post("/order", body), handle=creds(proxy_address=PROXY, builder=BUILDER))
    order = json.loads(sent.body)["order"]
    assert order["maker"] == PROXY and order["builder"] == BUILDER


def test_gtd_needs_expiration() -> None:
    ok = order_body(orderType="GTD", order={"expiration": "1900000000"})
    assert polymarket.VENUE.parse(LIVE, post("/order", ok)).intent.violations == ()
    bad = order_body(orderType="GTD")
    assert polymarket.VENUE.parse(LIVE, post("/order", bad)).intent.violations


def test_batch_orders() -> None:
    items = [order_body(), order_body(order={"salt": 7, "side": "SELL"}, orderType="FOK")]
    headers, sent = sign(post("/orders", items))
    body = json.loads(sent.body)
    assert [b["order"]["salt"] for b in body] == [479249096354, 7]
    assert all(b["order"]["timestamp"] == str(NOW) for b in body)
    assert body[0]["order"]["signature"] != body[1]["order"]["signature"]
    assert headers["POLY_SIGNATURE"] == l2(str(NOW // 1000), "POST", "/orders", sent.body.decode())


def test_batch_limit() -> None:
    intent = polymarket.VENUE.parse(LIVE, post("/orders", [order_body()] * 16)).intent
    assert intent.violations


@pytest.mark.parametrize(
    ("method", "path", "query", "body"),
    [
        ("DELETE", "/order", "", {"orderID": ORDER_ID}),
        ("DELETE", "/orders", "", [ORDER_ID, "0x" + "34" * 32]),
        ("DELETE", "/cancel-all", "", None),
        ("DELETE", "/cancel-market-orders", "", {"market": ORDER_ID, "asset_id": "1234"}),
        ("POST", "/v1/heartbeats", "", {"heartbeat_id": ""}),
        ("GET", "/data/orders", "market=" + ORDER_ID + "&next_cursor=MA%3D%3D", None),
        ("GET", f"/data/order/{ORDER_ID}", "", None),
        ("GET", "/data/trades", "maker_address=" + ADDRESS + "&before=1700000000", None),
        ("GET", "/data/pre-migration-orders", "", None),
        ("GET", "/balance-allowance", "asset_type=CONDITIONAL&token_id=1234", None),
        ("GET", "/balance-allowance/update", "asset_type=COLLATERAL&signature_type=0", None),
        ("GET", "/order-scoring", "order_id=" + ORDER_ID, None),
        ("POST", "/orders-scoring", "", [ORDER_ID]),
        ("GET", "/notifications", "signature_type=1", None),
        ("DELETE", "/notifications", "ids=1,2,3", None),
    ],
)
def test_l2_endpoints(method: str, path: str, query: str, body: object) -> None:
    data = b"" if body is None else json.dumps(body).encode()
    headers, sent = sign(HttpRequest(method, path, query=query, body=data))
    text = "" if body is None else json.dumps(body, separators=(",", ":"))
    assert sent.body.decode() == text
    assert sent.query == P.encode_form(P.parse_form(query, where="request.query"))
    assert headers["POLY_SIGNATURE"] == l2(str(NOW // 1000), method, path, text)
    assert set(headers) == {
        "POLY_ADDRESS", "POLY_SIGNATURE", "POLY_TIMESTAMP", "POLY_API_KEY", "POLY_PASSPHRASE",
    }  # fmt: skip


def test_endpoint_classes() -> None:
    cls = {e.key: e.endpoint_class.value for e in polymarket.ENDPOINTS}
    assert cls["POST /order"] == "trade" and cls["DELETE /cancel-all"] == "cancel"
    assert cls["GET /data/trades"] == "read"
    assert not any("/auth/" in key for key in cls)


def test_sandbox_needs_a_host() -> None:
    with pytest.raises(ModeMismatchError):
        polymarket.VENUE.parse(SANDBOX, post("/order", order_body()))


def test_sandbox_signs_for_amoy() -> None:
    venue = PolymarketVenue("clob-staging.example.org")
    _, sent = sign(post("/order", order_body(chainId=80002)), venue, SANDBOX)
    assert sent.host == "clob-staging.example.org"
    order = json.loads(sent.body)["order"]
    message = pm.OrderV2(order["salt"], ADDRESS, ADDRESS, 1234, 100000000, 50000000, 0, 0, NOW)
    digest = pm.order_digest(message, pm.order_domain(80002, pm.CTF_EXCHANGE_V2))
    assert recover_address(digest, bytes.fromhex(order["signature"][2:])) == ADDRESS
    with pytest.raises(ModeMismatchError):
        venue.parse(LIVE, HttpRequest("GET", "/data/orders", host="clob-staging.example.org"))


@pytest.mark.parametrize("host", ["clob.polymarket.com", "Bad_Host", "x"])
def test_bad_sandbox_host(host: str) -> None:
    with pytest.raises(ValueError, match="sandbox_host"):
        PolymarketVenue(host)


@pytest.mark.parametrize("path", ["/auth/derive-api-key", "/auth/api-key"])
def test_key_provisioning_denied_by_default(path: str) -> None:
    method = "GET" if "derive" in path else "POST"
    assert polymarket.VENUE.parse(LIVE, HttpRequest(method, path)).intent.endpoint is None


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/auth/derive-api-key"), ("POST", "/auth/api-key")]
)
def test_key_provisioning_when_allowed(method: str, path: str) -> None:
    venue = PolymarketVenue(allow_key_provisioning=True)
    headers, sent = sign(HttpRequest(method, path), venue)
    ts = str(NOW // 1000)
    assert headers["POLY_ADDRESS"] == ADDRESS and headers["POLY_TIMESTAMP"] == ts
    assert headers["POLY_NONCE"] == "0" and sent.body == b""
    expected = pm.PolymarketSigner.from_secret(Secret(KEY)).sign_clob_auth(137, ts, 0)
    assert headers["POLY_SIGNATURE"] == expected
    assert "POLY_API_KEY" not in headers
    # Other auth endpoints stay closed even then.
    assert venue.parse(LIVE, HttpRequest("DELETE", "/auth/api-key")).intent.endpoint is None


@pytest.mark.parametrize(
    ("body", "handle"),
    [
        (order_body(order={"signer": PROXY, "maker": PROXY}), creds()),
        (order_body(order={"maker": PROXY, "signatureType": 1}), creds()),
        (
            order_body(order={"maker": "0x" + "22" * 20, "signatureType": 1}),
            creds(proxy_address=PROXY),
        ),
        (order_body(owner="someone-else"), creds()),
        (order_body(order={"builder": BUILDER}), creds()),
        (order_body(order={"builder": "0x" + "cd" * 32}), creds(builder=BUILDER)),
        (order_body(order={"metadata": "0x" + "01" * 32}), creds()),
    ],
    ids=[
        "signer_not_our_key",
        "proxy_not_configured",
        "maker_not_funder",
        "owner_mismatch",
        "builder_not_configured",
        "builder_not_allowed",
        "metadata_without_builder",
    ],
)
def test_sign_refuses_credential_mismatches(body: dict[str, Any], handle: VenueCredentials) -> None:
    parsed = polymarket.VENUE.parse(LIVE, post("/order", body))
    assert parsed.intent.violations == ()
    with pytest.raises(PolicyDeniedError):
        polymarket.VENUE.sign(parsed, handle, FixedClock(now_ms=NOW))


def test_sign_refuses_violations() -> None:
    parsed = polymarket.VENUE.parse(LIVE, post("/order", {**order_body(), "x": 1}))
    with pytest.raises(PolicyDeniedError):
        polymarket.VENUE.sign(parsed, creds(), FixedClock(now_ms=NOW))
