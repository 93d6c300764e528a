"""Issue-3 venues end to end through a real daemon, each signature checked independently."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets

import grpc
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from signer._proto.sequence.signer.v1 import common_pb2, credential_service_pb2, signing_service_pb2
from signer.client import Stubs
from tests.integration.conftest import LIVE, SANDBOX, RunningDaemon, principal, rpc_reason

SECRET = secrets.token_hex(24)


def store(stubs: Stubs, venue: str, key: str, secret: str, mode: int, passphrase: str = "") -> None:
    stubs.credentials.SetCredentials(
        credential_service_pb2.SetCredentialsRequest(
            principal=principal(mode=mode), venue=venue, api_key=key, api_secret=secret,
            passphrase=passphrase,
        )
    )  # fmt: skip


def sign(stubs: Stubs, venue: str, method: str, path: str, mode: int, query: str = "",
         body: bytes = b"", headers: dict[str, str] | None = None) -> common_pb2.HttpRequest:  # fmt: skip
    resp = stubs.signing.SignVenueRequest(
        signing_service_pb2.SignVenueRequestRequest(
            principal=principal(mode=mode), venue=venue,
            request=common_pb2.HttpRequest(method=method, path=path, query=query, body=body,
                                           headers=headers or {}),
        )
    )  # fmt: skip
    assert resp.audit_id
    return resp.request


def pad(text: str) -> str:
    return text + "=" * (-len(text) % 4)


def b64hmac(text: str) -> str:
    return base64.b64encode(
        hmac.new(SECRET.encode(), text.encode(), hashlib.sha256).digest()
    ).decode()


def hexhmac(text: str) -> str:
    return hmac.new(SECRET.encode(), text.encode(), hashlib.sha256).hexdigest()


def test_okx_sandbox_read(daemon: RunningDaemon) -> None:
    api = daemon.api()
    store(api, "okx", "okxKey", SECRET, SANDBOX, passphrase="Pass-phrase1")
    out = sign(api, "okx", "GET", "/api/v5/account/balance", SANDBOX, query="ccy=BTC")
    h = out.headers
    assert h["x-simulated-trading"] == "1" and h["OK-ACCESS-PASSPHRASE"] == "Pass-phrase1"
    prehash = h["OK-ACCESS-TIMESTAMP"] + "GET" + "/api/v5/account/balance?ccy=BTC"
    assert h["OK-ACCESS-SIGN"] == b64hmac(prehash)


def test_okx_live_order_has_no_demo_header(daemon: RunningDaemon) -> None:
    api = daemon.api()
    store(api, "okx", "okxKey", SECRET, LIVE, passphrase="Pass-phrase1")
    body = (
        b'{"instId":"BTC-USDT","tdMode":"cash","side":"buy","ordType":"limit","sz":"1","px":"100"}'
    )
    out = sign(api, "okx", "POST", "/api/v5/trade/order", LIVE, body=body,
               headers={"Content-Type": "application/json"})  # fmt: skip
    assert "x-simulated-trading" not in out.headers
    prehash = out.headers["OK-ACCESS-TIMESTAMP"] + "POST/api/v5/trade/order" + out.body.decode()
    assert out.headers["OK-ACCESS-SIGN"] == b64hmac(prehash)
    assert json.loads(out.body) == json.loads(body)


def test_bitget_live_read(daemon: RunningDaemon) -> None:
    api = daemon.api()
    store(api, "bitget", "bgKey", SECRET, LIVE, passphrase="bitgetPass")
    out = sign(api, "bitget", "GET", "/api/v2/spot/account/assets", LIVE)
    h = out.headers
    assert "paptrading" not in h
    assert h["ACCESS-SIGN"] == b64hmac(h["ACCESS-TIMESTAMP"] + "GET/api/v2/spot/account/assets")


def test_bybit_sandbox_read_goes_to_testnet(daemon: RunningDaemon) -> None:
    api = daemon.api()
    store(api, "bybit", "bybitKey", SECRET, SANDBOX)
    out = sign(
        api, "bybit", "GET", "/v5/account/wallet-balance", SANDBOX, query="accountType=UNIFIED"
    )
    assert out.host == "api-testnet.bybit.com"
    h = out.headers
    prehash = h["X-BAPI-TIMESTAMP"] + "bybitKey" + h["X-BAPI-RECV-WINDOW"] + out.query
    assert h["X-BAPI-SIGN"] == hexhmac(prehash)


def test_bitmart_live_cancel_and_no_sandbox(daemon: RunningDaemon) -> None:
    api = daemon.api()
    store(api, "bitmart", "bmKey", SECRET, LIVE, passphrase="memo1")
    out = sign(api, "bitmart", "POST", "/spot/v4/cancel_all", LIVE, body=b'{"symbol":"BTC_USDT"}',
               headers={"Content-Type": "application/json"})  # fmt: skip
    h = out.headers
    assert h["X-BM-SIGN"] == hexhmac(f"{h['X-BM-TIMESTAMP']}#memo1#{out.body.decode()}")
    with pytest.raises(grpc.RpcError) as err:
        sign(api, "bitmart", "POST", "/spot/v4/cancel_all", SANDBOX, body=b"{}")
    assert rpc_reason(err.value) == "MODE_MISMATCH"


def test_coinbase_jwt_verifies(daemon: RunningDaemon) -> None:
    api = daemon.api()
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip
    name = "organizations/org-1/apiKeys/key-1"
    store(api, "coinbase", name, pem, LIVE)
    out = sign(api, "coinbase", "GET", "/api/v3/brokerage/accounts", LIVE)
    token = out.headers["Authorization"].removeprefix("Bearer ")
    head, claims, sig = token.split(".")
    raw = base64.urlsafe_b64decode(pad(sig))
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key.public_key().verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    body = json.loads(base64.urlsafe_b64decode(pad(claims)))
    assert body["uri"] == "GET api.coinbase.com/api/v3/brokerage/accounts"
    assert (body["sub"], body["iss"], body["exp"] - body["nbf"]) == (name, "cdp", 120)


@pytest.mark.parametrize(
    ("venue", "method", "path", "body"),
    [
        (
            "okx",
            "POST",
            "/api/v5/asset/withdrawal",
            b'{"ccy":"BTC","amt":"1","dest":"4","toAddr":"x"}',
        ),
        (
            "bybit",
            "POST",
            "/v5/asset/withdraw/create",
            b'{"coin":"BTC","chain":"BTC","address":"x","amount":"1"}',
        ),
        (
            "bitget",
            "POST",
            "/api/v2/spot/wallet/withdrawal",
            b'{"coin":"BTC","address":"x","size":"1"}',
        ),
        (
            "bitmart",
            "POST",
            "/account/v1/withdraw/apply",
            b'{"currency":"BTC","amount":"1","destination":"x"}',
        ),
        (
            "coinbase",
            "POST",
            "/v2/accounts/abc/transactions",
            b'{"type":"send","to":"x","amount":"1"}',
        ),
        (
            "bybit",
            "POST",
            "/v5/order/create",
            b'{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Market","qty":"1","address":"x"}',
        ),
    ],
)
def test_expfail_withdrawals_denied_end_to_end(
    daemon: RunningDaemon, venue: str, method: str, path: str, body: bytes
) -> None:
    with pytest.raises(grpc.RpcError) as err:
        sign(daemon.api(), venue, method, path, LIVE, body=body,
             headers={"Content-Type": "application/json"})  # fmt: skip
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert rpc_reason(err.value) == "POLICY_DENIED"
