"""Withdraw end to end: funds go only to a proven wallet of the same principal, gas capped.

Every signed transaction is decoded back with eth-account (the oracle): sender
recovery, destination, value, calldata, chain and gas fields.
"""

from __future__ import annotations

import json
from typing import Any

import grpc
import pytest
from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from hexbytes import HexBytes

from signer._proto.sequence.signer.v1 import wallet_service_pb2 as w
from tests.integration.conftest import LIVE, SANDBOX, RunningDaemon, principal, rpc_reason

USDC_ARBITRUM = "0xaf88d065e77c8cC2239327C5EDb3A432268e5831"
GAS: dict[str, Any] = {
    "nonce": 7,
    "max_fee_per_gas": "100000000",
    "max_priority_fee_per_gas": "1000000",
    "gas_limit": 300_000,
}


def setup(d: RunningDaemon, client: str = "alice", mode: int = LIVE, chain_id: int = 42161) -> tuple[str, str]:  # fmt: skip
    api = d.api().wallets
    trading = api.CreateTradingWallet(
        w.CreateTradingWalletRequest(principal=principal(client, mode))
    ).wallet
    user = Account.create()
    message = api.GetLinkChallenge(
        w.GetLinkChallengeRequest(
            principal=principal(client, mode), address=user.address, chain_id=chain_id
        )
    ).message
    signature = bytes(Account.sign_message(encode_defunct(text=message), user.key).signature)
    api.LinkConnectedWallet(
        w.LinkConnectedWalletRequest(
            principal=principal(client, mode), message=message, signature=signature
        )
    )
    return trading.address, user.address


def withdraw(d: RunningDaemon, chain: str, token: str, amount: str, recipient: str,
             client: str = "alice", mode: int = LIVE, **gas: Any) -> w.SignedTransaction:  # fmt: skip
    params = w.TransactionParams(**{**GAS, **gas})
    req = w.WithdrawRequest(principal=principal(client, mode), chain=chain, token=token,
                            amount=amount, recipient=recipient, tx=params)  # fmt: skip
    return d.api().wallets.Withdraw(req).transaction


def decode(tx: w.SignedTransaction) -> dict[str, object]:
    return dict(TypedTransaction.from_bytes(HexBytes(tx.raw_transaction)).as_dict())


def test_usdc_withdraw_to_linked_wallet(daemon: RunningDaemon) -> None:
    trading, home = setup(daemon)
    tx = withdraw(daemon, "arbitrum", "USDC", "100.0", home.lower())
    assert Account.recover_transaction(tx.raw_transaction) == trading == getattr(tx, "from")
    fields = decode(tx)
    assert fields["chainId"] == tx.chain_id == 42161
    assert fields["to"] == bytes.fromhex(USDC_ARBITRUM[2:]) and tx.to == USDC_ARBITRUM
    assert fields["value"] == 0 and fields["nonce"] == tx.nonce == 7
    expected = bytes.fromhex("a9059cbb") + abi_encode(["address", "uint256"], [home, 100_000_000])
    assert fields["data"] == expected
    assert (fields["maxFeePerGas"], fields["maxPriorityFeePerGas"], fields["gas"]) == (
        100000000,
        1000000,
        300000,
    )
    record = json.loads(daemon.config.audit_path.read_bytes().splitlines()[-1])
    assert (record["action"], record["decision"], record["tx_hash"]) == (
        "withdraw",
        "allow",
        tx.tx_hash,
    )


def test_native_withdraw_in_sandbox(daemon: RunningDaemon) -> None:
    trading, home = setup(daemon, mode=SANDBOX, chain_id=421614)
    tx = withdraw(daemon, "arbitrum-sepolia", "ETH", "0.5", home, mode=SANDBOX)
    fields = decode(tx)
    assert Account.recover_transaction(tx.raw_transaction) == trading
    assert (fields["to"], fields["value"], fields["data"]) == (
        bytes.fromhex(home[2:]),
        5 * 10**17,
        b"",
    )
    assert fields["chainId"] == 421614


def _denied(fn: object, rule: str) -> None:
    with pytest.raises(grpc.RpcError) as err:
        fn()  # type: ignore[operator]
    assert (err.value.code(), rpc_reason(err.value)) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "POLICY_DENIED",
    )
    assert rule in (err.value.details() or "")


def test_expfail_withdraw_surface(daemon: RunningDaemon) -> None:
    _, home = setup(daemon)
    _, mallory_home = setup(daemon, client="mallory")
    stranger = Account.create().address
    before = len(daemon.config.audit_path.read_bytes().splitlines())
    _denied(
        lambda: withdraw(daemon, "arbitrum", "USDC", "1", stranger), "withdraw.recipient-not-linked"
    )
    _denied(
        lambda: withdraw(daemon, "arbitrum", "USDC", "1", mallory_home),
        "withdraw.recipient-not-linked",
    )
    _denied(
        lambda: withdraw(daemon, "arbitrum-sepolia", "USDC", "1", home), "withdraw.mode-mismatch"
    )
    _denied(
        lambda: withdraw(daemon, "arbitrum", "USDC", "1", home, max_fee_per_gas="1000000001"),
        "withdraw.gas-cap",
    )
    _denied(
        lambda: withdraw(daemon, "arbitrum", "USDC", "1", home, gas_limit=2_000_001),
        "withdraw.gas-cap",
    )
    _denied(
        lambda: withdraw(
            daemon,
            "ethereum",
            "ETH",
            "1",
            home,
            max_priority_fee_per_gas="6000000000",
            max_fee_per_gas="7000000000",
            gas_limit=21000,
        ),
        "withdraw.gas-cap",
    )
    records = [json.loads(x) for x in daemon.config.audit_path.read_bytes().splitlines()[before:]]
    assert [r["decision"] for r in records] == ["deny"] * 6


