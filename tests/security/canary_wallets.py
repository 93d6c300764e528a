"""WalletService flows for the canary test: trading wallets (whose keys the daemon
generates and which become canaries offline), proven connected wallets, Withdraw,
SignTransaction and the DEX venues signing with the trading wallet."""

from __future__ import annotations

import grpc
from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import encode_defunct

from signer._proto.sequence.signer.v1 import common_pb2
from signer._proto.sequence.signer.v1 import wallet_service_pb2 as w
from tests.security.canary_drive import SIGN, Channels, Probes
from tests.security.canary_recorder import Recorder
from tests.security.canary_world import CTF_V2, HL_ORDER, LIVE, SANDBOX, Account_, http

StatusCode = grpc.StatusCode
W = "WalletService/"
USDC_ARBITRUM = "0xaf88d065e77c8cC2239327C5EDb3A432268e5831"
GAS = w.TransactionParams(
    nonce=7, max_fee_per_gas="100000000", max_priority_fee_per_gas="1000000", gas_limit=300_000
)
CHAIN = {LIVE: (42161, "arbitrum"), SANDBOX: (421614, "arbitrum-sepolia")}


def _p(client: str, mode: int) -> common_pb2.Principal:
    return common_pb2.Principal(client_id=client, mode=mode)  # type: ignore[arg-type]


def create(rec: Recorder, ch: Channels, client: str, mode: int, label: str = "main") -> str:
    """A trading wallet for (client, mode); returns its address."""
    req = w.CreateTradingWalletRequest(principal=_p(client, mode), label=label)
    wallet = rec.unary(ch.api, W + "CreateTradingWallet", req, f"create.{client}").wallet
    assert wallet.label == label and wallet.status == "ready"
    return str(wallet.address)


def link_home(rec: Recorder, ch: Channels, client: str, mode: int) -> str:
    """Link a fresh connected wallet with a SIWE signature (after a forged one; then a
    replay); returns its address."""
    user, who = Account.create(), _p(client, mode)
    req = w.GetLinkChallengeRequest(principal=who, address=user.address, chain_id=CHAIN[mode][0])
    message = rec.unary(ch.api, W + "GetLinkChallenge", req, f"challenge.{client}").message
    signature = bytes(Account.sign_message(encode_defunct(text=message), user.key).signature)
    link = W + "LinkConnectedWallet"
    forged = w.LinkConnectedWalletRequest(principal=who, message=message, signature=bytes(65))
    rec.denied(ch.api, link, forged, "link-forged")
    good = w.LinkConnectedWalletRequest(principal=who, message=message, signature=signature)
    rec.unary(ch.api, link, good, f"link.{client}")
    rec.denied(ch.api, link, good, "link-replay")
    return str(user.address)


def wallets(rec: Recorder, ch: Channels, probes: Probes, hl_agent: Account_) -> list[tuple[str, int]]:  # fmt: skip
    """Every WalletService RPC, successes and failures. Returns the principals with a
    trading wallet (their keys are read offline afterwards)."""
    client = "c-wallet"
    who = _p(client, LIVE)
    get, make = W + "GetTradingWallet", W + "CreateTradingWallet"
    none = w.GetTradingWalletRequest(principal=who)
    rec.unary(ch.api, get, none, "get-none", StatusCode.NOT_FOUND, "NO_TRADING_WALLET")
    trading = create(rec, ch, client, LIVE, label=probes.label)
    create(rec, ch, client, SANDBOX)
    again = w.CreateTradingWalletRequest(principal=who)
    rec.unary(
        ch.api, make, again, "create-again", StatusCode.ALREADY_EXISTS, "TRADING_WALLET_EXISTS"
    )
    bad = w.CreateTradingWalletRequest(principal=_p("c-wallet-2", LIVE), label="bad\x00label")
    rec.invalid(ch.api, make, bad, "create-bad-label")
    rec.unary(ch.api, get, w.GetTradingWalletRequest(principal=who), "get")
    rec.unary(ch.api, W + "GetDefaultWallet", w.GetDefaultWalletRequest(principal=who), "default")
    bad_address = w.GetLinkChallengeRequest(principal=who, address="0x1234", chain_id=42161)
    rec.invalid(ch.api, W + "GetLinkChallenge", bad_address, "challenge-bad")
    homes = {mode: link_home(rec, ch, client, mode) for mode in (LIVE, SANDBOX)}
    rec.unary(ch.api, W + "ListWallets", w.ListWalletsRequest(principal=who), "list")
    withdraw(rec, ch, client, homes)
    contract_calls(rec, ch, client, trading, homes[LIVE])
    dex(rec, ch, client, trading, homes)
    # approveAgent: the trading wallet approves the agent key the daemon holds, only that one.
    create(rec, ch, hl_agent.client, LIVE)
    for name, agent in (("ours", hl_agent.api_key), ("stranger", Account.create().address)):
        action = {"action": {"type": "approveAgent", "agentAddress": agent}}
        approve = hl_agent.sign_request(http("POST", "/exchange", body=action))
        if name == "ours":
            rec.unary(ch.api, SIGN, approve, "hl.approve-agent")
        else:
            rec.denied(ch.api, SIGN, approve, "hl.approve-stranger")
    unlink = W + "UnlinkConnectedWallet"
    req = w.UnlinkConnectedWalletRequest(principal=_p(client, SANDBOX), address=homes[SANDBOX])
    assert rec.unary(ch.api, unlink, req, "unlink").unlinked
    assert not rec.unary(ch.api, unlink, req, "unlink-again").unlinked
    rec.invalid(ch.api, unlink, w.UnlinkConnectedWalletRequest(principal=who, address="nope"), "unlink-bad")  # fmt: skip
    return [(client, LIVE), (client, SANDBOX), (hl_agent.client, LIVE)]


