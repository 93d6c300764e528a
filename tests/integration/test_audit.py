"""The audit log through a real daemon: admin-only service, signed checkpoints that
verify across restarts, a stable sealed key, and fail-closed on real file faults."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from signer._proto.sequence.signer.v1 import (
    audit_service_pb2,
    common_pb2,
    credential_service_pb2,
    identity_service_pb2,
    signing_service_pb2,
)
from signer.app import default_policy_bytes
from signer.audit_verify import TrustedHead, verify
from signer.client import Stubs, channel
from signer.config import AuditSettings, Config, ListenerConfig
from signer.domain import Role
from signer.errors import AuditLogError
from tests.integration.conftest import (
    Pki,
    RunningDaemon,
    binance_secret,
    make_config,
    principal,
    rpc_reason,
)
from tests.integration.test_process import _wait_serving

AUDIT_RPCS = [m.name for m in audit_service_pb2.DESCRIPTOR.services_by_name["AuditService"].methods]


def call_audit(stubs: Stubs, rpc: str) -> object:
    if rpc == "GetAuditHead":
        return stubs.audit.GetAuditHead(audit_service_pb2.GetAuditHeadRequest(), timeout=10)
    return list(stubs.audit.ReadAudit(audit_service_pb2.ReadAuditRequest(limit=5), timeout=10))


def sign_account(stubs: Stubs) -> signing_service_pb2.SignVenueRequestResponse:
    return stubs.signing.SignVenueRequest(
        signing_service_pb2.SignVenueRequestRequest(
            principal=principal(), venue="binance",
            request=common_pb2.HttpRequest(method="GET", path="/api/v3/account"),
        ),
        timeout=10,
    )  # fmt: skip


def set_binance(stubs: Stubs) -> None:
    stubs.credentials.SetCredentials(
        credential_service_pb2.SetCredentialsRequest(
            principal=principal(), venue="binance", api_key="bk", api_secret=binance_secret()
        ),
        timeout=10,
    )


def audit_key(stubs: Stubs) -> bytes:
    return bytes(
        stubs.identity.GetIdentity(identity_service_pb2.GetIdentityRequest(), timeout=10)
        .audit_public_key
    )  # fmt: skip


def cli_verify(path: Path, key: bytes, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "signer", "audit", "verify", str(path)]
    cmd += ["--key", base64.b64encode(key).decode(), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)


# Role separation: AuditService is admin-only on every transport.


@pytest.mark.parametrize("rpc", AUDIT_RPCS)
@pytest.mark.parametrize("transport", ["unix", "tls"])
def test_expfail_api_caller_cannot_reach_audit_service(
    daemon: RunningDaemon, pki: Pki, rpc: str, transport: str
) -> None:
    stubs = daemon.api() if transport == "unix" else daemon.tls(pki, "frontend")
    with pytest.raises(grpc.RpcError) as err:
        call_audit(stubs, rpc)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert rpc_reason(err.value) == "UNAUTHENTICATED_CALLER"


@pytest.mark.parametrize("rpc", AUDIT_RPCS)
def test_expfail_unmapped_certificate_cannot_reach_audit_service(
    daemon: RunningDaemon, pki: Pki, rpc: str
) -> None:
    with pytest.raises(grpc.RpcError) as err:
        call_audit(daemon.tls(pki, "stranger"), rpc)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert rpc_reason(err.value) == "UNAUTHENTICATED_CALLER"


@pytest.mark.parametrize("transport", ["unix", "tls"])
def test_admin_reads_audit_and_lines_verify(daemon: RunningDaemon, pki: Pki, transport: str) -> None:  # fmt: skip
    set_binance(daemon.api())
    sign_account(daemon.api())
    admin = daemon.admin() if transport == "unix" else daemon.tls(pki, "ops")
    head = admin.audit.GetAuditHead(audit_service_pb2.GetAuditHeadRequest(), timeout=10)
    got = admin.audit.ReadAudit(audit_service_pb2.ReadAuditRequest(after_seq=0, limit=1000))
    lines = [(r.record.json + "\n").encode() for r in got]
    assert lines == daemon.config.audit_path.read_bytes().splitlines(keepends=True)
    trusted = TrustedHead(head.seq, head.hash, bytes(head.signature))
    assert verify(lines, audit_key(admin), trusted, require_signed=False).ok
    tail = admin.audit.ReadAudit(audit_service_pb2.ReadAuditRequest(after_seq=head.seq - 1))
    assert [r.record.seq for r in tail] == [head.seq]


# Checkpoints across restarts; the key is stable and sealed at rest.


def test_chain_and_checkpoints_verify_across_restarts(state_dir: Path, pki: Pki) -> None:
    config = dataclasses.replace(make_config(state_dir, pki), audit=AuditSettings(3, 60))
    first = RunningDaemon(config)
    set_binance(first.api())
    key = audit_key(first.api())
    for _ in range(4):
        sign_account(first.api())
    first.stop()  # clean shutdown: a final checkpoint
    second = RunningDaemon(config)
    try:
        assert audit_key(second.api()) == key
        seed = second.d.keystore.daemon_secret("audit-ed25519", bytes).expose()
        for path in state_dir.rglob("*"):
            if path.is_file():
                assert seed not in path.read_bytes(), f"audit key in clear in {path.name}"
        for _ in range(2):
            sign_account(second.api())
        head = second.admin().audit.GetAuditHead(audit_service_pb2.GetAuditHeadRequest())
    finally:
        second.stop()
    records = [json.loads(x) for x in config.audit_path.read_bytes().splitlines()]
    assert records[-1]["kind"] == "checkpoint"  # the second shutdown
    assert sum(r.get("kind") == "checkpoint" for r in records) >= 3
    sig = base64.b64encode(head.signature).decode()
    done = cli_verify(config.audit_path, key, "--head", f"{head.seq}:{head.hash}:{sig}")
    assert done.returncode == 0, done.stderr
    assert "every record is covered" in done.stdout


# Fail closed on real file faults.


def test_expfail_audit_file_replaced_by_directory(state_dir: Path, pki: Pki) -> None:
    config = make_config(state_dir, pki)
    running = RunningDaemon(config)
    audit, aside = config.audit_path, state_dir / "audit.aside"
    try:
        api = running.api()
        set_binance(api)
        assert sign_account(api).audit_id
        before = audit.read_bytes()
        audit.rename(aside)
        audit.mkdir()
        for restored in (False, True):  # refused, and still refused once the file is back
            with pytest.raises(grpc.RpcError) as err:
                sign_account(api)
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
            assert rpc_reason(err.value) == "AUDIT_UNAVAILABLE"
            if not restored:
                audit.rmdir()
                aside.rename(audit)
        stream = api.signing.SignVenueRequestStream(
            iter([signing_service_pb2.SignVenueRequestStreamRequest(
                id=1, request=signing_service_pb2.SignVenueRequestRequest(
                    principal=principal(), venue="binance",
                    request=common_pb2.HttpRequest(method="GET", path="/api/v3/account"),
                ),
            )]),
            timeout=10,
        )  # fmt: skip
        assert [o.error.reason for o in stream] == ["AUDIT_UNAVAILABLE"]
        assert audit.read_bytes() == before  # nothing was recorded as signed
    finally:
        running.stop()
    audit.rename(aside)
    audit.mkdir()
    with pytest.raises(AuditLogError, match="cannot open"):
        RunningDaemon(config)  # a daemon that cannot audit does not start
    audit.rmdir()
    aside.rename(audit)
    again = RunningDaemon(config)
    try:
        assert sign_account(again.api()).audit_id
        key = audit_key(again.api())
    finally:
        again.stop()
    assert cli_verify(audit, key).returncode == 0


# Large enough for SQLite's WAL (the rate limiter persists a mark about once a
# second), small enough for the audit log to hit it within a few seconds.
FSIZE_LIMIT = 512 * 1024
LIMITED = (
    "import resource, runpy, sys\n"
    f"resource.setrlimit(resource.RLIMIT_FSIZE, ({FSIZE_LIMIT}, {FSIZE_LIMIT}))\n"
    "sys.argv = ['sequence-signer', *sys.argv[1:]]\n"
    "runpy.run_module('signer', run_name='__main__')\n"
)


def fill(api: Stubs, signed: list[int]) -> None:
    for _ in range(20_000):
        signed.append(int(sign_account(api).audit_id))


def test_expfail_audit_disk_full_keeps_refusing(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A real write error from the kernel (file size limit: EFBIG after a short write)."""
    d: Path = tmp_path_factory.mktemp("full")
    (d / "master.key").write_text(secrets.token_hex(32))
    (d / "master.key").chmod(0o600)
    unlimited = b"\n[limits.rate.binance]\nrate_per_second = 1000000\nburst = 1000000\n"
    (d / "policy.toml").write_bytes(default_policy_bytes() + unlimited)
    (d / "config.toml").write_text(
        f'state_dir = "state"\nmaster_key_file = "master.key"\npolicy_file = "policy.toml"\n\n'
        f'[[listeners]]\nkind = "unix"\naddress = "{d}/api.sock"\nrole = "api"\n'
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", LIMITED, "serve", "--config", str(d / "config.toml"), *(["--allow-root"] if os.geteuid() == 0 else [])],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    signed: list[int] = []
    try:
        _wait_serving(f"unix:{d}/api.sock")
        api = Stubs.on(channel(f"unix:{d}/api.sock"))
        set_binance(api)
        with pytest.raises(grpc.RpcError) as err:
            fill(api, signed)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        assert rpc_reason(err.value) == "AUDIT_UNAVAILABLE"
        for _ in range(3):  # and it keeps refusing
            with pytest.raises(grpc.RpcError) as err:
                sign_account(api)
            assert rpc_reason(err.value) == "AUDIT_UNAVAILABLE"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert len(signed) > 10, out

    audit = d / "state" / "audit.log"
    assert audit.stat().st_size <= FSIZE_LIMIT
    assert "audit append failed (OSError, errno 27)" in out  # EFBIG
    # Restart without the limit: the partial line is dropped, the chain goes on.
    api_socket = ListenerConfig("unix", str(d / "state" / "api.sock"), Role.API)
    config = Config(d / "state", (api_socket,), master_key_file=d / "master.key")
    running = RunningDaemon(config)
    try:
        assert int(sign_account(running.api()).audit_id) > signed[-1]
        key = audit_key(running.api())
    finally:
        running.stop()
    records = {r["seq"]: r for r in map(json.loads, audit.read_bytes().splitlines())}
    assert all(records[s]["decision"] == "allow" for s in signed)  # nothing acknowledged is lost
    assert cli_verify(audit, key).returncode == 0
