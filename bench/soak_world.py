"""The soak's principals, credentials and operation mix (``bench/soak.py`` drives it).

Every operation is a real RPC with the outcome it must have: ``OK``, or an
expected refusal as ``CODE/REASON`` (a withdrawal path, a stranger as
recipient, Kraken in sandbox, an unknown venue). Request shapes are those of
tests/integration and tests/security/canary_world.py. Keys are generated here.

Setup goes through the API too: credentials with SetCredentials, a trading
wallet with CreateTradingWallet, its home wallet with an EIP-4361 challenge
signed by a fresh key (eth-account, a dev dependency, as in bench/eip712_bench.py).
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from eth_account import Account
from eth_account.messages import encode_defunct

from bench.state import rsa_pem, unlimited_policy
from signer._proto.sequence.signer.v1 import common_pb2, credential_service_pb2
from signer._proto.sequence.signer.v1 import signing_service_pb2 as s
from signer._proto.sequence.signer.v1 import wallet_service_pb2 as w
from signer.client import Stubs

LIVE, SANDBOX = common_pb2.MODE_LIVE, common_pb2.MODE_SANDBOX
JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CTF_V2 = "0xE111180000d2663C0091e4f400237545B87B996B"
WALLET_CLIENT = "soak-wallet"
SHIPPED_CAP = b'[limits.withdraw.arbitrum.USDC]\nper_tx = "25000"\nper_24h = "100000"\n'
HL_ORDER = {  # key order matters: Hyperliquid hashes the msgpack of the action as sent
    "type": "order",
    "orders": [{"a": 4, "b": True, "p": "1670.1", "s": "0.0147", "r": False,
                "t": {"limit": {"tif": "Ioc"}}}],
    "grouping": "na",
}  # fmt: skip
GAS = w.TransactionParams(
    nonce=1, max_fee_per_gas="100000000", max_priority_fee_per_gas="1000000", gas_limit=300_000
)

Call = Callable[[Stubs], object]


@dataclass(frozen=True)
class Op:
    """One kind of call in the mix: its weight and the outcome it must have."""

    name: str
    weight: float
    call: Call
    expect: str = "OK"


def soak_policy() -> bytes:
    """The bench policy (no reachable signing rate) with an Arbitrum USDC cap the
    soak's withdrawals (0.01 USDC each) never reach."""
    raw = unlimited_policy()
    if SHIPPED_CAP not in raw:
        raise RuntimeError("policy/default.toml changed its Arbitrum USDC cap; update bench")
    return raw.replace(SHIPPED_CAP, SHIPPED_CAP.replace(b'"100000"', b'"1000000000"'))


def p(client: str, mode: int) -> common_pb2.Principal:
    return common_pb2.Principal(client_id=client, mode=mode)  # type: ignore[arg-type]


def http(method: str, path: str, query: str = "", body: object = None,
         headers: dict[str, str] | None = None) -> common_pb2.HttpRequest:  # fmt: skip
    raw = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
    return common_pb2.HttpRequest(method=method, path=path, query=query, body=raw,
                                  headers=headers or ({} if body is None else JSON))  # fmt: skip


def _hmac_secret() -> str:
    return secrets.token_urlsafe(48).replace("-", "a").replace("_", "b")[:48]


def _pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip


@dataclass(frozen=True)
class Cred:
    client: str
    mode: int
    venue: str
    api_key: str
    api_secret: str
    passphrase: str = ""
    extra_json: str = ""

    def set_request(self) -> credential_service_pb2.SetCredentialsRequest:
        return credential_service_pb2.SetCredentialsRequest(
            principal=p(self.client, self.mode), venue=self.venue, api_key=self.api_key,
            api_secret=self.api_secret, passphrase=self.passphrase, extra_json=self.extra_json,
        )  # fmt: skip


def credentials() -> tuple[list[Cred], dict[str, common_pb2.HttpRequest]]:
    """One stored credential per venue in the mix, and a valid request for each."""
    hl = Account.create()
    poly = Account.create()
    poly_owner = str(uuid.uuid4())
    order = {"salt": 12345, "maker": poly.address, "signer": poly.address, "tokenId": "1234",
             "makerAmount": "100000000", "takerAmount": "50000000", "side": "BUY",
             "expiration": "0", "signatureType": 0}  # fmt: skip
    creds = [
        Cred("soak-binance", SANDBOX, "binance", "binanceKey", _hmac_secret()),
        Cred("soak-okx", SANDBOX, "okx", "okxKey", _hmac_secret(), passphrase=_hmac_secret()),
        Cred("soak-bybit", SANDBOX, "bybit", "bybitKey", _hmac_secret()),
        Cred("soak-bitget", LIVE, "bitget", "bitgetKey", _hmac_secret(), passphrase=_hmac_secret()),
        Cred("soak-kraken", LIVE, "kraken", "krakenKey",
             base64.b64encode(secrets.token_bytes(64)).decode()),
        Cred("soak-cryptocom", LIVE, "cryptocom", "cdcKey", _hmac_secret()),
        Cred("soak-bitmart", LIVE, "bitmart", "bitmartKey", _hmac_secret(), passphrase=_hmac_secret()),
        Cred("soak-coinbase", LIVE, "coinbase", "organizations/org-soak/apiKeys/key-1",
             _pem(ec.generate_private_key(ec.SECP256R1()))),
        Cred("soak-kalshi", SANDBOX, "kalshi", str(uuid.uuid4()), rsa_pem().decode()),
        Cred("soak-hl", LIVE, "hyperliquid", hl.address, "0x" + bytes(hl.key).hex()),
        Cred("soak-poly", LIVE, "polymarket", poly_owner,
             base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(), passphrase=_hmac_secret(),
             extra_json=json.dumps({"signer_private_key": "0x" + bytes(poly.key).hex()})),
    ]  # fmt: skip
    requests = {
        "binance": http("POST", "/api/v3/order", query="symbol=BTCUSDT&side=BUY&type=LIMIT"
                        "&timeInForce=GTC&quantity=0.01&price=20000"),
        "okx": http("GET", "/api/v5/account/balance", query="ccy=BTC"),
        "bybit": http("GET", "/v5/account/wallet-balance", query="accountType=UNIFIED"),
        "bitget": http("GET", "/api/v2/spot/account/assets"),
        "kraken": http("POST", "/0/private/AddOrder", headers=FORM,
                       body=b"ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"),
        "cryptocom": http("POST", "/exchange/v1/private/get-open-orders",
                          body={"method": "private/get-open-orders", "params": {}}),
        "bitmart": http("POST", "/spot/v4/cancel_all", body={"symbol": "BTC_USDT"}),
        "coinbase": http("GET", "/api/v3/brokerage/accounts"),
        "kalshi": http("GET", "/trade-api/v2/portfolio/balance"),
        "hyperliquid": http("POST", "/exchange", body={"action": HL_ORDER}),
        "polymarket": http("POST", "/order", body={"order": order, "owner": poly_owner,
                           "orderType": "GTC", "exchange": CTF_V2}),
    }  # fmt: skip
    return creds, requests


