"""The real `serve` command hardens itself: root refusal, one log line per measure,
and the running daemon's /proc entry shows the measures while it signs."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from signer._proto.sequence.signer.v1 import common_pb2, credential_service_pb2
from signer._proto.sequence.signer.v1 import signing_service_pb2 as s
from signer.client import Stubs, channel
from tests.integration.conftest import kraken_secret
from tests.integration.test_process import _wait_serving

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="needs uid 0")


def _write_config(d: Path, extra: str = "") -> Path:
    key = d / "master.key"
    key.write_text(secrets.token_hex(32))
    key.chmod(0o600)
    config = d / "config.toml"
    config.write_text(
        f'state_dir = "state"\nmaster_key_file = "master.key"\n{extra}\n'
        f'[[listeners]]\nkind = "unix"\naddress = "{d}/api.sock"\nrole = "api"\n'
    )
    return config


def _serve(config: Path, *flags: str) -> list[str]:
    return [sys.executable, "-m", "signer", "serve", "--config", str(config), *flags]


@ROOT_ONLY
def test_serve_refuses_root_without_allow_root(tmp_path: Path) -> None:
    proc = subprocess.run(
        _serve(_write_config(tmp_path)), capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 2
    assert "refusing to run as root (uid 0)" in proc.stderr
    assert not (tmp_path / "state").exists()  # refused before anything was created


@ROOT_ONLY
def test_serve_allow_root_from_config(tmp_path_factory: pytest.TempPathFactory) -> None:
    d = tmp_path_factory.mktemp("hcfg")
    config = _write_config(d, "[hardening]\nallow_root = true\nseccomp = false\n")
    proc = subprocess.Popen(
        _serve(config), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        _wait_serving(f"unix:{d}/api.sock")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "root refusal not applied: running as root: allow_root is set" in out
    assert "seccomp not applied: disabled" in out


def _status(pid: int) -> dict[str, str]:
    rows = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.strip() for k, _, v in (row.partition(":") for row in rows)}


def test_running_daemon_is_hardened_and_still_signs(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    d = tmp_path_factory.mktemp("hrun")
    flags = ["--allow-root"] if os.geteuid() == 0 else []
    proc = subprocess.Popen(
        _serve(_write_config(d), *flags),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        _wait_serving(f"unix:{d}/api.sock")
        status = _status(proc.pid)
        limits = Path(f"/proc/{proc.pid}/limits").read_text()
        api = Stubs.on(channel(f"unix:{d}/api.sock"))
        principal = common_pb2.Principal(client_id="hard", mode=common_pb2.MODE_LIVE)
        api.credentials.SetCredentials(
            credential_service_pb2.SetCredentialsRequest(
                principal=principal, venue="kraken", api_key="k", api_secret=kraken_secret()
            ),
            timeout=10,
        )
        signed = api.signing.SignVenueRequest(
            s.SignVenueRequestRequest(
                principal=principal,
                venue="kraken",
                request=common_pb2.HttpRequest(
                    method="POST",
                    path="/0/private/AddOrder",
                    body=b"ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25",
                ),
            ),
            timeout=10,
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert signed.request.headers["API-Sign"]
    # log_format defaults to "json" in a config file: one object per line.
    lines = [
        json.loads(line)["msg"]
        for line in out.splitlines()
        if line.startswith("{") and json.loads(line)["logger"] == "signer.hardening"
    ]
    assert len(lines) == 6  # one line per measure
    assert lines[0].startswith("root refusal")
    assert lines[1:4] == ["RLIMIT_CORE=0 applied", "PR_SET_DUMPABLE=0 applied", "umask 077 applied"]
    assert lines[4].startswith(("mlockall applied", "mlockall not applied: "))
    assert lines[5] == "seccomp (execve, execveat, ptrace -> EPERM) applied (all threads)"
    assert status["Seccomp"] == "2" and status["NoNewPrivs"] == "1"
    core = next(line for line in limits.splitlines() if line.startswith("Max core file size"))
    assert core.split()[4:6] == ["0", "0"]
    if lines[4].startswith("mlockall applied"):
        assert int(status["VmLck"].split()[0]) > 0
