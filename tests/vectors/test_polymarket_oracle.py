"""py-clob-client-v2 1.2.1 as an oracle (``polymarket_clob_vectors.json``).

The vectors were produced by ``gen_polymarket_clob.py`` in a separate venv
(provenance inside the JSON); this module only reads them.

* Orders (signature types 0-2, CTF and Neg Risk V2 exchanges, Polygon and
  Amoy): ``order_digest`` equals the client's ``build_order_hash`` and
  ``PolymarketSigner.sign_order`` its signature. The client's posted body,
  turned back into what a caller sends (``timestamp``/``signature`` removed,
  ``exchange`` added), goes through ``PolymarketVenue.parse``/``sign`` with the
  client's clock: the body bytes and the five L2 headers must be identical.
* POLY_1271 (type 3) orders from the client are refused by the venue
  (module invariant 2: no code path), and their signer is not the key.
* L2 HMAC headers for (method, path, body, timestamp); ClobAuth L1 headers at
  scheme level and, for nonce 0, through the key-provisioning endpoint.

Known disagreement: the client HMACs ``body.replace("'", '"')``, the daemon
the exact bytes it sends, so bodies containing an apostrophe differ
(``APOSTROPHE`` vectors). The daemon refuses such bodies, asserted below.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from signer.domain import HttpRequest, Mode, Principal, SignedRequest
from signer.keystore.handles import Secret, VenueCredentials
from signer.schemes import polymarket as pm
from signer.venues.polymarket import PolymarketVenue
from tests.unit.venues.conftest import FixedClock

DATA: dict[str, Any] = json.loads(
    Path(__file__).with_name("polymarket_clob_vectors.json").read_text()
)
ORDERS: list[dict[str, Any]] = DATA["orders"]
SUPPORTED = ORDERS
POLY_1271 = [v for v in ORDERS if v["signature_type"] == 3]
SIGNED = [(v, i) for v in ORDERS if v not in POLY_1271 for i in range(len(v["signed"]))]
L2 = [v for v in DATA["l2"] if "'" not in v["body"]]
APOSTROPHE = [v for v in DATA["l2"] if "'" in v["body"]]
NO_PARAMS = {("GET", "/data/orders"), ("GET", "/data/trades"), ("DELETE", "/cancel-all")}
L2_VENUE = [v for v in L2 if (v["method"], v["path"]) in NO_PARAMS]
CLOB_AUTH: list[dict[str, Any]] = DATA["clob_auth"]
SANDBOX_HOST = "clob-sandbox.example.test"
MODE = {137: Mode.LIVE, 80002: Mode.SANDBOX}
STAMPED = ("timestamp", "signature")


def names(vectors: list[dict[str, Any]]) -> list[str]:
    return [v["name"] for v in vectors]


def posted_orders(vector: dict[str, Any]) -> list[dict[str, Any]]:
    body = json.loads(vector["body"])
    return [body] if vector["kind"] == "post_order" else list(body)


def test_provenance_and_coverage() -> None:
    provenance = DATA["provenance"]
    assert provenance["oracle"].startswith("py-clob-client-v2 1.2.1")
    assert provenance["generator"] == "tests/vectors/gen_polymarket_clob.py"
    assert len(ORDERS) == 60 and len(SIGNED) == 76 and len(POLY_1271) == 12
    cells = Counter((v["chain_id"], v["signature_type"]) for v in ORDERS)
    assert set(cells) == {(c, t) for c in (137, 80002) for t in (0, 1, 2, 3)}
    exchanges = {
        s["typed_data"]["domain"]["verifyingContract"] for v in ORDERS for s in v["signed"]
    }
    assert exchanges == set(pm.EXCHANGES_V2)
    kinds = Counter(v["kind"] for v in ORDERS)
    assert kinds == {"post_order": 48, "post_orders": 12}
    messages = [s["typed_data"]["message"] for v in SUPPORTED for s in v["signed"]]
    assert any(m["builder"] != pm.ZERO_BYTES32 for m in messages)
    assert any(m["metadata"] != pm.ZERO_BYTES32 for m in messages)
    assert len(DATA["l2"]) == 48 and len(APOSTROPHE) == 2 and len(L2_VENUE) >= 8
    assert len(CLOB_AUTH) == 24 and {v["chain_id"] for v in CLOB_AUTH} == {137, 80002}


def order_from_message(message: dict[str, Any]) -> pm.OrderV2:
    return pm.OrderV2(
        message["salt"], message["maker"], message["signer"], message["tokenId"],
        message["makerAmount"], message["takerAmount"], message["side"],
        message["signatureType"], message["timestamp"], message["metadata"], message["builder"],
    )  # fmt: skip


@pytest.mark.parametrize(("vector", "index"), SIGNED, ids=[f"{v['name']}#{i}" for v, i in SIGNED])
def test_order_scheme_matches_client(vector: dict[str, Any], index: int) -> None:
    signed = vector["signed"][index]["typed_data"]
    domain = pm.order_domain(signed["domain"]["chainId"], signed["domain"]["verifyingContract"])
    assert signed["domain"] == {
        "name": domain.name, "version": domain.version, "chainId": domain.chain_id,
        "verifyingContract": domain.verifying_contract,
    }  # fmt: skip
    order = order_from_message(signed["message"])
    assert "0x" + pm.order_digest(order, domain).hex() == vector["signed"][index]["digest"]
    signature = pm.PolymarketSigner.from_secret(Secret(vector["private_key"])).sign_order(
        order, domain
    )
    posted = posted_orders(vector)[index]["order"]
    assert signature == posted["signature"]
    assert posted["timestamp"] == str(vector["now_ms"]) == str(order.timestamp)


def caller_body(vector: dict[str, Any]) -> bytes:
    """The client's posted body as a caller sends it to the daemon."""
    items = []
    for item, signed in zip(posted_orders(vector), vector["signed"], strict=True):
        order = {k: v for k, v in item["order"].items() if k not in STAMPED}
        exchange = signed["typed_data"]["domain"]["verifyingContract"]
        items.append({**item, "order": order, "exchange": exchange})
    return json.dumps(items[0] if vector["kind"] == "post_order" else items).encode()


