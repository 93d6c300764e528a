"""Opening an existing audit log: find the head, index it, verify its unsigned tail.

Invariants (tests in tests/unit/test_audit.py):

1. A trailing partial line (a crash mid-write, so never acknowledged) is
   truncated; every complete line is kept.
2. The records after the last checkpoint, and that checkpoint's signature,
   are verified with the daemon's own audit key before the log is reopened.
   SECURITY: the next checkpoint signs everything before it, so a tail altered
   while the daemon was down must not be signed over: any problem (or a
   checkpoint by another key) raises ``AuditLogError`` and the daemon does not start.
3. One sequential pass, constant memory: line boundaries, a sparse
   seq -> byte offset index (every ``STRIDE`` records) and the last checkpoint.
   Records before the last checkpoint are not re-verified here; that is
   ``sequence-signer audit verify``'s job.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from signer.audit_format import CHECKPOINT, CHECKPOINT_MARK, GENESIS, AuditHead
from signer.audit_verify import verify
from signer.errors import AuditLogError

log = logging.getLogger(__name__)

STRIDE = 1024


@dataclass(frozen=True, slots=True)
class Recovered:
    """What an ``AuditLog`` needs to continue the chain.

    Attributes:
        head: the last record.
        uncovered: records after the last checkpoint.
        index: ``index[i]`` is the byte offset of seq ``i * STRIDE + 1``.
        end: the file's length (complete lines only).
    """

    head: AuditHead
    uncovered: int
    index: list[int]
    end: int


def recover(path: Path, public_key: bytes) -> Recovered:
    """Scan ``path`` (absent: an empty log); raises ``AuditLogError`` if unusable."""
    try:
        if not path.exists():
            return Recovered(AuditHead(0, GENESIS), 0, [], 0)
        count, end, cp_line, cp_offset, index = _scan(path)
        if path.stat().st_size > end:
            _truncate(path, end)
        start = AuditHead(0, GENESIS)
        if cp_line:
            start = AuditHead(cp_line - 1, _prev_of(path, cp_offset))
        with path.open("rb") as f:
            f.seek(cp_offset)
            report = verify(f, public_key, start=start, require_signed=False)
    except OSError as exc:
        raise AuditLogError(f"cannot open the audit log: {type(exc).__name__}") from None
    if report.problem is not None or report.last.seq != count:
        raise AuditLogError(
            f"the audit log fails verification after its last checkpoint: {report.problem}; "
            "run `sequence-signer audit verify`, keep the file as evidence and move it aside"
        )
    return Recovered(report.last, count - cp_line, index, end)


def _scan(path: Path) -> tuple[int, int, int, int, list[int]]:
    """(complete lines, their length, last checkpoint's line and offset, index)."""
    count = end = cp_line = cp_offset = 0
    index: list[int] = []
    with path.open("rb") as f:
        for raw in f:
            if not raw.endswith(b"\n"):
                break
            if count % STRIDE == 0:
                index.append(end)
            count += 1
            if CHECKPOINT_MARK in raw and _is_checkpoint(raw):
                cp_line, cp_offset = count, end
            end += len(raw)
    return count, end, cp_line, cp_offset, index


def _is_checkpoint(raw: bytes) -> bool:
    try:
        record = json.loads(raw)
    except ValueError:
        return False
    return isinstance(record, dict) and record.get("kind") == CHECKPOINT


def _prev_of(path: Path, offset: int) -> str:
    with path.open("rb") as f:
        f.seek(offset)
        prev = json.loads(f.readline()).get("prev")
    return prev if isinstance(prev, str) else ""


def _truncate(path: Path, keep: int) -> None:
    log.warning("audit log: truncating a partial last line (%d bytes)", path.stat().st_size - keep)
    with path.open("r+b") as f:
        f.truncate(keep)
        os.fsync(f.fileno())
