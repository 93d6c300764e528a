"""Must-fail corpus for Hyperliquid user-signed actions (withdraw home, agent approval).

Under the SHIPPED policy (which enables ``withdraw-home`` and
``approve-agent``), every request here is refused: by the strict parser
(violations), by ``venue.recipient-not-linked`` (the pipeline found no
connected wallet for the destination: ``recipient_linked`` stays False), or
it never matches. Controls show the well-formed request to a linked wallet is
allowed, so the denials are not vacuous. ``sign()`` is a tripwire.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from policy.document import default_document_bytes, load_document
from policy.engine import decide
from signer.domain import HttpRequest, Mode, Principal
from signer.errors import PolicyDeniedError
from signer.keystore.handles import Secret, VenueCredentials
from signer.venues import hyperliquid
from signer.venues.base import Binding
from tests.unit.venues.conftest import FixedClock

LIVE = Principal("attacker-client", Mode.LIVE)
SANDBOX = Principal("attacker-client", Mode.SANDBOX)
KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"
ADDRESS = "0x14791697260E4c9A71f18484C9f997B308e59325"
HOME = "0x5e9ee1089755c3435139848e47e6635505d5a13a"
TOKEN = "USDC:0xeb62eee3685fc4c43992febcd9e75443"
POLICY = load_document(default_document_bytes())
# The shipped document has no spot-token cap (spot tokens cannot leave); this one adds one.
SPOT_CAP = f'[limits.withdraw.hyperliquid-spot."{TOKEN}"]\nper_tx = "50"\nper_24h = "100"\n'
POLICY_SPOT = load_document(default_document_bytes() + b"\n" + SPOT_CAP.encode())
W = {"type": "withdraw3", "destination": HOME, "amount": "10"}
SPOT = {"type": "spotSend", "destination": HOME, "token": TOKEN, "amount": "10"}
AGENT = {"type": "approveAgent", "agentAddress": HOME, "agentName": "bot"}


def act(action: object, **extra: object) -> HttpRequest:
    return HttpRequest("POST", "/exchange", body=json.dumps({"action": action, **extra}).encode())


CASES: dict[str, tuple[Principal, HttpRequest]] = {
    "time_sent": (LIVE, act({**W, "time": 1})),
    "nonce_sent_on_agent": (LIVE, act({**AGENT, "nonce": 1})),
    "nonce_key_on_withdraw": (LIVE, act({**W, "nonce": 1})),
    "vault_address": (LIVE, act(W, vaultAddress=HOME)),
    "expires_after": (LIVE, act(W, expiresAfter=1)),
    "signature_sent": (LIVE, act(W, signature={"r": "0x1", "s": "0x1", "v": 27})),
    "mainnet_chain_from_sandbox": (SANDBOX, act({**W, "hyperliquidChain": "Mainnet"})),
    "testnet_chain_from_live": (LIVE, act({**W, "hyperliquidChain": "Testnet"})),
    "chain_case": (LIVE, act({**W, "hyperliquidChain": "mainnet"})),
    "signature_chain_mainnet_eth": (LIVE, act({**W, "signatureChainId": "0x1"})),
    "signature_chain_int": (LIVE, act({**W, "signatureChainId": 421614})),
    "extra_field": (LIVE, act({**W, "sourceDex": ""})),
    "destination_missing": (LIVE, act({"type": "withdraw3", "amount": "1"})),
    "destination_short": (LIVE, act({**W, "destination": HOME[:-2]})),
    "destination_list": (LIVE, act({**W, "destination": [HOME]})),
    "destination_padded": (LIVE, act({**W, "destination": " " + HOME})),
    "destination_bad_checksum": (
        LIVE,
        act({**W, "destination": "0x5E9ee1089755c3435139848e47e6635505d5a13a"}),
    ),
    "amount_zero": (LIVE, act({**W, "amount": "0.0"})),
    "amount_negative": (LIVE, act({**W, "amount": "-1"})),
    "amount_exponent": (LIVE, act({**W, "amount": "1e9"})),
    "amount_float": (LIVE, act({**W, "amount": 10.0})),
    "amount_leading_zero": (LIVE, act({**W, "amount": "010"})),
    "amount_nine_decimals": (LIVE, act({**W, "amount": "1.000000001"})),
    "spot_token_missing": (LIVE, act({k: v for k, v in SPOT.items() if k != "token"})),
    "spot_token_bad": (LIVE, act({**SPOT, "token": "USDC"})),
    "agent_address_bad": (LIVE, act({**AGENT, "agentAddress": "0x12"})),
    "agent_name_control": (LIVE, act({**AGENT, "agentName": "a\nb"})),
    "agent_name_long": (LIVE, act({**AGENT, "agentName": "x" * 33})),
    "agent_name_empty": (LIVE, act({**AGENT, "agentName": ""})),
    "duplicate_destination": (
        LIVE,
        HttpRequest(
            "POST",
            "/exchange",
            body=b'{"action":{"type":"withdraw3","destination":"'
            + HOME.encode()
            + b'","amount":"1","destination":"0x'
            + b"11" * 20
            + b'"}}',
        ),
    ),
    # Well-formed, but nobody proved the destination: recipient_linked is False.
    "withdraw_unlinked": (LIVE, act(W)),
    "usd_send_unlinked": (SANDBOX, act({**W, "type": "usdSend"})),
    "spot_send_unlinked": (LIVE, act(SPOT)),
    # Other fund-moving types never match, whatever their shape.
    "send_asset": (LIVE, act({**SPOT, "type": "sendAsset"})),
    "usd_class_transfer": (LIVE, act({"type": "usdClassTransfer", "amount": "1", "toPerp": True})),
}


@pytest.fixture
def _sign_is_a_tripwire(monkeypatch: pytest.MonkeyPatch) -> None:
    def tripwire(*_: object) -> None:
        raise AssertionError("sign() reached for a must-fail request")

    monkeypatch.setattr(hyperliquid.VENUE, "sign", tripwire)


@pytest.mark.usefixtures("_sign_is_a_tripwire")
@pytest.mark.parametrize(
    ("principal", "request_"), CASES.values(), ids=[f"expfail_{n}" for n in CASES]
)
def test_refused(principal: Principal, request_: HttpRequest) -> None:
    intent = hyperliquid.VENUE.parse(principal, request_).intent
    assert intent.endpoint is None or intent.violations or not intent.recipient_linked
    assert not decide(POLICY, intent).allowed


@pytest.mark.parametrize("name", ["withdraw_unlinked", "usd_send_unlinked", "spot_send_unlinked"])
def test_unlinked_is_denied_by_the_recipient_rule(name: str) -> None:
    principal, request_ = CASES[name]
    intent = hyperliquid.VENUE.parse(principal, request_).intent
    assert (intent.violations, intent.recipient) == ((), HOME)
    assert decide(POLICY, intent).rule_id == "venue.recipient-not-linked"
    # Control: the same request to a proven wallet is allowed.
    linked = dataclasses.replace(intent, recipient_linked=True)
    assert decide(POLICY_SPOT, linked).allowed


def linked(action: dict[str, Any]) -> Any:
    intent = hyperliquid.VENUE.parse(LIVE, act(action)).intent
    assert intent.violations == () and intent.recipient == HOME
    return dataclasses.replace(intent, recipient_linked=True)


@pytest.mark.parametrize(
    ("action", "spend"),
    [
        (W, ("hyperliquid", "USDC", "10")),
        ({**W, "type": "usdSend"}, ("hyperliquid", "USDC", "10")),
        (SPOT, ("hyperliquid-spot", TOKEN, "10")),
    ],
)
def test_withdraw_home_names_the_cap_it_counts_against(action: Any, spend: Any) -> None:
    intent = linked(action)
    assert (intent.spend_chain, intent.spend_token, intent.spend_amount) == spend


def test_expfail_spot_token_without_a_cap_cannot_leave() -> None:
    decision = decide(POLICY, linked(SPOT))
    assert (decision.allowed, decision.rule_id) == (False, "venue.no-withdraw-cap")


def test_expfail_spot_token_named_like_a_capped_one_is_not_covered() -> None:
    # Same name, another token id: the cap is for the exact NAME:0x<id> signed.
    other = {**SPOT, "token": "USDC:0x" + "ab" * 16}
    decision = decide(POLICY_SPOT, linked(other))
    assert (decision.allowed, decision.rule_id) == (False, "venue.no-withdraw-cap")


@pytest.mark.parametrize(
    ("action", "allowed"),
    [
        ({**W, "amount": "25000"}, True),
        ({**W, "amount": "25000.00000001"}, False),
        ({**W, "type": "usdSend", "amount": "25001"}, False),
        ({**SPOT, "amount": "50"}, True),
        ({**SPOT, "amount": "50.1"}, False),
    ],
)
def test_expfail_amount_over_the_per_tx_cap_is_denied(action: Any, allowed: bool) -> None:
    decision = decide(POLICY_SPOT, linked(action))
    assert decision.allowed is allowed
    assert decision.rule_id == ("venue.endpoint-allowed" if allowed else "limit.per-tx")


def test_mixed_case_destination_is_normalised_for_the_link_check() -> None:
    intent = hyperliquid.VENUE.parse(LIVE, act({**W, "destination": HOME.upper()[:2].lower() + HOME[2:].upper()})).intent  # fmt: skip
    assert intent.violations == () and intent.recipient == HOME


def test_approve_agent_binds_trading_wallet_and_held_agent() -> None:
    parsed = hyperliquid.VENUE.parse(SANDBOX, act(AGENT))
    assert parsed.intent.violations == ()
    assert parsed.intent.endpoint_class == "approve-agent"
    assert parsed.binding == Binding(trading_wallet=True, held_agent=HOME)
    assert decide(POLICY, parsed.intent).allowed  # the held-agent check follows in the pipeline


def test_user_action_key_not_matching_api_key_is_refused() -> None:
    parsed = hyperliquid.VENUE.parse(LIVE, act(W))
    creds = VenueCredentials("hyperliquid", HOME, Secret(KEY), Secret(b""), {})
    with pytest.raises(PolicyDeniedError):
        hyperliquid.HyperliquidVenue().sign(parsed, creds, FixedClock())


def test_user_action_signed_body_is_exactly_the_parsed_meaning() -> None:
    parsed = hyperliquid.VENUE.parse(LIVE, act({**W, "signatureChainId": "0xa4b1"}))
    creds = VenueCredentials("hyperliquid", ADDRESS, Secret(KEY), Secret(b""), {})
    body: dict[str, Any] = json.loads(
        hyperliquid.HyperliquidVenue().sign(parsed, creds, FixedClock(nonce=77)).request.body
    )
    assert body["action"] == {
        "type": "withdraw3", "signatureChainId": "0xa4b1", "hyperliquidChain": "Mainnet",
        "destination": HOME, "amount": "10", "time": 77,
    }  # fmt: skip
    assert (body["nonce"], body["vaultAddress"], body["expiresAfter"]) == (77, None, None)
