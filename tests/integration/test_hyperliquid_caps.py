"""Hyperliquid withdraw-home amounts against the withdraw caps, through a real daemon.

``withdraw3`` and ``usdSend`` count against ``[limits.withdraw.hyperliquid.USDC]``,
``spotSend`` against ``[limits.withdraw.hyperliquid-spot."NAME:0x<id>"]``: the
policy denies a pair without a cap and an amount over ``per_tx``; the durable
ledger refuses the rolling 24-hour total (RESOURCE_EXHAUSTED / RATE_LIMITED),
across a restart, per principal and mode, and under racing requests.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest
from eth_account import Account

from policy.document import default_document_bytes
from signer.server.status import error_info
from tests.integration.conftest import LIVE, SANDBOX, Pki, RunningDaemon, make_config
from tests.integration.test_dex import sign
from tests.integration.test_hyperliquid_home import TOKEN, user_signer
from tests.integration.test_limit_windows import Clock, H
from tests.integration.test_withdraw import setup

OTHER_TOKEN = "PURR:0xc1fb593aeffbeb02f85e0308e9956a90"


def _policy() -> bytes:
    """The shipped document with USDC 100 per transaction / 150 per 24 hours and
    one spot token (TOKEN) capped at 5 / 8."""
    raw = default_document_bytes()
    shipped = b'[limits.withdraw.hyperliquid.USDC]\nper_tx = "25000"\nper_24h = "100000"\n'
    assert shipped in raw
    small = b'[limits.withdraw.hyperliquid.USDC]\nper_tx = "100"\nper_24h = "150"\n'
    spot = f'[limits.withdraw.hyperliquid-spot."{TOKEN}"]\nper_tx = "5"\nper_24h = "8"\n'
    return raw.replace(shipped, small) + b"\n" + spot.encode()


class Capped:
    def __init__(self, state_dir: Path, pki: Pki) -> None:
        policy = state_dir.parent / f"{state_dir.name}-policy.toml"
        policy.write_bytes(_policy())
        self.clock = Clock()
        self.config = dataclasses.replace(make_config(state_dir, pki), policy_file=policy)
        self.d = RunningDaemon(self.config, self.clock)

    def restart(self) -> None:
        self.d.stop()
        self.d = RunningDaemon(self.config, self.clock)


@pytest.fixture
def capped(state_dir: Path, pki: Pki) -> Iterator[Capped]:
    running = Capped(state_dir, pki)
    yield running
    running.d.stop()


def send(d: RunningDaemon, kind: str, amount: str, home: str, mode: int = LIVE, token: str = TOKEN) -> str:  # fmt: skip
    """ "ok" (the trading wallet signed it) or "<StatusCode> <reason> <rule>"."""
    action: dict[str, Any] = {"type": kind, "destination": home, "amount": amount}
    if kind == "spotSend":
        action["token"] = token
    try:
        response = sign(d, "hyperliquid", {"action": action}, mode=mode)
    except grpc.RpcError as exc:
        info = error_info(exc)
        assert info is not None
        return f"{exc.code().name} {info.reason} {info.metadata.get('rule_id', '')}"
    body = json.loads(response.request.body)
    assert body["action"]["amount"] == amount
    user_signer(body)  # a recoverable signature over what was sent
    return "ok"


LIMITED = "RESOURCE_EXHAUSTED RATE_LIMITED limit.per-24h"


def last_audit(d: RunningDaemon) -> dict[str, Any]:
    return dict(json.loads(d.config.audit_path.read_bytes().splitlines()[-1]))


def test_withdraw3_and_usd_send_share_one_window_that_survives_a_restart(capped: Capped) -> None:
    _, home = setup(capped.d)
    assert send(capped.d, "withdraw3", "100", home) == "ok"
    assert send(capped.d, "usdSend", "50", home) == "ok"
    assert send(capped.d, "withdraw3", "0.00000001", home) == LIMITED
    record = last_audit(capped.d)
    assert (record["decision"], record["rule"], record["class"]) == (
        "deny", "limit.per-24h", "withdraw-home",
    )  # fmt: skip
    capped.restart()
    assert send(capped.d, "usdSend", "0.00000001", home) == LIMITED
    capped.clock.now += 24 * H + 1
    assert send(capped.d, "usdSend", "100", home) == "ok"


def test_expfail_over_per_tx_is_a_policy_deny(capped: Capped) -> None:
    _, home = setup(capped.d)
    assert send(capped.d, "withdraw3", "100.00000001", home) == (
        "PERMISSION_DENIED POLICY_DENIED limit.per-tx"
    )
    assert send(capped.d, "withdraw3", "100", home) == "ok"  # nothing was counted


def test_denied_and_unlinked_requests_count_nothing(capped: Capped) -> None:
    _, home = setup(capped.d)
    stranger = Account.create().address
    for _ in range(3):
        assert send(capped.d, "withdraw3", "100", stranger).endswith("venue.recipient-not-linked")
    assert send(capped.d, "withdraw3", "100", home) == "ok"
    assert send(capped.d, "withdraw3", "50", home) == "ok"


def test_windows_are_per_mode_and_per_principal(capped: Capped) -> None:
    _, home = setup(capped.d)
    _, sandbox_home = setup(capped.d, mode=SANDBOX, chain_id=421614)
    assert send(capped.d, "withdraw3", "100", home) == "ok"
    assert send(capped.d, "withdraw3", "100", home) == LIMITED
    assert send(capped.d, "withdraw3", "100", sandbox_home, mode=SANDBOX) == "ok"


def test_spot_tokens_have_their_own_window_and_need_a_cap(capped: Capped) -> None:
    _, home = setup(capped.d)
    assert send(capped.d, "spotSend", "5", home) == "ok"
    assert send(capped.d, "spotSend", "3.00000001", home) == LIMITED
    assert send(capped.d, "withdraw3", "100", home) == "ok"  # USDC perp: another window
    assert send(capped.d, "spotSend", "1", home, token=OTHER_TOKEN) == (
        "PERMISSION_DENIED POLICY_DENIED venue.no-withdraw-cap"
    )


def test_expfail_racing_withdrawals_cannot_both_fit(capped: Capped) -> None:
    _, home = setup(capped.d)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: send(capped.d, "withdraw3", "100", home), range(8)))
    assert sorted(results) == [LIMITED] * 7 + ["ok"]
