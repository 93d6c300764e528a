"""Hyperliquid: the 12 published SDK vectors (VENUES.md 9.5, test_vectors.json).

* 10 L1 vectors at scheme level (connection id; mainnet and testnet signatures);
* the L1 order vectors end to end through ``VENUE.sign()`` (fixed nonce 0, no
  ``expiresAfter``);
* the 2 user-signed vectors (usdSend, withdraw3) with the generic EIP-712
  encoder only: the daemon has no code path that signs them, which is checked too.

r/s are compared left-padded to 32 bytes (the SDK drops leading zero nibbles).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from signer.domain import HttpRequest, Mode, Principal
from signer.keystore.handles import Secret, VenueCredentials
from signer.schemes import hyperliquid as H
from signer.schemes.eip712 import Domain, TypedDataSchema, sign_typed_data
from signer.schemes.secp256k1 import Secp256k1Key
from signer.venues import hyperliquid as venue_module
from signer.venues.hyperliquid import HyperliquidVenue
from tests.unit.venues.conftest import FixedClock

# ../shared beside the repository (as CI lays it out); a missing file fails loudly.
SHARED = Path(__file__).resolve().parents[3] / "shared" / "venues" / "test_vectors.json"
DATA: dict[str, Any] = json.loads(SHARED.read_text())
VECTORS: list[dict[str, Any]] = DATA["hyperliquid"]
KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"
ADDRESS = "0x14791697260E4c9A71f18484C9f997B308e59325"
L1 = [v for v in VECTORS if "private_key" in v["input"] and "action" in v["input"]]
USER = [v for v in VECTORS if "message" in v["input"]]
ORDERS = [v for v in L1 if v["input"]["action"]["type"] == "order"]


def padded(sig: dict[str, Any]) -> tuple[str, str, int]:
    return (f"0x{int(sig['r'], 16):064x}", f"0x{int(sig['s'], 16):064x}", sig["v"])


def test_corpus_has_the_twelve_vectors() -> None:
    assert len(VECTORS) == 12
    assert len(L1) == 9 and len(USER) == 2 and len(ORDERS) == 3
    assert all(v["verified"] for v in VECTORS)


def test_phantom_agent_connection_id() -> None:
    (vector,) = [v for v in VECTORS if v["name"] == "phantom_agent_connection_id"]
    i = vector["input"]
    got = H.connection_id(i["action"], i["nonce"], i["vaultAddress"], i["expiresAfter"])
    assert "0x" + got.hex() == vector["expected"]["connectionId"]


@pytest.mark.parametrize("network", ["mainnet", "testnet"])
@pytest.mark.parametrize("vector", L1, ids=[v["name"] for v in L1])
def test_l1_scheme(vector: dict[str, Any], network: str) -> None:
    i = vector["input"]
    signer = H.HyperliquidSigner.from_secret(Secret(i["private_key"]))
    assert signer.address == ADDRESS
    sig = signer.sign_l1(
        i["action"], i["nonce"], i["vaultAddress"], i["expiresAfter"], mainnet=network == "mainnet"
    )
    got = H.signature_json(sig)
    assert (got["r"], got["s"], got["v"]) == padded(vector["expected"][network])
    assert len(str(got["r"])) == len(str(got["s"])) == 66


class ZeroClock:
    def __init__(self) -> None:
        self.scopes: list[str] = []

    def now_ms(self) -> int:
        return 1_700_000_000_000

    def next_nonce(self, scope: str) -> int:
        self.scopes.append(scope)
        return 0


@pytest.mark.parametrize("mode", [Mode.LIVE, Mode.SANDBOX])
@pytest.mark.parametrize("vector", ORDERS, ids=[v["name"] for v in ORDERS])
def test_l1_orders_end_to_end(vector: dict[str, Any], mode: Mode) -> None:
    venue = HyperliquidVenue(expires_window_ms=None)
    body = json.dumps({"action": vector["input"]["action"]}).encode()
    parsed = venue.parse(Principal("c1", mode), HttpRequest("POST", "/exchange", body=body))
    assert parsed.intent.violations == ()
    assert parsed.intent.endpoint == "POST /exchange#order"
    creds = VenueCredentials("hyperliquid", ADDRESS, Secret(KEY), Secret(b""), {})
    clock = ZeroClock()
    signed = venue.sign(parsed, creds, clock)
    assert clock.scopes == [f"hyperliquid:{ADDRESS}"]
    sent = json.loads(signed.request.body)
    network = "mainnet" if mode is Mode.LIVE else "testnet"
    sig = sent["signature"]
    assert (sig["r"], sig["s"], sig["v"]) == padded(vector["expected"][network])
    assert sent == {
        "action": vector["input"]["action"],
        "nonce": 0,
        "signature": sig,
        "vaultAddress": None,
        "expiresAfter": None,
    }
    assert signed.request.host == venue_module.HOSTS[mode]


HL_SEND_FIELDS = (
    ("hyperliquidChain", "string"),
    ("destination", "string"),
    ("amount", "string"),
    ("time", "uint64"),
)


@pytest.mark.parametrize("vector", USER, ids=[v["name"] for v in USER])
def test_user_signed_with_generic_encoder(vector: dict[str, Any]) -> None:
    i = vector["input"]
    primary = i["primaryType"]
    schema = TypedDataSchema.compile({primary: HL_SEND_FIELDS}, primary)
    domain = Domain(
        "HyperliquidSignTransaction", "1", int(i["signatureChainId"], 16), H.ZERO_ADDRESS
    )
    message = {"hyperliquidChain": i["hyperliquidChain"], **i["message"]}
    sig = sign_typed_data(
        Secp256k1Key.from_secret(Secret(i["private_key"])), domain, schema, message
    )
    got = H.signature_json(sig)
    assert (got["r"], got["s"], got["v"]) == padded(vector["expected"])


USER_KIND = {
    "HyperliquidTransaction:UsdSend": "usdSend",
    "HyperliquidTransaction:Withdraw": "withdraw3",
}


@pytest.mark.parametrize("vector", USER, ids=[v["name"] for v in USER])
def test_user_signed_end_to_end(vector: dict[str, Any]) -> None:
    """The SDK's user-signed vectors through the venue: parse, stamp, sign, body."""
    i = vector["input"]
    kind = USER_KIND[i["primaryType"]]
    sent_action = {"type": kind, **{k: v for k, v in i["message"].items() if k != "time"}}
    body = json.dumps({"action": sent_action}).encode()
    parsed = venue_module.VENUE.parse(
        Principal("c1", Mode.SANDBOX), HttpRequest("POST", "/exchange", body=body)
    )
    assert parsed.intent.violations == ()
    assert parsed.intent.endpoint == f"POST /exchange#{kind}"
    assert parsed.intent.endpoint_class == "withdraw-home"
    assert parsed.intent.recipient == i["message"]["destination"]
    creds = VenueCredentials("hyperliquid", ADDRESS, Secret(KEY), Secret(b""), {})
    clock = FixedClock(nonce=i["message"]["time"])
    sent = json.loads(venue_module.VENUE.sign(parsed, creds, clock).request.body)
    sig = sent["signature"]
    assert (sig["r"], sig["s"], sig["v"]) == padded(vector["expected"])
    assert sent == {
        "action": {
            "type": kind, "signatureChainId": i["signatureChainId"],
            "hyperliquidChain": i["hyperliquidChain"], **i["message"],
        },
        "nonce": i["message"]["time"],
        "signature": sig,
        "vaultAddress": None,
        "expiresAfter": None,
    }  # fmt: skip
