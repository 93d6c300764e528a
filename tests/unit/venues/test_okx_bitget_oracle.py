"""ccxt as a test oracle for the OKX and Bitget signatures (never copied, only compared).

ccxt's ``sign()`` is called directly with its private api names (``trade/order``,
``v2/spot/trade/place-order``...), its ``milliseconds`` pinned to the daemon
clock's value and ``options["timeDifference"]`` set to 0; ``fetch`` is a
tripwire and markets are never loaded, so ccxt cannot touch the network.

OKX: ccxt builds ``OK-ACCESS-TIMESTAMP`` as ``iso8601(milliseconds())`` and
serialises the body with compact JSON in insertion order, exactly as the
daemon does, so URL, body and every auth header must be byte-identical. ccxt
injects its own ``clOrdId`` + broker ``tag`` into trade/order, batch-orders
and order-algo bodies that carry no ``clOrdId``; the generated orders always
carry one (and order-algo, whose schema has no ``clOrdId``, is compared only
through the shared pre-hash function in test_okx.py).

Bitget: POST bodies are byte-identical when ccxt is handed the same
parameters plus the ``requestTime``/``receiveWindow`` the daemon stamps on
place-order. For GET, ccxt sorts the parameters while the daemon keeps the
caller's order and appends the stamped pair; generated reads without stamped
parameters are sent in sorted order (byte-identical), and reads with them are
compared component-wise: both sides sign the other's pre-hash and agree.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import quote, urlencode

import ccxt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signer.domain import HttpRequest, Principal
from signer.keystore.handles import Secret, VenueCredentials
from signer.schemes.hmac import HmacSha256
from signer.venues import bitget, okx

from .conftest import LIVE, SANDBOX, FixedClock

SETTINGS = settings(max_examples=60, deadline=None)
API_KEY = "oracle-api-key-01"
SECRET = "ORACLE-SECRET-0123456789abcdef"
PASSPHRASE = "Oracle pass 1"
TIMESTAMPS = st.integers(10**12, 2 * 10**12)


def _no_network(*_: object, **__: object) -> None:
    raise AssertionError("ccxt tried to use the network")


def _ccxt(cls: Any) -> Any:
    ex = cls({"apiKey": API_KEY, "secret": SECRET, "password": PASSPHRASE})
    ex.fetch = _no_network
    ex.load_markets = _no_network
    ex.options["timeDifference"] = 0
    return ex


@pytest.fixture(scope="module")
def ccxt_okx() -> Any:
    return _ccxt(ccxt.okx)


@pytest.fixture(scope="module")
def ccxt_bitget() -> Any:
    return _ccxt(ccxt.bitget)


def creds(venue: str) -> VenueCredentials:
    return VenueCredentials(venue, API_KEY, Secret(SECRET), Secret(PASSPHRASE), {})


def _ordered(draw: st.DrawFn, params: dict[str, Any]) -> dict[str, Any]:
    keys = draw(st.permutations(list(params)))
    return {key: params[key] for key in keys}


def _optional(draw: st.DrawFn, params: dict[str, Any], options: dict[str, Any]) -> None:
    for key, strategy in options.items():
        if draw(st.booleans()):
            params[key] = draw(strategy)


_decimals = st.builds(
    lambda whole, frac: f"{whole}.{frac}" if frac else str(whole),
    st.integers(0, 10**9),
    st.sampled_from(["", "1", "25", "00000001", "123456789"]),
)
_ids = st.integers(1, 10**18).map(str)
_cl_ids = st.from_regex(r"[A-Za-z0-9]{1,32}", fullmatch=True)

# --- OKX --------------------------------------------------------------------------------------

_inst = st.sampled_from(
    ["BTC-USDT", "ETH-USDC", "BTC-USDT-SWAP", "BTC-USD-250328", "ETH-USD-250328-3500-C"]
)


@st.composite
def okx_order(draw: st.DrawFn) -> dict[str, Any]:
    ord_type = draw(st.sampled_from(["market", "limit", "post_only", "fok", "ioc"]))
    params: dict[str, Any] = {
        "instId": draw(_inst),
        "tdMode": draw(st.sampled_from(["cash", "cross", "isolated"])),
        "side": draw(st.sampled_from(["buy", "sell"])),
        "ordType": ord_type,
        "sz": draw(_decimals),
        "clOrdId": draw(_cl_ids),
    }
    if ord_type != "market":
        params["px"] = draw(_decimals)
    _optional(
        draw,
        params,
        {
            "tag": st.from_regex(r"[A-Za-z0-9]{1,16}", fullmatch=True),
            "posSide": st.sampled_from(["long", "short", "net"]),
            "reduceOnly": st.booleans(),
            "tgtCcy": st.sampled_from(["base_ccy", "quote_ccy"]),
            "stpMode": st.sampled_from(["cancel_maker", "cancel_taker", "cancel_both"]),
            "attachAlgoOrds": st.lists(
                st.fixed_dictionaries(
                    {"tpTriggerPx": _decimals, "tpOrdPx": st.sampled_from(["-1", "123.4"])},
                    optional={
                        "attachAlgoClOrdId": _cl_ids,
                        "tpTriggerPxType": st.sampled_from(["last", "mark"]),
                    },
                ),
                min_size=1,
                max_size=3,
            ),
        },
    )
    return _ordered(draw, params)


def _okx_pair(
    ex: Any, api_path: str, method: str, params: Any, ts: int, who: Principal = LIVE
) -> None:
    path = "/api/v5/" + api_path
    if method == "GET":
        request = HttpRequest("GET", path, query=urlencode(params, quote_via=quote))
    else:
        request = HttpRequest("POST", path, body=json.dumps(params).encode())
    parsed = okx.VENUE.parse(who, request)
    assert parsed.intent.violations == ()
    ours = okx.VENUE.sign(parsed, creds("okx"), FixedClock(now_ms=ts))
    ex.milliseconds = lambda: ts
    theirs = ex.sign(api_path, ["private"], method, json.loads(json.dumps(params)))
    sent = ours.request
    assert theirs["url"] == "https://www.okx.com" + sent.path + (
        f"?{sent.query}" if sent.query else ""
    )
    assert (theirs["body"] or "") == sent.body.decode()
    ours_auth = dict(ours.auth_headers)
    for name in ("OK-ACCESS-KEY", "OK-ACCESS-PASSPHRASE", "OK-ACCESS-TIMESTAMP", "OK-ACCESS-SIGN"):
        assert theirs["headers"][name] == ours_auth[name], name


@SETTINGS
@given(okx_order(), TIMESTAMPS)
def test_okx_place_order(ccxt_okx: Any, params: dict[str, Any], ts: int) -> None:
    _okx_pair(ccxt_okx, "trade/order", "POST", params, ts)


@SETTINGS
@given(st.lists(okx_order(), min_size=1, max_size=5), TIMESTAMPS)
def test_okx_batch_orders(ccxt_okx: Any, orders: list[dict[str, Any]], ts: int) -> None:
    _okx_pair(ccxt_okx, "trade/batch-orders", "POST", orders, ts, SANDBOX)


@st.composite
def okx_cancel_or_amend(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    ref = draw(st.sampled_from(["ordId", "clOrdId"]))
    params: dict[str, Any] = {"instId": draw(_inst), ref: draw(_ids if ref == "ordId" else _cl_ids)}
    if draw(st.booleans()):
        return "trade/cancel-order", _ordered(draw, params)
    params["newSz"] = draw(_decimals)
    _optional(draw, params, {"newPx": _decimals, "cxlOnFail": st.booleans(), "reqId": _cl_ids})
    return "trade/amend-order", _ordered(draw, params)


@SETTINGS
@given(okx_cancel_or_amend(), TIMESTAMPS)
def test_okx_cancel_and_amend(ccxt_okx: Any, case: tuple[str, dict[str, Any]], ts: int) -> None:
    _okx_pair(ccxt_okx, case[0], "POST", case[1], ts)


@st.composite
def okx_read(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    api_path = draw(
        st.sampled_from(
            [
                "trade/orders-pending",
                "trade/orders-history",
                "trade/fills-history",
                "account/balance",
                "account/positions",
            ]
        )
    )
    params: dict[str, str] = {}
    if api_path in ("trade/orders-history", "trade/fills-history"):
        params["instType"] = draw(st.sampled_from(["SPOT", "SWAP", "FUTURES"]))
    if api_path == "account/balance":
        _optional(draw, params, {"ccy": st.sampled_from(["BTC", "BTC,ETH,USDT"])})
    elif api_path == "account/positions":
        _optional(
            draw,
            params,
            {"instId": st.sampled_from(["BTC-USDT-SWAP", "BTC-USDT-SWAP,ETH-USDT-SWAP"])},
        )
    else:
        options: dict[str, Any] = {
            "instId": _inst,
            "after": _ids,
            "limit": st.integers(1, 100).map(str),
        }
        if api_path == "trade/fills-history":
            options["ordId"] = _ids
        else:
            options["ordType"] = st.sampled_from(["limit", "post_only,fok,ioc"])
        _optional(draw, params, options)
    return api_path, _ordered(draw, params)


@SETTINGS
@given(okx_read(), TIMESTAMPS)
def test_okx_reads(ccxt_okx: Any, case: tuple[str, dict[str, str]], ts: int) -> None:
    _okx_pair(ccxt_okx, case[0], "GET", case[1], ts)


def test_okx_sandbox_header_matches_ccxt_demo_mode() -> None:
    ex = _ccxt(ccxt.okx)
    ex.set_sandbox_mode(True)
    parsed = okx.VENUE.parse(SANDBOX, HttpRequest("GET", "/api/v5/account/config"))
    sent = okx.VENUE.sign(parsed, creds("okx"), FixedClock()).request
    assert ex.headers["x-simulated-trading"] == dict(sent.headers)["x-simulated-trading"] == "1"


# --- Bitget -----------------------------------------------------------------------------------

_symbols = st.sampled_from(["BTCUSDT", "ETHUSDT", "TRXUSDT", "1INCHUSDT", "PEPEUSDC"])
_client_oids = st.from_regex(r"[A-Za-z0-9_-]{1,40}", fullmatch=True)


def _bitget_order_fields(draw: st.DrawFn) -> dict[str, Any]:
    order_type = draw(st.sampled_from(["limit", "market"]))
    params: dict[str, Any] = {
        "side": draw(st.sampled_from(["buy", "sell"])),
        "orderType": order_type,
        "force": draw(st.sampled_from(["gtc", "post_only", "fok", "ioc"])),
        "size": draw(_decimals),
    }
    if order_type == "limit":
        params["price"] = draw(_decimals)
    _optional(
        draw,
        params,
        {
            "clientOid": _client_oids,
            "stpMode": st.sampled_from(["none", "cancel_both"]),
            "presetTakeProfitPrice": _decimals,
            "presetStopLossPrice": _decimals,
        },
    )
    return params


@st.composite
def bitget_post(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    kind = draw(st.sampled_from(["place", "batch", "cancel", "replace", "plan"]))
    symbol = draw(_symbols)
    if kind == "place":
        return "place-order", _ordered(draw, {"symbol": symbol, **_bitget_order_fields(draw)})
    if kind == "batch":
        items = [_ordered(draw, _bitget_order_fields(draw)) for _ in range(draw(st.integers(1, 4)))]
        return "batch-orders", _ordered(draw, {"symbol": symbol, "orderList": items})
    if kind == "cancel":
        return "cancel-order", _ordered(draw, {"symbol": symbol, "orderId": draw(_ids)})
    if kind == "replace":
        params = {
            "symbol": symbol,
            "price": draw(_decimals),
            "size": draw(_decimals),
            "clientOid": draw(_client_oids),
        }
        return "cancel-replace-order", _ordered(draw, params)
    params = {
        "symbol": symbol,
        "side": draw(st.sampled_from(["buy", "sell"])),
        "triggerPrice": draw(_decimals),
        "orderType": "market",
        "size": draw(_decimals),
        "triggerType": draw(st.sampled_from(["fill_price", "mark_price"])),
    }
    return "place-plan-order", _ordered(draw, params)


def _bitget_sign(
    ex: Any, path: str, method: str, params: dict[str, Any], ts: int
) -> dict[str, Any]:
    ex.milliseconds = lambda: ts
    return dict(ex.sign(path.removeprefix("/api/"), ["private", "spot"], method, params))


@SETTINGS
@given(bitget_post(), TIMESTAMPS, st.sampled_from([LIVE, SANDBOX]))
def test_bitget_posts(
    ccxt_bitget: Any, case: tuple[str, dict[str, Any]], ts: int, who: Principal
) -> None:
    name, params = case
    path = "/api/v2/spot/trade/" + name
    parsed = bitget.VENUE.parse(who, HttpRequest("POST", path, body=json.dumps(params).encode()))
    assert parsed.intent.violations == ()
    ours = bitget.VENUE.sign(parsed, creds("bitget"), FixedClock(now_ms=ts))
    stamped = {"requestTime": str(ts), "receiveWindow": "5000"} if name == "place-order" else {}
    ccxt_bitget.options["sandboxMode"] = who is SANDBOX
    theirs = _bitget_sign(
        ccxt_bitget, path, "POST", {**json.loads(json.dumps(params)), **stamped}, ts
    )
    assert theirs["url"] == "https://api.bitget.com" + path
    assert theirs["body"] == ours.request.body.decode()
    assert {k: theirs["headers"][k] for k in dict(ours.auth_headers)} == dict(ours.auth_headers)
    their_demo = {k.lower(): v for k, v in theirs["headers"].items()}.get("paptrading")
    assert their_demo == dict(ours.request.headers).get("paptrading")


@st.composite
def bitget_read(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    name = draw(
        st.sampled_from(
            [
                "trade/fills",
                "trade/current-plan-order",
                "account/bills",
                "trade/unfilled-orders",
                "trade/history-orders",
                "trade/orderInfo",
            ]
        )
    )
    params: dict[str, str] = {}
    if name in ("trade/fills", "trade/current-plan-order"):
        params["symbol"] = draw(_symbols)
    if name == "trade/orderInfo":
        params["orderId"] = draw(_ids)
    else:
        _optional(
            draw,
            params,
            {
                "startTime": st.integers(10**12, 2 * 10**12).map(str),
                "limit": st.integers(1, 100).map(str),
                "idLessThan": _ids,
            },
        )
    if name == "account/bills":
        _optional(
            draw,
            params,
            {
                "coin": st.sampled_from(["USDT", "BTC"]),
                "groupType": st.sampled_from(["transaction", "deposit"]),
            },
        )
    return "/api/v2/spot/" + name, dict(sorted(params.items()))


def _bitget_prehash(signed: dict[str, Any], method: str, ts: int) -> str:
    url = signed["url"].removeprefix("https://api.bitget.com")
    return f"{ts}{method}{url}{signed['body'] or ''}"


@SETTINGS
@given(bitget_read(), TIMESTAMPS)
def test_bitget_reads(ccxt_bitget: Any, case: tuple[str, dict[str, str]], ts: int) -> None:
    path, params = case
    parsed = bitget.VENUE.parse(LIVE, HttpRequest("GET", path, query=urlencode(params)))
    assert parsed.intent.violations == ()
    ours = bitget.VENUE.sign(parsed, creds("bitget"), FixedClock(now_ms=ts))
    key = f"GET {path}"
    stamped = (
        {"requestTime": str(ts), "receiveWindow": "5000"} if key in bitget.RECEIVE_WINDOW else {}
    )
    ccxt_bitget.options["sandboxMode"] = False
    theirs = _bitget_sign(ccxt_bitget, path, "GET", {**params, **stamped}, ts)
    our_sign = dict(ours.auth_headers)["ACCESS-SIGN"]
    sent = ours.request
    our_url = "https://api.bitget.com" + path + (f"?{sent.query}" if sent.query else "")
    if not stamped:
        assert theirs["url"] == our_url
        assert theirs["headers"]["ACCESS-SIGN"] == our_sign
        return
    # Same components, ccxt sorted them: each side reproduces the other's signature.
    assert sorted(theirs["url"].partition("?")[2].split("&")) == sorted(sent.query.split("&"))
    assert sent.query.endswith(f"requestTime={ts}&receiveWindow=5000")
    ours_on_theirs = HmacSha256(Secret(SECRET)).base64(_bitget_prehash(theirs, "GET", ts).encode())
    assert ours_on_theirs == theirs["headers"]["ACCESS-SIGN"]
    ours_prehash = bitget.prehash(str(ts), "GET", path, sent.query, "").decode()
    their_hmac = ccxt_bitget.hmac(ours_prehash.encode(), SECRET.encode(), hashlib.sha256, "base64")
    assert their_hmac == our_sign
