"""vsock listeners: real gRPC through the relay, the listener's role, start-up errors.

This kernel has no vsock loopback (a client in the same VM cannot connect to
its own vsock port), and grpc clients cannot dial vsock anyway, so the
end-to-end tests give the daemon a loopback listening socket (TCP and Unix)
in place of the AF_VSOCK one: everything behind the socket (relay, private
Unix socket, gRPC server, role) is the production path. The real AF_VSOCK
socket is tested for what this machine can do, detected, never skipped:
bound and held if the kernel offers vsock, a typed start-up error if not.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from signer._proto.sequence.signer.v1 import (
    audit_service_pb2,
    common_pb2,
    credential_service_pb2,
    identity_service_pb2,
)
from signer._proto.sequence.signer.v1 import signing_service_pb2 as s
from signer.app import Daemon
from signer.client import Stubs, channel
from signer.config import Config, ListenerConfig
from signer.domain import Role
from signer.server.vsock_relay import VsockUnavailableError
from tests.integration.conftest import (
    LIVE,
    Pki,
    RunningDaemon,
    binance_secret,
    make_config,
    principal,
    rpc_reason,
)

ANY = 2**32 - 1  # VMADDR_CID_ANY / VMADDR_PORT_ANY


def with_vsock(state: Path, pki: Pki, address: str, role: Role = Role.API) -> RunningDaemon:
    return RunningDaemon(_vsock_config(state, pki, address, role))


def _vsock_config(state: Path, pki: Pki, address: str, role: Role = Role.API) -> Config:
    config = make_config(state, pki)
    return dataclasses.replace(
        config, listeners=(*config.listeners, ListenerConfig("vsock", address, role))
    )


def loopback(kind: str, where: Path) -> Callable[[Daemon], None]:
    def factory(address: str) -> socket.socket:
        assert address == "vsock:3:5000"  # the configured address reaches the factory
        if kind == "tcp":
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
        else:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.bind(str(where / "vs.sock"))
        sock.listen()
        return sock

    def prepare(daemon: Daemon) -> None:
        daemon.listeners.vsock_socket = factory

    return prepare


def vsock_bound(d: RunningDaemon) -> str:
    return d.target("vsock")


@pytest.mark.parametrize("kind", ["tcp", "unix"])
def test_grpc_through_the_relay(state_dir: Path, pki: Pki, kind: str) -> None:
    config = _vsock_config(state_dir, pki, "vsock:3:5000")
    running = RunningDaemon(config, prepare=loopback(kind, state_dir))
    try:
        target = vsock_bound(running)
        inner = state_dir / "listener3.vsock-relay.sock"
        assert oct(inner.stat().st_mode & 0o777) == oct(0o600)
        with channel(target) as ch:
            stubs = Stubs.on(ch)
            health = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest())
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            ident = stubs.identity.GetIdentity(identity_service_pb2.GetIdentityRequest())
            assert ident.audit_public_key == running.d.audit_signer.public_key
            stubs.credentials.SetCredentials(
                credential_service_pb2.SetCredentialsRequest(
                    principal=principal("vs", LIVE), venue="binance", api_key="vk",
                    api_secret=binance_secret(),
                )
            )  # fmt: skip
            req = s.SignVenueRequestRequest(
                principal=principal("vs", LIVE), venue="binance",
                request=common_pb2.HttpRequest(method="GET", path="/api/v3/account"),
            )  # fmt: skip
            signed = stubs.signing.SignVenueRequest(req)
            assert signed.request.headers["X-MBX-APIKEY"] == "vk"
            items = [s.SignVenueRequestStreamRequest(id=i, request=req) for i in range(20)]
            out = list(stubs.signing.SignVenueRequestStream(iter(items)))
            assert [o.WhichOneof("result") for o in out] == ["response"] * 20
            # The listener's configured role, nothing more: admin RPCs are refused.
            with pytest.raises(grpc.RpcError) as err:
                stubs.audit.GetAuditHead(audit_service_pb2.GetAuditHeadRequest())
            assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert rpc_reason(err.value) == "UNAUTHENTICATED_CALLER"
        relay = running.d.listeners.bound[3].relay
        assert relay is not None
    finally:
        running.stop()
    assert relay.active == 0 and not inner.exists()
    records = running.config.audit_path.read_text()
    assert '"caller":"listener3:vsock"' in records.replace(" ", "")


def test_admin_role_on_a_vsock_listener(state_dir: Path, pki: Pki) -> None:
    config = _vsock_config(state_dir, pki, "vsock:3:5000", Role.ADMIN)
    running = RunningDaemon(config, prepare=loopback("tcp", state_dir))
    try:
        with channel(vsock_bound(running)) as ch:
            stubs = Stubs.on(ch)
            assert stubs.audit.GetAuditHead(audit_service_pb2.GetAuditHeadRequest()).seq >= 0
            with pytest.raises(grpc.RpcError) as err:
                stubs.credentials.ListVenues(
                    credential_service_pb2.ListVenuesRequest(principal=principal())
                )
            assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        running.stop()


def vsock_bindable() -> bool:
    """Can this machine listen on AF_VSOCK at all (any CID, a kernel-chosen port)?"""
    family = getattr(socket, "AF_VSOCK", None)
    if family is None:
        return False
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.bind((ANY, ANY))
            sock.listen()
    except OSError:
        return False
    return True


def test_the_real_vsock_socket_on_this_machine(state_dir: Path, pki: Pki) -> None:
    address = f"vsock:{ANY}:{ANY}"
    if not vsock_bindable():
        with pytest.raises(VsockUnavailableError, match=f"cannot listen on {address}"):
            with_vsock(state_dir, pki, address)
        return
    running = with_vsock(state_dir, pki, address)
    try:
        target = vsock_bound(running)
        cid, port = (int(x) for x in target.split(":")[1:])
        assert target.startswith("vsock:") and cid == ANY and port != ANY
        with socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM) as other:
            with pytest.raises(OSError, match="in use") as err:
                other.bind((ANY, port))  # the daemon holds the port
            assert err.value.errno == errno.EADDRINUSE
    finally:
        running.stop()
    with socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM) as again:
        again.bind((ANY, port))  # released at shutdown


def test_serve_reports_a_vsock_address_it_cannot_have(tmp_path: Path) -> None:
    """CID 12345 is not this machine's (or there is no vsock): exit 2, a clear line,
    and the keys loaded for the start were wiped on the way out."""
    key = tmp_path / "master.key"
    key.write_text(secrets.token_hex(32))
    key.chmod(0o600)
    (tmp_path / "c.toml").write_text(
        f'state_dir = "state"\nmaster_key_file = "master.key"\n'
        f'[[listeners]]\nkind = "unix"\naddress = "{tmp_path}/api.sock"\nrole = "api"\n'
        '[[listeners]]\nkind = "vsock"\naddress = "vsock:12345:5000"\nrole = "api"\n'
    )
    proc = subprocess.run(
        [sys.executable, "-m", "signer", "serve", "--config", str(tmp_path / "c.toml"),
         *(["--allow-root"] if os.geteuid() == 0 else [])],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "listener error: cannot listen on vsock:12345:5000: " in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "shutdown: wiped the master key" in proc.stderr
    assert not (tmp_path / "api.sock").exists()
