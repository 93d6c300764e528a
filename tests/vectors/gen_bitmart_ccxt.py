"""Generate BitMart signing vectors with ccxt 4.4.100 as an independent oracle.

BitMart was removed from ccxt 4.5.x (VENUES.md section 6), and the project's
ccxt must not be downgraded, so this script runs in a separate virtualenv::

    python3 -m venv /tmp/ccxt44 && /tmp/ccxt44/bin/pip install ccxt==4.4.100
    /tmp/ccxt44/bin/python tests/vectors/gen_bitmart_ccxt.py

It writes ``tests/vectors/bitmart_ccxt_vectors.json``: for each seeded random
request, the inputs (method, path, the caller's parameters in order, the
``recvWindow`` the daemon adds on v4 endpoints, key, secret, memo, timestamp)
and what ccxt's ``bitmart.sign()`` produced (URL, body, ``X-BM-*`` headers).
``tests/unit/venues/test_bybit_bitmart_oracle.py`` checks the daemon against it.

SECURITY: ccxt never touches the network here: ``sign()`` is called directly,
markets are never loaded and ``fetch`` is a tripwire. The keys are random test
values, never real credentials.
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import sys
from pathlib import Path
from typing import Any

import ccxt

EXPECTED_CCXT = "4.4.100"
EXCHANGE_ID = "bitmart"
SEED = 20260502
CASES = 64
OUT = Path(__file__).with_name("bitmart_ccxt_vectors.json")
RECV_WINDOW_PATHS = {
    "spot/v4/batch_orders", "spot/v4/cancel_orders", "spot/v4/query/order",
    "spot/v4/query/client-order", "spot/v4/query/open-orders", "spot/v4/query/history-orders",
    "spot/v4/query/trades", "spot/v4/query/order-trades",
}  # fmt: skip
SYMBOLS = ["BTC_USDT", "ETH_USDT", "BMX_USDT", "SOL_USDC", "ETH_BTC", "1INCH_USDT"]
CURRENCIES = ["BTC", "USDT", "ETH", "BMX", "1INCH"]
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _tripwire(*_: object, **__: object) -> None:
    raise AssertionError("ccxt tried to use the network")


def _dec(rng: random.Random) -> str:
    whole = str(rng.randint(0, 10**6))
    return whole if rng.random() < 0.3 else f"{whole}.{rng.randint(1, 10**8)}"


def _client_id(rng: random.Random) -> str:
    return "".join(rng.choice(ALNUM) for _ in range(rng.randint(1, 32)))


def _order_id(rng: random.Random) -> str:
    return str(rng.randint(1, 10**20))


def _order(rng: random.Random, id_key: str) -> dict[str, Any]:
    kind = rng.choice(["limit", "market", "limit_maker", "ioc"])
    side = rng.choice(["buy", "sell"])
    order: dict[str, Any] = {"side": side, "type": kind}
    if kind == "market" and side == "buy":
        order["notional"] = _dec(rng)
    else:
        order["size"] = _dec(rng)
    if kind != "market":
        order["price"] = _dec(rng)
    if rng.random() < 0.5:
        order[id_key] = _client_id(rng)
    if rng.random() < 0.4:
        order["stpMode"] = rng.choice(["none", "cancel_maker", "cancel_taker", "cancel_both"])
    keys = list(order)
    rng.shuffle(keys)
    return {key: order[key] for key in keys}


def _listing(rng: random.Random) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if rng.random() < 0.7:
        out["symbol"] = rng.choice(SYMBOLS)
    if rng.random() < 0.5:
        out["orderMode"] = rng.choice(["spot", "iso_margin"])
    if rng.random() < 0.5:
        start = rng.randint(1_600_000_000_000, 1_800_000_000_000)
        out["startTime"], out["endTime"] = start, start + rng.randint(1, 86_400_000)
    if rng.random() < 0.5:
        out["limit"] = rng.randint(1, 200)
    return out


def _request(rng: random.Random, index: int) -> tuple[str, str, dict[str, Any]]:
    """(method, ccxt path, caller parameters) for case ``index``; every endpoint is covered."""
    kinds = [
        "submit", "batch", "cancel", "cancel_many", "cancel_all", "q_order", "q_client",
        "q_open", "q_history", "q_trades", "q_order_trades", "g_spot_wallet",
        "g_account_wallet", "g_trade_fee", "g_user_fee",
    ]  # fmt: skip
    kind = kinds[index] if index < len(kinds) else rng.choice(kinds)
    symbol = rng.choice(SYMBOLS)
    if kind == "submit":
        return "POST", "spot/v2/submit_order", {"symbol": symbol, **_order(rng, "client_order_id")}
    if kind == "batch":
        items = [_order(rng, "clientOrderId") for _ in range(rng.randint(1, 10))]
        return "POST", "spot/v4/batch_orders", {"symbol": symbol, "orderParams": items}
    if kind == "cancel":
        ref = {"order_id": _order_id(rng)} if rng.random() < 0.5 else {"client_order_id": _client_id(rng)}  # fmt: skip
        return "POST", "spot/v3/cancel_order", {"symbol": symbol, **ref}
    if kind == "cancel_many":
        count = rng.randint(1, 10)
        if rng.random() < 0.5:
            ids = {"orderIds": [_order_id(rng) for _ in range(count)]}
        else:
            ids = {"clientOrderIds": [_client_id(rng) for _ in range(count)]}
        return "POST", "spot/v4/cancel_orders", {"symbol": symbol, **ids}
    if kind == "cancel_all":
        params: dict[str, Any] = {"symbol": symbol} if rng.random() < 0.7 else {}
        if rng.random() < 0.5:
            params["side"] = rng.choice(["buy", "sell"])
        return "POST", "spot/v4/cancel_all", params
    if kind in ("q_order", "q_client"):
        ref = {"orderId": _order_id(rng)} if kind == "q_order" else {"clientOrderId": _client_id(rng)}  # fmt: skip
        if rng.random() < 0.6:
            ref["queryState"] = rng.choice(["open", "history"])
        path = "spot/v4/query/order" if kind == "q_order" else "spot/v4/query/client-order"
        return "POST", path, ref
    if kind in ("q_open", "q_history", "q_trades"):
        name = {"q_open": "open-orders", "q_history": "history-orders", "q_trades": "trades"}[kind]
        return "POST", f"spot/v4/query/{name}", _listing(rng)
    if kind == "q_order_trades":
        return "POST", "spot/v4/query/order-trades", {"orderId": _order_id(rng)}
    if kind == "g_account_wallet":
        query = {"currency": rng.choice(CURRENCIES)} if rng.random() < 0.7 else {}
        return "GET", "account/v1/wallet", query
    if kind == "g_trade_fee":
        return "GET", "spot/v1/trade_fee", {"symbol": symbol}
    return "GET", "spot/v1/wallet" if kind == "g_spot_wallet" else "spot/v1/user_fee", {}


def _case(rng: random.Random, index: int) -> dict[str, Any]:
    method, path, params = _request(rng, index)
    api_key = "".join(rng.choice("0123456789abcdef") for _ in range(40))
    secret = "".join(rng.choice("0123456789abcdef") for _ in range(64))
    memo = _client_id(rng)
    timestamp = rng.randint(1_500_000_000_000, 1_900_000_000_000)
    recv_window = rng.choice([5000, 5000, 10000, 60000, 1]) if path in RECV_WINDOW_PATHS else None
    exchange = getattr(ccxt, EXCHANGE_ID)({"apiKey": api_key, "secret": secret, "uid": memo})
    exchange.fetch = _tripwire
    exchange.nonce = lambda: timestamp
    sent = dict(params) if recv_window is None else {**params, "recvWindow": recv_window}
    signed = exchange.sign(path, "private", method, sent)
    headers = signed["headers"]
    return {
        "name": f"{index:02d}_{method}_{path.replace('/', '_')}",
        "method": method,
        "path": "/" + path,
        "params": params,
        "recvWindow": recv_window,
        "api_key": api_key,
        "secret": secret,
        "memo": memo,
        "timestamp": timestamp,
        "expected": {
            "url": signed["url"],
            "body": signed["body"],
            "X-BM-KEY": headers["X-BM-KEY"],
            "X-BM-TIMESTAMP": headers["X-BM-TIMESTAMP"],
            "X-BM-SIGN": headers["X-BM-SIGN"],
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Write the vector file; refuse to run under any other ccxt version."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if ccxt.__version__ != EXPECTED_CCXT or not hasattr(ccxt, EXCHANGE_ID):
        print(f"needs ccxt=={EXPECTED_CCXT} with {EXCHANGE_ID}; found {ccxt.__version__}")
        return 2
    rng = random.Random(SEED)
    document = {
        "provenance": {
            "generator": "tests/vectors/gen_bitmart_ccxt.py",
            "oracle": f"ccxt {ccxt.__version__} bitmart.sign() (python)",
            "python": sys.version.split()[0],
            "seed": SEED,
            "generated": datetime.datetime.now(datetime.UTC).date().isoformat(),
            "note": "inputs are random test values; params are what the caller sends, "
            "recvWindow is what the daemon appends on v4 endpoints",
        },
        "vectors": [_case(rng, index) for index in range(CASES)],
    }
    args.out.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {CASES} vectors to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
