"""One test per audit invariant (signer/audit.py and signer/audit_recover.py docstrings)."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nacl.signing import VerifyKey

from signer import audit as audit_mod
from signer import audit_recover
from signer.audit import GENESIS, AuditLog, head_message, verify_lines
from signer.audit_format import canonical, record_hash, sealed_line
from signer.audit_verify import verify
from signer.errors import AuditLogError, AuditUnavailableError
from signer.keystore.handles import Secret
from signer.schemes.daemon_keys import AuditSigner

SEED = b"\x01" * 32


def _signer(seed: bytes = SEED) -> AuditSigner:
    return AuditSigner(Secret(seed))


def _log(path: Path, every: int = 1000, interval: float = 60.0, seed: bytes = SEED) -> AuditLog:
    return AuditLog(path, _signer(seed), checkpoint_every=every, checkpoint_interval_s=interval)


def _append_many(log: AuditLog, n: int) -> list[int]:
    async def go() -> list[int]:
        heads = await asyncio.gather(*(log.append({"i": i}) for i in range(n)))
        return [h.seq for h in heads]

    return asyncio.run(go())


def _run(fn: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(fn())  # type: ignore[arg-type]


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def _verify(path: Path, seed: bytes = SEED) -> Any:
    with path.open("rb") as f:
        return verify(f, _signer(seed).public_key, require_signed=False)


class FaultyFile:
    """Stands in for the log's file: writes ``allow`` bytes, then fails with ``err``."""

    def __init__(self, real: Any, allow: int, err: int = errno.ENOSPC) -> None:
        self.real, self.allow, self.err = real, allow, err
        self.calls = 0

    def write(self, data: memoryview) -> int:
        self.calls += 1
        if self.allow <= 0:
            raise OSError(self.err, os.strerror(self.err))
        n = min(len(data), self.allow)
        self.allow -= n
        return int(self.real.write(data[:n]))

    def fileno(self) -> int:
        return int(self.real.fileno())

    def close(self) -> None:
        self.real.close()


# Invariant 1: the chain


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
    assert len(problems) == 1 and ("seq 2" in problems[0] or "seq 3" in problems[0])


# Invariant 2: durable before return, group commit, short writes completed


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


def test_short_writes_are_completed(tmp_path: Path) -> None:
    log = _log(tmp_path / "a.log")

    class Dribble(FaultyFile):
        def write(self, data: memoryview) -> int:
            self.calls += 1
            return int(self.real.write(data[:7]))  # the OS may write less than asked

    dribble = Dribble(log._file, 0)
    log._file = dribble  # type: ignore[assignment]
    _append_many(log, 3)
    assert dribble.calls > 3
    assert verify_lines((tmp_path / "a.log").read_bytes().splitlines()) == []


# Invariant 3: checkpoints


