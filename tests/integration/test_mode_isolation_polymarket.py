"""Polymarket live signs for Polygon (137), sandbox for Amoy (80002), and never the reverse.

The shipped build has no Polymarket sandbox host (sandbox principals get
MODE_MISMATCH, see test_mode_isolation.py). Here a daemon is started with the
venue configured for a staging host and a policy that enables sandbox, so the
chain bound into each mode's order signature can be checked with eth-account.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from policy.document import default_document_bytes
from signer._proto.sequence.signer.v1 import common_pb2
from signer.config import Config
from signer.venues import build_venues
from signer.venues.base import Venue
from signer.venues.polymarket import PolymarketVenue
from tests.integration.conftest import Pki, RunningDaemon, make_config
from tests.integration.isolation_probe import attempt, store
from tests.integration.isolation_table import BY_VENUE, Material

STAGING = "clob-staging.example.org"
CTF_V2 = "0xE111180000d2663C0091e4f400237545B87B996B"
CHAIN = {"live": 137, "sandbox": 80002}
ORDER_TYPES = [
    {"name": n, "type": t}
    for n, t in (
        ("salt", "uint256"), ("maker", "address"), ("signer", "address"), ("tokenId", "uint256"),
        ("makerAmount", "uint256"), ("takerAmount", "uint256"), ("side", "uint8"),
        ("signatureType", "uint8"), ("timestamp", "uint256"), ("metadata", "bytes32"),
        ("builder", "bytes32"),
    )
]  # fmt: skip


@pytest.fixture
def staged(state_dir: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningDaemon]:
    def venues(config: Config) -> dict[str, Venue]:
        return {**build_venues(config), "polymarket": PolymarketVenue(STAGING)}

    monkeypatch.setattr("signer.app.build_venues", venues)
    policy = default_document_bytes().decode()
    enabled = '[venues.polymarket]\nenabled = true\nmodes = ["live"]'
    assert enabled in policy
    policy_file = state_dir.parent / f"{state_dir.name}-policy.toml"
    policy_file.write_text(policy.replace(enabled, enabled.replace('"live"', '"live", "sandbox"')))
    running = RunningDaemon(
        dataclasses.replace(make_config(state_dir, pki), policy_file=policy_file)
    )
    yield running
    running.stop()


def order_body(m: Material, chain_id: int | None = None) -> bytes:
    order = {
        "salt": 479249096354, "maker": m.identity, "signer": m.identity, "tokenId": "1234",
        "makerAmount": "100000000", "takerAmount": "50000000", "side": "BUY",
        "expiration": "0", "signatureType": 0,
    }  # fmt: skip
    body: dict[str, object] = {"order": order, "owner": m.api_key, "orderType": "GTC",
                               "exchange": CTF_V2}  # fmt: skip
    if chain_id is not None:
        body["chainId"] = chain_id
    return json.dumps(body).encode()


def http_post(body: bytes) -> common_pb2.HttpRequest:
    return common_pb2.HttpRequest(
        method="POST", path="/order", body=body, headers={"Content-Type": "application/json"}
    )


def order_signer(order: dict[str, object], chain_id: int) -> str:
    message = {**order, "side": 0, "tokenId": int(str(order["tokenId"])),
               "makerAmount": int(str(order["makerAmount"])),
               "takerAmount": int(str(order["takerAmount"])),
               "timestamp": int(str(order["timestamp"]))}  # fmt: skip
    for key in ("expiration", "signature"):
        message.pop(key)
    typed = {
        "domain": {"name": "Polymarket CTF Exchange", "version": "2", "chainId": chain_id,
                   "verifyingContract": CTF_V2},
        "types": {"EIP712Domain": [{"name": "name", "type": "string"},
                                   {"name": "version", "type": "string"},
                                   {"name": "chainId", "type": "uint256"},
                                   {"name": "verifyingContract", "type": "address"}],
                  "Order": ORDER_TYPES},
        "primaryType": "Order",
        "message": message,
    }  # fmt: skip
    signable = encode_typed_data(full_message=typed)
    return str(
        Account.recover_message(signable, signature=bytes.fromhex(str(order["signature"])[2:]))
    )


@pytest.mark.parametrize("mode", ["live", "sandbox"])
def test_order_binds_the_modes_chain(staged: RunningDaemon, mode: str) -> None:
    row, api = BY_VENUE["polymarket"], staged.api()
    accounts = {m: row.make() for m in CHAIN}
    for m, material in accounts.items():
        store(api, "polymarket", m, material)
    other = "sandbox" if mode == "live" else "live"
    for chain_id in (None, CHAIN[mode]):
        out = attempt(api, "polymarket", mode, http_post(order_body(accounts[mode], chain_id)))
        assert out.signed is not None and out.signed.host == (
            "clob.polymarket.com" if mode == "live" else STAGING
        )
        order = json.loads(out.signed.body)["order"]
        assert order_signer(order, CHAIN[mode]) == accounts[mode].identity
        assert order_signer(order, CHAIN[other]) not in {a.identity for a in accounts.values()}
    # The other mode's chain named in the body is a strict-parse deny.
    out = attempt(api, "polymarket", mode, http_post(order_body(accounts[mode], CHAIN[other])))
    assert (out.reason, out.rule) == ("POLICY_DENIED", "request.strict-parse")
    # The other mode's host is refused outright.
    other_host = STAGING if mode == "live" else "clob.polymarket.com"
    out = attempt(api, "polymarket", mode, row.http(host=other_host))
    assert out.reason == "MODE_MISMATCH"