def creds(vector: dict[str, Any]) -> VenueCredentials:
    extra = {"signer_private_key": Secret(vector["private_key"])}
    if vector.get("signature_type") in (1, 2, 3):  # funder, or type 3's deposit wallet
        extra["proxy_address"] = Secret(vector["funder"])
    signed = vector.get("signed", [])
    builders = {s["typed_data"]["message"]["builder"] for s in signed} - {pm.ZERO_BYTES32}
    if builders:
        (builder,) = builders
        extra["builder"] = Secret(builder)
    return VenueCredentials(
        "polymarket", vector["api_key"], Secret(vector["api_secret"]),
        Secret(vector["api_passphrase"]), extra,
    )  # fmt: skip


def send(
    vector: dict[str, Any], method: str, path: str, body: bytes, venue: PolymarketVenue
) -> SignedRequest:
    principal = Principal("c1", MODE[vector.get("chain_id", 137)])
    parsed = venue.parse(principal, HttpRequest(method, path, body=body))
    assert parsed.intent.violations == ()
    assert parsed.intent.endpoint == f"{method} {path}"
    return venue.sign(parsed, creds(vector), FixedClock(now_ms=vector["now_ms"]))


@pytest.mark.parametrize("vector", SUPPORTED, ids=names(SUPPORTED))
def test_orders_through_venue_match_client(vector: dict[str, Any]) -> None:
    path = "/order" if vector["kind"] == "post_order" else "/orders"
    venue = PolymarketVenue(sandbox_host=SANDBOX_HOST)
    signed = send(vector, "POST", path, caller_body(vector), venue)
    assert signed.request.body.decode() == vector["body"]
    assert list(signed.auth_headers) == list(vector["headers"].items())
    assert signed.request.host == (
        "clob.polymarket.com" if vector["chain_id"] == 137 else SANDBOX_HOST
    )


