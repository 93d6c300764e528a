"""Limits through a real daemon: RESOURCE_EXHAUSTED / RATE_LIMITED with a rule id,
audited, per principal and venue, and still in force after a restart on the same
state directory (a graceful stop, and a SIGKILL of the real `serve` process).

Clocks are injected (``RunningDaemon(config, now_ns)``): no test waits or times.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from policy.document import default_document_bytes
from signer._proto.sequence.signer.v1 import common_pb2, credential_service_pb2
from signer._proto.sequence.signer.v1 import signing_service_pb2 as s
from signer._proto.sequence.signer.v1 import wallet_service_pb2 as w
from signer.client import Stubs, channel
from signer.config import Config
from signer.limits.rate import LEASE_NS
from signer.server.status import error_info
from tests.integration.conftest import (
    LIVE,
    SANDBOX,
    Pki,
    RunningDaemon,
    binance_secret,
    kraken_secret,
    make_config,
    principal,
    rpc_reason,
)
from tests.integration.test_process import _wait_serving
from tests.integration.test_withdraw import BRIDGE, USDC_ARBITRUM, call, setup, transfer, withdraw

S = 10**9
H = 3600 * S
M = 60 * S
T0 = 1_700_000_000 * S


def _policy() -> bytes:
    """The shipped document with small limits: binance 1/s burst 3, arbitrum USDC
    100 per transaction and 150 per 24 hours, and no cap at all for arbitrum ETH."""
    raw = default_document_bytes()
    usdc = b'[limits.withdraw.arbitrum.USDC]\nper_tx = "25000"\nper_24h = "100000"\n'
    eth = b'[limits.withdraw.arbitrum.ETH]\nper_tx = "10"\nper_24h = "25"\n'
    assert usdc in raw and eth in raw
    raw = raw.replace(usdc, b'[limits.withdraw.arbitrum.USDC]\nper_tx = "100"\nper_24h = "150"\n')
    return raw.replace(eth, b"") + b"\n[limits.rate.binance]\nrate_per_second = 1\nburst = 3\n"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


class Limited:
    """A daemon on an injected clock with the small limits of ``_policy``."""

    def __init__(self, config: Config) -> None:
        self.clock = Clock()
        self.d = RunningDaemon(config, self.clock)

    def restart(self) -> RunningDaemon:
        """Stop the daemon and start a new one on the same state directory."""
        self.d.stop()
        self.d = RunningDaemon(self.d.config, self.clock)
        return self.d


@pytest.fixture
def limited(state_dir: Path, pki: Pki) -> Iterator[Limited]:
    policy = state_dir.parent / f"{state_dir.name}-policy.toml"
    policy.write_bytes(_policy())
    running = Limited(dataclasses.replace(make_config(state_dir, pki), policy_file=policy))
    yield running
    running.d.stop()


def audit(d: RunningDaemon) -> list[dict[str, Any]]:
    return [json.loads(x) for x in d.config.audit_path.read_bytes().splitlines()]


def set_creds(d: RunningDaemon, client: str, mode: int, venue: str, secret: str) -> None:
    d.api().credentials.SetCredentials(
        credential_service_pb2.SetCredentialsRequest(
            principal=principal(client, mode), venue=venue, api_key="k", api_secret=secret
        )
    )


def sign(d: RunningDaemon, client: str = "alice", mode: int = LIVE, venue: str = "binance") -> str:
    path = "/api/v3/account" if venue == "binance" else "/0/private/Balance"
    method = "GET" if venue == "binance" else "POST"
    req = s.SignVenueRequestRequest(
        principal=principal(client, mode), venue=venue,
        request=common_pb2.HttpRequest(method=method, path=path),
    )  # fmt: skip
    try:
        d.api().signing.SignVenueRequest(req)
    except grpc.RpcError as exc:
        return _limited(exc)
    return "ok"


def _limited(exc: grpc.RpcError) -> str:
    """ "limited" for RESOURCE_EXHAUSTED / RATE_LIMITED with rule limit.rate, else fail."""
    info = error_info(exc)
    code, reason = exc.code(), info.reason if info else ""
    if (code, reason) != (grpc.StatusCode.RESOURCE_EXHAUSTED, "RATE_LIMITED") or info is None:
        pytest.fail(f"unexpected {code} {reason}: {exc.details()}")
    if info.metadata["rule_id"] != "limit.rate" or int(info.metadata["retry_after_ms"]) <= 0:
        pytest.fail(f"unexpected metadata {dict(info.metadata)}")
    return "limited"


def test_signing_rate_per_principal_and_venue_survives_a_restart(limited: Limited) -> None:
    d, clock = limited.d, limited.clock
    for client, mode in (("alice", LIVE), ("alice", SANDBOX), ("bob", LIVE)):
        set_creds(d, client, mode, "binance", binance_secret())
    set_creds(d, "alice", LIVE, "kraken", kraken_secret())
    assert [sign(d) for _ in range(4)] == ["ok"] * 3 + ["limited"]
    record = audit(d)[-1]
    assert (record["decision"], record["rule"], record["client_id"]) == (
        "deny",
        "limit.rate",
        "alice",
    )
    # Another client, the same client's sandbox, and another venue have their own buckets.
    assert [sign(d, "bob") for _ in range(4)] == ["ok"] * 3 + ["limited"]
    assert [sign(d, mode=SANDBOX) for _ in range(3)] == ["ok"] * 3
    assert sign(d, venue="kraken") == "ok"

    d = limited.restart()
    # A fresh daemon would hand out a burst of 3: this one hands out none.
    assert (sign(d), sign(d, "bob"), sign(d, mode=SANDBOX)) == ("limited",) * 3
    clock.now += LEASE_NS + 3 * S  # at most the lease is lost, then a full refill
    assert [sign(d) for _ in range(4)] == ["ok"] * 3 + ["limited"]


def limit_rule(fn: Any) -> str:
    with pytest.raises(grpc.RpcError) as err:
        fn()
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, err.value.details()
    info = error_info(err.value)
    assert info is not None and info.reason == "RATE_LIMITED"
    return str(info.metadata["rule_id"])


def test_withdraw_window_rolls_exactly_and_survives_a_restart(limited: Limited) -> None:
    d, clock = limited.d, limited.clock
    _, home = setup(d)
    withdraw(d, "arbitrum", "USDC", "100", home)
    assert limit_rule(lambda: withdraw(d, "arbitrum", "USDC", "100.000001", home)) == "limit.per-tx"
    assert limit_rule(lambda: withdraw(d, "arbitrum", "USDC", "50.000001", home)) == "limit.per-24h"
    rules = [(r["decision"], r["rule"]) for r in audit(d)[-2:]]
    assert rules == [("deny", "limit.per-tx"), ("deny", "limit.per-24h")]
    clock.now = T0 + H
    withdraw(d, "arbitrum", "USDC", "50", home)

    d = limited.restart()
    clock.now = T0 + 23 * H + 59 * M  # the first 100 still counts
    assert limit_rule(lambda: withdraw(d, "arbitrum", "USDC", "0.000001", home)) == "limit.per-24h"
    clock.now = T0 + 24 * H + M  # the first 100 rolled out; the 50 at T0+1h has not
    withdraw(d, "arbitrum", "USDC", "100", home)
    assert limit_rule(lambda: withdraw(d, "arbitrum", "USDC", "0.000001", home)) == "limit.per-24h"


def test_a_withdrawal_refused_for_another_reason_consumes_nothing(limited: Limited) -> None:
    d = limited.d
    _, home = setup(d)
    _, bob_home = setup(d, client="bob")
    stranger = Account.create().address
    attempts: tuple[Callable[[], object], ...] = (
        lambda: withdraw(d, "arbitrum", "USDC", "100", stranger),  # not a connected wallet
        lambda: withdraw(d, "arbitrum", "USDC", "100", home, gas_limit=2_000_001),  # gas cap
    )
    for attempt in attempts:
        with pytest.raises(grpc.RpcError) as err:
            attempt()
        assert rpc_reason(err.value) == "POLICY_DENIED"
    withdraw(d, "arbitrum", "USDC", "100", home)
    withdraw(d, "arbitrum", "USDC", "50", home)  # exactly the 150 cap
    withdraw(d, "arbitrum", "USDC", "100", bob_home, client="bob")  # bob's own window


def test_a_reservation_is_given_back_when_signing_fails(limited: Limited) -> None:
    d = limited.d
    user = Account.create()
    api, who = d.api().wallets, principal("dave", LIVE)
    message = api.GetLinkChallenge(
        w.GetLinkChallengeRequest(principal=who, address=user.address, chain_id=42161)
    ).message
    sig = bytes(Account.sign_message(encode_defunct(text=message), user.key).signature)
    api.LinkConnectedWallet(
        w.LinkConnectedWalletRequest(principal=who, message=message, signature=sig)
    )
    for _ in range(2):  # allowed, reserved, then no key to sign with: reservation refunded
        with pytest.raises(grpc.RpcError) as err:
            withdraw(d, "arbitrum", "USDC", "100", user.address, client="dave")
        assert rpc_reason(err.value) == "NO_TRADING_WALLET"
    api.CreateTradingWallet(w.CreateTradingWalletRequest(principal=who))
    withdraw(d, "arbitrum", "USDC", "100", user.address, client="dave")
    withdraw(d, "arbitrum", "USDC", "50", user.address, client="dave")


def test_sign_transaction_transfers_count_and_bridge_deposits_do_not(limited: Limited) -> None:
    d = limited.d
    trading, home = setup(d)
    call(d, USDC_ARBITRUM, transfer(home, 100_000_000), wallet_id=f"turnkey:{trading}")
    assert limit_rule(lambda: withdraw(d, "arbitrum", "USDC", "51", home)) == "limit.per-24h"
    assert limit_rule(lambda: call(d, USDC_ARBITRUM, transfer(home, 51_000_000))) == "limit.per-24h"
    assert limit_rule(lambda: call(d, USDC_ARBITRUM, transfer(home, 101_000_000))) == "limit.per-tx"
    call(d, USDC_ARBITRUM, transfer(BRIDGE, 1_000_000_000))  # to the principal's own HL account
    withdraw(d, "arbitrum", "USDC", "50", home)


def test_a_token_without_a_cap_cannot_be_withdrawn(limited: Limited) -> None:
    d = limited.d
    _, home = setup(d)
    attempts: tuple[Callable[[], object], ...] = (
        lambda: withdraw(d, "arbitrum", "ETH", "0.1", home),
        lambda: call(d, home, b"", value="1"),
    )
    for attempt in attempts:
        with pytest.raises(grpc.RpcError) as err:
            attempt()
        assert rpc_reason(err.value) == "POLICY_DENIED"
        assert "withdraw.no-cap" in (err.value.details() or "")


def test_racing_withdrawals_cannot_both_fit_under_the_cap(limited: Limited) -> None:
    d = limited.d
    _, home = setup(d)

    def attempt(_: int) -> str:
        try:
            withdraw(d, "arbitrum", "USDC", "100", home)
        except grpc.RpcError as exc:
            return rpc_reason(exc)
        return "ok"

    with ThreadPoolExecutor(4) as pool:
        outcomes = sorted(pool.map(attempt, range(4)))
    assert outcomes == ["RATE_LIMITED"] * 3 + ["ok"]


class _Remote:
    """Enough of RunningDaemon for the test_withdraw helpers: a target to call."""

    def __init__(self, target: str) -> None:
        self.target = target

    def api(self) -> Stubs:
        return Stubs.on(channel(self.target))


def test_the_withdraw_window_survives_sigkill_of_the_real_process(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    d = tmp_path_factory.mktemp("kill")
    (d / "master.key").write_text(secrets.token_hex(32))
    (d / "master.key").chmod(0o600)
    (d / "policy.toml").write_bytes(_policy())
    (d / "config.toml").write_text(
        'state_dir = "state"\nmaster_key_file = "master.key"\npolicy_file = "policy.toml"\n'
        f'[[listeners]]\nkind = "unix"\naddress = "{d}/api.sock"\nrole = "api"\n'
    )
    argv = [
        sys.executable,
        "-m",
        "signer",
        "serve",
        "--config",
        str(d / "config.toml"),
        *(["--allow-root"] if os.geteuid() == 0 else []),
    ]
    remote = _Remote(f"unix:{d}/api.sock")
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_serving(remote.target)
        _, home = setup(remote)  # type: ignore[arg-type]
        withdraw(remote, "arbitrum", "USDC", "100", home)  # type: ignore[arg-type]
    finally:
        proc.send_signal(signal.SIGKILL)  # no shutdown path runs
        proc.wait(30)
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_serving(remote.target)
        rule = limit_rule(lambda: withdraw(remote, "arbitrum", "USDC", "51", home))  # type: ignore[arg-type]
        assert rule == "limit.per-24h"
        withdraw(remote, "arbitrum", "USDC", "50", home)  # type: ignore[arg-type]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
