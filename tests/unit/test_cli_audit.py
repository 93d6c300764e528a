"""`sequence-signer audit verify`: exit codes, key and head formats, the summary."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest
from google.protobuf.json_format import MessageToDict
from nacl.signing import SigningKey

from signer._proto.sequence.signer.v1 import audit_service_pb2
from signer.audit import AuditLog
from signer.cli import main
from signer.cli_audit import parse_head, parse_public_key
from signer.keystore.handles import Secret
from signer.schemes.daemon_keys import AuditSigner

SEED = b"\x08" * 32
SIGNER = AuditSigner(Secret(SEED))
B64 = base64.b64encode(SIGNER.public_key).decode()


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    path = tmp_path / "audit.log"
    log = AuditLog(path, SIGNER, checkpoint_every=4)

    async def go() -> None:
        for i in range(6):
            await log.append({"i": i})

    asyncio.run(go())
    log.close()
    return path  # 7 records: checkpoint at 5, 6 and 7 unsigned


def head_json(path: Path, tmp_path: Path) -> Path:
    log = AuditLog(path, SIGNER)
    head, sig = log.signed_head()
    log.close()
    resp = audit_service_pb2.GetAuditHeadResponse(seq=head.seq, hash=head.hash, signature=sig)
    out = tmp_path / "head.json"
    out.write_text(json.dumps(MessageToDict(resp, preserving_proto_field_name=True)))
    return out


def test_intact_log_exits_0_with_summary(
    log_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "verify", str(log_file), "--key", B64]) == 0
    out = capsys.readouterr().out
    assert "OK, 7 records (seq 1..7)" in out
    assert "1 checkpoints verified" in out
    assert "unsigned tail: 2 records (seq 6..7)" in out and "--head" in out


def test_head_file_from_call_audit_head_covers_the_tail(
    log_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    head = head_json(log_file, tmp_path)
    assert main(["audit", "verify", str(log_file), "--key", B64, "--head", str(head)]) == 0
    out = capsys.readouterr().out
    assert "trusted head: matches" in out and "covered through seq 7" in out
    log_file.write_bytes(b"".join(log_file.read_bytes().splitlines(keepends=True)[:6]))
    assert main(["audit", "verify", str(log_file), "--key", B64, "--head", str(head)]) == 1
    assert "FAILED: truncated at seq 7" in capsys.readouterr().err


def test_tampered_log_exits_1_naming_kind_and_seq(
    log_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = log_file.read_bytes().splitlines(keepends=True)
    log_file.write_bytes(b"".join(lines[:2] + lines[3:]))
    assert main(["audit", "verify", str(log_file), "--key", B64]) == 1
    err = capsys.readouterr().err
    assert "FAILED: dropped at seq 3" in err and "through seq 2" in err


def test_wrong_key_exits_1(log_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = bytes(SigningKey(b"\x01" * 32).verify_key).hex()
    assert main(["audit", "verify", str(log_file), "--key", other]) == 1
    assert "wrong-key at seq 5" in capsys.readouterr().err


@pytest.mark.parametrize("form", ["hex", "b64file", "rawfile", "hexfile"])
def test_key_forms(log_file: Path, tmp_path: Path, form: str) -> None:
    key = SIGNER.public_key
    arg = key.hex()
    if form.endswith("file"):
        data = {"b64file": B64.encode() + b"\n", "rawfile": key, "hexfile": key.hex().encode()}
        (tmp_path / "k").write_bytes(data[form])
        arg = str(tmp_path / "k")
    assert main(["audit", "verify", str(log_file), "--key", arg]) == 0


@pytest.mark.parametrize(
    "args",
    [
        ["--key", "short"],
        ["--key", B64, "--head", "x:y"],
        ["--key", B64, "--head", "/nonexistent/head.json"],
    ],
)
def test_bad_arguments_exit_2(log_file: Path, args: list[str], capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    assert main(["audit", "verify", str(log_file), *args]) == 2
    assert "audit verify:" in capsys.readouterr().err


def test_unreadable_file_exits_2(tmp_path: Path) -> None:
    assert main(["audit", "verify", str(tmp_path / "missing.log"), "--key", B64]) == 2


def test_parse_head_forms() -> None:
    h = "ab" * 32
    assert parse_head(f"7:{h}").signature is None
    sig = bytes(range(64))
    assert parse_head(f"7:{h}:{sig.hex()}").signature == sig
    assert parse_head(f"7:{h}:{base64.b64encode(sig).decode()}").signature == sig
    for bad in (f"-1:{h}", f"7:{h[:-1]}", f"7:{h}:abcd", "7"):
        with pytest.raises(ValueError, match="--head"):
            parse_head(bad)
    with pytest.raises(ValueError, match="32 bytes"):
        parse_public_key(b"00" * 31)
