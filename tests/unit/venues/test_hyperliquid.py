"""Unit tests for signer/venues/hyperliquid.py and signer/schemes/hyperliquid.py."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy.intents import EndpointClass
from signer.domain import HttpRequest, Mode, Principal
from signer.errors import InvalidCredentialsError, InvalidRequestError, PolicyDeniedError
from signer.keystore.handles import Secret, VenueCredentials
from signer.schemes import hyperliquid as H
from signer.schemes.secp256k1 import keccak256, recover_address
from signer.venues import hyperliquid as V
from signer.venues.hyperliquid import CLASSES, HyperliquidVenue
from signer.venues.hyperliquid_user import USER_CLASSES
from tests.unit.venues.conftest import LIVE, SANDBOX, FixedClock

KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"
ADDRESS = "0x14791697260E4c9A71f18484C9f997B308e59325"
VAULT = "0x1719884eb866cb12b2287399b15f7db5e7d775ea"
BUILDER = "0x1d9470d4b963f552e6f671a81619d395877bf409"
WIRE: dict[str, Any] = {
    "a": 1,
    "b": True,
    "p": "100",
    "s": "100",
    "r": False,
    "t": {"limit": {"tif": "Gtc"}},
}
TRIGGER = {**WIRE, "t": {"trigger": {"isMarket": True, "triggerPx": "103", "tpsl": "sl"}}}
CLOID = "0x00000000000000000000000000000001"
ACTIONS: dict[str, dict[str, Any]] = {
    "order": {"type": "order", "orders": [WIRE, {**TRIGGER, "c": CLOID}], "grouping": "na"},
    "cancel": {"type": "cancel", "cancels": [{"a": 1, "o": 2**40}]},
    "cancelByCloid": {"type": "cancelByCloid", "cancels": [{"asset": 1, "cloid": CLOID}]},
    "modify": {"type": "modify", "oid": 5, "order": WIRE},
    "batchModify": {"type": "batchModify", "modifies": [{"oid": CLOID, "order": WIRE}]},
    "scheduleCancel": {"type": "scheduleCancel", "time": 123456789},
    "twapOrder": {
        "type": "twapOrder",
        "twap": {"a": 1, "b": True, "s": "10", "r": False, "m": 30, "t": True},
    },
    "twapCancel": {"type": "twapCancel", "a": 1, "t": 7},
    "updateLeverage": {"type": "updateLeverage", "asset": 1, "isCross": True, "leverage": 10},
    "updateIsolatedMargin": {
        "type": "updateIsolatedMargin",
        "asset": 1,
        "isBuy": True,
        "ntli": -1000000,
    },
    "topUpIsolatedOnlyMargin": {"type": "topUpIsolatedOnlyMargin", "asset": 1, "leverage": "5"},
    "noop": {"type": "noop"},
}


def creds(vault: str = "", api_key: str = ADDRESS, secret: str = KEY) -> VenueCredentials:
    return VenueCredentials("hyperliquid", api_key, Secret(secret), Secret(vault), {})


def req(body: object, **kw: Any) -> HttpRequest:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpRequest("POST", "/exchange", body=data, **kw)


def test_every_allowed_type_has_an_example() -> None:
    assert set(ACTIONS) == set(CLASSES)


@pytest.mark.parametrize("kind", sorted(ACTIONS))
def test_allowed_types_parse_clean(kind: str) -> None:
    intent = V.VENUE.parse(LIVE, req({"action": ACTIONS[kind]})).intent
    assert intent.violations == ()
    assert intent.endpoint == f"POST /exchange#{kind}"
    assert intent.endpoint_class is CLASSES[kind]
    assert intent.venue == "hyperliquid"


def test_classes() -> None:
    cancels = {k for k, c in CLASSES.items() if c is EndpointClass.CANCEL}
    assert cancels == {"cancel", "cancelByCloid", "scheduleCancel", "twapCancel"}
    assert all(c is EndpointClass.TRADE for k, c in CLASSES.items() if k not in cancels)


@pytest.mark.parametrize("kind", sorted(ACTIONS))
@pytest.mark.parametrize("principal", [LIVE, SANDBOX])
def test_sign_round_trip(kind: str, principal: Principal) -> None:
    venue = HyperliquidVenue()
    clock = FixedClock()
    parsed = venue.parse(principal, req({"action": ACTIONS[kind]}))
    signed = venue.sign(parsed, creds(), clock)
    assert signed.auth_headers == ()
    assert signed.request.method == "POST" and signed.request.path == "/exchange"
    assert signed.request.host == V.HOSTS[principal.mode]
    assert ("Content-Type", "application/json") in signed.request.headers
    body = json.loads(signed.request.body)
    assert list(body) == ["action", "nonce", "signature", "vaultAddress", "expiresAfter"]
    assert body["action"] == ACTIONS[kind]
    assert list(body["action"]) == list(ACTIONS[kind])
    assert body["nonce"] == 1616492376594
    assert body["expiresAfter"] == 1499827319559 + 60_000
    assert body["vaultAddress"] is None
    assert clock.scopes == [f"hyperliquid:{ADDRESS}"]
    sig = body["signature"]
    assert len(sig["r"]) == len(sig["s"]) == 66 and sig["v"] in (27, 28)
    digest = H.l1_digest(
        ACTIONS[kind],
        body["nonce"],
        None,
        body["expiresAfter"],
        mainnet=principal.mode is Mode.LIVE,
    )
    sig65 = bytes.fromhex(sig["r"][2:] + sig["s"][2:]) + bytes((sig["v"],))
    assert recover_address(digest, sig65) == ADDRESS
    # Compact JSON, exactly what canonical_json produces.
    assert b" " not in signed.request.body


def test_expires_after_changes_the_hash() -> None:
    action = ACTIONS["noop"]
    without = H.connection_id(action, 5)
    with_exp = H.connection_id(action, 5, None, 1000)
    assert without != with_exp
    data = (
        H.pack_action(action)
        + (5).to_bytes(8, "big")
        + b"\x00"
        + b"\x00"
        + (1000).to_bytes(8, "big")
    )
    assert H.connection_id(action, 5, None, 1000) == keccak256(data)


def test_window_none_omits_expires_after() -> None:
    venue = HyperliquidVenue(expires_window_ms=None)
    signed = venue.sign(venue.parse(LIVE, req({"action": ACTIONS["noop"]})), creds(), FixedClock())
    body = json.loads(signed.request.body)
    assert body["expiresAfter"] is None
    digest = H.l1_digest(ACTIONS["noop"], body["nonce"], None, None, mainnet=True)
    sig = body["signature"]
    sig65 = bytes.fromhex(sig["r"][2:] + sig["s"][2:]) + bytes((sig["v"],))
    assert recover_address(digest, sig65) == ADDRESS


@pytest.mark.parametrize("window", [0, -1, 3_600_001])
def test_window_bounds(window: int) -> None:
    with pytest.raises(ValueError, match="expires_window_ms"):
        HyperliquidVenue(expires_window_ms=window)


@pytest.mark.parametrize("sent", [None, VAULT, VAULT.upper().replace("0X", "0x")])
def test_stored_vault_is_hashed_and_sent(sent: str | None) -> None:
    venue = HyperliquidVenue()
    body: dict[str, Any] = {"action": ACTIONS["noop"]}
    if sent is not None:
        body["vaultAddress"] = sent
    parsed = venue.parse(LIVE, req(body))
    assert parsed.intent.violations == ()
    signed = venue.sign(parsed, creds(vault=VAULT), FixedClock())
    out = json.loads(signed.request.body)
    assert out["vaultAddress"] == VAULT
    digest = H.l1_digest(ACTIONS["noop"], out["nonce"], VAULT, out["expiresAfter"], mainnet=True)
    sig = out["signature"]
    sig65 = bytes.fromhex(sig["r"][2:] + sig["s"][2:]) + bytes((sig["v"],))
    assert recover_address(digest, sig65) == ADDRESS


def test_bad_stored_vault_is_a_credentials_error() -> None:
    parsed = V.VENUE.parse(LIVE, req({"action": ACTIONS["noop"]}))
    with pytest.raises(InvalidCredentialsError):
        V.VENUE.sign(parsed, creds(vault="not-a-vault"), FixedClock())


def test_api_key_must_be_the_keys_address() -> None:
    parsed = V.VENUE.parse(LIVE, req({"action": ACTIONS["noop"]}))
    with pytest.raises(PolicyDeniedError):
        V.VENUE.sign(parsed, creds(api_key=VAULT), FixedClock())
    with pytest.raises(InvalidCredentialsError):
        V.VENUE.sign(parsed, creds(api_key="agent"), FixedClock())
    # Lower-case api_key of the right address is the same address.
    V.VENUE.sign(parsed, creds(api_key=ADDRESS.lower()), FixedClock())


def test_builder_allowlist() -> None:
    action = {**ACTIONS["order"], "builder": {"b": BUILDER, "f": 10}}
    assert V.VENUE.parse(LIVE, req({"action": action})).intent.violations
    venue = HyperliquidVenue(builders=[BUILDER.upper().replace("0X", "0x")], max_builder_fee=10)
    assert venue.parse(LIVE, req({"action": action})).intent.violations == ()
    too_much = {**action, "builder": {"b": BUILDER, "f": 11}}
    assert venue.parse(LIVE, req({"action": too_much})).intent.violations


def test_large_ints_pack_as_uint64() -> None:
    packed = H.pack_action({"o": 2**40})
    assert packed.endswith(b"\xcf" + (2**40).to_bytes(8, "big"))
    assert H.pack_action({"o": 2**31}).endswith(b"\xce" + (2**31).to_bytes(4, "big"))


@pytest.mark.parametrize(
    "value", [1.5, b"x", (1,), 2**64, -(2**63) - 1, {1: 2}, __import__("decimal").Decimal("1")]
)
def test_pack_refuses_non_json_values(value: object) -> None:
    with pytest.raises(ValueError, match="hyperliquid: "):
        H.pack_action({"v": value})


def test_nonce_and_expiry_are_u64() -> None:
    with pytest.raises(ValueError, match="nonce"):
        H.connection_id({"type": "noop"}, -1)
    with pytest.raises(ValueError, match="expiresAfter"):
        H.connection_id({"type": "noop"}, 1, None, 2**64)


def test_vault_from_secret() -> None:
    assert H.vault_from_secret(Secret(b"")) is None
    assert H.vault_from_secret(Secret(VAULT.upper().replace("0X", "0x"))) == VAULT
    with pytest.raises(ValueError, match="passphrase"):
        H.vault_from_secret(Secret("0x12"))


def test_repr_is_redacted() -> None:
    signer = H.HyperliquidSigner.from_secret(Secret(KEY))
    assert KEY[2:] not in repr(signer) and ADDRESS in repr(signer)


def test_sandbox_host_and_mode() -> None:
    parsed = V.VENUE.parse(SANDBOX, req({"action": ACTIONS["noop"]}))
    assert parsed.host == "api.hyperliquid-testnet.xyz"
    assert parsed.intent.mode == "sandbox"


def test_passthrough_headers_kept() -> None:
    parsed = V.VENUE.parse(LIVE, req({"action": ACTIONS["noop"]}, headers=(("User-Agent", "t"),)))
    signed = V.VENUE.sign(parsed, creds(), FixedClock())
    assert ("User-Agent", "t") in signed.request.headers


# --- Hypothesis: random bodies only raise InvalidRequestError or give intents --------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=8),
    st.sampled_from(["order", "cancel", "noop", "withdraw3", "na", "Gtc", "100", CLOID]),
)
_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(["type", "a", "b", "p", "s", "r", "t", "c", "orders", "x", "limit"]),
            inner,
            max_size=6,
        ),
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    action=_json,
    extra=st.dictionaries(
        st.sampled_from(["vaultAddress", "nonce", "expiresAfter", "signature", "zz"]), _json
    ),
)
def test_random_actions_never_crash(action: object, extra: dict[str, object]) -> None:
    body = {"action": action, **extra}
    parsed = V.VENUE.parse(LIVE, req(body))
    intent = parsed.intent
    if intent.endpoint is None:
        return
    assert isinstance(action, dict)
    if action.get("type") in USER_CLASSES:
        # User-signed types: a random body never passes without its required fields.
        assert intent.violations or intent.recipient or parsed.binding
        return
    assert action.get("type") in CLASSES
    if not intent.violations:
        # Everything that passes parse can be hashed (the schemas admit packable values only).
        signed = HyperliquidVenue().sign(parsed, creds(), FixedClock())
        assert json.loads(signed.request.body)["action"] == action


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_crash(data: bytes) -> None:
    with contextlib.suppress(InvalidRequestError):
        V.VENUE.parse(LIVE, req(data))
