"""Polymarket vectors: V2 orders (scheme level and end to end), ClobAuth, L2 HMAC.

Sources: ../shared/venues/test_vectors.json ``polymarket`` (published SDK
tests) and ``derived.polymarket`` (computed with py-clob-client-v2 1.2.1).
The L2 known answers are recomputed here with stdlib hmac/base64 only.
"""

from __future__ import annotations

import base64
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

from signer.domain import HttpRequest, Mode, Principal
from signer.keystore.handles import Secret, VenueCredentials
from signer.schemes import polymarket as pm
from signer.schemes.secp256k1 import recover_address
from signer.venues import polymarket
from tests.unit.venues.conftest import FixedClock

SHARED = Path(__file__).resolve().parents[3] / "shared" / "venues" / "test_vectors.json"
VECTORS = json.loads(SHARED.read_text())
PUBLISHED = {v["name"]: v for v in VECTORS["polymarket"]}
DERIVED = {v["name"]: v for v in VECTORS["derived"]["polymarket"]}
ORDER_VECTORS = [v for n, v in DERIVED.items() if n.startswith("v2_") and "order" in v["input"]]
L2_SECRET = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
API_KEY = "00000000-0000-4000-8000-000000000001"
PASSPHRASE = "passphrase-1"


def _order(raw: dict[str, Any]) -> pm.OrderV2:
    return pm.OrderV2(
        raw["salt"], raw["maker"], raw["signer"], raw["tokenId"], raw["makerAmount"],
        raw["takerAmount"], raw["side"], raw["signatureType"], raw["timestamp"],
        raw["metadata"], raw["builder"],
    )  # fmt: skip


def _signer(key: str) -> pm.PolymarketSigner:
    return pm.PolymarketSigner.from_secret(Secret(key))


def independent_l2(secret: str, ts: str, method: str, path: str, body: str) -> str:
    mac = hmac.new(base64.urlsafe_b64decode(secret), (ts + method + path + body).encode(), "sha256")
    return base64.urlsafe_b64encode(mac.digest()).decode()


def test_order_vectors_present() -> None:
    assert len(ORDER_VECTORS) == 2


@pytest.mark.parametrize("vector", ORDER_VECTORS, ids=lambda v: v["name"])
def test_v2_order_scheme(vector: dict[str, Any]) -> None:
    domain = pm.order_domain(vector["domain"]["chainId"], vector["domain"]["verifyingContract"])
    order = _order(vector["input"]["order"])
    digest = pm.order_digest(order, domain)
    assert "0x" + digest.hex() == vector["expected"]["eip712_digest"]
    signature = _signer(vector["input"]["private_key"]).sign_order(order, domain)
    assert signature == vector["expected"]["signature"]
    assert recover_address(digest, bytes.fromhex(signature[2:])) == order.signer


def test_type_hashes() -> None:
    assert "0x" + pm.ORDER_V2.type_hash.hex() == DERIVED["v2_order_typehash"]["expected"]
    assert "0x" + pm.CLOB_AUTH.type_hash.hex() == DERIVED["clob_auth_typehash"]["expected"]


@pytest.mark.parametrize("name", ["clob_auth_amoy", "clob_auth_polygon"])
def test_clob_auth_scheme(name: str) -> None:
    vector = PUBLISHED.get(name) or DERIVED[name]
    inputs = vector["input"]
    signer = _signer(inputs["private_key"])
    signature = signer.sign_clob_auth(
        vector["domain"]["chainId"], inputs["timestamp"], inputs["nonce"]
    )
    assert signature == vector["expected"]["signature"]


def test_l2_hmac_published_vector() -> None:
    inputs = PUBLISHED["l2_hmac"]["input"]
    got = pm.L2Hmac(Secret(inputs["secret"])).sign(
        inputs["timestamp"], inputs["method"], inputs["requestPath"], inputs["body"]
    )
    assert got == PUBLISHED["l2_hmac"]["expected"]["POLY_SIGNATURE"]
    assert got == independent_l2(
        inputs["secret"], inputs["timestamp"], inputs["method"], inputs["requestPath"],
        inputs["body"],
    )  # fmt: skip


