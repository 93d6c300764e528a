"""Crash durability: SIGKILL a real daemon process at random moments under writes.

Each round starts ``sequence-signer serve`` as a child process on one state
directory, streams acknowledged writes at it from client threads
(SetCredentials with a fresh secret per principal, CreateTradingWallet for a
fresh principal, and the limit counters of ``crash_limits``: rate-limited
signing and capped withdrawals), kills it with SIGKILL after a random delay,
then checks the state directory offline with the daemon's own keystore code
(and ``crash_limits.verify`` for the counters):

1. every acknowledged credential is stored and unseals to exactly the secret
   that was sent;
2. every wallet address ever returned is the stored trading wallet of its
   principal and its sealed key derives exactly that address (an address is
   never returned for a key that is not stored);
3. no half-written row: ``PRAGMA integrity_check`` is ok, every sealed record
   opens, and every trading-wallet row has its sealed key and vice versa;
4. the daemon starts again on the same state (audit log and all) next round.

``scripts/crash_soak.py`` runs the same rounds for longer (500 kills).
"""

from __future__ import annotations

import base64
import os
import random
import secrets
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from signer._proto.sequence.signer.v1 import common_pb2, credential_service_pb2
from signer._proto.sequence.signer.v1 import wallet_service_pb2 as w
from signer.client import Stubs, channel
from signer.domain import Mode, Principal
from signer.keystore import Keystore, MasterKey, Store
from signer.keystore.wallets import WalletStore
from signer.schemes.secp256k1 import Secp256k1Key
from tests.integration import crash_limits

LIVE = common_pb2.MODE_LIVE


@dataclass
class Ledger:
    """What the daemon acknowledged (thread-safe appends)."""

    credentials: dict[str, str] = field(default_factory=dict)
    wallets: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    counter: int = 0
    checked: set[str] = field(default_factory=set)
    limits: crash_limits.LimitLedger = field(default_factory=crash_limits.LimitLedger)

    def next_id(self, prefix: str) -> str:
        with self.lock:
            self.counter += 1
            return f"{prefix}{self.counter}"


def write_config(state: Path) -> Path:
    key = state.parent / f"{state.name}-master.key"
    if not key.exists():
        key.write_text(secrets.token_hex(32))
        key.chmod(0o600)
    policy = state.parent / f"{state.name}-policy.toml"
    policy.write_bytes(crash_limits.policy_bytes())
    config = state.parent / f"{state.name}.toml"
    config.write_text(
        f'state_dir = "{state}"\nmaster_key_file = "{key}"\npolicy_file = "{policy}"\n'
        f'[[listeners]]\nkind = "unix"\naddress = "{state / "api.sock"}"\nrole = "api"\n'
    )
    return config


