"""hyperliquid-python-sdk 0.24.0 as an oracle (``hyperliquid_sdk_vectors.json``).

The vectors were produced by ``gen_hyperliquid_sdk.py`` in a separate venv
(provenance inside the JSON); this module only reads them.

* L1: for every SDK-signed action, ``connection_id`` equals the SDK's
  ``action_hash`` and ``HyperliquidSigner.sign_l1`` gives the SDK's signature
  (r/s left-padded: the SDK drops leading zero nibbles). The same action, sent
  as a caller would through ``HyperliquidVenue.parse``/``sign`` with the
  vector's nonce, vault and ``expiresAfter``, must be accepted and come out
  byte-identical (action key order, signature, vault, expiry).
* User-signed (withdraw3, usdSend, spotSend, approveAgent): the file is
  proved self-consistent with eth-account as a second oracle (typed data
  rebuilt from VENUES.md 9.2, SDK signature recovers the key's address,
  eth-account re-signs to the same bytes), and the SDK's posted action, sent
  without its stamp through ``HyperliquidVenue``, comes back with the SDK's
  body and signature. (Which destinations the policy lets through is the
  business of tests/security/test_expfail_hyperliquid_user.py.)

Known finding kept out of the end-to-end test: the SDK's ``PriorityGrouping``
(``"grouping": {"p": n}``) is refused by the venue's ``grouping`` enum (see
``PRIORITY_GROUPING``); its signatures are still checked at scheme level.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from signer.domain import HttpRequest, Mode, Principal
from signer.keystore.handles import Secret, VenueCredentials
from signer.schemes import hyperliquid as H
from signer.venues.hyperliquid import VENUE, HyperliquidVenue
from tests.unit.venues.conftest import FixedClock

DATA: dict[str, Any] = json.loads(
    Path(__file__).with_name("hyperliquid_sdk_vectors.json").read_text()
)
L1: list[dict[str, Any]] = DATA["l1"]
USER: list[dict[str, Any]] = DATA["user_signed"]
PRIORITY_GROUPING = [v for v in L1 if isinstance(v["action"].get("grouping"), dict)]
VENUE_L1 = [v for v in L1 if v not in PRIORITY_GROUPING]
ALLOWED_TYPES = {
    "order", "cancel", "cancelByCloid", "modify", "batchModify", "scheduleCancel", "twapOrder",
    "twapCancel", "updateLeverage", "updateIsolatedMargin", "topUpIsolatedOnlyMargin", "noop",
}  # fmt: skip


def names(vectors: list[dict[str, Any]]) -> list[str]:
    return [v["name"] for v in vectors]


def padded(sig: dict[str, Any]) -> dict[str, object]:
    return {"r": f"0x{int(sig['r'], 16):064x}", "s": f"0x{int(sig['s'], 16):064x}", "v": sig["v"]}


def test_provenance_and_coverage() -> None:
    provenance = DATA["provenance"]
    assert provenance["oracle"].startswith("hyperliquid-python-sdk 0.24.0")
    assert provenance["generator"] == "tests/vectors/gen_hyperliquid_sdk.py"
    assert len(L1) == 330 and len(USER) == 80
    assert {v["action"]["type"] for v in L1} == ALLOWED_TYPES
    combos = Counter(
        (v["is_mainnet"], v["vaultAddress"] is None, v["expiresAfter"] is None) for v in L1
    )
    assert len(combos) == 8 and min(combos.values()) >= 10
    groupings = {str(v["action"]["grouping"]) for v in L1 if v["action"]["type"] == "order"}
    assert {"na", "normalTpsl", "positionTpsl"} <= groupings
    assert any("builder" in v["action"] for v in L1)
    assert any(len(v["signature"]["r"]) < 66 for v in L1)  # the SDK's unpadded r
    assert len(PRIORITY_GROUPING) == 12


@pytest.mark.parametrize("vector", L1, ids=names(L1))
def test_l1_scheme_matches_sdk(vector: dict[str, Any]) -> None:
    signer = H.HyperliquidSigner.from_secret(Secret(vector["private_key"]))
    assert signer.address == vector["address"]
    args = (vector["action"], vector["nonce"], vector["vaultAddress"], vector["expiresAfter"])
    assert "0x" + H.connection_id(*args).hex() == vector["action_hash"]
    sig = signer.sign_l1(*args, mainnet=vector["is_mainnet"])
    assert H.signature_json(sig) == padded(vector["signature"])


def test_l1_signature_depends_on_network() -> None:
    vector = L1[0]
    signer = H.HyperliquidSigner.from_secret(Secret(vector["private_key"]))
    args = (vector["action"], vector["nonce"], vector["vaultAddress"], vector["expiresAfter"])
    other = signer.sign_l1(*args, mainnet=not vector["is_mainnet"])
    assert H.signature_json(other) != padded(vector["signature"])


def _send(vector: dict[str, Any]) -> tuple[dict[str, Any], HyperliquidVenue]:
    """Parse and sign ``vector`` as the daemon would; returns the posted JSON and the venue."""
    action, vault, expires = vector["action"], vector["vaultAddress"], vector["expiresAfter"]
    builders = [action["builder"]["b"]] if "builder" in action else []
    window = None if expires is None else expires - vector["nonce"]
    venue = HyperliquidVenue(expires_window_ms=window, builders=builders)
    body: dict[str, Any] = {"action": action}
    if vault is not None:
        body["vaultAddress"] = vault
    mode = Mode.LIVE if vector["is_mainnet"] else Mode.SANDBOX
    request = HttpRequest("POST", "/exchange", body=json.dumps(body).encode())
    parsed = venue.parse(Principal("c1", mode), request)
    assert parsed.intent.violations == ()
    assert parsed.intent.endpoint == f"POST /exchange#{action['type']}"
    creds = VenueCredentials(
        "hyperliquid", vector["address"], Secret(vector["private_key"]),
        Secret(vault or b""), {},
    )  # fmt: skip
    clock = FixedClock(now_ms=vector["nonce"], nonce=vector["nonce"])
    signed = venue.sign(parsed, creds, clock)
    return json.loads(signed.request.body), venue


@pytest.mark.parametrize("vector", VENUE_L1, ids=names(VENUE_L1))
def test_l1_through_venue_matches_sdk(vector: dict[str, Any]) -> None:
    sent, _ = _send(vector)
    assert list(sent) == ["action", "nonce", "signature", "vaultAddress", "expiresAfter"]
    # key order matters (msgpack): compare the serialised forms, not the dicts
    assert json.dumps(sent["action"]) == json.dumps(vector["action"])
    assert sent["signature"] == padded(vector["signature"])
    assert sent["nonce"] == vector["nonce"]
    assert sent["expiresAfter"] == vector["expiresAfter"]
    vault = vector["vaultAddress"]
    assert sent["vaultAddress"] == (None if vault is None else vault.lower())


# --- user-signed actions: self-consistency with eth-account --------------------------

USER_TYPES: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "withdraw3": (
        "HyperliquidTransaction:Withdraw",
        (("destination", "string"), ("amount", "string"), ("time", "uint64")),
    ),
    "usdSend": (
        "HyperliquidTransaction:UsdSend",
        (("destination", "string"), ("amount", "string"), ("time", "uint64")),
    ),
    "spotSend": (
        "HyperliquidTransaction:SpotSend",
        (("destination", "string"), ("token", "string"), ("amount", "string"), ("time", "uint64")),
    ),
    "approveAgent": (
        "HyperliquidTransaction:ApproveAgent",
        (("agentAddress", "address"), ("agentName", "string"), ("nonce", "uint64")),
    ),
}
"""VENUES.md 9.2: every struct starts with ``hyperliquidChain: string``."""
EIP712_DOMAIN = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


def rebuild_typed_data(action: dict[str, Any]) -> dict[str, Any]:
    """The EIP-712 payload of a user-signed action, from VENUES.md 9.2 alone."""
    primary, fields = USER_TYPES[action["type"]]
    fields = (("hyperliquidChain", "string"), *fields)
    return {
        "domain": {
            "name": "HyperliquidSignTransaction",
            "version": "1",
            "chainId": int(action["signatureChainId"], 16),
            "verifyingContract": H.ZERO_ADDRESS,
        },
        "types": {
            primary: [{"name": n, "type": t} for n, t in fields],
            "EIP712Domain": EIP712_DOMAIN,
        },
        "primaryType": primary,
        "message": {name: action[name] for name, _ in fields},
    }


def test_user_signed_coverage() -> None:
    kinds = Counter(v["signed_action"]["type"] for v in USER)
    assert kinds == {"withdraw3": 20, "usdSend": 20, "spotSend": 20, "approveAgent": 20}
    assert {v["is_mainnet"] for v in USER} == {True, False}
    agents = [v for v in USER if v["signed_action"]["type"] == "approveAgent"]
    assert {v["signed_action"]["agentName"] == "" for v in agents} == {True, False}


@pytest.mark.parametrize("vector", USER, ids=names(USER))
def test_user_signed_vectors_are_self_consistent(vector: dict[str, Any]) -> None:
    action = vector["signed_action"]
    assert action["hyperliquidChain"] == ("Mainnet" if vector["is_mainnet"] else "Testnet")
    assert action["signatureChainId"] == "0x66eee"
    rebuilt = rebuild_typed_data(action)
    recorded = vector["typed_data"]
    assert {k: recorded[k] for k in ("domain", "types", "primaryType")} == {
        k: rebuilt[k] for k in ("domain", "types", "primaryType")
    }
    assert recorded["message"] == action
    sig = vector["signature"]
    message = encode_typed_data(full_message=rebuilt)
    vrs = (sig["v"], int(sig["r"], 16), int(sig["s"], 16))
    assert Account.recover_message(message, vrs=vrs) == vector["address"]
    assert Account.from_key(vector["private_key"]).address == vector["address"]
    ours = Account.sign_message(message, private_key=vector["private_key"])
    assert (ours.r, ours.s, ours.v) == (vrs[1], vrs[2], vrs[0])


@pytest.mark.parametrize("vector", USER, ids=names(USER))
def test_user_signed_through_the_venue(vector: dict[str, Any]) -> None:
    """The caller sends the SDK's action minus its stamp; the daemon's body and
    signature are the SDK's (key order aside: user-signed actions are not msgpacked)."""
    signed, posted = vector["signed_action"], vector["posted_action"]
    if signed["type"] == "approveAgent" and signed["agentName"] == "":
        # unnamed agent: signed with agentName "", posted without the key
        assert posted == {k: v for k, v in signed.items() if k != "agentName"}
    else:
        assert posted == signed
    stamp = "nonce" if signed["type"] == "approveAgent" else "time"
    sent = {k: v for k, v in posted.items() if k != stamp}
    body = json.dumps({"action": sent}).encode()
    mode = Mode.LIVE if vector["is_mainnet"] else Mode.SANDBOX
    parsed = VENUE.parse(Principal("c1", mode), HttpRequest("POST", "/exchange", body=body))
    assert parsed.intent.violations == ()
    creds = VenueCredentials(
        "hyperliquid", vector["address"], Secret(vector["private_key"]), Secret(b""), {}
    )
    out = json.loads(VENUE.sign(parsed, creds, FixedClock(nonce=signed[stamp])).request.body)
    assert out["action"] == posted and out["nonce"] == vector["nonce"] == signed[stamp]
    assert out["signature"] == padded(vector["signature"])