def setup(stubs: Stubs, creds: list[Cred]) -> str:
    """Store every credential; a trading wallet with a linked home; return the home address."""
    for cred in creds:
        stubs.credentials.SetCredentials(cred.set_request(), timeout=30)
    who = p(WALLET_CLIENT, LIVE)
    stubs.wallets.CreateTradingWallet(w.CreateTradingWalletRequest(principal=who), timeout=30)
    home = Account.create()
    message = stubs.wallets.GetLinkChallenge(
        w.GetLinkChallengeRequest(principal=who, address=home.address, chain_id=42161), timeout=30
    ).message
    signature = bytes(Account.sign_message(encode_defunct(text=message), home.key).signature)
    stubs.wallets.LinkConnectedWallet(
        w.LinkConnectedWalletRequest(principal=who, message=message, signature=signature),
        timeout=30,
    )
    return str(home.address)


def operations(creds: list[Cred], requests: dict[str, common_pb2.HttpRequest], home: str) -> list[Op]:  # fmt: skip
    """The mix: signing on every venue, expected refusals, wallet operations."""
    ops: list[Op] = []
    for cred in creds:
        req = s.SignVenueRequestRequest(
            principal=p(cred.client, cred.mode), venue=cred.venue, request=requests[cred.venue]
        )
        weight = 3.0 if cred.venue in ("binance", "okx", "bybit", "kraken") else 2.0
        ops.append(Op(f"sign {cred.venue}", weight, _sign(req)))
    binance = creds[0]
    withdraw_path = s.SignVenueRequestRequest(
        principal=p(binance.client, binance.mode), venue="binance",
        request=http("POST", "/sapi/v1/capital/withdraw/apply",
                     query="coin=USDT&address=0xabc&amount=1"),
    )  # fmt: skip
    kraken_sandbox = s.SignVenueRequestRequest(
        principal=p("soak-kraken", SANDBOX), venue="kraken", request=requests["kraken"]
    )
    unknown = s.SignVenueRequestRequest(
        principal=p(binance.client, binance.mode), venue="ftx", request=requests["binance"]
    )
    stranger = str(Account.create().address)
    ops += [
        Op("deny binance withdraw path", 1, _sign(withdraw_path), "PERMISSION_DENIED/POLICY_DENIED"),
        Op("deny kraken in sandbox", 1, _sign(kraken_sandbox), "FAILED_PRECONDITION/MODE_MISMATCH"),
        Op("deny unknown venue", 0.5, _sign(unknown), "INVALID_ARGUMENT/UNKNOWN_VENUE"),
        Op("deny withdraw to a stranger", 0.5, _withdraw(stranger),
           "PERMISSION_DENIED/POLICY_DENIED"),
        Op("wallet withdraw home", 1, _withdraw(home)),
        Op("wallet list", 1, _list_wallets),
        Op("wallet create", 0.3, _create_wallet()),
        Op("credentials set binance", 0.5, _rotate(binance)),
    ]  # fmt: skip
    return ops


def _sign(req: s.SignVenueRequestRequest) -> Call:
    return lambda stubs: stubs.signing.SignVenueRequest(req, timeout=30)


def _withdraw(recipient: str) -> Call:
    req = w.WithdrawRequest(
        principal=p(WALLET_CLIENT, LIVE),
        chain="arbitrum",
        token="USDC",  # noqa: S106 - a token symbol, not a password
        amount="0.01",
        recipient=recipient,
        tx=GAS,
    )
    return lambda stubs: stubs.wallets.Withdraw(req, timeout=30)


def _list_wallets(stubs: Stubs) -> object:
    return stubs.wallets.ListWallets(w.ListWalletsRequest(principal=p(WALLET_CLIENT, LIVE)))


def _create_wallet() -> Call:
    counter = itertools.count()  # a new principal each time (next() is atomic under the GIL)

    def call(stubs: Stubs) -> object:
        who = p(f"soak-new-{next(counter)}", LIVE)
        return stubs.wallets.CreateTradingWallet(w.CreateTradingWalletRequest(principal=who))

    return call


def _rotate(cred: Cred) -> Call:
    """Re-store a credential (a new sealed version; the cached handle is evicted and wiped)."""
    return lambda stubs: stubs.credentials.SetCredentials(cred.set_request(), timeout=30)
