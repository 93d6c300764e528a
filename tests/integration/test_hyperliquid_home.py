"""Hyperliquid user-signed actions through a real daemon: funds go home only.

withdraw3 / usdSend / spotSend are signed by the trading wallet only to a
connected wallet of the same principal; approveAgent only for the agent key
stored with the principal's credentials. Signatures are recovered
independently with eth-account (the oracle).
"""

from __future__ import annotations

import json
from typing import Any

import grpc
import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from signer._proto.sequence.signer.v1 import credential_service_pb2
from tests.integration.conftest import LIVE, SANDBOX, RunningDaemon, principal, rpc_reason
from tests.integration.test_dex import sign
from tests.integration.test_withdraw import setup

USER_FIELDS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "withdraw3": ("Withdraw", [("destination", "string"), ("amount", "string"), ("time", "uint64")]),
    "usdSend": ("UsdSend", [("destination", "string"), ("amount", "string"), ("time", "uint64")]),
    "spotSend": ("SpotSend", [
        ("destination", "string"), ("token", "string"), ("amount", "string"), ("time", "uint64"),
    ]),
    "approveAgent": ("ApproveAgent", [
        ("agentAddress", "address"), ("agentName", "string"), ("nonce", "uint64"),
    ]),
}  # fmt: skip
TOKEN = "USDC:0xeb62eee3685fc4c43992febcd9e75443"


def user_signer(body: dict[str, Any]) -> str:
    """Recover who signed a user-signed body, as the venue would (eth-account)."""
    action = body["action"]
    name, fields = USER_FIELDS[action["type"]]
    primary = f"HyperliquidTransaction:{name}"
    typed = {
        "domain": {
            "name": "HyperliquidSignTransaction", "version": "1",
            "chainId": int(action["signatureChainId"], 16), "verifyingContract": "0x" + "00" * 20,
        },
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            primary: [{"name": "hyperliquidChain", "type": "string"}]
            + [{"name": n, "type": t} for n, t in fields],
        },
        "primaryType": primary,
        "message": {"agentName": "", **action},
    }  # fmt: skip
    sig = body["signature"]
    vrs = (sig["v"], int(sig["r"], 16), int(sig["s"], 16))
    return str(Account.recover_message(encode_typed_data(full_message=typed), vrs=vrs))


def last_audit(d: RunningDaemon) -> dict[str, Any]:
    return dict(json.loads(d.config.audit_path.read_bytes().splitlines()[-1]))


@pytest.mark.parametrize(
    ("kind", "mode", "chain"),
    [
        ("withdraw3", LIVE, "Mainnet"),
        ("usdSend", SANDBOX, "Testnet"),
    ],
)
def test_funds_go_to_a_connected_wallet(daemon: RunningDaemon, kind: str, mode: int, chain: str) -> None:  # fmt: skip
    trading, home = setup(daemon, mode=mode, chain_id=42161 if mode == LIVE else 421614)
    action: dict[str, Any] = {"type": kind, "destination": home, "amount": "12.5"}
    if kind == "spotSend":
        action["token"] = TOKEN
    body = json.loads(sign(daemon, "hyperliquid", {"action": action}, mode=mode).request.body)
    sent = body["action"]
    assert sent["hyperliquidChain"] == chain and sent["signatureChainId"] == "0x66eee"
    assert sent["destination"] == home and sent["amount"] == "12.5"
    assert sent["time"] == body["nonce"] > 0
    assert body["vaultAddress"] is None and body["expiresAfter"] is None
    assert user_signer(body) == trading
    record = last_audit(daemon)
    assert (record["decision"], record["class"]) == ("allow", "withdraw-home")


def test_expfail_spot_tokens_cannot_leave_under_the_shipped_policy(daemon: RunningDaemon) -> None:
    # spotSend to a connected wallet is signed once a cap names its token
    # (tests/integration/test_hyperliquid_caps.py); the shipped policy has none.
    _, home = setup(daemon)
    action = {"type": "spotSend", "destination": home, "token": TOKEN, "amount": "1"}
    with pytest.raises(grpc.RpcError) as err:
        sign(daemon, "hyperliquid", {"action": action})
    assert rpc_reason(err.value) == "POLICY_DENIED"
    assert last_audit(daemon)["rule"] == "venue.no-withdraw-cap"