def test_checkpoint_every_n_records_is_signed(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    _append_many(_log(path, every=4), 10)
    kinds = [r.get("kind") for r in _records(path)]
    assert [i + 1 for i, k in enumerate(kinds) if k == "checkpoint"] == [5, 10]
    report = _verify(path)
    assert report.ok and report.checkpoints == 2 and report.unsigned_tail == 2
    cp = _records(path)[4]
    assert (cp["covers_seq"], cp["covers_hash"]) == (4, cp["prev"])


def test_checkpoint_after_interval(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    log = _log(path, interval=0.05)

    async def go() -> None:
        await log.append({"i": 0})
        assert log._timer is not None
        while log.head.seq < 2:  # the timer adds the checkpoint; bounded by wait_for
            await asyncio.sleep(0.01)
        await log.aclose()

    asyncio.run(asyncio.wait_for(go(), 10))
    assert [r.get("kind") for r in _records(path)] == [None, "checkpoint"]
    assert _verify(path).unsigned_tail == 0


def test_clean_shutdown_checkpoints_then_refuses(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    log = _log(path)

    async def go() -> None:
        for i in range(3):
            await log.append({"i": i})
        await log.aclose()
        with pytest.raises(AuditUnavailableError):
            await log.append({"i": 9})

    asyncio.run(go())
    report = _verify(path)
    assert report.ok and report.last.seq == 4 and report.unsigned_tail == 0


def test_restart_continues_chain_and_checkpoint_count(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    _append_many(_log(path, every=4), 6)  # checkpoint at 5; 6, 7 uncovered (crash: no aclose)
    log = _log(path, every=4)
    assert log.head.seq == 7 and log._uncovered == 2
    _append_many(log, 2)  # 8, 9 -> 4 uncovered -> checkpoint at 10
    assert _records(path)[9]["kind"] == "checkpoint"
    assert _verify(path).ok


# Invariant 4: fail closed


def _assert_refuses_until_restart(log: AuditLog, path: Path, durable: int) -> None:
    with pytest.raises(AuditUnavailableError):
        log.check_available()
    with pytest.raises(AuditUnavailableError):
        _append_many(log, 1)
    assert log.signed_head()[0].seq == durable  # the head never advertises failed records
    asyncio.run(log.aclose())  # no checkpoint on a broken log
    reopened = _log(path)  # restart: partial line dropped, chain continues
    _append_many(reopened, 1)
    assert _verify(path).ok


@pytest.mark.parametrize("allow", [0, 10])
def test_fail_closed_when_the_disk_fills(tmp_path: Path, allow: int) -> None:
    path = tmp_path / "a.log"
    log = _log(path)
    _append_many(log, 2)
    log._file = FaultyFile(log._file, allow)  # type: ignore[assignment]
    with pytest.raises(AuditUnavailableError):
        _append_many(log, 3)
    assert len(path.read_bytes()) > 0 and (allow == 0) == path.read_bytes().endswith(b"\n")
    log._file = log._file.real  # type: ignore[attr-defined]  # the disk "recovers"
    _assert_refuses_until_restart(log, path, durable=2)


def test_fail_closed_when_fsync_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.log"
    log = _log(path)
    _append_many(log, 2)

    def eio(fd: int) -> None:
        raise OSError(errno.EIO, "EIO")

    monkeypatch.setattr(os, "fsync", eio)
    with pytest.raises(AuditUnavailableError):
        _append_many(log, 1)
    monkeypatch.undo()
    _assert_refuses_until_restart(log, path, durable=2)


@pytest.mark.parametrize("how", ["removed", "replaced"])
def test_fail_closed_when_the_file_is_removed_or_replaced(tmp_path: Path, how: str) -> None:
    path = tmp_path / "a.log"
    log = _log(path)
    _append_many(log, 2)
    path.rename(tmp_path / "moved.log")
    if how == "replaced":
        path.write_bytes(b"")
    with pytest.raises(AuditUnavailableError):
        _append_many(log, 1)
    (tmp_path / "moved.log").replace(path)  # put back: still refused until restart
    _assert_refuses_until_restart(log, path, durable=2)


# Invariant 5: events cannot set the log's own fields


@pytest.mark.parametrize("field", ["seq", "prev", "hash", "kind", "sig"])
def test_events_cannot_set_reserved_fields(tmp_path: Path, field: str) -> None:
    log = _log(tmp_path / "a.log")
    with pytest.raises(ValueError, match="own fields"):
        _append_many_event(log, {field: 1})


def _append_many_event(log: AuditLog, event: dict[str, Any]) -> None:
    asyncio.run(log.append(event))


# Recovery invariants


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


def test_reopen_refuses_a_tail_altered_while_down(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    _append_many(_log(path, every=3), 5)  # checkpoint at 4; 5 and 6 after it
    lines = path.read_bytes().splitlines(keepends=True)
    rec = json.loads(lines[5])
    rec["i"] = 42
    lines[5] = json.dumps(rec).encode() + b"\n"
    path.write_bytes(b"".join(lines))
    with pytest.raises(AuditLogError, match="edited at seq 6"):
        _log(path)


def test_reopen_refuses_checkpoints_by_another_key(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    _append_many(_log(path, every=2), 2)
    with pytest.raises(AuditLogError, match="wrong-key"):
        _log(path, seed=b"\x09" * 32)


def test_reopen_refuses_a_directory(tmp_path: Path) -> None:
    (tmp_path / "a.log").mkdir()
    with pytest.raises(AuditLogError, match="cannot open"):
        _log(tmp_path / "a.log")


@pytest.mark.parametrize("linear", [1, 300, 1 << 16])
def test_read_finds_records_by_bisection_before_and_after_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, linear: int
) -> None:
    monkeypatch.setattr(audit_recover, "LINEAR", linear)  # 1: bisect all the way down
    path = tmp_path / "a.log"
    _append_many(_log(path, every=7), 20)  # 22 records with checkpoints
    log = _log(path, every=7)
    _append_many(log, 10)
    total = log.head.seq
    lines = path.read_bytes().splitlines()
    for after in range(total + 1):
        entries = log.read(after, 3)
        assert [e.seq for e in entries] == list(range(after + 1, min(after + 3, total) + 1))
        assert [e.line.encode() for e in entries] == lines[after : after + 3]


class ReadSpy:
    """A file that records the lowest offset read from it."""

    def __init__(self, path: Path) -> None:
        self.f = path.open("rb")
        self.lowest = path.stat().st_size

    def seek(self, offset: int) -> int:
        self.lowest = min(self.lowest, offset)
        return self.f.seek(offset)

    def read(self, n: int) -> bytes:
        return self.f.read(n)


@pytest.mark.parametrize("block", [16, 512, 1 << 16])
def test_reopen_reads_back_only_to_the_last_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(audit_recover, "BLOCK", block)  # 16: every line is longer than a block
    path = tmp_path / "a.log"
    _append_many(_log(path, every=50), 200)  # checkpoints at 51, 102, 153, 204; 204 records
    raw = path.read_bytes()
    cp_offset = raw.rindex(b"\n", 0, raw.rindex(b'"kind":"checkpoint"')) + 1
    spy = ReadSpy(path)
    found = audit_recover._last_checkpoint(spy, len(raw))  # type: ignore[arg-type]
    assert found is not None and found[:2] == (cp_offset, 204)
    assert spy.lowest >= cp_offset - block - len(raw.splitlines()[0])  # never the whole file
    log = _log(path, every=50)
    assert (log.head.seq, log._uncovered) == (204, 0)
    _append_many(log, 1)
    assert _verify(path).ok


def test_reopen_of_a_file_that_is_one_partial_line(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b'{"seq":1,"partial')
    log = _log(path)
    assert log.head.seq == 0 and path.read_bytes() == b""
    _append_many(log, 2)
    assert _verify(path).ok


def test_reopen_refuses_a_malformed_last_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    _append_many(_log(path, every=3), 3)  # checkpoint at 4
    lines = path.read_bytes().splitlines(keepends=True)
    cp = json.loads(lines[3])
    cp["seq"] = "4"
    lines[3] = json.dumps(cp, separators=(",", ":"), sort_keys=True).encode() + b"\n"
    path.write_bytes(b"".join(lines))
    with pytest.raises(AuditLogError, match="checkpoint is malformed"):
        _log(path)


def test_signed_head_verifies(tmp_path: Path) -> None:
    signer = _signer(b"\x02" * 32)
    log = AuditLog(tmp_path / "a.log", signer)
    _append_many(log, 3)
    head, sig = log.signed_head()
    VerifyKey(signer.public_key).verify(head_message(head), sig)
    assert head.seq == 3
    assert [e.seq for e in log.read(1, 10)] == [2, 3]
    assert [e.seq for e in log.read(0, 2)] == [1, 2]
    assert log.read(3, 10) == []


# The writer thread (invariants 2 and 4)


def test_the_writer_thread_exits_when_idle_and_restarts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_mod, "IDLE_S", 0.01)
    path = tmp_path / "a.log"
    log = _log(path)

    async def go() -> None:
        await log.append({"i": 0})
        for _ in range(1000):  # bounded: the thread notices the idle timeout
            if not log._writing:
                break
            await asyncio.sleep(0.01)
        assert not log._writing
        await log.append({"i": 1})  # a new writer is started for it

    asyncio.run(go())
    assert [r["i"] for r in _records(path)] == [0, 1]
    assert log.signed_head()[0].seq == 2


def test_the_event_loop_runs_while_the_writer_waits_on_the_disk(tmp_path: Path) -> None:
    log = _log(tmp_path / "a.log")
    release = threading.Event()
    real = log._write

    def slow(data: bytes) -> None:
        assert release.wait(10)
        real(data)

    log._write = slow  # type: ignore[method-assign]

    async def go() -> None:
        pending = asyncio.ensure_future(log.append({"i": 0}))
        ticks = 0
        while ticks < 20:  # the loop is free while the write has not finished
            await asyncio.sleep(0)
            ticks += 1
        assert not pending.done()
        assert log.signed_head()[0].seq == 0  # not durable, not advertised
        release.set()
        await pending

    asyncio.run(go())
    assert log.signed_head()[0].seq == 1


def test_appends_queued_behind_a_failing_batch_are_all_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    log = _log(path)
    _append_many(log, 1)
    entered, release = threading.Event(), threading.Event()
    written: list[int] = []

    def failing(data: bytes) -> None:
        written.append(data.count(b"\n"))
        entered.set()
        assert release.wait(10)
        raise OSError(errno.EIO, "EIO")

    log._write = failing  # type: ignore[method-assign]

    async def go() -> list[BaseException | None]:
        first = asyncio.ensure_future(log.append({"i": 1}))
        while not entered.is_set():  # the writer holds the first batch
            await asyncio.sleep(0.001)
        later = [asyncio.ensure_future(log.append({"i": i})) for i in range(2, 6)]
        await asyncio.sleep(0)
        release.set()
        done = await asyncio.gather(first, *later, return_exceptions=True)
        return [r if isinstance(r, BaseException) else None for r in done]

    results = asyncio.run(go())
    assert all(isinstance(r, AuditUnavailableError) for r in results)
    assert written == [1]  # the queued records were refused, never written
    assert log.signed_head()[0].seq == 1
    assert len(path.read_bytes().splitlines()) == 1


def test_no_writer_thread_means_refused_not_hung(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.log"
    log = _log(path)

    def cannot(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", cannot)

    async def go() -> None:
        with pytest.raises(AuditUnavailableError):
            await asyncio.wait_for(log.append({"i": 0}), 10)
        await asyncio.wait_for(log.aclose(), 10)

    asyncio.run(go())
    monkeypatch.undo()
    assert log.signed_head()[0].seq == 0
    assert path.read_bytes() == b""


# The writer's one-serialization record line (signer/audit_format.py:sealed_line)

_KEYS = st.sampled_from(
    ["", "a", "h", "has", "hasg", "hash0", "hashes", "hat", "prev", "seq", "z", "é"]
)
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


@given(st.dictionaries(_KEYS, _VALUES, max_size=8))
def test_sealed_line_is_the_canonical_record_with_its_hash(body: dict[str, Any]) -> None:
    digest, line = sealed_line(body)
    assert digest == record_hash(body)
    assert line == canonical({**body, "hash": digest}) + b"\n"


def test_sealed_line_refuses_a_body_with_a_hash() -> None:
    with pytest.raises(ValueError, match="no hash"):
        sealed_line({"hash": "x"})
