"""Generate Polymarket CLOB V2 signing vectors with py-clob-client-v2 1.2.1 as the oracle.

py-clob-client-v2 is Polymarket's V2 CLOB client on PyPI; its dependency
pins do not match the project's, so it runs in a separate throwaway
virtualenv (from the repository root)::

    python3 -m venv /tmp/pmclob && /tmp/pmclob/bin/pip install py-clob-client-v2==1.2.1
    /tmp/pmclob/bin/python tests/vectors/gen_polymarket_clob.py > tests/vectors/polymarket_clob_vectors.json

Everything is derived from ``SEED``: the keys, funders, token ids, prices,
sizes, builder codes, L2 secrets and timestamps. The client's clocks
(``time.time_ns`` for the order timestamp and the salt, ``datetime.now`` for
the header timestamp) and the salt's ``random.random`` are pinned per case.

* ``orders``: ``ClobClient.create_order`` (V2, tick size and neg-risk passed
  in) then ``post_order`` / ``post_orders``, for signature types 0, 1, 2 and 3
  (POLY_1271), the CTF Exchange V2 and the Neg Risk Exchange V2, Polygon (137)
  and Amoy (80002). Recorded: the EIP-712 typed data the client signed (bytes32
  as 0x-hex) with its digest (``build_order_hash``), the signature, and the
  exact body and L2 headers the client would POST.
* ``l2``: ``create_level_2_headers`` for (method, path, serialized body,
  timestamp) with a generated urlsafe-base64 secret.
* ``clob_auth``: ``create_level_1_headers`` (ClobAuth) for fixed timestamps and
  nonces on both chains.

``tests/vectors/test_polymarket_oracle.py`` reads the JSON; nothing from the
client is imported by the project.

SECURITY: the client never touches the network here: ``_get``/``_post``/
``_delete`` are replaced (``_post`` records), tick sizes are stubbed and
``httpx.Client.request`` is a tripwire. The keys are random test values.
"""

from __future__ import annotations

import base64
import copy
import datetime
import json
import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from types import SimpleNamespace
from typing import Any

import httpx
import py_clob_client_v2.order_utils.utils as salt_utils
from eth_utils.address import to_checksum_address
from py_clob_client_v2 import client as clob_client
from py_clob_client_v2.clob_types import (
    ApiCreds,
    OrderArgsV2,
    PartialCreateOrderOptions,
    PostOrdersV2Args,
    RequestArgs,
)
from py_clob_client_v2.headers import headers as clob_headers
from py_clob_client_v2.order_builder import builder as clob_builder
from py_clob_client_v2.order_utils import exchange_order_builder_v2 as v2
from py_clob_client_v2.signer import Signer

PACKAGE = "py-clob-client-v2"
EXPECTED_VERSION = "1.2.1"
SEED = 20260612
KEYS = 6
ORDERS_PER_CELL = 6  # per (chain, signature type)
BATCHES = 12
L2_CASES = 48
CLOB_AUTH_CASES = 24
HOST = "https://clob.polymarket.com"
T_LOW = 1_777_334_400_000  # 2026-04-28 (CLOB V2 live) in ms
T_HIGH = 1_798_761_600_000  # 2027-01-01
TICKS = ["0.1", "0.01", "0.005", "0.0025", "0.001", "0.0001"]
ZERO32 = "0x" + "00" * 32
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _tripwire(*_: object, **__: object) -> Any:
    raise AssertionError("the client tried to use the network")


httpx.Client.request = _tripwire  # SECURITY: no request may leave this process


def _key(rng: random.Random) -> str:
    while True:
        value = rng.getrandbits(256)
        if 0 < value < SECP256K1_N:
            return f"0x{value:064x}"


def _address(rng: random.Random) -> str:
    return to_checksum_address(f"0x{rng.getrandbits(160):040x}")


def _bytes32(rng: random.Random) -> str:
    return f"0x{rng.getrandbits(256):064x}"


def _creds(rng: random.Random) -> ApiCreds:
    parts = [rng.getrandbits(bits) for bits in (32, 16, 12, 12, 48)]
    api_key = "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}".format(*parts)
    secret = base64.urlsafe_b64encode(rng.randbytes(32)).decode()
    passphrase = rng.randbytes(32).hex()
    return ApiCreds(api_key=api_key, api_secret=secret, api_passphrase=passphrase)


