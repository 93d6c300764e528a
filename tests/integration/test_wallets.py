"""WalletService end to end: the trading wallet lifecycle and proven connected wallets."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from signer._proto.sequence.signer.v1 import wallet_service_pb2 as w
from signer.domain import Mode, Principal
from signer.schemes.secp256k1 import Secp256k1Key
from tests.integration.conftest import LIVE, SANDBOX, RunningDaemon, principal, rpc_reason


def create(d: RunningDaemon, mode: int = LIVE, client: str = "alice") -> w.Wallet:
    req = w.CreateTradingWalletRequest(principal=principal(client, mode), label="main")
    return d.api().wallets.CreateTradingWallet(req).wallet


def challenge(d: RunningDaemon, address: str, chain_id: int = 42161, mode: int = LIVE, client: str = "alice") -> str:  # fmt: skip
    req = w.GetLinkChallengeRequest(
        principal=principal(client, mode), address=address, chain_id=chain_id
    )
    resp = d.api().wallets.GetLinkChallenge(req)
    assert resp.expires_at > time.time()
    return resp.message


def link(d: RunningDaemon, message: str, signature: bytes, mode: int = LIVE, client: str = "alice") -> w.Wallet:  # fmt: skip
    req = w.LinkConnectedWalletRequest(
        principal=principal(client, mode), message=message, signature=signature
    )
    return d.api().wallets.LinkConnectedWallet(req).wallet


def personal_sign(key: bytes, message: str) -> bytes:
    return bytes(Account.sign_message(encode_defunct(text=message), key).signature)


def test_trading_wallet_lifecycle(daemon: RunningDaemon) -> None:
    api = daemon.api()
    with pytest.raises(grpc.RpcError) as err:
        api.wallets.GetTradingWallet(w.GetTradingWalletRequest(principal=principal(mode=LIVE)))
    assert (err.value.code(), rpc_reason(err.value)) == (
        grpc.StatusCode.NOT_FOUND,
        "NO_TRADING_WALLET",
    )
    wallet = create(daemon)
    assert wallet.wallet_id == f"turnkey:{wallet.address}"
    assert wallet.address.startswith("0x") and len(wallet.address) == 42
    assert (wallet.role, wallet.signer_backend, wallet.status) == ("trading", "turnkey", "ready")
    assert wallet.can_trade_api and wallet.label == "main"
    got = api.wallets.GetTradingWallet(w.GetTradingWalletRequest(principal=principal(mode=LIVE)))
    alias = api.wallets.GetDefaultWallet(w.GetDefaultWalletRequest(principal=principal(mode=LIVE)))
    assert got.wallet == alias.wallet and got.wallet.address == wallet.address
    with pytest.raises(grpc.RpcError) as err:
        create(daemon)
    assert (err.value.code(), rpc_reason(err.value)) == (
        grpc.StatusCode.ALREADY_EXISTS,
        "TRADING_WALLET_EXISTS",
    )
    # Durable before revealed: the sealed key is stored and is the key of that address.
    key = daemon.d.services.wallets._store.trading_key(Principal("alice", Mode.LIVE))
    assert key is not None and Secp256k1Key.from_secret(key).address == wallet.address
    # Sandbox is another namespace.
    sandbox = create(daemon, mode=SANDBOX)
    assert sandbox.address != wallet.address
    record = json.loads(daemon.config.audit_path.read_bytes().splitlines()[-1])
    assert record["action"] == "create_trading_wallet" and record["address"] == sandbox.address


def test_concurrent_creates_yield_one_wallet(daemon: RunningDaemon) -> None:
    def attempt(_: int) -> str:
        try:
            return create(daemon, client="racer").address
        except grpc.RpcError as exc:
            return rpc_reason(exc)

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(attempt, range(6)))
    winners = [r for r in results if r.startswith("0x")]
    assert len(winners) == 1 and results.count("TRADING_WALLET_EXISTS") == 5
    listed = daemon.api().wallets.ListWallets(
        w.ListWalletsRequest(principal=principal("racer", LIVE))
    )
    assert [x.address for x in listed.wallets] == winners


def test_link_connected_wallet_with_siwe(daemon: RunningDaemon) -> None:
    user = Account.create()
    message = challenge(daemon, user.address.lower())
    assert f"\n{user.address}\n" in message and "Chain ID: 42161" in message
    assert "sequence-signer:principal:live:alice" in message
    wallet = link(daemon, message, personal_sign(user.key, message))
    assert (wallet.wallet_id, wallet.role, wallet.can_trade_api) == (
        f"connected:{user.address}",
        "connected",
        False,
    )
    listed = daemon.api().wallets.ListWallets(w.ListWalletsRequest(principal=principal(mode=LIVE)))
    assert [x.address for x in listed.wallets] == [user.address]
    unlinked = daemon.api().wallets.UnlinkConnectedWallet(
        w.UnlinkConnectedWalletRequest(principal=principal(mode=LIVE), address=user.address)
    )
    assert unlinked.unlinked
    listed = daemon.api().wallets.ListWallets(w.ListWalletsRequest(principal=principal(mode=LIVE)))
    assert list(listed.wallets) == []


def _denied(fn: object) -> str:
    with pytest.raises(grpc.RpcError) as err:
        fn()  # type: ignore[operator]
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert rpc_reason(err.value) == "POLICY_DENIED"
    return err.value.details() or ""


def test_expfail_siwe_replay_tamper_foreign_and_other_client(daemon: RunningDaemon) -> None:
    user, stranger = Account.create(), Account.create()
    message = challenge(daemon, user.address)
    signature = personal_sign(user.key, message)
    # Another principal cannot use alice's challenge, nor the other mode.
    _denied(lambda: link(daemon, message, signature, client="mallory"))
    _denied(lambda: link(daemon, message, signature, mode=SANDBOX))
    # Tampered message (the attacker's address swapped in), signed by the attacker.
    tampered = message.replace(user.address, stranger.address)
    _denied(lambda: link(daemon, tampered, personal_sign(stranger.key, tampered)))
    # A signature by someone else over the genuine message.
    assert "not by" in _denied(lambda: link(daemon, message, personal_sign(stranger.key, message)))
    # Garbage signature.
    _denied(lambda: link(daemon, message, b"\x00" * 65))
    link(daemon, message, signature)
    assert "already used" in _denied(lambda: link(daemon, message, signature))
    records = [json.loads(x) for x in daemon.config.audit_path.read_bytes().splitlines()]
    link_records = [r for r in records if r["action"] == "link_connected_wallet"]
    assert [r["decision"] for r in link_records] == ["deny"] * 5 + ["allow", "deny"]


def test_expfail_expired_challenge(daemon: RunningDaemon, monkeypatch: pytest.MonkeyPatch) -> None:
    user = Account.create()
    message = challenge(daemon, user.address)
    later = time.time() + 3600
    monkeypatch.setattr("signer.wallets.time.time", lambda: later)
    assert "expired" in _denied(lambda: link(daemon, message, personal_sign(user.key, message)))


@pytest.mark.parametrize(("mode", "chain_id"), [(LIVE, 421614), (SANDBOX, 42161), (LIVE, 999999)])
def test_challenge_chain_must_match_mode(daemon: RunningDaemon, mode: int, chain_id: int) -> None:
    with pytest.raises(grpc.RpcError) as err:
        challenge(daemon, Account.create().address, chain_id=chain_id, mode=mode)
    assert (err.value.code(), rpc_reason(err.value)) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_REQUEST",
    )


def test_bad_address_is_invalid_argument(daemon: RunningDaemon) -> None:
    with pytest.raises(grpc.RpcError) as err:
        challenge(daemon, "0x1234")
    assert rpc_reason(err.value) == "INVALID_REQUEST"


def test_wallet_survives_restart(state_dir, pki) -> None:  # type: ignore[no-untyped-def]
    from tests.integration.conftest import make_config

    config = make_config(state_dir, pki)
    first = RunningDaemon(config)
    address = create(first).address
    first.stop()
    second = RunningDaemon(config)
    try:
        listed = second.api().wallets.ListWallets(
            w.ListWalletsRequest(principal=principal(mode=LIVE))
        )
        assert [x.address for x in listed.wallets] == [address]
        key = second.d.services.wallets._store.trading_key(Principal("alice", Mode.LIVE))
        assert key is not None and Secp256k1Key.from_secret(key).address == address
    finally:
        second.stop()
