"""Generate Hyperliquid signing vectors with hyperliquid-python-sdk 0.24.0 as the oracle.

The SDK pins an older eth-account than the project, so it runs in a separate
throwaway virtualenv (from the repository root)::

    python3 -m venv /tmp/hlsdk && /tmp/hlsdk/bin/pip install hyperliquid-python-sdk==0.24.0
    /tmp/hlsdk/bin/python tests/vectors/gen_hyperliquid_sdk.py > tests/vectors/hyperliquid_sdk_vectors.json

Everything is derived from ``SEED``: the keys, the actions, the nonces and the
``expiresAfter`` values; the SDK's clock (``get_timestamp_ms``) and the agent
key of ``approve_agent`` (``secrets.token_hex``) are pinned per case, so a
rerun with the same SDK version prints the same file except the date.

* ``l1``: L1 actions built by the SDK's own ``Exchange`` methods
  (``bulk_orders``, ``bulk_cancel``, ``bulk_cancel_by_cloid``,
  ``bulk_modify_orders_new``, ``schedule_cancel``, ``update_leverage``,
  ``update_isolated_margin``, ``noop``), so the action dicts carry the SDK's key
  order, on mainnet and testnet, with and without a vault and ``expiresAfter``.
  The body the SDK would POST is captured (``Exchange.post`` is replaced) and
  recorded as is, with the SDK's ``action_hash``. SDK 0.24.0 has no method for
  ``modify``, ``twapOrder``, ``twapCancel`` and ``topUpIsolatedOnlyMargin``:
  those are assembled here in the documented wire order (orders and sizes via
  the SDK's ``order_request_to_order_wire`` / ``float_to_wire``) and signed
  with the SDK's ``sign_l1_action``; ``built_by`` says which path made a case.
* ``user_signed``: ``withdraw3``, ``usdSend``, ``spotSend`` and
  ``approveAgent`` (named and unnamed) through ``Exchange.withdraw_from_bridge``,
  ``usd_transfer``, ``spot_transfer`` and ``approve_agent``; recorded are the
  action as signed (the SDK adds ``signatureChainId`` and ``hyperliquidChain``
  while signing), the action as posted, the EIP-712 typed data the SDK
  signed, and the signature.

Signatures are recorded as the SDK returns them (``to_hex``: r/s may have
fewer than 64 hex digits). ``tests/vectors/test_hyperliquid_oracle.py`` reads
the JSON; nothing from the SDK is imported by the project.

SECURITY: the SDK never touches the network here: the ``Info`` metadata is
passed in (no websocket), ``post`` is replaced by a recorder and
``requests.Session.request`` is a tripwire. The keys are random test values.
"""

from __future__ import annotations

import copy
import datetime
import json
import random
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import version
from typing import Any

import eth_account
import requests
from eth_utils.address import to_checksum_address
from hyperliquid import exchange as sdk_exchange
from hyperliquid.exchange import Exchange
from hyperliquid.utils import signing
from hyperliquid.utils.constants import (
    MAINNET_API_URL,
    TESTNET_API_URL,
)
from hyperliquid.utils.types import Cloid

PACKAGE = "hyperliquid-python-sdk"
EXPECTED_VERSION = "0.24.0"
SEED = 20260611
L1_CASES = 330
USER_CASES_PER_KIND = 20
KEYS = 6
NONCE_LOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z in ms
NONCE_HIGH = 1_798_761_600_000  # 2027-01-01
PERPS = 120
SPOT_PAIRS = 40
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _tripwire(*_: object, **__: object) -> None:
    raise AssertionError("the SDK tried to use the network")


requests.Session.request = _tripwire  # type: ignore[method-assign,assignment]  # SECURITY: no request may leave this process


def _meta() -> tuple[dict[str, Any], dict[str, Any]]:
    universe = [{"name": f"P{i}", "szDecimals": i % 6} for i in range(PERPS)]
    tokens = [{"name": "USDC", "szDecimals": 8, "weiDecimals": 8, "index": 0}]
    tokens += [
        {"name": f"T{i}", "szDecimals": i % 5, "weiDecimals": 8, "index": i}
        for i in range(1, SPOT_PAIRS + 1)
    ]
    pairs = [
        {"name": f"@{i}", "tokens": [i + 1, 0], "index": i, "isCanonical": False}
        for i in range(SPOT_PAIRS)
    ]
    return {"universe": universe}, {"universe": pairs, "tokens": tokens}


