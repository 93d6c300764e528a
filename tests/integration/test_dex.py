"""Hyperliquid and Polymarket through a real daemon, signatures recovered with eth-account."""

from __future__ import annotations

import base64
import json
import secrets

import grpc
import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from signer._proto.sequence.signer.v1 import common_pb2, credential_service_pb2, signing_service_pb2
from signer._proto.sequence.signer.v1 import wallet_service_pb2 as w
from signer.schemes.hyperliquid import connection_id
from tests.integration.conftest import LIVE, SANDBOX, RunningDaemon, principal, rpc_reason

ORDER_ACTION = {
    "type": "order",
    "orders": [
        {
            "a": 4,
            "b": True,
            "p": "1670.1",
            "s": "0.0147",
            "r": False,
            "t": {"limit": {"tif": "Ioc"}},
        }
    ],
    "grouping": "na",
}
CTF_V2 = "0xE111180000d2663C0091e4f400237545B87B996B"


def sign(d: RunningDaemon, venue: str, body: object, mode: int = LIVE, wallet_id: str = "") -> signing_service_pb2.SignVenueRequestResponse:  # fmt: skip
    return d.api().signing.SignVenueRequest(
        signing_service_pb2.SignVenueRequestRequest(
            principal=principal(mode=mode), venue=venue, wallet_id=wallet_id,
            request=common_pb2.HttpRequest(
                method="POST", path="/exchange" if venue == "hyperliquid" else "/order",
                body=json.dumps(body, separators=(",", ":")).encode(),
                headers={"Content-Type": "application/json"},
            ),
        )
    )  # fmt: skip


def agent_signer(body: dict[str, object], source: str) -> str:
    """Recover the signer of a Hyperliquid L1 body independently (eth-account)."""
    cid = connection_id(body["action"], body["nonce"], None, body["expiresAfter"])  # type: ignore[arg-type]
    typed = {
        "domain": {
            "name": "Exchange",
            "version": "1",
            "chainId": 1337,
            "verifyingContract": "0x" + "00" * 20,
        },
        "types": {
            "EIP712Domain": [
                {"name": n, "type": t}
                for n, t in (
                    ("name", "string"),
                    ("version", "string"),
                    ("chainId", "uint256"),
                    ("verifyingContract", "address"),
                )
            ],
            "Agent": [
                {"name": "source", "type": "string"},
                {"name": "connectionId", "type": "bytes32"},
            ],
        },
        "primaryType": "Agent",
        "message": {"source": source, "connectionId": cid},
    }
    sig = body["signature"]
    vrs = (sig["v"], int(sig["r"], 16), int(sig["s"], 16))  # type: ignore[index]
    return str(Account.recover_message(encode_typed_data(full_message=typed), vrs=vrs))


@pytest.mark.parametrize(
    ("mode", "source", "host"),
    [(LIVE, "a", "api.hyperliquid.xyz"), (SANDBOX, "b", "api.hyperliquid-testnet.xyz")],
)
def test_hyperliquid_order_signed_by_the_trading_wallet(daemon: RunningDaemon, mode: int, source: str, host: str) -> None:  # fmt: skip
    wallet = (
        daemon.api()
        .wallets.CreateTradingWallet(w.CreateTradingWalletRequest(principal=principal(mode=mode)))
        .wallet
    )
    resp = sign(
        daemon, "hyperliquid", {"action": ORDER_ACTION}, mode=mode, wallet_id=wallet.wallet_id
    )
    assert resp.request.host == host
    body = json.loads(resp.request.body)
    assert (
        body["action"] == ORDER_ACTION
        and body["nonce"] > 0
        and body["expiresAfter"] > body["nonce"]
    )
    assert agent_signer(body, source) == wallet.address
    # The other source would not verify for this key: live and sandbox never meet.
    assert agent_signer(body, "b" if source == "a" else "a") != wallet.address


@pytest.mark.parametrize(
    "action_type",
    ["withdraw3", "usdSend", "agentSendAsset", "vaultTransfer", "approveAgent", "spotSend"],
)
def test_expfail_hyperliquid_fund_moves_denied(daemon: RunningDaemon, action_type: str) -> None:
    daemon.api().wallets.CreateTradingWallet(
        w.CreateTradingWalletRequest(principal=principal(mode=LIVE))
    )
    # No caller "time": a well-formed request, refused for where the funds go.
    action = {"type": action_type, "destination": "0x" + "11" * 20, "amount": "1000"}
    if action_type == "approveAgent":
        action = {"type": action_type, "agentAddress": "0x" + "11" * 20}
    with pytest.raises(grpc.RpcError) as err:
        sign(daemon, "hyperliquid", {"action": action})
    assert rpc_reason(err.value) in (
        ("NO_CREDENTIALS",) if action_type == "approveAgent" else ("POLICY_DENIED",)
    )


def _polymarket_creds(d: RunningDaemon) -> tuple[str, str, bytes]:
    user = Account.create()
    l2_secret = base64.urlsafe_b64encode(secrets.token_bytes(32))
    d.api().credentials.SetCredentials(
        credential_service_pb2.SetCredentialsRequest(
            principal=principal(mode=LIVE), venue="polymarket",
            api_key="00000000-0000-4000-8000-000000000001", api_secret=l2_secret.decode(),
            passphrase="pass-phrase", extra_json=json.dumps({"signer_private_key": user.key.hex()}),
        )
    )  # fmt: skip
    return user.address, "00000000-0000-4000-8000-000000000001", l2_secret


def _order(address: str, owner: str, maker: str | None = None) -> dict[str, object]:
    return {
        "order": {
            "salt": 479249096354, "maker": maker or address, "signer": address, "tokenId": "1234",
            "makerAmount": "100000000", "takerAmount": "50000000", "side": "BUY",
            "expiration": "0", "signatureType": 0,
        },
        "owner": owner, "orderType": "GTC", "exchange": CTF_V2,
    }  # fmt: skip


def test_polymarket_order(daemon: RunningDaemon) -> None:
    address, owner, _ = _polymarket_creds(daemon)
    resp = sign(daemon, "polymarket", _order(address, owner))
    body = json.loads(resp.request.body)
    assert len(bytes.fromhex(body["order"]["signature"][2:])) == 65
    headers = resp.request.headers
    assert headers["POLY_ADDRESS"] == address and headers["POLY_API_KEY"] == owner
    assert headers["POLY_PASSPHRASE"] == "pass-phrase" and headers["POLY_SIGNATURE"]


def test_expfail_polymarket_maker_not_ours_is_denied_and_audited(daemon: RunningDaemon) -> None:
    address, owner, _ = _polymarket_creds(daemon)
    with pytest.raises(grpc.RpcError) as err:
        sign(daemon, "polymarket", _order(address, owner, maker=Account.create().address))
    assert rpc_reason(err.value) == "POLICY_DENIED"
    record = json.loads(daemon.config.audit_path.read_bytes().splitlines()[-1])
    assert (record["venue"], record["decision"]) == ("polymarket", "deny")


def test_polymarket_order_with_the_trading_wallet_needs_l2_credentials(daemon: RunningDaemon) -> None:  # fmt: skip
    wallet = (
        daemon.api()
        .wallets.CreateTradingWallet(w.CreateTradingWalletRequest(principal=principal(mode=LIVE)))
        .wallet
    )
    with pytest.raises(grpc.RpcError) as err:
        sign(daemon, "polymarket", _order(wallet.address, "00000000-0000-4000-8000-000000000001"))
    assert rpc_reason(err.value) == "NO_CREDENTIALS"
