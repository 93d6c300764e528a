"""Live and sandbox never meet (DESIGN.md invariant 7): wallets, link challenges, chains.

Every test runs in both directions: the ``owner`` mode holds a trading wallet
and a proven home wallet, the ``intruder`` mode (same client id) tries to see,
name, sign with or send funds to them.
"""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from signer._proto.sequence.signer.v1 import wallet_service_pb2 as w
from signer.evm.chains import CHAINS, Chain
from tests.integration.conftest import RunningDaemon, principal, rpc_reason
from tests.integration.isolation_probe import MODES, OTHER, attempt
from tests.integration.isolation_table import BY_VENUE

DIRECTIONS = [("live", "sandbox"), ("sandbox", "live")]
HOME_CHAIN = {"live": 42161, "sandbox": 421614}
TWIN = {"live": "arbitrum-sepolia", "sandbox": "arbitrum"}  # a chain of the other mode
GAS: dict[str, Any] = {
    "nonce": 3,
    "max_fee_per_gas": "100000000",
    "max_priority_fee_per_gas": "1000000",
    "gas_limit": 21000,
}


def p(mode: str, client: str = "alice") -> Any:
    return principal(client, MODES[mode])


def create_wallet(d: RunningDaemon, mode: str) -> w.Wallet:
    req = w.CreateTradingWalletRequest(principal=p(mode))
    return d.api().wallets.CreateTradingWallet(req).wallet


def challenge(d: RunningDaemon, mode: str, address: str) -> str:
    req = w.GetLinkChallengeRequest(principal=p(mode), address=address, chain_id=HOME_CHAIN[mode])
    return d.api().wallets.GetLinkChallenge(req).message


def link(d: RunningDaemon, mode: str, message: str, key: bytes) -> w.Wallet:
    signature = bytes(Account.sign_message(encode_defunct(text=message), key).signature)
    req = w.LinkConnectedWalletRequest(principal=p(mode), message=message, signature=signature)
    return d.api().wallets.LinkConnectedWallet(req).wallet


def setup(d: RunningDaemon, mode: str) -> tuple[w.Wallet, str]:
    """A trading wallet and a proven home wallet for (alice, mode)."""
    trading, user = create_wallet(d, mode), Account.create()
    link(d, mode, challenge(d, mode, user.address), user.key)
    return trading, user.address


def withdraw(d: RunningDaemon, mode: str, chain: str, token: str, to: str) -> w.SignedTransaction:
    req = w.WithdrawRequest(principal=p(mode), chain=chain, token=token, amount="0.001",
                            recipient=to, tx=w.TransactionParams(**GAS))  # fmt: skip
    return d.api().wallets.Withdraw(req).transaction


def call(d: RunningDaemon, mode: str, chain_id: int, to: str, wallet_id: str = "") -> w.SignedTransaction:  # fmt: skip
    req = w.SignTransactionRequest(principal=p(mode), wallet_id=wallet_id, chain_id=chain_id,
                                   to=to, value="1000", tx=w.TransactionParams(**GAS))  # fmt: skip
    return d.api().wallets.SignTransaction(req).transaction


def refused(fn: Any) -> tuple[str, str]:
    with pytest.raises(grpc.RpcError) as err:
        fn()
    return rpc_reason(err.value), err.value.details() or ""