@pytest.mark.parametrize("vector", POLY_1271, ids=names(POLY_1271))
def test_poly_1271_scheme_matches_client(vector: dict[str, Any]) -> None:
    """Type 3: the key signs for the deposit wallet (maker = signer = funder)."""
    (signed,) = vector["signed"]
    assert signed["typed_data"]["message"]["signer"] == vector["funder"] != vector["address"]
    order = order_from_message(signed["typed_data"]["message"])
    domain = pm.order_domain(
        vector["chain_id"], signed["typed_data"]["domain"]["verifyingContract"]
    )
    key = pm.PolymarketSigner.from_secret(Secret(vector["private_key"]))
    with pytest.raises(ValueError, match="signer"):
        key.sign_order(order, domain)  # not an EOA order of this key
    assert key.sign_order_1271(order, domain) == posted_orders(vector)[0]["order"]["signature"]


@pytest.mark.parametrize("vector", L2, ids=names(L2))
def test_l2_hmac_matches_client(vector: dict[str, Any]) -> None:
    got = pm.L2Hmac(Secret(vector["api_secret"])).sign(
        str(vector["timestamp"]), vector["method"], vector["path"], vector["body"]
    )
    assert got == vector["headers"]["POLY_SIGNATURE"]


@pytest.mark.parametrize("vector", L2_VENUE, ids=names(L2_VENUE))
def test_l2_headers_through_venue_match_client(vector: dict[str, Any]) -> None:
    timed = {**vector, "now_ms": vector["timestamp"] * 1000 + 999}
    signed = send(timed, vector["method"], vector["path"], b"", PolymarketVenue())
    assert list(signed.auth_headers) == list(vector["headers"].items())


@pytest.mark.parametrize("vector", CLOB_AUTH, ids=names(CLOB_AUTH))
def test_clob_auth_matches_client(vector: dict[str, Any]) -> None:
    signer = pm.PolymarketSigner.from_secret(Secret(vector["private_key"]))
    assert signer.address == vector["headers"]["POLY_ADDRESS"]
    got = signer.sign_clob_auth(vector["chain_id"], str(vector["timestamp"]), vector["nonce"])
    assert got == vector["headers"]["POLY_SIGNATURE"]


NONCE_ZERO = [v for v in CLOB_AUTH if v["nonce"] == 0]


@pytest.mark.parametrize("vector", NONCE_ZERO, ids=names(NONCE_ZERO))
def test_clob_auth_through_venue_matches_client(vector: dict[str, Any]) -> None:
    venue = PolymarketVenue(sandbox_host=SANDBOX_HOST, allow_key_provisioning=True)
    timed = {**vector, "now_ms": vector["timestamp"] * 1000}
    timed |= {"api_key": "unused", "api_secret": "", "api_passphrase": ""}
    signed = send(timed, "GET", "/auth/derive-api-key", b"", venue)
    assert list(signed.auth_headers) == list(vector["headers"].items())


@pytest.mark.parametrize("vector", APOSTROPHE, ids=names(APOSTROPHE))
def test_apostrophe_bodies_are_refused(vector: dict[str, Any]) -> None:
    """The client signs such a body with ' replaced by \" (not the bytes it sends); the
    venue's reading is unknown, so the daemon refuses the ambiguity outright."""
    ours = pm.L2Hmac(Secret(vector["api_secret"])).sign(
        str(vector["timestamp"]), vector["method"], vector["path"], vector["body"]
    )
    assert ours != vector["headers"]["POLY_SIGNATURE"]  # the disagreement is real
    order = {"order": {"salt": 1}, "owner": "it's", "orderType": "GTC"}
    parsed = PolymarketVenue().parse(
        Principal("c1", Mode.LIVE), HttpRequest("POST", "/order", body=json.dumps(order).encode())
    )
    assert any("apostrophe" in v for v in parsed.intent.violations)