@contextmanager
def _pinned(rng: random.Random, now_ms: int) -> Iterator[None]:
    """Pin the order clock, the header clock and the salt's randomness to ``now_ms``/``rng``."""
    clock = SimpleNamespace(time_ns=lambda: now_ms * 1_000_000)
    stamp = SimpleNamespace(now=lambda: SimpleNamespace(timestamp=lambda: now_ms / 1000))
    saved = (clob_builder.time, salt_utils.time, salt_utils.random, clob_headers.datetime)
    clob_builder.time, salt_utils.time = clock, clock
    salt_utils.random = SimpleNamespace(random=rng.random)
    clob_headers.datetime = stamp
    try:
        yield
    finally:
        clob_builder.time, salt_utils.time, salt_utils.random, clob_headers.datetime = saved


@contextmanager
def _typed_data_recorder() -> Iterator[list[dict[str, Any]]]:
    """Record each order's typed data and digest as the V2 builder signs it."""
    seen: list[dict[str, Any]] = []
    original = v2.ExchangeOrderBuilderV2.build_order_signature

    def record(self: Any, typed_data: dict[str, Any]) -> str:
        signature: str = original(self, typed_data)
        message = {
            k: ("0x" + v.hex()) if isinstance(v, bytes) else v
            for k, v in typed_data["message"].items()
        }
        seen.append({
            "typed_data": {**copy.deepcopy({k: typed_data[k] for k in ("primaryType", "types", "domain")}), "message": message},
            "digest": self.build_order_hash(typed_data),
        })  # fmt: skip
        return signature

    v2.ExchangeOrderBuilderV2.build_order_signature = record
    try:
        yield seen
    finally:
        v2.ExchangeOrderBuilderV2.build_order_signature = original


def _client(chain: int, key: str, creds: ApiCreds, sig_type: int, funder: str | None) -> Any:
    client = clob_client.ClobClient(
        HOST, chain, key=key, creds=creds, signature_type=sig_type, funder=funder
    )
    posted: list[tuple[str, dict[str, str], str]] = []

    def record(url: str, headers: Any = None, data: Any = None, params: Any = None) -> Any:
        assert params is None
        posted.append((url, dict(headers or {}), data))
        return {}

    client._post = record
    client._get = client._delete = _tripwire
    client.posted = posted
    return client


def _order_args(rng: random.Random, case: dict[str, Any], tick: str, order_type: str) -> Any:
    ticks = round(1 / float(tick))
    price = round(rng.randint(1, ticks - 1) * float(tick), 4)
    size = round(rng.uniform(5, 5_000), rng.randint(0, 2))
    builder, now_ms = case["builder"], case["now_ms"]
    metadata = _bytes32(rng) if builder != ZERO32 and rng.random() < 0.5 else ZERO32
    expiration = now_ms // 1000 + rng.randint(60, 86_400 * 30) if order_type == "GTD" else 0
    return OrderArgsV2(
        token_id=str(rng.getrandbits(255) | (1 << 250)),
        price=price,
        size=size,
        side=rng.choice(["BUY", "SELL"]),
        expiration=expiration,
        builder_code=builder,
        metadata=metadata,
    )


def _order_case(rng: random.Random, chain: int, sig_type: int, keys: list[str]) -> dict[str, Any]:
    """One client set-up (type 0: no funder, the client defaults it to the signer)."""
    return {
        "chain_id": chain,
        "private_key": rng.choice(keys),
        "signature_type": sig_type,
        "funder": _address(rng) if sig_type != 0 else None,
        "creds": _creds(rng),
        "now_ms": rng.randint(T_LOW, T_HIGH),
        "builder": _bytes32(rng) if rng.random() < 0.3 else ZERO32,  # one code per account
    }


