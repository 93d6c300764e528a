"""Must-fail corpus for Hyperliquid: every request here must be refused.

"Refused" means: ``parse`` raises ``InvalidRequestError``/``ModeMismatchError``
(envelope), or the intent has no endpoint or carries violations, and the
default policy with hyperliquid enabled for every mode and class denies it.
``sign()`` is a tripwire for the whole corpus. Positive controls prove the
document allows the undisguised requests, so the denials are not vacuous.

SECURITY: the signature covers only a hash of the action, so the whole
defence is the decoded ``action.type`` allowlist and the exact per-type
schema: an agent key can sign ``agentSendAsset``/``vaultTransfer``/
``subAccountTransfer`` L1 actions that move funds out.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from policy.engine import decide
from signer.domain import HttpRequest, Mode, Principal
from signer.errors import InvalidRequestError, ModeMismatchError, PolicyDeniedError
from signer.keystore.handles import Secret, VenueCredentials
from signer.venues import hyperliquid
from tests.security.test_expfail_okx import enabled_policy
from tests.unit.venues.conftest import FixedClock

LIVE = Principal("attacker-client", Mode.LIVE)
SANDBOX = Principal("attacker-client", Mode.SANDBOX)
KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"
ADDRESS = "0x14791697260E4c9A71f18484C9f997B308e59325"
VAULT = "0x1719884eb866cb12b2287399b15f7db5e7d775ea"
OTHER = "0x5e9ee1089755c3435139848e47e6635505d5a13a"
BUILDER = "0x1d9470d4b963f552e6f671a81619d395877bf409"
WIRE: dict[str, Any] = {
    "a": 4,
    "b": True,
    "p": "1670.1",
    "s": "0.0147",
    "r": False,
    "t": {"limit": {"tif": "Ioc"}},
}
ORDER: dict[str, Any] = {"type": "order", "orders": [WIRE], "grouping": "na"}

# venue_endpoints.json "hyperliquid" deny list (action types).
DENY = [
    "withdraw3", "usdSend", "spotSend", "sendAsset", "sendToEvmWithData", "agentSendAsset",
    "vaultTransfer", "vaultDistribute", "subAccountTransfer", "subAccountSpotTransfer",
    "usdClassTransfer", "cDeposit", "cWithdraw", "tokenDelegate", "hip3LiquidatorTransfer",
    "borrowLend", "reserveRequestWeight", "gossipPriorityBid", "approveAgent",
    "approveBuilderFee", "convertToMultiSigUser", "multiSig", "linkStakingUser",
    "stakingLinkDisableTradingUser", "createSubAccount", "subAccountModify", "createVault",
    "vaultModify", "userDexAbstraction", "userSetAbstraction", "agentEnableDexAbstraction",
    "agentSetAbstraction", "userPortfolioMargin", "evmUserModify", "spotUser", "spotDeploy",
    "perpDeploy", "finalizeEvmContract", "activateOutcomeDeployer", "userOutcome",
    "authorizeAqav2Role", "CValidatorAction", "CSignerAction", "validatorL1Stream",
    "setReferrer", "registerReferrer", "setDisplayName", "claimRewards",
]  # fmt: skip
# Plausible bodies for the fund-moving ones (SDK field names).
DENY_BODIES: dict[str, dict[str, Any]] = {
    "withdraw3": {"destination": OTHER, "amount": "1000", "time": 1},
    "usdSend": {"destination": OTHER, "amount": "1000", "time": 1},
    "agentSendAsset": {"destination": OTHER, "token": "USDC", "amount": "1000"},
    "vaultTransfer": {"vaultAddress": OTHER, "isDeposit": True, "usd": 1000000000},
    "subAccountTransfer": {"subAccountUser": OTHER, "isDeposit": True, "usd": 10},
    "approveAgent": {"agentAddress": OTHER, "agentName": "x", "nonce": 1},
    "approveBuilderFee": {"maxFeeRate": "1%", "builder": OTHER, "nonce": 1},
}

POLICY = enabled_policy("hyperliquid")


def post(body: object, path: str = "/exchange", **kw: Any) -> HttpRequest:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpRequest("POST", path, body=data, **kw)


def act(action: object, **extra: object) -> HttpRequest:
    return post({"action": action, **extra})


def reordered(d: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: d[k] for k in keys}


CASES: dict[str, tuple[Principal, HttpRequest]] = {
    **{
        f"deny_{t}": (LIVE, act({"type": t, **DENY_BODIES.get(t, {})}))
        for t in DENY
    },
    **{f"deny_sandbox_{t}": (SANDBOX, act({"type": t, **DENY_BODIES[t]})) for t in DENY_BODIES},
    # Type disguises.
    "type_case_Order": (LIVE, act({**ORDER, "type": "Order"})),
    "type_case_ORDER": (LIVE, act({**ORDER, "type": "ORDER"})),
    "type_case_withdraw": (LIVE, act({"type": "Withdraw3", **DENY_BODIES["withdraw3"]})),
    "type_trailing_space": (LIVE, act({**ORDER, "type": "order "})),
    "type_lookalike": (LIVE, act({**ORDER, "type": "\u043erder"})),
    "type_missing": (LIVE, act({"orders": [WIRE], "grouping": "na"})),
    "type_not_string": (LIVE, act({**ORDER, "type": ["order"]})),
    "action_not_object": (LIVE, act([ORDER])),
    "action_missing": (LIVE, post({"vaultAddress": VAULT})),
    "duplicate_type_key": (
        LIVE,
        post(b'{"action":{"type":"order","type":"withdraw3","destination":"x"}}'),
    ),
    "duplicate_type_key_allowed_last": (
        LIVE,
        post(
            b'{"action":{"type":"withdraw3","orders":[],"grouping":"na","type":"order"}}'
        ),
    ),
    "duplicate_action_key": (
        LIVE,
        post(b'{"action":' + json.dumps(ORDER).encode() + b',"action":{"type":"noop"}}'),
    ),
    "duplicate_wire_key": (
        LIVE,
        post(
            b'{"action":{"type":"order","orders":[{"a":4,"b":true,"p":"1","s":"1","s":"1000",'
            b'"r":false,"t":{"limit":{"tif":"Ioc"}}}],"grouping":"na"}}'
        ),
    ),
    # Extra keys (fund-moving fields smuggled into allowed types).
    "withdraw_fields_in_order": (LIVE, act({**ORDER, "destination": OTHER, "amount": "1"})),
    "extra_key_in_wire": (LIVE, act({**ORDER, "orders": [{**WIRE, "destination": OTHER}]})),
    "extra_key_in_tif": (
        LIVE,
        act({**ORDER, "orders": [{**WIRE, "t": {"limit": {"tif": "Ioc", "x": 1}}}]}),
    ),
    "two_order_types": (
        LIVE,
        act({**ORDER, "orders": [{**WIRE, "t": {"limit": {"tif": "Ioc"}, "trigger": {}}}]}),
    ),
    "vault_transfer_fields_in_noop": (LIVE, act({"type": "noop", "vaultAddress": OTHER})),
    "sub_account_fields_in_cancel": (
        LIVE,
        act({"type": "cancel", "cancels": [{"a": 1, "o": 2}], "subAccountUser": OTHER}),
    ),
    "extra_top_level": (LIVE, act(ORDER, destination=OTHER)),
    # Wrong key order (msgpack hashes insertion order).
    "order_keys_reordered": (LIVE, act(reordered(ORDER, "orders", "type", "grouping"))),
    "wire_keys_reordered": (
        LIVE,
        act({**ORDER, "orders": [reordered(WIRE, "b", "a", "p", "s", "r", "t")]}),
    ),
    "cancel_keys_reordered": (
        LIVE,
        act({"type": "cancel", "cancels": [{"o": 2, "a": 1}]}),
    ),
    # Builder fees.
    "builder_not_allowlisted": (LIVE, act({**ORDER, "builder": {"b": BUILDER, "f": 10}})),
    "builder_before_grouping": (
        LIVE,
        act({"type": "order", "orders": [WIRE], "builder": {"b": BUILDER, "f": 1}, "grouping": "na"}),
    ),
    # Caller-stamped fields.
    "caller_nonce": (LIVE, act(ORDER, nonce=1)),
    "caller_signature": (LIVE, act(ORDER, signature={"r": "0x1", "s": "0x2", "v": 27})),
    "caller_expires_after": (LIVE, act(ORDER, expiresAfter=99999999999999)),
    "caller_expires_after_null": (LIVE, act(ORDER, expiresAfter=None)),
    "vault_not_address": (LIVE, act(ORDER, vaultAddress="vault-1")),
    "vault_not_string": (LIVE, act(ORDER, vaultAddress=1)),
    # Value types.
    "float_price": (
        LIVE,
        post(
            b'{"action":{"type":"order","orders":[{"a":4,"b":true,"p":1670.1,"s":"1",'
            b'"r":false,"t":{"limit":{"tif":"Ioc"}}}],"grouping":"na"}}'
        ),
    ),
    "float_size_exp": (
        LIVE,
        post(
            b'{"action":{"type":"order","orders":[{"a":4,"b":true,"p":"1","s":1e3,'
            b'"r":false,"t":{"limit":{"tif":"Ioc"}}}],"grouping":"na"}}'
        ),
    ),
    "int_price": (LIVE, act({**ORDER, "orders": [{**WIRE, "p": 1670}]})),
    "negative_size": (LIVE, act({**ORDER, "orders": [{**WIRE, "s": "-1"}]})),
    "asset_as_string": (LIVE, act({**ORDER, "orders": [{**WIRE, "a": "4"}]})),
    "asset_as_bool": (LIVE, act({**ORDER, "orders": [{**WIRE, "a": True}]})),
    "bool_as_int": (LIVE, act({**ORDER, "orders": [{**WIRE, "b": 1}]})),
    "bad_tif": (LIVE, act({**ORDER, "orders": [{**WIRE, "t": {"limit": {"tif": "gtc"}}}]})),
    "bad_grouping": (LIVE, act({**ORDER, "grouping": "NA"})),
    "empty_orders": (LIVE, act({**ORDER, "orders": []})),
    "huge_oid": (LIVE, act({"type": "cancel", "cancels": [{"a": 1, "o": 2**64}]})),
    "upper_case_cloid": (
        LIVE,
        act({**ORDER, "orders": [{**WIRE, "c": "0x0000000000000000000000000000000A"}]}),
    ),
    "nan": (LIVE, post(b'{"action":{"type":"scheduleCancel","time":NaN}}')),
    "leverage_zero": (
        LIVE,
        act({"type": "updateLeverage", "asset": 1, "isCross": True, "leverage": 0}),
    ),
    # Envelope and paths.
    "path_info": (LIVE, post({"action": ORDER}, "/info")),
    "path_trailing_slash": (LIVE, post({"action": ORDER}, "/exchange/")),
    "path_case": (LIVE, post({"action": ORDER}, "/Exchange")),
    "path_double_slash": (LIVE, post({"action": ORDER}, "//exchange")),
    "path_dotdot": (LIVE, post({"action": ORDER}, "/info/../exchange")),
    "path_pct": (LIVE, post({"action": ORDER}, "/%65xchange")),
    "path_fragment": (LIVE, post({"action": ORDER}, "/exchange#order")),
    "path_query": (LIVE, post({"action": ORDER}, "/exchange?type=order")),
    "path_lookalike": (LIVE, post({"action": ORDER}, "/\u0435xchange")),
    "query_string": (LIVE, HttpRequest("POST", "/exchange", query="nonce=1", body=json.dumps({"action": ORDER}).encode())),
    "get_method": (LIVE, HttpRequest("GET", "/exchange", body=json.dumps({"action": ORDER}).encode())),
    "lowercase_method": (LIVE, HttpRequest("post", "/exchange", body=json.dumps({"action": ORDER}).encode())),
    "form_body": (LIVE, post(b"action=order")),
    "array_body": (LIVE, post([{"action": ORDER}])),
    "content_type_form": (
        LIVE,
        post({"action": ORDER}, headers=(("Content-Type", "application/x-www-form-urlencoded"),)),
    ),
    "auth_header": (LIVE, post({"action": ORDER}, headers=(("Authorization", "x"),))),
    "testnet_host_for_live": (LIVE, post({"action": ORDER}, host="api.hyperliquid-testnet.xyz")),
    "live_host_for_sandbox": (SANDBOX, post({"action": ORDER}, host="api.hyperliquid.xyz")),
    "foreign_host": (LIVE, post({"action": ORDER}, host="api.hyperliquid.xyz.evil.example")),
}  # fmt: skip


@pytest.fixture
def _sign_is_a_tripwire(monkeypatch: pytest.MonkeyPatch) -> None:
    def tripwire(*_: object) -> None:
        raise AssertionError("sign() reached for a must-fail request")

    monkeypatch.setattr(hyperliquid.VENUE, "sign", tripwire)


def test_deny_list_is_complete() -> None:
    assert len(DENY) == 48 == len(set(DENY))
    assert not set(DENY) & set(hyperliquid.CLASSES)


@pytest.mark.usefixtures("_sign_is_a_tripwire")
@pytest.mark.parametrize(
    ("principal", "request_"), CASES.values(), ids=[f"expfail_{n}" for n in CASES]
)
def test_refused(principal: Principal, request_: HttpRequest) -> None:
    try:
        parsed = hyperliquid.VENUE.parse(principal, request_)
    except (InvalidRequestError, ModeMismatchError):
        return
    intent = parsed.intent
    assert intent.endpoint is None or intent.violations
    assert not decide(POLICY, intent).allowed


CONTROLS: dict[str, tuple[Principal, HttpRequest]] = {
    "order": (LIVE, act(ORDER)),
    "order_with_own_vault": (LIVE, act(ORDER, vaultAddress=VAULT)),
    "cancel": (SANDBOX, act({"type": "cancel", "cancels": [{"a": 1, "o": 2}]})),
    "noop": (LIVE, act({"type": "noop"})),
    "live_host": (LIVE, post({"action": ORDER}, host="api.hyperliquid.xyz")),
}


@pytest.mark.parametrize(
    ("principal", "request_"), CONTROLS.values(), ids=[f"control_{n}" for n in CONTROLS]
)
def test_controls_are_allowed(principal: Principal, request_: HttpRequest) -> None:
    intent = hyperliquid.VENUE.parse(principal, request_).intent
    assert intent.violations == ()
    assert decide(POLICY, intent).allowed


# The sign() checks run on a separate instance (the corpus trips on VENUE.sign).
SIGNING = hyperliquid.HyperliquidVenue()


def creds(vault: str = "", api_key: str = ADDRESS) -> VenueCredentials:
    return VenueCredentials("hyperliquid", api_key, Secret(KEY), Secret(vault), {})


@pytest.mark.parametrize(
    ("stored", "sent"),
    [("", VAULT), (VAULT, OTHER), (OTHER, VAULT)],
    ids=["no_stored_vault", "other_vault", "stored_other"],
)
def test_vault_not_the_stored_one_is_refused_at_sign(stored: str, sent: str) -> None:
    parsed = hyperliquid.VENUE.parse(LIVE, act(ORDER, vaultAddress=sent))
    assert decide(POLICY, parsed.intent).allowed  # the address is only known at sign()
    with pytest.raises(PolicyDeniedError):
        SIGNING.sign(parsed, creds(stored), FixedClock())


def test_key_not_matching_api_key_is_refused() -> None:
    parsed = hyperliquid.VENUE.parse(LIVE, act(ORDER))
    with pytest.raises(PolicyDeniedError):
        SIGNING.sign(parsed, creds(api_key=OTHER), FixedClock())


def test_sign_refuses_violating_parse() -> None:
    parsed = hyperliquid.VENUE.parse(LIVE, act(ORDER, nonce=1))
    with pytest.raises(PolicyDeniedError):
        SIGNING.sign(parsed, creds(), FixedClock())