def creds(private_key: str) -> VenueCredentials:
    return VenueCredentials(
        "polymarket",
        API_KEY,
        Secret(L2_SECRET),
        Secret(PASSPHRASE),
        {"signer_private_key": Secret(private_key)},
    )


@pytest.mark.parametrize("vector", ORDER_VECTORS, ids=lambda v: v["name"])
def test_v2_order_end_to_end(vector: dict[str, Any]) -> None:
    raw = vector["input"]["order"]
    order = {
        "salt": raw["salt"],
        "maker": raw["maker"],
        "signer": raw["signer"],
        "tokenId": str(raw["tokenId"]),
        "makerAmount": str(raw["makerAmount"]),
        "takerAmount": str(raw["takerAmount"]),
        "side": "BUY" if raw["side"] == 0 else "SELL",
        "expiration": "0",
        "signatureType": raw["signatureType"],
    }
    body = {
        "order": order,
        "owner": API_KEY,
        "orderType": "GTC",
        "exchange": vector["domain"]["verifyingContract"],
        "chainId": 137,
    }
    request = HttpRequest("POST", "/order", body=json.dumps(body).encode())
    venue = polymarket.VENUE
    parsed = venue.parse(Principal("c", Mode.LIVE), request)
    assert parsed.intent.violations == ()
    clock = FixedClock(now_ms=raw["timestamp"])
    signed = venue.sign(parsed, creds(vector["input"]["private_key"]), clock)
    sent = json.loads(signed.request.body)
    assert sent["order"]["signature"] == vector["expected"]["signature"]
    assert sent["order"]["timestamp"] == str(raw["timestamp"])
    assert list(sent) == ["order", "owner", "orderType", "deferExec"]
    assert list(sent["order"]) == [
        "salt", "maker", "signer", "tokenId", "makerAmount", "takerAmount", "side",
        "expiration", "signatureType", "timestamp", "metadata", "builder", "signature",
    ]  # fmt: skip
    headers = dict(signed.auth_headers)
    ts = str(raw["timestamp"] // 1000)
    assert headers == {
        "POLY_ADDRESS": raw["signer"],
        "POLY_SIGNATURE": independent_l2(
            L2_SECRET, ts, "POST", "/order", signed.request.body.decode()
        ),
        "POLY_TIMESTAMP": ts,
        "POLY_API_KEY": API_KEY,
        "POLY_PASSPHRASE": PASSPHRASE,
    }
    assert signed.request.host == "clob.polymarket.com"


def test_poly_1271_published_vector_end_to_end() -> None:
    """signatureType 3: the deposit wallet (stored as proxy_address) is maker and signer."""
    vector = PUBLISHED["v2_order_poly_1271_amoy"]
    raw = vector["input"]["order"]
    order = {
        "salt": raw["salt"], "maker": raw["maker"], "signer": raw["signer"],
        "tokenId": str(raw["tokenId"]), "makerAmount": str(raw["makerAmount"]),
        "takerAmount": str(raw["takerAmount"]), "side": "BUY", "expiration": "0",
        "signatureType": 3,
    }  # fmt: skip
    body = {"order": order, "owner": API_KEY, "orderType": "GTC",
            "exchange": vector["domain"]["verifyingContract"]}  # fmt: skip
    venue = polymarket.PolymarketVenue("clob-staging.example.org")
    parsed = venue.parse(
        Principal("c", Mode.SANDBOX), HttpRequest("POST", "/order", body=json.dumps(body).encode())
    )
    assert parsed.intent.violations == ()
    handle = creds(vector["input"]["private_key"])
    handle.extra["proxy_address"] = Secret(raw["maker"])
    signed = venue.sign(parsed, handle, FixedClock(now_ms=raw["timestamp"]))
    assert json.loads(signed.request.body)["order"]["signature"] == vector["expected"]["signature"]
