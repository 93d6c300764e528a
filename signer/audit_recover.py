"""Opening an existing audit log from its end, and finding a record by seq in it.

Invariants (tests in tests/unit/test_audit.py):

1. A trailing partial line (a crash mid-write, so never acknowledged) is
   truncated; every complete line is kept.
2. The records after the last checkpoint, and that checkpoint's signature,
   are verified with the daemon's own audit key before the log is reopened.
   SECURITY: the next checkpoint signs everything before it, so a tail altered
   while the daemon was down must not be signed over: any problem (or a
   checkpoint by another key) raises ``AuditLogError`` and the daemon does not start.
   The checkpoint's own seq is taken from it: its signature covers
   ``covers_seq = seq - 1``, so it is authenticated like the rest of the tail.
3. Opening reads the file backwards from its end, block by block, only as
   far as the last checkpoint (at most ``checkpoint_every`` records or
   ``checkpoint_interval_s`` back, plus what a crash left uncovered): start-up
   time and memory do not grow with the log. Records before the last
   checkpoint are not re-read here; that is ``sequence-signer audit verify``'s job.
4. ``offset_after`` finds the first record after a seq by bisecting byte
   offsets (records are in seq order, one per line), so reading from any
   point of the log needs no index kept in memory.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from signer.audit_format import CHECKPOINT, CHECKPOINT_MARK, GENESIS, AuditHead
from signer.audit_verify import verify
from signer.errors import AuditLogError, AuditUnavailableError

log = logging.getLogger(__name__)

BLOCK = 1 << 16
"""Bytes read at a time when scanning backwards."""
LINEAR = 1 << 16
"""``offset_after`` stops bisecting and reads forward within this many bytes."""


@dataclass(frozen=True, slots=True)
class Recovered:
    """What an ``AuditLog`` needs to continue the chain.

    Attributes:
        head: the last record.
        uncovered: records after the last checkpoint.
        end: the file's length (complete lines only).
    """

    head: AuditHead
    uncovered: int
    end: int


def recover(path: Path, public_key: bytes) -> Recovered:
    """Open ``path`` from its end (absent: an empty log); raises ``AuditLogError`` if unusable."""
    try:
        if not path.exists():
            return Recovered(AuditHead(0, GENESIS), 0, 0)
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            end = _complete_end(f, size)
            found = _last_checkpoint(f, end)
        if size > end:
            _truncate(path, end)
        start, cp_seq, cp_offset = AuditHead(0, GENESIS), 0, 0
        if found is not None:
            cp_offset, cp_seq, cp_prev = found
            start = AuditHead(cp_seq - 1, cp_prev)
        with path.open("rb") as f:
            f.seek(cp_offset)
            report = verify(_lines(f, end), public_key, start=start, require_signed=False)
    except OSError as exc:
        raise AuditLogError(f"cannot open the audit log: {type(exc).__name__}") from None
    if report.problem is not None:
        raise AuditLogError(
            f"the audit log fails verification after its last checkpoint: {report.problem}; "
            "run `sequence-signer audit verify`, keep the file as evidence and move it aside"
        )
    return Recovered(report.last, report.last.seq - cp_seq, end)


def _lines(f: BinaryIO, end: int) -> Iterator[bytes]:
    while f.tell() < end:
        yield f.readline()


def _complete_end(f: BinaryIO, size: int) -> int:
    """The offset just after the file's last newline (0 if it has none)."""
    pos = size
    while pos > 0:
        start = max(0, pos - BLOCK)
        f.seek(start)
        block = f.read(pos - start)
        newline = block.rfind(b"\n")
        if newline != -1:
            return start + newline + 1
        pos = start
    return 0


def _last_checkpoint(f: BinaryIO, end: int) -> tuple[int, int, str] | None:
    """(byte offset, seq, prev) of the last checkpoint line before ``end``, or None."""
    cursor, partial = end, b""  # [cursor, end) is read; ``partial`` starts at cursor mid-line
    while cursor > 0:
        start = max(0, cursor - BLOCK)
        f.seek(start)
        buf = f.read(cursor - start) + partial
        first = buf.find(b"\n") + 1 if start > 0 else 0  # where buf's first whole line starts
        if start > 0 and first == 0:
            cursor, partial = start, buf  # one line longer than the block: read on
            continue
        lines = buf[first:]
        at = lines.rfind(CHECKPOINT_MARK)
        while at != -1:
            begin = lines.rfind(b"\n", 0, at) + 1
            record = _record(lines[begin : lines.index(b"\n", at) + 1])
            if record is not None and record.get("kind") == CHECKPOINT:
                seq, prev = record.get("seq"), record.get("prev")
                if type(seq) is not int or seq < 1 or not isinstance(prev, str):
                    raise AuditLogError("the last audit checkpoint is malformed")
                return start + first + begin, seq, prev
            at = lines.rfind(CHECKPOINT_MARK, 0, begin)
        cursor, partial = start, buf[:first]
    return None


def _record(raw: bytes) -> dict[str, object] | None:
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def offset_after(f: BinaryIO, after_seq: int, end: int) -> int:
    """The byte offset of the first line with seq > ``after_seq`` (``end`` if none)."""
    lo, hi = 0, end  # lo: a line start, every line before it has seq <= after_seq; answer <= hi
    while hi - lo > LINEAR:
        f.seek((lo + hi) // 2)
        f.readline()  # to the next line start
        start = f.tell()
        if start >= hi:
            break
        line = f.readline()
        if _seq(line) <= after_seq:
            lo = start + len(line)
        else:
            hi = start
    f.seek(lo)
    while lo < end:
        line = f.readline()
        if _seq(line) > after_seq:
            break
        lo += len(line)
    return lo


def _seq(raw: bytes) -> int:
    record = _record(raw) if raw.endswith(b"\n") else None
    seq = record.get("seq") if record is not None else None
    if type(seq) is not int:
        raise AuditUnavailableError("the audit log is unreadable; run audit verify")
    return seq


def _truncate(path: Path, keep: int) -> None:
    log.warning("audit log: truncating a partial last line (%d bytes)", path.stat().st_size - keep)
    with path.open("r+b") as f:
        f.truncate(keep)
        os.fsync(f.fileno())
