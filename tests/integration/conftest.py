"""A real daemon for integration tests: real gRPC (Unix sockets + mutual TLS),
real SQLite, real audit file, certificates generated per session."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ipaddress
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from signer._proto.sequence.signer.v1 import common_pb2
from signer.app import Daemon
from signer.client import Stubs, channel
from signer.config import Config, ListenerConfig
from signer.domain import Role

LIVE = common_pb2.MODE_LIVE
SANDBOX = common_pb2.MODE_SANDBOX


def principal(client_id: str = "alice", mode: int = SANDBOX) -> common_pb2.Principal:
    return common_pb2.Principal(client_id=client_id, mode=mode)  # type: ignore[arg-type]


@dataclass
class Pki:
    dir: Path
    ca: Path

    def client(self, name: str) -> tuple[Path, Path]:
        return self.dir / f"{name}.pem", self.dir / f"{name}.key"


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[str, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    issuer_name, issuer_key = issuer if issuer else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA, a server certificate for 127.0.0.1, client certificates
    (frontend -> api, ops -> admin, stranger -> unmapped; frontend2 for tests that
    map a second api client) and a rogue CA's client."""
    d = tmp_path_factory.mktemp("pki")
    ca_key = _key()
    ca = _cert("test-ca", ca_key, None, ca=True)
    (d / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for name, issuer in [
        ("server", ("test-ca", ca_key)),
        ("frontend", ("test-ca", ca_key)),
        ("frontend2", ("test-ca", ca_key)),
        ("ops", ("test-ca", ca_key)),
        ("stranger", ("test-ca", ca_key)),
    ]:
        key = _key()
        cert = _cert(name, key, issuer, server=name == "server")
        (d / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(d / f"{name}.key", key)
    rogue_key = _key()
    rogue_ca = _cert("rogue-ca", rogue_key, None, ca=True)
    key = _key()
    cert = _cert("frontend", key, ("rogue-ca", rogue_key))
    (d / "rogue.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(d / "rogue.key", key)
    del rogue_ca
    return Pki(d, d / "ca.pem")


def make_config(state: Path, pki: Pki) -> Config:
    key_file = state.parent / f"{state.name}-master.key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return Config(
        state_dir=state,
        master_key_file=key_file,
        listeners=(
            ListenerConfig("unix", str(state / "api.sock"), Role.API),
            ListenerConfig("unix", str(state / "admin.sock"), Role.ADMIN),
            ListenerConfig(
                "tls",
                "127.0.0.1:0",
                cert_file=pki.dir / "server.pem",
                key_file=pki.dir / "server.key",
                client_ca_file=pki.ca,
            ),
        ),
        callers={"frontend": Role.API, "ops": Role.ADMIN},
    )


class RunningDaemon:
    """A daemon on its own event loop in a background thread."""

    def __init__(
        self,
        config: Config,
        now_ns: Callable[[], int] = time.time_ns,
        prepare: Callable[[Daemon], None] | None = None,
    ) -> None:
        """``prepare`` runs on the built daemon before it starts (tests inject sockets)."""
        self.config = config
        self.now_ns = now_ns
        self._prepare = prepare
        self.loop = asyncio.new_event_loop()
        self.daemon: Daemon | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("daemon did not start")
        if self._error:
            raise self._error

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.daemon = Daemon(self.config, self.now_ns)
            if self._prepare is not None:
                self._prepare(self.daemon)
            self.loop.run_until_complete(self.daemon.start())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()

    @property
    def d(self) -> Daemon:
        assert self.daemon is not None
        return self.daemon

    def target(self, kind: str) -> str:
        return next(b.target for b in self.d.listeners.bound if b.config.kind == kind)

    def api(self) -> Stubs:
        return Stubs.on(channel(f"unix:{self.config.state_dir / 'api.sock'}"))

    def admin(self) -> Stubs:
        return Stubs.on(channel(f"unix:{self.config.state_dir / 'admin.sock'}"))

    def tls(self, pki: Pki, who: str | None) -> Stubs:
        cert, key = pki.client(who) if who else (None, None)
        return Stubs.on(
            channel(self.target("tls"), ca_file=pki.ca, cert_file=cert, key_file=key,
                    server_name="localhost")
        )  # fmt: skip

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.d.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)
        self.loop.close()


@pytest.fixture
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Short paths: Unix socket paths are limited to 107 bytes.
    return tmp_path_factory.mktemp("st")


@pytest.fixture
def daemon(state_dir: Path, pki: Pki) -> Iterator[RunningDaemon]:
    running = RunningDaemon(make_config(state_dir, pki))
    yield running
    running.stop()


def kraken_secret() -> str:
    return base64.b64encode(secrets.token_bytes(64)).decode()


def binance_secret() -> str:
    return secrets.token_urlsafe(48).replace("-", "a").replace("_", "b")[:64]


def rpc_reason(exc: grpc.RpcError) -> str:
    from signer.server.status import error_info

    info = error_info(exc)
    return info.reason if info else ""