def _record(
    case: dict[str, Any], client: Any, seen: list[dict[str, Any]], extra: dict[str, Any]
) -> dict[str, Any]:
    ((url, headers, body),) = client.posted
    creds = case["creds"]
    return {
        **extra,
        "chain_id": case["chain_id"],
        "private_key": case["private_key"],
        "address": client.signer.address(),
        "signature_type": case["signature_type"],
        "funder": client.builder.funder,
        "api_key": creds.api_key,
        "api_secret": creds.api_secret,
        "api_passphrase": creds.api_passphrase,
        "now_ms": case["now_ms"],
        "signed": seen,
        "url": url,
        "body": body,
        "headers": headers,
    }


def order_vectors(rng: random.Random, keys: list[str]) -> list[dict[str, Any]]:
    out = []
    for chain in (137, 80002):
        for sig_type in (0, 1, 2, 3):
            for index in range(ORDERS_PER_CELL):
                case = _order_case(rng, chain, sig_type, keys)
                client = _client(
                    chain, case["private_key"], case["creds"], sig_type, case["funder"]
                )
                neg_risk = index % 2 == 1
                tick = rng.choice(TICKS)
                order_type = rng.choice(["GTC", "GTC", "GTD", "FOK", "FAK"])
                post_only = order_type in ("GTC", "GTD") and rng.random() < 0.3
                defer = rng.random() < 0.3
                with _pinned(rng, case["now_ms"]), _typed_data_recorder() as seen:
                    client.get_tick_size = lambda _t, tick=tick: tick
                    options = PartialCreateOrderOptions(
                        tick_size=tick, neg_risk=neg_risk, version=2
                    )
                    order = client.create_order(_order_args(rng, case, tick, order_type), options)
                    client.post_order(order, order_type, post_only, defer)
                name = f"order_{chain}_t{sig_type}_{index}{'_negrisk' if neg_risk else ''}"
                out.append(_record(case, client, seen, {
                    "name": name, "kind": "post_order", "neg_risk": [neg_risk], "tick_size": tick,
                    "order_types": [order_type], "post_only": post_only, "defer_exec": defer,
                }))  # fmt: skip
    for index in range(BATCHES):
        chain = (137, 80002)[index % 2]
        sig_type = (0, 1, 2)[index % 3]
        case = _order_case(rng, chain, sig_type, keys)
        client = _client(chain, case["private_key"], case["creds"], sig_type, case["funder"])
        count = rng.randint(2, 5)
        neg = [rng.random() < 0.5 for _ in range(count)]
        types = [rng.choice(["GTC", "GTD"]) for _ in range(count)]
        post_only = rng.random() < 0.3
        defer = rng.random() < 0.3
        tick = rng.choice(TICKS)
        with _pinned(rng, case["now_ms"]), _typed_data_recorder() as seen:
            client.get_tick_size = lambda _t, tick=tick: tick
            args = []
            for neg_risk, order_type in zip(neg, types, strict=True):
                options = PartialCreateOrderOptions(tick_size=tick, neg_risk=neg_risk, version=2)
                order = client.create_order(_order_args(rng, case, tick, order_type), options)
                args.append(PostOrdersV2Args(order=order, orderType=order_type))
            client.post_orders(args, post_only, defer)
        out.append(_record(case, client, seen, {
            "name": f"orders_{chain}_t{sig_type}_{index}", "kind": "post_orders", "neg_risk": neg,
            "tick_size": tick, "order_types": types, "post_only": post_only, "defer_exec": defer,
        }))  # fmt: skip
    return out


def _json_body(rng: random.Random) -> str:
    words = ["order", "cancel", "ü-market", "naïve", "x", "0xabc", "€", "tab\there", 'quote"d']
    value: Any = {
        rng.choice(["orderID", "market", "asset_id", "heartbeat_id", "ids"]): rng.choice(words)
        for _ in range(rng.randint(1, 4))
    }
    if rng.random() < 0.3:
        value = [f"0x{rng.getrandbits(256):064x}" for _ in range(rng.randint(1, 3))]
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


L2_ENDPOINTS = [
    ("GET", "/data/orders"), ("GET", "/data/trades"), ("GET", "/balance-allowance"),
    ("DELETE", "/order"), ("DELETE", "/orders"), ("DELETE", "/cancel-all"),
    ("DELETE", "/cancel-market-orders"), ("POST", "/v1/heartbeats"), ("POST", "/order"),
    ("GET", "/notifications"), ("GET", "/order-scoring"), ("POST", "/orders-scoring"),
]  # fmt: skip


