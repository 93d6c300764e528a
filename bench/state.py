"""Daemon state for the benchmarks: master key, stored credentials, config file.

Credentials are written through the keystore API (``Keystore.put_credentials``),
the same sealed, fsync'd path ``SetCredentials`` takes, without the gRPC call
and without audit records. The bench principal ``bench`` (sandbox) gets a
Binance HMAC secret and a Kalshi RSA-2048 key; ``fillers`` more credentials go
to other principals, for the start-up scenario.

The config is a dev config: a Unix socket and a plaintext TCP listener on
127.0.0.1 (dev mode only; production TCP is mutual TLS, not measured here).
The policy is the shipped document with the signing rate raised to the
largest the code admits (``BENCH_RATE``): the shipped 20/s, burst 100 would
refuse a load run within its first second (a refusal makes a row INVALID).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bench.common import CLIENT_ID, free_port
from signer.app import default_policy_bytes
from signer.domain import Mode, Principal
from signer.keystore import Keystore, MasterKey, Store

KALSHI_KEY_ID = "6f1c2c4e-1111-2222-3333-444455556666"
BENCH_RATE = b"\n[limits.rate.binance]\nrate_per_second = 1000000\nburst = 1000000\n" + (
    b"\n[limits.rate.kalshi]\nrate_per_second = 1000000\nburst = 1000000\n"
)


@dataclass(frozen=True)
class State:
    dir: Path
    config: Path
    uds: Path
    tcp: str

    def daemon_args(self) -> list[str]:
        # The daemon refuses uid 0 unless told (signer.hardening); bench boxes often run as root.
        root = ["--allow-root"] if os.geteuid() == 0 else []
        return ["-m", "signer", "serve", "--config", str(self.config), *root]


def rsa_pem(bits: int = 2048) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def binance_secret() -> str:
    return secrets.token_urlsafe(48).replace("-", "a").replace("_", "b")[:64]


def make_state(directory: Path, kalshi_pem: bytes, fillers: int = 0) -> State:
    """A state directory with the bench credentials (+ ``fillers``) and a config file."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    key_file = directory / "master.key"
    key_file.write_text(secrets.token_hex(32))
    key_file.chmod(0o600)
    store = Store(directory / "signer.db")
    keystore = Keystore(store, MasterKey.load(key_file))
    try:
        me = Principal(CLIENT_ID, Mode.SANDBOX)
        keystore.put_credentials(
            me, "binance", {"api_key": "benchBinanceKey", "api_secret": binance_secret()}
        )
        keystore.put_credentials(
            me, "kalshi", {"api_key": KALSHI_KEY_ID, "api_secret": kalshi_pem.decode()}
        )
        for i in range(fillers):
            keystore.put_credentials(
                Principal(f"filler-{i:05d}", Mode.SANDBOX),
                "binance",
                {"api_key": f"k{i}", "api_secret": binance_secret()},
            )
    finally:
        keystore.close()
    uds = directory / "api.sock"
    tcp = f"127.0.0.1:{free_port()}"
    policy = directory / "policy.toml"
    policy.write_bytes(default_policy_bytes() + BENCH_RATE)
    config = directory / "config.toml"
    config.write_text(
        f'dev = true\nstate_dir = "{directory}"\nmaster_key_file = "{key_file}"\n'
        f'policy_file = "{policy}"\n\n'
        f'[[listeners]]\nkind = "unix"\naddress = "{uds}"\nrole = "api"\n\n'
        f'[[listeners]]\nkind = "tcp"\naddress = "{tcp}"\nrole = "api"\n'
    )
    return State(directory, config, uds, tcp)
