"""Valid yet distinctive credentials for all eleven venues, and a valid request for each.

Every secret is valid for its venue (``signer/venues/credentials.py``) and
carries a marker (``TEXT_MARK`` / ``RAW_MARK``) where the format allows it;
PEM keys are generated here (P-256 and Ed25519 scalars start with RAW_MARK).
Public values (api keys, addresses) never carry a marker: they may appear in
responses. ``legit`` names the one header in which a venue's protocol sends a
secret in clear (the API passphrase of OKX, Bitget and Polymarket).
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from eth_account import Account

from signer._proto.sequence.signer.v1 import common_pb2, credential_service_pb2
from signer._proto.sequence.signer.v1 import signing_service_pb2 as s
from signer.domain import VENUES
from tests.security.canaries import (
    Canary,
    canary,
    ed25519_key,
    key_forms,
    marked_raw,
    marked_text,
    p256_key,
    pem_of,
    raw_forms,
    rsa_key,
    text_forms,
)

LIVE: int = common_pb2.MODE_LIVE
SANDBOX: int = common_pb2.MODE_SANDBOX
PKCS8 = serialization.PrivateFormat.PKCS8
PKCS1 = serialization.PrivateFormat.TraditionalOpenSSL
JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
HL_ORDER = {
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


@dataclass
class Account_:
    """One stored credential row: (client, mode, venue) and its material."""

    client: str
    mode: int
    venue: str
    api_key: str
    # repr=False: a failing assertion prints dataclass arguments; secrets stay out of it.
    api_secret: str = field(repr=False)
    passphrase: str = field(default="", repr=False)
    extra_json: str = field(default="", repr=False)
    canaries: list[Canary] = field(default_factory=list, repr=False)
    legit: tuple[str, str] | None = field(default=None, repr=False)  # (header, passphrase)
    requests: list[common_pb2.HttpRequest] = field(default_factory=list, repr=False)
    sealed: bool = False

    @property
    def principal(self) -> common_pb2.Principal:
        return common_pb2.Principal(client_id=self.client, mode=self.mode)  # type: ignore[arg-type]

    def set_request(self) -> credential_service_pb2.SetCredentialsRequest:
        return credential_service_pb2.SetCredentialsRequest(
            principal=self.principal,
            venue=self.venue,
            api_key=self.api_key,
            api_secret=self.api_secret,
            passphrase=self.passphrase,
            extra_json=self.extra_json,
        )

    def sealed_plaintext(self) -> bytes:
        fields = {
            "api_key": self.api_key,
            "api_secret": self.api_secret,
            "passphrase": self.passphrase,
            "extra_json": self.extra_json,
        }
        return json.dumps({k: v for k, v in fields.items() if v}).encode()

    def sign_request(
        self, http: common_pb2.HttpRequest, wallet_id: str = ""
    ) -> s.SignVenueRequestRequest:
        return s.SignVenueRequestRequest(
            principal=self.principal, venue=self.venue, wallet_id=wallet_id, request=http
        )


def http(
    method: str,
    path: str,
    query: str = "",
    body: object = None,
    headers: dict[str, str] | None = None,
) -> common_pb2.HttpRequest:
    raw = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
    return common_pb2.HttpRequest(
        method=method,
        path=path,
        query=query,
        body=raw,
        headers=headers or ({} if body is None else JSON),
    )


def _text(label: str, value: str) -> Canary:
    return canary(label, text_forms(value))


def _b64_secret(label: str, raw: bytes, urlsafe: bool = False) -> tuple[str, Canary]:
    text = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(raw).decode()
    return text, canary(label, {**text_forms(text), **raw_forms(raw, "decoded-", chunks=True)})


def _pem(label: str, key: object, fmt: serialization.PrivateFormat) -> tuple[str, list[Canary]]:
    text = pem_of(key, fmt)  # type: ignore[arg-type]
    return text, [canary(label, key_forms(key, text))]  # type: ignore[arg-type]


def _secp256k1(label: str) -> tuple[str, str, Canary]:
    """(0x-lowercase hex key, checksummed address, canary) for a RAW_MARK-prefixed key."""
    raw = marked_raw(32)
    key_hex = "0x" + raw.hex()
    return (
        key_hex,
        str(Account.from_key(raw).address),
        canary(label, {**text_forms(key_hex), **raw_forms(raw, "key-", chunks=True)}),
    )


def _hmac(venue: str, kind: str = "secret") -> tuple[str, list[Canary]]:
    value = marked_text(f"{venue}{kind}", alphabet_safe=True)
    return value, [_text(f"{venue}.{kind}", value)]


# A valid request per venue (shapes as in tests/integration and tests/unit/venues).
REQUESTS = {
    "kraken": [http("POST", "/0/private/AddOrder", headers=FORM,
                    body=b"ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25")],
    "coinbase": [http("GET", "/api/v3/brokerage/accounts")],
    "binance": [http("POST", "/api/v3/order", query="symbol=BTCUSDT&side=BUY&type=LIMIT"
                     "&timeInForce=GTC&quantity=0.01&price=20000")],
    "bitget": [http("GET", "/api/v2/spot/account/assets")],
    "cryptocom": [http("POST", "/exchange/v1/private/get-open-orders",
                       body={"method": "private/get-open-orders", "params": {}})],
    "bitmart": [http("POST", "/spot/v4/cancel_all", body={"symbol": "BTC_USDT"})],
    "okx": [http("GET", "/api/v5/account/balance", query="ccy=BTC"),
            http("POST", "/api/v5/trade/order", body={"instId": "BTC-USDT", "tdMode": "cash",
                 "side": "buy", "ordType": "limit", "sz": "1", "px": "100"})],
    "bybit": [http("GET", "/v5/account/wallet-balance", query="accountType=UNIFIED")],
    "hyperliquid": [http("POST", "/exchange", body={"action": HL_ORDER})],
    "kalshi": [http("GET", "/trade-api/v2/portfolio/balance")],
}  # fmt: skip
# SECURITY (of the test): the only place a venue protocol puts a stored secret in
# clear: the API passphrase header of OKX, Bitget and Polymarket L2. BitMart signs
# with its memo but never sends it, so it has no entry.
PASSPHRASE_HEADER = {
    "okx": "OK-ACCESS-PASSPHRASE",
    "bitget": "ACCESS-PASSPHRASE",
    "polymarket": "POLY_PASSPHRASE",
}


def _acct(client: str, mode: int, venue: str, key: str, secret: str, canaries: list[Canary],
          passphrase: str = "", sealed: bool = False) -> Account_:  # fmt: skip
    if passphrase:
        canaries = [*canaries, _text(f"{venue}.passphrase.{client}", passphrase)]
    header = PASSPHRASE_HEADER.get(venue)
    return Account_(client, mode, venue, key, secret, passphrase, canaries=canaries,
                    legit=(header, passphrase) if header else None,
                    requests=list(REQUESTS.get(venue, [])), sealed=sealed)  # fmt: skip


def build_accounts() -> list[Account_]:
    """One or more stored credentials per venue, each with valid requests to sign."""
    kraken, c_kraken = _b64_secret("kraken.api_secret", marked_raw(64))
    seed = ed25519_key()
    cb64, c_cb64 = _b64_secret(
        "coinbase.ed25519_b64", seed.private_bytes_raw() + seed.public_key().public_bytes_raw()
    )
    name = "organizations/org-canary/apiKeys/key-1"
    hl_key, hl_agent, c_hl = _secp256k1("hyperliquid.agent_key")
    out = [
        _acct("c-kraken", LIVE, "kraken", "krakenPublicKey1", kraken, [c_kraken]),
        _acct("c-coinbase-ec", LIVE, "coinbase", name, *_pem("coinbase.ec", p256_key(), PKCS1)),
        _acct("c-coinbase-ed", LIVE, "coinbase", name, *_pem("coinbase.ed", ed25519_key(), PKCS8)),
        _acct("c-coinbase-b64", SANDBOX, "coinbase", "bare-key-id", cb64, [c_cb64]),
        _acct("c-binance", SANDBOX, "binance", "binancePublicKey1", *_hmac("binance")),
        _acct("c-binance-ed", LIVE, "binance", "binancePublicKey2",
              *_pem("binance.ed25519", ed25519_key(), PKCS8)),
        _acct("c-bitget", LIVE, "bitget", "bitgetPublicKey", *_hmac("bitget"),
              passphrase=marked_text("bitgetpass")),
        _acct("c-cryptocom", LIVE, "cryptocom", "cryptocomPublicKey", *_hmac("cryptocom")),
        _acct("c-bitmart", LIVE, "bitmart", "bitmartPublicKey", *_hmac("bitmart"),
              passphrase=marked_text("bitmartmemo")),
        _acct("c-okx", SANDBOX, "okx", "okxPublicKey", *_hmac("okx"),
              passphrase=marked_text("okxpass")),
        _acct("c-okx-sealed", LIVE, "okx", "okxPublicKey", *_hmac("okx", "sealedsecret"),
              passphrase=marked_text("okxsealedpass"), sealed=True),
        _acct("c-bybit", SANDBOX, "bybit", "bybitPublicKey", *_hmac("bybit")),
        _acct("c-bybit-rsa", LIVE, "bybit", "bybitPublicKey2", *_pem("bybit.rsa", rsa_key(), PKCS1)),
        _acct("c-hl-agent", LIVE, "hyperliquid", hl_agent, hl_key, [c_hl]),
        _acct("c-kalshi-pk8", LIVE, "kalshi", str(uuid.uuid4()),
              *_pem("kalshi.pkcs8", rsa_key(), PKCS8)),
        _acct("c-kalshi-pk1", SANDBOX, "kalshi", str(uuid.uuid4()),
              *_pem("kalshi.pkcs1", rsa_key(), PKCS1)),
        polymarket(),
    ]  # fmt: skip
    assert {a.venue for a in out} == set(VENUES)
    return out


def polymarket() -> Account_:
    """Signer key (extra_json) + L2 key, urlsafe-base64 secret and passphrase; an order
    whose maker and signer are the stored key, and an L2-authenticated read."""
    key_hex, address, signer = _secp256k1("polymarket.signer_private_key")
    secret, l2 = _b64_secret("polymarket.l2_secret", marked_raw(32), urlsafe=True)
    owner = str(uuid.uuid4())
    acct = _acct("c-poly", LIVE, "polymarket", owner, secret, [signer, l2],
                 passphrase=marked_text("polypass"))  # fmt: skip
    acct.extra_json = json.dumps({"signer_private_key": key_hex})
    order = {"salt": secrets.randbelow(10**12), "maker": address, "signer": address,
             "tokenId": "1234", "makerAmount": "100000000", "takerAmount": "50000000",
             "side": "BUY", "expiration": "0", "signatureType": 0}  # fmt: skip
    body = {"order": order, "owner": owner, "orderType": "GTC", "exchange": CTF_V2}
    acct.requests = [http("POST", "/order", body=body), http("GET", "/data/orders")]
    return acct