def l2_vectors(rng: random.Random, keys: list[str]) -> list[dict[str, Any]]:
    out = []
    for index in range(L2_CASES):
        method, path = L2_ENDPOINTS[index % len(L2_ENDPOINTS)]
        if method == "GET" or path == "/cancel-all":
            body = ""
        elif index % 11 == 5:
            body = json.dumps({"note": "it's"}, separators=(",", ":"))  # an apostrophe
        else:
            body = _json_body(rng)
        creds = _creds(rng)
        signer = Signer(rng.choice(keys), rng.choice([137, 80002]))
        timestamp = rng.randint(T_LOW, T_HIGH) // 1000
        args = RequestArgs(
            method=method, request_path=path, body=None, serialized_body=body or None
        )
        headers = clob_headers.create_level_2_headers(signer, creds, args, timestamp=timestamp)
        out.append({
            "name": f"l2_{index:02d}_{method}_{path.strip('/').replace('/', '_')}",
            "method": method, "path": path, "body": body, "timestamp": timestamp,
            "private_key": signer.private_key, "api_key": creds.api_key,
            "api_secret": creds.api_secret, "api_passphrase": creds.api_passphrase,
            "headers": headers,
        })  # fmt: skip
    return out


def clob_auth_vectors(rng: random.Random, keys: list[str]) -> list[dict[str, Any]]:
    out = []
    for index in range(CLOB_AUTH_CASES):
        chain = (137, 80002)[index % 2]
        signer = Signer(rng.choice(keys), chain)
        nonce = 0 if index % 3 == 0 else rng.choice([1, rng.randint(2, 1000), rng.getrandbits(64)])
        timestamp = rng.randint(T_LOW, T_HIGH) // 1000
        headers = clob_headers.create_level_1_headers(signer, nonce=nonce, timestamp=timestamp)
        out.append({
            "name": f"clob_auth_{index:02d}_{chain}_nonce_{'zero' if nonce == 0 else 'set'}",
            "chain_id": chain, "private_key": signer.private_key, "timestamp": timestamp,
            "nonce": nonce, "headers": headers,
        })  # fmt: skip
    return out


def dump(document: dict[str, Any]) -> str:
    """JSON with one vector per line (small, and reviewable as a diff)."""
    parts = []
    for section, value in document.items():
        if isinstance(value, list):
            rows = ",\n".join(
                "  " + json.dumps(v, separators=(",", ":"), ensure_ascii=False) for v in value
            )
            parts.append(f"{json.dumps(section)}: [\n{rows}\n ]")
        else:
            text = json.dumps(value, indent=1).replace("\n", "\n ")
            parts.append(f"{json.dumps(section)}: {text}")
    return "{\n " + ",\n ".join(parts) + "\n}\n"


def main() -> int:
    installed = version(PACKAGE)
    if installed != EXPECTED_VERSION:
        print(f"need {PACKAGE}=={EXPECTED_VERSION}, found {installed}", file=sys.stderr)
        return 1
    rng = random.Random(SEED)
    keys = [_key(rng) for _ in range(KEYS)]
    document = {
        "provenance": {
            "generator": "tests/vectors/gen_polymarket_clob.py",
            "oracle": f"{PACKAGE} {installed} (ClobClient.create_order/post_order/post_orders, headers.create_level_1_headers/create_level_2_headers)",
            "py_order_utils": version("py-order-utils"),
            "eth_account": version("eth-account"),
            "python": sys.version.split()[0],
            "seed": SEED,
            "generated": datetime.datetime.now(datetime.UTC).date().isoformat(),
            "note": "random test keys and L2 credentials; body and headers are exactly what the client would send",
        },
        "orders": order_vectors(rng, keys),
        "l2": l2_vectors(rng, keys),
        "clob_auth": clob_auth_vectors(rng, keys),
    }  # fmt: skip
    sys.stdout.write(dump(document))
    return 0


if __name__ == "__main__":
    sys.exit(main())
