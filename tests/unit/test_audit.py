"""One test per audit invariant (signer/audit.py docstring)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from nacl.signing import VerifyKey

from signer.audit import GENESIS, AuditLog, head_message, verify_lines
from signer.errors import AuditUnavailableError
from signer.keystore.handles import Secret
from signer.schemes.daemon_keys import AuditSigner


def _log(path: Path) -> AuditLog:
    return AuditLog(path, AuditSigner(Secret(b"\x01" * 32)))


def _append_many(log: AuditLog, n: int) -> list[int]:
    async def go() -> list[int]:
        heads = await asyncio.gather(*(log.append({"i": i}) for i in range(n)))
        return [h.seq for h in heads]

    return asyncio.run(go())


def test_chain_is_linked_and_verifies(tmp_path: Path) -> None:
    log = _log(tmp_path / "a.log")
    assert sorted(_append_many(log, 50)) == list(range(1, 51))
    lines = (tmp_path / "a.log").read_bytes().splitlines()
    assert json.loads(lines[0])["prev"] == GENESIS
    assert verify_lines(lines) == []


@pytest.mark.parametrize("tamper", ["edit", "drop", "swap"])
def test_tampering_is_detected(tmp_path: Path, tamper: str) -> None:
    log = _log(tmp_path / "a.log")
    _append_many(log, 5)
    lines = (tmp_path / "a.log").read_bytes().splitlines()
    if tamper == "edit":
        rec = json.loads(lines[2])
        rec["i"] = 99
        lines[2] = json.dumps(rec).encode()
    elif tamper == "drop":
        del lines[2]
    else:
        lines[1], lines[2] = lines[2], lines[1]
    problems = verify_lines(lines)
    assert (problems and "line 2" in problems[0]) or "line 3" in problems[0]


def test_group_commit_all_durable_before_return(tmp_path: Path) -> None:
    log = _log(tmp_path / "a.log")
    calls: list[int] = []
    real = log._write

    def counting(data: bytes) -> None:
        calls.append(data.count(b"\n"))
        real(data)

    log._write = counting  # type: ignore[method-assign]
    _append_many(log, 40)
    assert sum(calls) == 40
    assert len(calls) < 40  # at least some fsyncs were shared
    assert len((tmp_path / "a.log").read_bytes().splitlines()) == 40


def test_fail_closed_after_write_error(tmp_path: Path) -> None:
    log = _log(tmp_path / "a.log")
    _append_many(log, 2)

    def broken(data: bytes) -> None:
        raise OSError("EIO")

    log._write = broken  # type: ignore[method-assign]
    with pytest.raises(AuditUnavailableError):
        _append_many(log, 1)
    log._write = lambda data: None  # type: ignore[method-assign]  # disk "recovers"
    with pytest.raises(AuditUnavailableError):
        _append_many(log, 1)  # still refused until restart
    assert log.signed_head()[0].seq == 2  # head never advertises the failed record


def test_reopen_continues_chain_and_truncates_partial_line(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    _append_many(_log(path), 3)
    with path.open("ab") as f:
        f.write(b'{"seq":4,"partial')
    log = _log(path)
    assert log.head.seq == 3
    _append_many(log, 2)
    assert verify_lines(path.read_bytes().splitlines()) == []
    assert log.head.seq == 5


def test_signed_head_verifies(tmp_path: Path) -> None:
    signer = AuditSigner(Secret(b"\x02" * 32))
    log = AuditLog(tmp_path / "a.log", signer)
    _append_many(log, 3)
    head, sig = log.signed_head()
    VerifyKey(signer.public_key).verify(head_message(head), sig)
    assert head.seq == 3
    assert [r["seq"] for r in log.read(1, 10)] == [2, 3]
    assert [r["seq"] for r in log.read(0, 2)] == [1, 2]