META, SPOT_META = _meta()
COINS = [f"P{i}" for i in range(PERPS)] + [f"@{i}" for i in range(SPOT_PAIRS)]


def _key(rng: random.Random) -> str:
    while True:
        value = rng.getrandbits(256)
        if 0 < value < SECP256K1_N:
            return f"0x{value:064x}"


def _address(rng: random.Random) -> str:
    raw = "0x" + "".join(rng.choice("0123456789abcdef") for _ in range(40))
    return raw if rng.random() < 0.4 else to_checksum_address(raw)


def _decimal(rng: random.Random, low: float, high: float) -> float:
    """A float with at most 6 decimals (``float_to_wire`` refuses rounding)."""
    return round(rng.uniform(low, high), rng.randint(0, 6))


def _cloid(rng: random.Random) -> Any:
    if rng.random() < 0.5:
        return Cloid.from_int(rng.getrandbits(128))
    return Cloid.from_str("0x" + "".join(rng.choice("0123456789abcdef") for _ in range(32)))


def _order_type(rng: random.Random) -> dict[str, Any]:
    if rng.random() < 0.6:
        return {"limit": {"tif": rng.choice(["Alo", "Ioc", "Gtc"])}}
    return {
        "trigger": {
            "triggerPx": _decimal(rng, 0.0001, 100_000),
            "isMarket": rng.random() < 0.5,
            "tpsl": rng.choice(["tp", "sl"]),
        }
    }


def _order_request(rng: random.Random) -> dict[str, Any]:
    order: dict[str, Any] = {
        "coin": rng.choice(COINS),
        "is_buy": rng.random() < 0.5,
        "sz": _decimal(rng, 0.0001, 50_000),
        "limit_px": _decimal(rng, 0.0001, 100_000),
        "order_type": _order_type(rng),
        "reduce_only": rng.random() < 0.3,
    }
    if rng.random() < 0.5:
        order["cloid"] = _cloid(rng)
    return order


@contextmanager
def _pinned(nonce: int, agent_hex: str | None = None) -> Iterator[None]:
    """Pin the SDK's clock (and the agent key of ``approve_agent``) for one call."""
    saved_clock, saved_token = sdk_exchange.get_timestamp_ms, sdk_exchange.secrets.token_hex
    sdk_exchange.get_timestamp_ms = lambda: nonce
    if agent_hex is not None:
        sdk_exchange.secrets.token_hex = lambda _n: agent_hex
    try:
        yield
    finally:
        sdk_exchange.get_timestamp_ms = saved_clock
        sdk_exchange.secrets.token_hex = saved_token


