"""The real command: `serve --config` and `dev` start, serve, and stop cleanly on SIGTERM."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from signer._proto.sequence.signer.v1 import identity_service_pb2
from signer.client import Stubs, channel


def _wait_serving(target: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with channel(target) as ch:
                resp = health_pb2_grpc.HealthStub(ch).Check(
                    health_pb2.HealthCheckRequest(), timeout=1
                )
                if resp.status == health_pb2.HealthCheckResponse.SERVING:
                    return
        except grpc.RpcError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(target)
        time.sleep(0.1)


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    return out


def test_serve_with_config_and_sigterm(tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    d: Path = tmp_path_factory.mktemp("srv")
    key = d / "master.key"
    key.write_text(secrets.token_hex(32))
    key.chmod(0o600)
    (d / "config.toml").write_text(
        f'state_dir = "state"\nmaster_key_file = "master.key"\n\n'
        f'[[listeners]]\nkind = "unix"\naddress = "{d}/api.sock"\nrole = "api"\n'
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "signer", "serve", "--config", str(d / "config.toml"),
         *(["--allow-root"] if os.geteuid() == 0 else [])],  # uid 0 is refused otherwise
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        _wait_serving(f"unix:{d}/api.sock")
        ident = Stubs.on(channel(f"unix:{d}/api.sock")).identity.GetIdentity(
            identity_service_pb2.GetIdentityRequest(), timeout=5
        )
        assert len(ident.audit_public_key) == 32
        assert oct((d / "api.sock").stat().st_mode & 0o777) == oct(0o600)
        assert oct((d / "state" / "signer.db").stat().st_mode & 0o777) == oct(0o600)
        health = subprocess.run(
            [sys.executable, "-m", "signer", "health", "--target", f"unix:{d}/api.sock"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert health.returncode == 0 and health.stdout.strip() == "serving"
    finally:
        out = _stop(proc)
    assert not (d / "api.sock").exists()
    assert "DEV MODE" not in out
    # SIGTERM ran the orderly shutdown, which ends by wiping the long-lived keys.
    assert "shutdown: wiped the master key, the daemon's sealing and audit keys" in out
    down = subprocess.run(
        [sys.executable, "-m", "signer", "health", "--target", f"unix:{d}/api.sock", "--timeout", "1"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert down.returncode == 1


def test_serve_refuses_plaintext_tcp_outside_dev(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        'state_dir = "s"\nmaster_key_file = "k"\n[[listeners]]\nkind = "tcp"\n'
        'address = "127.0.0.1:0"\nrole = "api"\n'
    )
    proc = subprocess.run(
        [sys.executable, "-m", "signer", "serve", "--config", str(tmp_path / "config.toml")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "plaintext tcp listeners are allowed only with dev = true" in proc.stderr


def test_dev_command(tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    d: Path = tmp_path_factory.mktemp("dev")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "signer", "dev", "--state-dir", str(d), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    try:
        _wait_serving(f"unix:{d}/api.sock")
        assert (d / "master.key").exists()
        assert oct((d / "master.key").stat().st_mode & 0o777) == oct(0o600)
        call = subprocess.run(
            [sys.executable, "-m", "signer", "call", "--target", f"unix:{d}/api.sock", "identity"],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        assert "sealing_public_key" in call.stdout
    finally:
        out = _stop(proc)
    assert "api socket" in out and "DEV MODE" in out
