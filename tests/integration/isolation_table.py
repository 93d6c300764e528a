"""The venue table behind the mode-isolation tests (DESIGN.md invariant 7).

One row per venue in ``signer.venues.build_venues``: fresh credential material
for a principal, one request the shipped policy allows in every mode the venue
has, the hosts of each mode as the venue documents them (VENUES.md), and how to
tell from a signed request *whose* key signed it. ``test_mode_isolation.py``
asserts that this table names every venue in the registry, so a new venue
cannot be forgotten.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from eth_account import Account
from eth_account.messages import encode_typed_data

from signer._proto.sequence.signer.v1 import common_pb2
from signer.schemes.hyperliquid import connection_id

HL_ORDER = {
    "type": "order",
    "orders": [
        {"a": 4, "b": True, "p": "1670.1", "s": "0.0147", "r": False,
         "t": {"limit": {"tif": "Ioc"}}}
    ],
    "grouping": "na",
}  # fmt: skip
JSON = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Material:
    """SetCredentials fields and the identity a signature made with them shows."""

    api_key: str
    api_secret: str
    passphrase: str = ""
    extra_json: str = ""
    identity: str = ""


@dataclass(frozen=True)
class VenueRow:
    """One venue.

    Attributes:
        venue: the registry name.
        live_host, sandbox_host: each mode's host; None: no such environment.
        make: fresh credential material (distinct on every call).
        request: method, path, query, body, headers of a request the shipped
            policy allows in every mode the venue has.
        identity: whose key signed a signed request (``mode`` picks the
            Hyperliquid phantom-agent source).
        demo_header: the header that marks a sandbox request when both modes
            share one host (OKX, Bitget).
    """

    venue: str
    live_host: str
    sandbox_host: str | None
    make: Callable[[], Material]
    request: tuple[str, str, str, bytes, dict[str, str]]
    identity: Callable[[common_pb2.HttpRequest, str], str]
    demo_header: tuple[str, str] | None = None
    policy_modes: frozenset[str] = field(default=frozenset({"live", "sandbox"}))

    def http(self, host: str = "", headers: dict[str, str] | None = None) -> common_pb2.HttpRequest:
        method, path, query, body, base = self.request
        return common_pb2.HttpRequest(
            method=method, path=path, query=query, body=body, host=host,
            headers={**base, **(headers or {})},
        )  # fmt: skip

    @property
    def shared_host(self) -> bool:
        return self.sandbox_host == self.live_host


def _tag() -> str:
    return secrets.token_hex(6)


def _hmac_secret() -> str:
    return secrets.token_hex(24)


def _header(name: str) -> Callable[[common_pb2.HttpRequest, str], str]:
    return lambda out, _mode: out.headers[name]


def _pad(text: str) -> str:
    return text + "=" * (-len(text) % 4)


def _coinbase_identity(out: common_pb2.HttpRequest, _mode: str) -> str:
    claims = out.headers["Authorization"].removeprefix("Bearer ").split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(_pad(claims)))["sub"])


def _cryptocom_identity(out: common_pb2.HttpRequest, _mode: str) -> str:
    return str(json.loads(out.body)["api_key"])


def hyperliquid_signer(body: dict[str, object], source: str) -> str:
    """Recover the signer of a Hyperliquid L1 body under ``source`` (eth-account oracle)."""
    cid = connection_id(body["action"], body["nonce"], None, body["expiresAfter"])  # type: ignore[arg-type]
    typed = {
        "domain": {"name": "Exchange", "version": "1", "chainId": 1337,
                   "verifyingContract": "0x" + "00" * 20},
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"},
                             {"name": "version", "type": "string"},
                             {"name": "chainId", "type": "uint256"},
                             {"name": "verifyingContract", "type": "address"}],
            "Agent": [{"name": "source", "type": "string"},
                      {"name": "connectionId", "type": "bytes32"}],
        },
        "primaryType": "Agent",
        "message": {"source": source, "connectionId": cid},
    }  # fmt: skip
    sig = body["signature"]
    vrs = (sig["v"], int(sig["r"], 16), int(sig["s"], 16))  # type: ignore[index]
    return str(Account.recover_message(encode_typed_data(full_message=typed), vrs=vrs))


def _hyperliquid_identity(out: common_pb2.HttpRequest, mode: str) -> str:
    # SECURITY: the source is the mode's own ("a" mainnet, "b" testnet); a
    # signature made under the other source recovers to some unrelated address.
    return hyperliquid_signer(json.loads(out.body), "a" if mode == "live" else "b")


def _kraken() -> Material:
    key = f"kraken-{_tag()}"
    return Material(key, base64.b64encode(secrets.token_bytes(64)).decode(), identity=key)


def _binance() -> Material:
    key = f"binance{_tag()}"
    return Material(key, secrets.token_hex(32), identity=key)


def _coinbase() -> Material:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip
    name = f"organizations/org-1/apiKeys/{_tag()}"
    return Material(name, pem, identity=name)


def _plain(venue: str, passphrase: str = "") -> Callable[[], Material]:
    def make() -> Material:
        key = f"{venue}-{_tag()}"
        return Material(key, _hmac_secret(), passphrase, identity=key)

    return make


_KALSHI_KEYS = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2)]


def _kalshi() -> Material:
    pem = secrets.choice(_KALSHI_KEYS).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip
    key = str(uuid.uuid4())
    return Material(key, pem, identity=key)


def _hyperliquid() -> Material:
    agent = Account.create()
    return Material(agent.address, agent.key.hex(), identity=agent.address)


def _polymarket() -> Material:
    user = Account.create()
    return Material(
        str(uuid.uuid4()), base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "pass-phrase", json.dumps({"signer_private_key": user.key.hex()}), identity=user.address,
    )  # fmt: skip


ORDER_QUERY = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=20000"
LIVE_ONLY = frozenset({"live"})

ROWS: tuple[VenueRow, ...] = (
    VenueRow("kraken", "api.kraken.com", None, _kraken,
             ("POST", "/0/private/AddOrder", "",
              b"ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25", {}),
             _header("API-Key"), policy_modes=LIVE_ONLY),
    VenueRow("binance", "api.binance.com", "testnet.binance.vision", _binance,
             ("POST", "/api/v3/order", ORDER_QUERY, b"", {}), _header("X-MBX-APIKEY")),
    VenueRow("coinbase", "api.coinbase.com", "api-sandbox.coinbase.com", _coinbase,
             ("GET", "/api/v3/brokerage/accounts", "", b"", {}), _coinbase_identity),
    VenueRow("okx", "www.okx.com", "www.okx.com", _plain("okx", "Pass-phrase1"),
             ("GET", "/api/v5/account/balance", "ccy=BTC", b"", {}), _header("OK-ACCESS-KEY"),
             demo_header=("x-simulated-trading", "1")),
    VenueRow("bitget", "api.bitget.com", "api.bitget.com", _plain("bitget", "bitgetPass"),
             ("GET", "/api/v2/spot/account/assets", "", b"", {}), _header("ACCESS-KEY"),
             demo_header=("paptrading", "1")),
    VenueRow("bybit", "api.bybit.com", "api-testnet.bybit.com", _plain("bybit"),
             ("GET", "/v5/account/wallet-balance", "accountType=UNIFIED", b"", {}),
             _header("X-BAPI-API-KEY")),
    VenueRow("bitmart", "api-cloud.bitmart.com", None, _plain("bitmart", "memo1"),
             ("POST", "/spot/v4/cancel_all", "", b'{"symbol":"BTC_USDT"}', JSON),
             _header("X-BM-KEY"), policy_modes=LIVE_ONLY),
    VenueRow("cryptocom", "api.crypto.com", "uat-api.3ona.co", _plain("cryptocom"),
             ("POST", "/exchange/v1/private/user-balance", "",
              b'{"method":"private/user-balance","params":{}}', JSON), _cryptocom_identity),
    VenueRow("kalshi", "api.elections.kalshi.com", "demo-api.kalshi.co", _kalshi,
             ("GET", "/trade-api/v2/portfolio/balance", "", b"", {}),
             _header("KALSHI-ACCESS-KEY")),
    VenueRow("hyperliquid", "api.hyperliquid.xyz", "api.hyperliquid-testnet.xyz", _hyperliquid,
             ("POST", "/exchange", "", json.dumps({"action": HL_ORDER}).encode(), JSON),
             _hyperliquid_identity),
    VenueRow("polymarket", "clob.polymarket.com", None, _polymarket,
             ("DELETE", "/cancel-all", "", b"", {}), _header("POLY_ADDRESS"),
             policy_modes=LIVE_ONLY),
)  # fmt: skip
BY_VENUE = {row.venue: row for row in ROWS}
