"""ccxt as a test oracle for the Kraken and Binance signatures (never copied, only compared).

For generated requests, ccxt's ``sign()`` is called directly with the api
path names ccxt uses, its nonce / milliseconds pinned to the daemon clock's
value; ``fetch`` is replaced by a tripwire and markets are never loaded, so
ccxt cannot touch the network.

Kraken: body and ``API-Sign`` must be byte-identical (both put the nonce first
and keep the caller's order; ccxt switches to JSON for a ``%`` price, so the
generated prices are absolute).

Binance: ccxt always puts ``timestamp`` first, while the daemon follows
Binance's own signed example (``...&recvWindow=5000&timestamp=...``). The
oracle therefore checks that (1) both payloads hold byte-identical ``k=v``
components, in the same order apart from the two stamped ones, (2) the
daemon's signer reproduces ccxt's signature over ccxt's payload and (3) ccxt's
primitive reproduces the daemon's signature over the daemon's payload.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any
from urllib.parse import quote, urlencode

import ccxt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from signer.domain import HttpRequest
from signer.keystore.handles import Secret
from signer.venues import binance, kraken
from signer.venues.binance import build_signer

from .conftest import BINANCE_API_KEY, BINANCE_SECRET, KRAKEN_SECRET, LIVE, FixedClock, make_creds

SETTINGS = settings(max_examples=120, deadline=None)


def _no_network(*_: object, **__: object) -> None:
    raise AssertionError("ccxt tried to use the network")


@pytest.fixture(scope="module")
def ccxt_kraken() -> Any:
    ex = ccxt.kraken({"apiKey": "kraken-api-key", "secret": KRAKEN_SECRET})
    ex.fetch = _no_network
    return ex


@pytest.fixture(scope="module")
def ccxt_binance() -> Any:
    ex = ccxt.binance({"apiKey": BINANCE_API_KEY, "secret": BINANCE_SECRET})
    ex.fetch = _no_network
    ex.options["recvWindow"] = 5000
    return ex


# --- strategies --------------------------------------------------------------------------

_decimals = st.builds(
    lambda whole, frac: f"{whole}.{frac}" if frac else str(whole),
    st.integers(0, 10**9),
    st.sampled_from(["", "1", "25", "00000001", "123456789"]),
)
_uuid = st.builds(lambda: str(uuid.uuid4()))
_kraken_pairs = st.sampled_from(["XBTUSD", "XXBTZUSD", "ETHEUR", "SOLUSD", "XDGUSD", "AAPLxUSD"])
_binance_symbols = st.sampled_from(["BTCUSDT", "ETHBTC", "LTCBTC", "BNBUSDT", "1000SATSUSDT"])
_client_ids = st.from_regex(r"[A-Za-z0-9_.:/-]{1,36}", fullmatch=True)


@st.composite
def kraken_add_order(draw: st.DrawFn) -> dict[str, str]:
    ordertype = draw(st.sampled_from(["market", "limit", "stop-loss", "take-profit-limit"]))
    params = {
        "ordertype": ordertype,
        "type": draw(st.sampled_from(["buy", "sell"])),
        "volume": draw(_decimals),
        "pair": draw(_kraken_pairs),
    }
    if ordertype != "market":
        params["price"] = draw(_decimals)
    optional = {
        "price2": _decimals,
        "cl_ord_id": _uuid,
        "oflags": st.sampled_from(["post", "fcib,post", "nompp,fciq"]),
        "timeinforce": st.sampled_from(["GTC", "IOC"]),
        "stptype": st.sampled_from(["cancel-newest", "cancel-both"]),
        "close[ordertype]": st.sampled_from(["limit", "stop-loss"]),
        "deadline": st.just("2026-01-02T03:04:05.678Z"),
        "validate": st.sampled_from(["true", "false"]),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            params[key] = draw(strategy)
    keys = draw(st.permutations(list(params)))
    return {key: params[key] for key in keys}


# --- Kraken --------------------------------------------------------------------------------


def _kraken_pair(ex: Any, name: str, params: dict[str, Any], body: bytes, nonce: int) -> None:
    """Sign with the daemon and with ccxt; both must produce the same bytes."""
    parsed = kraken.VENUE.parse(LIVE, HttpRequest("POST", "/0/private/" + name, body=body))
    assert parsed.intent.violations == ()
    ours = kraken.VENUE.sign(parsed, make_creds("kraken", "kraken-api-key", KRAKEN_SECRET), FixedClock(nonce=nonce))  # fmt: skip
    ex.options["lastNonce"] = 0
    ex.nonce = lambda: nonce
    theirs = ex.sign(name, ["private"], "POST", dict(params))
    assert ours.request.body.decode() == theirs["body"]
    assert dict(ours.auth_headers) == {
        "API-Key": theirs["headers"]["API-Key"],
        "API-Sign": theirs["headers"]["API-Sign"],
    }
    assert dict(ours.request.headers)["Content-Type"] == theirs["headers"]["Content-Type"]
    assert theirs["url"] == "https://api.kraken.com" + ours.request.path


@SETTINGS
@given(kraken_add_order(), st.integers(10**12, 10**16))
def test_kraken_add_order(ccxt_kraken: Any, params: dict[str, str], nonce: int) -> None:
    body = urlencode(params, quote_via=quote).encode()
    _kraken_pair(ccxt_kraken, "AddOrder", params, body, nonce)


@SETTINGS
@given(
    st.sampled_from(["OQCLML-BW3P3-BUCMWZ", "O6S6CF-ABC12-XYZ789", "123456"]),
    st.integers(10**12, 10**16),
)
def test_kraken_cancel_order(ccxt_kraken: Any, txid: str, nonce: int) -> None:
    _kraken_pair(ccxt_kraken, "CancelOrder", {"txid": txid}, f"txid={txid}".encode(), nonce)


@SETTINGS
@given(
    st.lists(kraken_add_order(), min_size=2, max_size=5),
    _kraken_pairs,
    st.integers(10**12, 10**16),
)
def test_kraken_add_order_batch_json(
    ccxt_kraken: Any, orders: list[dict[str, str]], pair: str, nonce: int
) -> None:
    items = [
        {
            k: v
            for k, v in order.items()
            if k not in ("pair", "close[ordertype]", "deadline", "validate")
        }
        for order in orders
    ]
    params: dict[str, Any] = {"orders": items, "pair": pair}
    _kraken_pair(ccxt_kraken, "AddOrderBatch", params, json.dumps(params).encode(), nonce)


@SETTINGS
@given(
    st.lists(
        st.sampled_from(["OQCLML-BW3P3-BUCMWZ", "O6S6CF-ABC12-XYZ789"]), min_size=1, max_size=50
    ),
    st.integers(10**12, 10**16),
)
def test_kraken_cancel_order_batch_json(ccxt_kraken: Any, ids: list[str], nonce: int) -> None:
    params: dict[str, Any] = {"orders": ids}
    _kraken_pair(ccxt_kraken, "CancelOrderBatch", params, json.dumps(params).encode(), nonce)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("Balance", {}),
        ("TradeBalance", {"asset": "ZUSD"}),
        ("TradesHistory", {"type": "no position", "trades": "true", "ofs": "50"}),
        ("Ledgers", {"asset": "XXBT,ZUSD", "type": "trade"}),
        ("QueryOrders", {"txid": "OQCLML-BW3P3-BUCMWZ,O6S6CF-ABC12-XYZ789"}),
        ("CancelAllOrdersAfter", {"timeout": "60"}),
        ("GetWebSocketsToken", {}),
        ("AmendOrder", {"cl_ord_id": "6d1b345e-2821-40e2-ad83-4ecb18a06876", "order_qty": "1.25"}),
    ],
)
def test_kraken_other_endpoints(ccxt_kraken: Any, name: str, params: dict[str, str]) -> None:
    body = urlencode(params, quote_via=quote).encode()
    _kraken_pair(ccxt_kraken, name, params, body, 1616492376594)


# --- Binance -----------------------------------------------------------------------------


@st.composite
def binance_order(draw: st.DrawFn) -> dict[str, str]:
    order_type = draw(st.sampled_from(["LIMIT", "MARKET", "LIMIT_MAKER", "STOP_LOSS_LIMIT"]))
    params = {
        "symbol": draw(_binance_symbols),
        "side": draw(st.sampled_from(["BUY", "SELL"])),
        "type": order_type,
        "quantity": draw(_decimals),
        "newClientOrderId": draw(_client_ids),
    }
    if order_type != "MARKET":
        params["price"] = draw(_decimals)
    if order_type in ("LIMIT", "STOP_LOSS_LIMIT"):
        params["timeInForce"] = draw(st.sampled_from(["GTC", "IOC", "FOK"]))
    if order_type == "STOP_LOSS_LIMIT":
        params["stopPrice"] = draw(_decimals)
    if draw(st.booleans()):
        params["newOrderRespType"] = draw(st.sampled_from(["ACK", "RESULT", "FULL"]))
    keys = draw(st.permutations(list(params)))
    return {key: params[key] for key in keys}


def _components(payload: str) -> tuple[list[str], str]:
    unsigned, _, signature = payload.rpartition("&signature=")
    return unsigned.split("&"), signature


def _binance_pair(
    ex: Any,
    ccxt_path: str,
    method: str,
    path: str,
    params: dict[str, str],
    ts: int,
    secret: str | bytes = BINANCE_SECRET,
) -> None:
    query = urlencode(params, quote_via=quote)
    request = (
        HttpRequest(method, path, query=query)
        if method in ("GET", "DELETE")
        else HttpRequest(method, path, body=query.encode())
    )
    parsed = binance.VENUE.parse(LIVE, request)
    assert parsed.intent.violations == ()
    ours = binance.VENUE.sign(parsed, make_creds("binance", BINANCE_API_KEY, secret), FixedClock(now_ms=ts))  # fmt: skip
    ours_payload = ours.request.query or ours.request.body.decode()
    ex.secret = secret.decode() if isinstance(secret, bytes) else secret
    ex.nonce = lambda: ts
    theirs = ex.sign(ccxt_path, ["private"], method, dict(params))
    theirs_payload = theirs["url"].partition("?")[2] if method in ("GET", "DELETE") else theirs["body"]  # fmt: skip
    assert theirs["headers"]["X-MBX-APIKEY"] == dict(ours.auth_headers)["X-MBX-APIKEY"]

    our_parts, our_sig = _components(ours_payload)
    their_parts, their_sig = _components(theirs_payload)
    stamped = {f"timestamp={ts}", "recvWindow=5000"}
    assert our_parts[-2:] == ["recvWindow=5000", f"timestamp={ts}"]
    assert their_parts[0] == f"timestamp={ts}"
    assert [p for p in our_parts if p not in stamped] == [p for p in their_parts if p not in stamped]  # fmt: skip
    assert sorted(our_parts) == sorted(their_parts)

    signer = build_signer(Secret(secret))
    assert signer("&".join(their_parts).encode()) == their_sig
    if isinstance(secret, str):
        expected = ex.hmac("&".join(our_parts).encode(), secret.encode(), hashlib.sha256)
    elif b"RSA" in secret or len(secret) > 120:
        expected = ex.encode_uri_component(ex.rsa("&".join(our_parts), ex.secret, "sha256"))
    else:
        expected = ex.encode_uri_component(ex.eddsa("&".join(our_parts).encode(), ex.secret, "ed25519"))  # fmt: skip
    assert our_sig == expected


@SETTINGS
@given(binance_order(), st.integers(10**12, 2 * 10**12))
def test_binance_new_order(ccxt_binance: Any, params: dict[str, str], ts: int) -> None:
    _binance_pair(ccxt_binance, "order", "POST", "/api/v3/order", params, ts)


@SETTINGS
@given(_binance_symbols, st.integers(1, 10**12), st.integers(10**12, 2 * 10**12))
def test_binance_cancel_order(ccxt_binance: Any, symbol: str, order_id: int, ts: int) -> None:
    params = {"symbol": symbol, "orderId": str(order_id)}
    _binance_pair(ccxt_binance, "order", "DELETE", "/api/v3/order", params, ts)


@SETTINGS
@given(_binance_symbols, st.integers(1, 1000), st.integers(10**12, 2 * 10**12))
def test_binance_reads(ccxt_binance: Any, symbol: str, limit: int, ts: int) -> None:
    params = {"symbol": symbol, "limit": str(limit)}
    _binance_pair(ccxt_binance, "allOrders", "GET", "/api/v3/allOrders", params, ts)
    _binance_pair(ccxt_binance, "myTrades", "GET", "/api/v3/myTrades", params, ts)
    _binance_pair(ccxt_binance, "account", "GET", "/api/v3/account", {}, ts)


def test_binance_amend_keep_priority(ccxt_binance: Any) -> None:
    params = {"symbol": "BTCUSDT", "orderId": "12", "newQty": "0.5"}
    _binance_pair(ccxt_binance, "order/amend/keepPriority", "PUT", "/api/v3/order/amend/keepPriority", params, 1499827319559)  # fmt: skip


def _pem(key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_binance_pem_keys(ccxt_binance: Any, kind: str) -> None:
    key = (
        ed25519.Ed25519PrivateKey.generate()
        if kind == "ed25519"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    pem = _pem(key)
    try:
        params = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "1", "newClientOrderId": "x1"}  # fmt: skip
        _binance_pair(ccxt_binance, "order", "POST", "/api/v3/order", params, 1499827319559, pem)
        _binance_pair(ccxt_binance, "account", "GET", "/api/v3/account", {}, 1499827319559, pem)
    finally:
        ccxt_binance.secret = BINANCE_SECRET