@pytest.mark.parametrize(
    ("chain", "token", "amount", "gas"),
    [
        ("arbitrum", "USDC", "0.1234567", {}),  # more decimals than USDC has
        ("arbitrum", "USDC", "1e3", {}),
        ("arbitrum", "USDC", "-1", {}),
        ("arbitrum", "DAI", "1", {}),
        ("solana", "USDC", "1", {}),
        ("arbitrum", "USDC", "1", {"max_fee_per_gas": "0x10"}),
        ("arbitrum", "USDC", "1", {"max_priority_fee_per_gas": "200000000"}),  # tip > max fee
    ],
)
def test_bad_withdraw_input_is_invalid_argument(
    daemon: RunningDaemon, chain: str, token: str, amount: str, gas: dict[str, Any]
) -> None:
    _, home = setup(daemon)
    with pytest.raises(grpc.RpcError) as err:
        withdraw(daemon, chain, token, amount, home, **gas)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()


def test_no_trading_wallet(daemon: RunningDaemon) -> None:
    user = Account.create()
    api = daemon.api().wallets
    message = api.GetLinkChallenge(
        w.GetLinkChallengeRequest(
            principal=principal("bob", LIVE), address=user.address, chain_id=1
        )
    ).message
    sig = bytes(Account.sign_message(encode_defunct(text=message), user.key).signature)
    api.LinkConnectedWallet(
        w.LinkConnectedWalletRequest(
            principal=principal("bob", LIVE), message=message, signature=sig
        )
    )
    with pytest.raises(grpc.RpcError) as err:
        withdraw(daemon, "ethereum", "ETH", "1", user.address, client="bob", gas_limit=21000)
    assert rpc_reason(err.value) == "NO_TRADING_WALLET"


BRIDGE = "0x2Df1c51E09aECF9cacB7bc98cB1742757f163dF7"


def call(d: RunningDaemon, to: str, data: bytes, value: str = "0", chain_id: int = 42161,
         wallet_id: str = "", client: str = "alice") -> w.SignedTransaction:  # fmt: skip
    req = w.SignTransactionRequest(
        principal=principal(client, LIVE), wallet_id=wallet_id, chain_id=chain_id, to=to,
        value=value, data=data, tx=w.TransactionParams(**GAS),
    )  # fmt: skip
    return d.api().wallets.SignTransaction(req).transaction


def transfer(to: str, amount: int) -> bytes:
    return bytes.fromhex("a9059cbb") + abi_encode(["address", "uint256"], [to, amount])


def test_sign_transaction_transfer_home_and_bridge_deposit(daemon: RunningDaemon) -> None:
    trading, home = setup(daemon)
    for recipient in (home, BRIDGE):
        tx = call(
            daemon, USDC_ARBITRUM, transfer(recipient, 5_000_000), wallet_id=f"turnkey:{trading}"
        )
        assert Account.recover_transaction(tx.raw_transaction) == trading
        assert decode(tx)["data"] == transfer(recipient, 5_000_000)
    native = call(daemon, home, b"", value="1000")
    assert (decode(native)["value"], decode(native)["to"]) == (1000, bytes.fromhex(home[2:]))


def test_expfail_sign_transaction(daemon: RunningDaemon) -> None:
    _, home = setup(daemon)
    attacker = Account.create().address
    approve = bytes.fromhex("095ea7b3") + abi_encode(["address", "uint256"], [attacker, 2**256 - 1])
    permit = bytes.fromhex("d505accf") + bytes(224)
    _denied(lambda: call(daemon, USDC_ARBITRUM, approve), "call.not-allowlisted")
    _denied(lambda: call(daemon, USDC_ARBITRUM, permit), "call.not-allowlisted")
    _denied(
        lambda: call(daemon, USDC_ARBITRUM, transfer(attacker, 1)), "withdraw.recipient-not-linked"
    )
    _denied(
        lambda: call(daemon, attacker, transfer(home, 1)), "call.not-allowlisted"
    )  # unknown contract
    _denied(
        lambda: call(daemon, USDC_ARBITRUM, transfer(home, 1), value="1"), "call.not-allowlisted"
    )
    _denied(lambda: call(daemon, attacker, b"", value="1"), "withdraw.recipient-not-linked")
    _denied(
        lambda: call(daemon, USDC_ARBITRUM, transfer(home, 1), chain_id=421614),
        "withdraw.mode-mismatch",
    )
    with pytest.raises(grpc.RpcError) as err:
        call(daemon, USDC_ARBITRUM, transfer(home, 1), wallet_id=f"connected:{home}")
    assert rpc_reason(err.value) == "BROWSER_SIGNATURE_REQUIRED"
    with pytest.raises(grpc.RpcError) as err:
        call(daemon, USDC_ARBITRUM, transfer(home, 1), wallet_id=f"turnkey:{attacker}")
    assert rpc_reason(err.value) == "INVALID_REQUEST"
