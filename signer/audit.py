"""Hash-chained, append-only audit log (JSON lines) with group-commit fsync.

Invariants (one test each in tests/unit/test_audit.py):

1. Every record carries ``seq`` (1, 2, ...), ``prev`` (the previous record's
   hash, 64 zeros for the first) and ``hash`` = SHA-256 over the canonical JSON
   of the record without ``hash``. Editing, dropping or reordering a record
   breaks the chain (``verify_lines`` says where).
2. ``append`` returns only after the record's line is written and fsync'd.
   Concurrent appends share one fsync (group commit) but none returns early.
3. Fail closed: if a write or fsync fails, every waiting append and every
   later one raises ``AuditUnavailableError`` (the caller then refuses to
   sign). The log stays broken until the daemon restarts and re-opens it.
4. No secrets: events carry ids, digests, rule ids and reasons only.
   SECURITY: callers must never put key material or request bodies in events.

A trailing partial line (a crash mid-write, so never acknowledged) is
truncated when the log is opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signer.errors import AuditUnavailableError
from signer.schemes.daemon_keys import AuditSigner

log = logging.getLogger(__name__)

GENESIS = "0" * 64
HEAD_CONTEXT = b"sequence-signer/audit-head/v1"


@dataclass(frozen=True, slots=True)
class AuditHead:
    seq: int
    hash: str


def canonical(obj: Mapping[str, Any]) -> bytes:
    """Canonical JSON: sorted keys, no spaces, ASCII only."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def record_hash(record: Mapping[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(canonical(body)).hexdigest()


def head_message(head: AuditHead) -> bytes:
    """The bytes the audit key signs for a head: context || seq (8 bytes BE) || hash."""
    return HEAD_CONTEXT + head.seq.to_bytes(8, "big") + bytes.fromhex(head.hash)


class AuditLog:
    """The audit log of one daemon. Use ``await append(event)`` from the event loop."""

    def __init__(self, path: Path, signer: AuditSigner) -> None:
        self._path = path
        self._signer = signer
        self._head = _recover(path)
        self._durable = self._head
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._file = os.fdopen(fd, "ab", buffering=0)
        self._pending: list[tuple[bytes, asyncio.Future[None], AuditHead]] = []
        self._flushing = False
        self._broken = False

    @property
    def head(self) -> AuditHead:
        return self._head

    def signed_head(self) -> tuple[AuditHead, bytes]:
        """The last durable record's (seq, hash) and the audit key's signature over it."""
        head = self._durable
        return head, self._signer.sign(head_message(head))

    async def append(self, event: Mapping[str, Any]) -> AuditHead:
        """Append one record; returns its (seq, hash) once it is durable."""
        if self._broken:
            raise AuditUnavailableError("audit log unavailable; refusing to sign")
        seq = self._head.seq + 1
        record: dict[str, Any] = {
            "seq": seq,
            "ts": time.time_ns() // 1_000_000,
            "prev": self._head.hash,
            **event,
        }
        record["hash"] = record_hash(record)
        line = canonical(record) + b"\n"
        self._head = AuditHead(seq, record["hash"])
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((line, fut, self._head))
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush())
        await fut
        return AuditHead(seq, record["hash"])

    async def _flush(self) -> None:
        try:
            while self._pending and not self._broken:
                batch, self._pending = self._pending, []
                try:
                    await asyncio.to_thread(self._write, b"".join(entry[0] for entry in batch))
                except OSError as exc:
                    self._fail(batch, exc)
                    break
                self._durable = batch[-1][2]
                for _, fut, _ in batch:
                    if not fut.done():
                        fut.set_result(None)
        finally:
            self._flushing = False

    def _write(self, data: bytes) -> None:
        self._file.write(data)
        os.fsync(self._file.fileno())

    def _fail(
        self, batch: list[tuple[bytes, asyncio.Future[None], AuditHead]], exc: OSError
    ) -> None:
        # SECURITY: fail closed. Nothing in this batch (or later) is acknowledged.
        log.error("audit append failed (%s); refusing to sign until restart", type(exc).__name__)
        self._broken = True
        for _, fut, _ in batch + self._pending:
            if not fut.done():
                fut.set_exception(AuditUnavailableError("audit log unavailable; refusing to sign"))
        self._pending = []

    def read(self, after_seq: int, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` records with seq > after_seq, as parsed JSON objects."""
        out: list[dict[str, Any]] = []
        for record in iter_records(self._path):
            if record["seq"] > after_seq:
                out.append(record)
                if len(out) >= limit:
                    break
        return out

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()


def iter_records(path: Path) -> Iterator[dict[str, Any]]:
    """Parse every complete line of an audit file."""
    with path.open("rb") as f:
        for line in f:
            if line.endswith(b"\n"):
                yield json.loads(line)


def verify_lines(lines: Iterable[bytes]) -> list[str]:
    """Check the chain; returns the problems found (empty when intact)."""
    problems: list[str] = []
    prev, expected_seq = GENESIS, 1
    for n, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except ValueError:
            problems.append(f"line {n}: not JSON")
            break
        if record.get("seq") != expected_seq:
            problems.append(f"line {n}: seq {record.get('seq')} where {expected_seq} expected")
        if record.get("prev") != prev:
            problems.append(f"line {n}: prev does not match the hash of the record before")
        if record.get("hash") != record_hash(record):
            problems.append(f"line {n}: hash does not match the record (edited)")
        prev, expected_seq = record.get("hash", ""), expected_seq + 1
    return problems


def _recover(path: Path) -> AuditHead:
    """Find the head; truncate a trailing partial line (it was never acknowledged)."""
    if not path.exists():
        return AuditHead(0, GENESIS)
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
        log.warning("audit log: truncating a partial last line (%d bytes)", len(data) - keep)
        with path.open("r+b") as f:
            f.truncate(keep)
            os.fsync(f.fileno())
        data = data[:keep]
    if not data:
        return AuditHead(0, GENESIS)
    last = json.loads(data[data.rstrip(b"\n").rfind(b"\n") + 1 :])
    return AuditHead(int(last["seq"]), str(last["hash"]))