@pytest.mark.parametrize(("owner", "intruder"), DIRECTIONS)
def test_trading_wallet_is_invisible_and_unusable_from_the_other_mode(
    daemon: RunningDaemon, owner: str, intruder: str
) -> None:
    api = daemon.api().wallets
    trading, home = setup(daemon, owner)
    assert list(api.ListWallets(w.ListWalletsRequest(principal=p(intruder))).wallets) == []
    for get in (
        lambda: api.GetTradingWallet(w.GetTradingWalletRequest(principal=p(intruder))),
        lambda: api.GetDefaultWallet(w.GetDefaultWalletRequest(principal=p(intruder))),
    ):
        assert refused(get)[0] == "NO_TRADING_WALLET"
    named = trading.wallet_id  # "turnkey:<owner's address>"
    hl = BY_VENUE["hyperliquid"]
    own_chain = HOME_CHAIN[intruder]
    for has_wallet in (False, True):
        expected = "INVALID_REQUEST" if has_wallet else "NO_TRADING_WALLET"
        out = attempt(daemon.api(), "hyperliquid", intruder, hl.http(), wallet_id=named)
        assert (out.signed, out.reason) == (None, expected)
        # SignTransaction checks wallet_id before anything else: refused either way.
        reason, _ = refused(lambda: call(daemon, intruder, own_chain, home, wallet_id=named))
        assert reason == "INVALID_REQUEST"
        if not has_wallet:
            mine = create_wallet(daemon, intruder)
            assert mine.address != trading.address
    got = api.GetTradingWallet(w.GetTradingWalletRequest(principal=p(intruder))).wallet
    assert got.address == mine.address
    listed = api.ListWallets(w.ListWalletsRequest(principal=p(owner))).wallets
    assert {x.address for x in listed} == {trading.address, home}


@pytest.mark.parametrize(("owner", "intruder"), DIRECTIONS)
def test_a_home_proven_in_one_mode_is_no_home_in_the_other(
    daemon: RunningDaemon, owner: str, intruder: str
) -> None:
    _, home = setup(daemon, owner)
    create_wallet(daemon, intruder)
    chain = TWIN[owner]  # a chain of the intruder's own mode
    reason, details = refused(lambda: withdraw(daemon, intruder, chain, "ETH", home))
    assert reason == "POLICY_DENIED" and "withdraw.recipient-not-linked" in details
    reason, details = refused(lambda: call(daemon, intruder, HOME_CHAIN[intruder], home))
    assert reason == "POLICY_DENIED" and "withdraw.recipient-not-linked" in details
    # The intruder cannot unlink it either.
    unlink = w.UnlinkConnectedWalletRequest(principal=p(intruder), address=home)
    assert daemon.api().wallets.UnlinkConnectedWallet(unlink).unlinked is False
    listed = daemon.api().wallets.ListWallets(w.ListWalletsRequest(principal=p(owner))).wallets
    assert home in {x.address for x in listed}
    # Positive control: the owner may send home.
    tx = withdraw(daemon, owner, TWIN[intruder], "ETH", home)
    assert Account.recover_transaction(tx.raw_transaction) == getattr(tx, "from")


@pytest.mark.parametrize(("owner", "intruder"), DIRECTIONS)
def test_a_link_challenge_is_redeemable_only_in_its_mode(
    daemon: RunningDaemon, owner: str, intruder: str
) -> None:
    user = Account.create()
    message = challenge(daemon, owner, user.address)
    reason, details = refused(lambda: link(daemon, intruder, message, user.key))
    assert reason == "POLICY_DENIED" and "not a link challenge issued to this principal" in details
    # The intruder cannot even obtain a challenge on the owner's chains.
    req = w.GetLinkChallengeRequest(
        principal=p(intruder), address=user.address, chain_id=HOME_CHAIN[owner]
    )
    assert refused(lambda: daemon.api().wallets.GetLinkChallenge(req))[0] == "INVALID_REQUEST"
    assert link(daemon, owner, message, user.key).address == user.address
    listed = daemon.api().wallets.ListWallets(w.ListWalletsRequest(principal=p(intruder)))
    assert list(listed.wallets) == []


@pytest.mark.parametrize("chain", CHAINS, ids=lambda c: c.name)
def test_every_chain_signs_only_for_its_own_mode(daemon: RunningDaemon, chain: Chain) -> None:
    own = chain.mode.value
    _, home = setup(daemon, own)
    _, stranger_home = setup(daemon, OTHER[own])
    tx = withdraw(daemon, own, chain.name, chain.native_symbol, home)  # positive control
    assert tx.chain_id == chain.chain_id
    tx = call(daemon, own, chain.chain_id, home)
    assert tx.chain_id == chain.chain_id
    for attempt_ in (
        lambda: withdraw(daemon, OTHER[own], chain.name, chain.native_symbol, stranger_home),
        lambda: call(daemon, OTHER[own], chain.chain_id, stranger_home),
    ):
        reason, details = refused(attempt_)
        assert reason == "POLICY_DENIED" and "withdraw.mode-mismatch" in details