def start(config: Path, state: Path, timeout: float = 30.0) -> subprocess.Popen[bytes]:
    """Start the daemon and wait until health says SERVING."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "signer",
            "serve",
            "--config",
            str(config),
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + timeout
    target = f"unix:{state / 'api.sock'}"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"daemon exited with {proc.returncode}: {err[-2000:]}")
        try:
            with channel(target) as ch:
                resp = health_pb2_grpc.HealthStub(ch).Check(
                    health_pb2.HealthCheckRequest(), timeout=1
                )
            if resp.status == health_pb2.HealthCheckResponse.SERVING:
                return proc
        except grpc.RpcError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("daemon did not become healthy")


def _writer(state: Path, ledger: Ledger, stop: threading.Event, kind: str) -> None:
    with channel(f"unix:{state / 'api.sock'}") as ch:
        stubs = Stubs.on(ch)
        while not stop.is_set():
            try:
                if kind == "credential":
                    client = ledger.next_id("k")
                    secret = base64.b64encode(secrets.token_bytes(64)).decode()
                    stubs.credentials.SetCredentials(
                        credential_service_pb2.SetCredentialsRequest(
                            principal=common_pb2.Principal(client_id=client, mode=LIVE),
                            venue="kraken", api_key=f"key-{client}", api_secret=secret,
                        ),
                        timeout=5,
                    )  # fmt: skip
                    with ledger.lock:
                        ledger.credentials[client] = secret
                else:
                    client = ledger.next_id("w")
                    wallet = stubs.wallets.CreateTradingWallet(
                        w.CreateTradingWalletRequest(
                            principal=common_pb2.Principal(client_id=client, mode=LIVE)
                        ),
                        timeout=5,
                    ).wallet
                    with ledger.lock:
                        ledger.wallets[client] = wallet.address
            except grpc.RpcError:
                return  # the daemon is gone: nothing after this was acknowledged


def round_(config: Path, state: Path, ledger: Ledger, rng: random.Random) -> None:
    """One start, write, SIGKILL cycle."""
    proc = start(config, state)
    stop = threading.Event()
    threads = [
        threading.Thread(target=_writer, args=(state, ledger, stop, kind))
        for kind in ("credential", "wallet", "credential")
    ]
    ch = channel(f"unix:{state / 'api.sock'}")
    threads += [
        threading.Thread(target=writer, args=(Stubs.on(ch), ledger.limits, stop))
        for writer in (crash_limits.sign_writer, crash_limits.withdraw_writer)
    ]
    for t in threads:
        t.start()
    time.sleep(rng.uniform(0.01, 0.4))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    if proc.stderr:
        proc.stderr.close()
    stop.set()
    for t in threads:
        t.join(10)
    ch.close()


def verify(state: Path, ledger: Ledger, everything: bool = False) -> None:
    """Check the state directory offline (the daemon is dead); raise AssertionError.

    Writes acknowledged since the last check are unsealed and compared (all of
    them when ``everything``); the row-level checks always cover the whole store.
    """
    key_file = state.parent / f"{state.name}-master.key"
    db = state / "signer.db"
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        wallet_rows = set(
            raw.execute("SELECT client_id, address FROM wallets WHERE role = 'trading'")
        )
        sealed_wallets = set(
            raw.execute("SELECT client_id, name FROM sealed_records WHERE kind = 'wallet'")
        )
        credential_rows = [
            (c, m, n)
            for c, m, n in raw.execute(
                "SELECT client_id, mode, name FROM sealed_records WHERE kind = 'credential'"
            )
        ]
    assert wallet_rows == sealed_wallets, "a wallet row without its sealed key, or the reverse"
    crash_limits.verify(db, ledger.limits)
    store = Store(db)
    try:
        master = MasterKey.load(key_file)
        keystore = Keystore(store, master, 16)
        wallets = WalletStore(store, master)
        with ledger.lock:
            seen = set() if everything else ledger.checked
            creds = {k: v for k, v in ledger.credentials.items() if k not in seen}
            addresses = {k: v for k, v in ledger.wallets.items() if k not in seen}
            ledger.checked.update(creds, addresses)
        for client, mode, venue in credential_rows:  # every sealed credential opens
            if everything or client in creds or client not in ledger.credentials:
                assert keystore.credentials(Principal(client, Mode(mode)), venue) is not None
        for client, secret in creds.items():
            stored = keystore.credentials(Principal(client, Mode.LIVE), "kraken")
            assert stored is not None, f"acknowledged credentials of {client} lost"
            assert stored.secret.expose() == secret.encode(), f"{client}: secret differs"
        for client, address in addresses.items():
            principal = Principal(client, Mode.LIVE)
            row = wallets.trading(principal)
            assert row is not None and row.address == address, f"wallet of {client} lost"
            key = wallets.trading_key(principal)
            assert key is not None
            assert Secp256k1Key.from_secret(key).address == address, f"{client}: key differs"
    finally:
        store.close()


def run(state: Path, kills: int, seed: int) -> Ledger:
    """``kills`` rounds, verifying after each; then one clean start proves recovery."""
    config = write_config(state)
    ledger = Ledger()
    rng = random.Random(seed)
    proc = start(config, state)  # the principals the limit writers act for
    with channel(f"unix:{state / 'api.sock'}") as ch:
        crash_limits.setup(Stubs.on(ch), ledger.limits)
    _terminate(proc)
    for _ in range(kills):
        round_(config, state, ledger, rng)
        verify(state, ledger)
    verify(state, ledger, everything=True)
    _terminate(start(config, state))
    return ledger


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    if proc.stderr:
        proc.stderr.close()