def _exchange(key: str, mainnet: bool, vault: str | None, expires: int | None) -> Any:
    wallet = eth_account.Account.from_key(key)
    url = MAINNET_API_URL if mainnet else TESTNET_API_URL
    ex = Exchange(wallet, url, meta=META, spot_meta=SPOT_META, vault_address=vault)
    ex.set_expires_after(expires)
    posted: list[tuple[str, dict[str, Any]]] = []

    def record(path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        posted.append((path, copy.deepcopy(payload or {})))
        return {}

    ex.post = record
    ex.posted = posted
    return ex


def _sdk_l1(rng: random.Random, ex: Any, kind: str, nonce: int) -> str:
    """Drive the SDK method for ``kind``; returns the method name (``built_by``)."""
    if kind == "order":
        requests_ = [_order_request(rng) for _ in range(rng.choice([1, 1, 1, 2, 3, 5]))]
        builder = None
        if rng.random() < 0.3:
            builder = {"b": _address(rng), "f": rng.randint(0, 100)}
        grouping: Any = rng.choice(["na", "na", "normalTpsl", "positionTpsl"])
        if rng.random() < 0.08:
            grouping = {"p": rng.randint(0, 10)}  # the SDK's PriorityGrouping
        with _pinned(nonce):
            ex.bulk_orders(requests_, builder, grouping)
        return "Exchange.bulk_orders"
    if kind == "cancel":
        cancels = [
            {"coin": rng.choice(COINS), "oid": rng.randint(1, 2**48)}
            for _ in range(rng.randint(1, 4))
        ]
        with _pinned(nonce):
            ex.bulk_cancel(cancels)
        return "Exchange.bulk_cancel"
    if kind == "cancelByCloid":
        cancels = [
            {"coin": rng.choice(COINS), "cloid": _cloid(rng)} for _ in range(rng.randint(1, 4))
        ]
        with _pinned(nonce):
            ex.bulk_cancel_by_cloid(cancels)
        return "Exchange.bulk_cancel_by_cloid"
    if kind == "batchModify":
        modifies = [
            {
                "oid": rng.randint(1, 2**48) if rng.random() < 0.6 else _cloid(rng),
                "order": _order_request(rng),
            }
            for _ in range(rng.randint(1, 3))
        ]
        with _pinned(nonce):
            ex.bulk_modify_orders_new(modifies)
        return "Exchange.bulk_modify_orders_new"
    if kind == "scheduleCancel":
        when = nonce + rng.randint(5_000, 86_400_000) if rng.random() < 0.6 else None
        with _pinned(nonce):
            ex.schedule_cancel(when)
        return "Exchange.schedule_cancel"
    if kind == "updateLeverage":
        with _pinned(nonce):
            ex.update_leverage(rng.randint(1, 50), rng.choice(COINS[:PERPS]), rng.random() < 0.5)
        return "Exchange.update_leverage"
    if kind == "updateIsolatedMargin":
        amount = round(rng.uniform(-10_000, 10_000), rng.randint(0, 6))
        with _pinned(nonce):
            ex.update_isolated_margin(amount, rng.choice(COINS[:PERPS]))
        return "Exchange.update_isolated_margin"
    if kind == "noop":
        ex.noop(nonce)
        return "Exchange.noop"
    raise ValueError(kind)


def _hand_l1(rng: random.Random, ex: Any, kind: str, nonce: int) -> str:
    """Actions SDK 0.24.0 has no method for: wire order of the API docs, SDK signing."""
    info = ex.info
    if kind == "modify":
        order = _order_request(rng)
        oid = rng.randint(1, 2**48) if rng.random() < 0.6 else _cloid(rng).to_raw()
        wire = signing.order_request_to_order_wire(order, info.name_to_asset(order["coin"]))
        action: dict[str, Any] = {"type": "modify", "oid": oid, "order": wire}
    elif kind == "twapOrder":
        twap = {
            "a": info.name_to_asset(rng.choice(COINS)),
            "b": rng.random() < 0.5,
            "s": signing.float_to_wire(_decimal(rng, 0.001, 10_000)),
            "r": rng.random() < 0.3,
            "m": rng.randint(5, 1440),
            "t": rng.random() < 0.5,
        }
        action = {"type": "twapOrder", "twap": twap}
    elif kind == "twapCancel":
        action = {
            "type": "twapCancel",
            "a": info.name_to_asset(rng.choice(COINS)),
            "t": rng.randint(1, 2**40),
        }
    elif kind == "topUpIsolatedOnlyMargin":
        action = {
            "type": "topUpIsolatedOnlyMargin",
            "asset": info.name_to_asset(rng.choice(COINS[:PERPS])),
            "leverage": signing.float_to_wire(_decimal(rng, 1, 50)),
        }
    else:
        raise ValueError(kind)
    mainnet = ex.base_url == MAINNET_API_URL
    sig = signing.sign_l1_action(
        ex.wallet, action, ex.vault_address, nonce, ex.expires_after, mainnet
    )
    ex._post_action(action, sig, nonce)
    return "generator dict + signing.sign_l1_action"


SDK_KINDS = [
    "order", "order", "order", "order", "cancel", "cancelByCloid", "batchModify",
    "scheduleCancel", "updateLeverage", "updateIsolatedMargin", "noop",
]  # fmt: skip
HAND_KINDS = ["modify", "twapOrder", "twapCancel", "topUpIsolatedOnlyMargin"]


def l1_vectors(rng: random.Random, keys: list[str]) -> list[dict[str, Any]]:
    kinds = SDK_KINDS + HAND_KINDS
    out = []
    for index in range(L1_CASES):
        kind = kinds[index % len(kinds)] if index < 4 * len(kinds) else rng.choice(kinds)
        key = rng.choice(keys)
        mainnet = index % 2 == 0
        vault = _address(rng) if rng.random() < 0.35 else None
        nonce = rng.randint(NONCE_LOW, NONCE_HIGH)
        expires = nonce + rng.randint(1_000, 3_600_000) if rng.random() < 0.4 else None
        ex = _exchange(key, mainnet, vault, expires)
        if kind in HAND_KINDS:
            built_by = _hand_l1(rng, ex, kind, nonce)
        else:
            built_by = _sdk_l1(rng, ex, kind, nonce)
        ((path, body),) = ex.posted
        assert path == "/exchange" and body["nonce"] == nonce
        action = body["action"]
        out.append({
            "name": f"l1_{index:03d}_{action['type']}",
            "built_by": built_by,
            "private_key": key,
            "address": ex.wallet.address,
            "is_mainnet": mainnet,
            "action": action,
            "nonce": body["nonce"],
            "vaultAddress": body["vaultAddress"],
            "expiresAfter": body["expiresAfter"],
            "action_hash": "0x" + signing.action_hash(action, vault, nonce, expires).hex(),
            "signature": body["signature"],
        })  # fmt: skip
    return out


USER_KINDS: dict[str, str] = {
    "withdraw3": "sign_withdraw_from_bridge_action",
    "usdSend": "sign_usd_transfer_action",
    "spotSend": "sign_spot_transfer_action",
    "approveAgent": "sign_agent",
}


@contextmanager
def _typed_data_recorder() -> Iterator[list[dict[str, Any]]]:
    """Record every EIP-712 payload the SDK builds for a user-signed action."""
    seen: list[dict[str, Any]] = []
    original: Callable[..., dict[str, Any]] = signing.user_signed_payload

    def record(primary_type: str, payload_types: Any, action: dict[str, Any]) -> dict[str, Any]:
        data = original(primary_type, payload_types, action)
        seen.append(copy.deepcopy(data))
        return data

    signing.user_signed_payload = record
    try:
        yield seen
    finally:
        signing.user_signed_payload = original


def user_vectors(rng: random.Random, keys: list[str]) -> list[dict[str, Any]]:
    out = []
    for kind, function in USER_KINDS.items():
        for index in range(USER_CASES_PER_KIND):
            key = rng.choice(keys)
            mainnet = index % 2 == 0
            nonce = rng.randint(NONCE_LOW, NONCE_HIGH)
            ex = _exchange(key, mainnet, None, None)
            amount = round(rng.uniform(0.01, 100_000), rng.randint(0, 6))
            name: str | None = None
            with _typed_data_recorder() as seen:
                if kind == "withdraw3":
                    with _pinned(nonce):
                        ex.withdraw_from_bridge(amount, _address(rng))
                elif kind == "usdSend":
                    with _pinned(nonce):
                        ex.usd_transfer(amount, _address(rng))
                elif kind == "spotSend":
                    token = f"T{rng.randint(1, 99)}:0x" + f"{rng.getrandbits(128):032x}"
                    with _pinned(nonce):
                        ex.spot_transfer(amount, _address(rng), token)
                else:
                    name = None if index % 4 in (1, 2) else f"agent-{rng.randint(0, 10**6)}"
                    with _pinned(nonce, agent_hex=_key(rng)[2:]):
                        ex.approve_agent(name)
            ((path, body),) = ex.posted
            (typed,) = seen
            assert path == "/exchange" and body["nonce"] == nonce
            out.append({
                "name": f"user_{kind}_{index:02d}" + ("_unnamed" if kind == "approveAgent" and name is None else ""),
                "built_by": f"Exchange -> signing.{function}",
                "private_key": key,
                "address": ex.wallet.address,
                "is_mainnet": mainnet,
                "signed_action": typed["message"],
                "posted_action": body["action"],
                "nonce": body["nonce"],
                "typed_data": typed,
                "signature": body["signature"],
            })  # fmt: skip
    return out


def dump(document: dict[str, Any]) -> str:
    """JSON with one vector per line (small, and reviewable as a diff)."""
    parts = []
    for section, value in document.items():
        if isinstance(value, list):
            rows = ",\n".join("  " + json.dumps(v, separators=(",", ":")) for v in value)
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
            "generator": "tests/vectors/gen_hyperliquid_sdk.py",
            "oracle": f"{PACKAGE} {installed} (hyperliquid.exchange.Exchange, hyperliquid.utils.signing)",
            "eth_account": version("eth-account"),
            "msgpack": version("msgpack"),
            "python": sys.version.split()[0],
            "seed": SEED,
            "generated": datetime.datetime.now(datetime.UTC).date().isoformat(),
            "note": "random test keys; signatures as the SDK returns them (r/s via to_hex, leading zero nibbles dropped)",
        },
        "l1": l1_vectors(rng, keys),
        "user_signed": user_vectors(rng, keys),
    }  # fmt: skip
    sys.stdout.write(dump(document))
    return 0


if __name__ == "__main__":
    sys.exit(main())