@pytest.mark.parametrize("kind", ["withdraw3", "usdSend", "spotSend"])
def test_expfail_funds_to_a_stranger_denied_and_audited(daemon: RunningDaemon, kind: str) -> None:
    setup(daemon)
    action: dict[str, Any] = {"type": kind, "destination": Account.create().address, "amount": "1"}
    if kind == "spotSend":
        action["token"] = TOKEN
    with pytest.raises(grpc.RpcError) as err:
        sign(daemon, "hyperliquid", {"action": action})
    assert rpc_reason(err.value) == "POLICY_DENIED"
    record = last_audit(daemon)
    assert (record["decision"], record["rule"]) == ("deny", "venue.recipient-not-linked")


def test_expfail_another_principals_wallet_is_a_stranger(daemon: RunningDaemon) -> None:
    _, bobs_home = setup(daemon, client="bob")
    setup(daemon, client="alice")
    action = {"type": "withdraw3", "destination": bobs_home, "amount": "1"}
    with pytest.raises(grpc.RpcError) as err:
        sign(daemon, "hyperliquid", {"action": action})
    assert rpc_reason(err.value) == "POLICY_DENIED"


def test_expfail_live_home_is_not_a_sandbox_home(daemon: RunningDaemon) -> None:
    _, live_home = setup(daemon, mode=LIVE)
    setup(daemon, mode=SANDBOX, chain_id=421614)
    action = {"type": "withdraw3", "destination": live_home, "amount": "1"}
    with pytest.raises(grpc.RpcError) as err:
        sign(daemon, "hyperliquid", {"action": action}, mode=SANDBOX)
    assert rpc_reason(err.value) == "POLICY_DENIED"


def _store_agent(d: RunningDaemon, mode: int = LIVE) -> str:
    agent = Account.create()
    d.api().credentials.SetCredentials(
        credential_service_pb2.SetCredentialsRequest(
            principal=principal(mode=mode), venue="hyperliquid", api_key=agent.address,
            api_secret="0x" + agent.key.hex().removeprefix("0x"),
        )
    )  # fmt: skip
    return str(agent.address)


@pytest.mark.parametrize("named", [True, False])
def test_approve_agent_the_daemon_holds(daemon: RunningDaemon, named: bool) -> None:
    trading, _ = setup(daemon)
    agent = _store_agent(daemon)
    action: dict[str, Any] = {"type": "approveAgent", "agentAddress": agent}
    if named:
        action["agentName"] = "sequence"
    # No wallet_id: stored (agent) credentials exist, but only the trading wallet may sign.
    body = json.loads(sign(daemon, "hyperliquid", {"action": action}).request.body)
    assert body["action"]["nonce"] == body["nonce"]
    assert body["action"]["agentAddress"] == agent
    assert ("agentName" in body["action"]) is named
    assert user_signer(body) == trading


def test_expfail_approve_an_outside_agent_denied_and_audited(daemon: RunningDaemon) -> None:
    setup(daemon)
    _store_agent(daemon)
    action = {"type": "approveAgent", "agentAddress": Account.create().address}
    with pytest.raises(grpc.RpcError) as err:
        sign(daemon, "hyperliquid", {"action": action})
    assert rpc_reason(err.value) == "POLICY_DENIED"
    record = last_audit(daemon)
    assert (record["decision"], record["rule"]) == ("deny", "venue.agent-not-held")


def test_expfail_approve_agent_without_stored_agent(daemon: RunningDaemon) -> None:
    setup(daemon)
    action = {"type": "approveAgent", "agentAddress": Account.create().address}
    with pytest.raises(grpc.RpcError) as err:
        sign(daemon, "hyperliquid", {"action": action})
    assert rpc_reason(err.value) == "NO_CREDENTIALS"