def withdraw(rec: Recorder, ch: Channels, client: str, homes: dict[int, str]) -> None:
    def req(mode: int, token: str, amount: str, to: str, gas_limit: int = 300_000) -> w.WithdrawRequest:  # fmt: skip
        params = w.TransactionParams()
        params.CopyFrom(GAS)
        params.gas_limit = gas_limit
        return w.WithdrawRequest(principal=_p(client, mode), chain=CHAIN[mode][1], token=token,
                                 amount=amount, recipient=to, tx=params)  # fmt: skip

    wd, home = W + "Withdraw", homes[LIVE]
    rec.unary(ch.api, wd, req(LIVE, "USDC", "100.0", home), "withdraw")
    rec.unary(ch.api, wd, req(SANDBOX, "ETH", "0.5", homes[SANDBOX]), "withdraw.sandbox")
    rec.denied(ch.api, wd, req(LIVE, "USDC", "1", Account.create().address), "withdraw.stranger")
    rec.denied(ch.api, wd, req(LIVE, "USDC", "1", home, gas_limit=2_000_001), "withdraw.gas")
    rec.invalid(ch.api, wd, req(LIVE, "USDC", "-1", home), "withdraw.amount")
    no_wallet = w.WithdrawRequest(principal=_p("c-nowallet", LIVE), chain="arbitrum",
                                  token="USDC", amount="1", recipient=home, tx=GAS)  # fmt: skip
    rec.denied(ch.api, wd, no_wallet, "withdraw.not-linked")


def _transfer(to: str, amount: int) -> bytes:
    return bytes.fromhex("a9059cbb") + abi_encode(["address", "uint256"], [to, amount])


def contract_calls(rec: Recorder, ch: Channels, client: str, trading: str, home: str) -> None:
    def req(data: bytes, wallet_id: str = "") -> w.SignTransactionRequest:
        return w.SignTransactionRequest(principal=_p(client, LIVE), wallet_id=wallet_id,
            chain_id=42161, to=USDC_ARBITRUM, value="0", data=data, tx=GAS)  # fmt: skip

    st = W + "SignTransaction"
    rec.unary(ch.api, st, req(_transfer(home, 5_000_000), f"turnkey:{trading}"), "sign-tx")
    spender = Account.create().address
    approve = bytes.fromhex("095ea7b3") + abi_encode(["address", "uint256"], [spender, 2**256 - 1])
    rec.denied(ch.api, st, req(approve), "sign-tx.approve")
    connected = req(_transfer(home, 1), f"connected:{home}")
    rec.unary(ch.api, st, connected, "sign-tx.connected", StatusCode.FAILED_PRECONDITION,
              "BROWSER_SIGNATURE_REQUIRED")  # fmt: skip


def dex(rec: Recorder, ch: Channels, client: str, trading: str, homes: dict[int, str]) -> None:
    """Hyperliquid orders and a withdraw home with the trading wallet; Polymarket with it."""
    for mode in (LIVE, SANDBOX):
        acct = Account_(client, mode, "hyperliquid", "", "")
        hl_order = http("POST", "/exchange", body={"action": HL_ORDER})
        rec.unary(ch.api, SIGN, acct.sign_request(hl_order), f"hl.order.{mode}")
        home = {"action": {"type": "withdraw3", "destination": homes[mode], "amount": "12.5"}}
        rec.unary(ch.api, SIGN, acct.sign_request(http("POST", "/exchange", body=home)), "hl.home")
    # The trading wallet holds no Polymarket L2 key: NO_CREDENTIALS, nothing signed.
    acct = Account_(client, LIVE, "polymarket", "", "")
    order = {"order": {"salt": 1, "maker": trading, "signer": trading, "tokenId": "1234",
                       "makerAmount": "100000000", "takerAmount": "50000000", "side": "BUY",
                       "expiration": "0", "signatureType": 0},
             "owner": "00000000-0000-4000-8000-000000000001", "orderType": "GTC",
             "exchange": CTF_V2}  # fmt: skip
    req = acct.sign_request(http("POST", "/order", body=order), f"turnkey:{trading}")
    rec.unary(
        ch.api, SIGN, req, "poly.trading-wallet", StatusCode.FAILED_PRECONDITION, "NO_CREDENTIALS"
    )
