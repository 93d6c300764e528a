"""Verify an audit log against the daemon's Ed25519 audit public key.

Pure: takes the file's lines (each with its ``\\n``), a public key and an
optional trusted head; returns a ``Report``. No file or network I/O.

Invariants (one test each in tests/unit/test_audit_verify.py); verification
stops at the first problem and names its ``Kind`` and the record's ``seq``:

1. ``edited``: a record's content does not match its hash, or the chain
   breaks between two records (one was changed and re-hashed).
2. ``dropped``: seqs are missing and do not appear later in the file.
3. ``reordered`` / ``duplicated``: a seq appears out of order / twice.
4. ``truncated``: the last line is incomplete, or the file ends before the
   trusted head's seq.
5. ``bad-signature``: a checkpoint (or the given head) signature does not
   verify with the key: the records it covers were altered and re-chained.
   ``wrong-key``: the checkpoint names another key id than the given key's.
6. ``head-mismatch``: the record at the trusted head's seq has another hash.
7. ``unsigned``: with a key, no record at all is covered by a verified
   checkpoint or head (what a re-chained forgery without checkpoints looks like).
8. ``malformed``: a line is not a record.

SECURITY: records after the last checkpoint (the "unsigned tail") are checked
by chain only. Whoever can write the file can drop or rewrite that tail
undetected; only a head obtained from ``GetAuditHead`` (``head``) covers it.
The report says how many records that is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NoReturn

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from signer.audit_format import (
    CHECKPOINT,
    GENESIS,
    AuditHead,
    checkpoint_message,
    head_message,
    key_id,
    record_hash,
)

_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX128 = re.compile(r"[0-9a-f]{128}")
_EMPTY = AuditHead(0, GENESIS)


class Kind(StrEnum):
    """What is wrong with a log (stable names, printed by the CLI)."""

    MALFORMED = "malformed"
    EDITED = "edited"
    DROPPED = "dropped"
    REORDERED = "reordered"
    DUPLICATED = "duplicated"
    TRUNCATED = "truncated"
    BAD_SIGNATURE = "bad-signature"
    WRONG_KEY = "wrong-key"
    HEAD_MISMATCH = "head-mismatch"
    UNSIGNED = "unsigned"


@dataclass(frozen=True, slots=True)
class Problem:
    """The first problem found: its kind, the record it names, where, and why."""

    kind: Kind
    seq: int
    line: int
    message: str

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        return f"{self.kind} at seq {self.seq}{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class TrustedHead:
    """A head from ``GetAuditHead``; its ``signature`` is checked when present."""

    seq: int
    hash: str
    signature: bytes | None = None


@dataclass(frozen=True, slots=True)
class Report:
    """Outcome of ``verify``. ``last`` is the last record that verified."""

    problem: Problem | None
    last: AuditHead
    records: int
    checkpoints: int
    signed_through: int
    last_checkpoint_ts: int | None
    head_checked: bool

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def unsigned_tail(self) -> int:
        """Records after the last verified checkpoint (or trusted head)."""
        return self.last.seq - self.signed_through


class _Stop(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


def _fail(kind: Kind, seq: int, line: int, message: str) -> NoReturn:
    raise _Stop(Problem(kind, seq, line, message))


@dataclass
class _State:
    last: AuditHead
    records: int = 0
    checkpoints: int = 0
    signed_through: int = 0
    checkpoint_ts: int | None = None
    head_checked: bool = False


def verify(
    lines: Iterable[bytes],
    public_key: bytes | None,
    head: TrustedHead | None = None,
    *,
    start: AuditHead = _EMPTY,
    require_signed: bool = True,
) -> Report:
    """Verify ``lines`` (a whole file, or the part after ``start``).

    Args:
        lines: the lines, each ending in ``\\n`` (a last line without it is truncated).
        public_key: the 32-byte Ed25519 audit key; None checks the chain only.
        head: a trusted head; the record at its seq must have its hash.
        start: the record before the first line (default: an empty log).
        require_signed: with a key, report ``unsigned`` when nothing is covered.
    """
    state = _State(last=start, signed_through=start.seq)
    try:
        if head is not None:
            _check_head_signature(head, public_key)
            if head.seq == 0:
                if head.hash != GENESIS:
                    _fail(Kind.HEAD_MISMATCH, 0, 0, "a head at seq 0 must be GENESIS")
                state.head_checked = True
        _walk(iter(lines), public_key, head, state)
        _check_end(public_key, head, state, require_signed)
        problem = None
    except _Stop as stop:
        problem = stop.problem
    return Report(
        problem,
        state.last,
        state.records,
        state.checkpoints,
        state.signed_through,
        state.checkpoint_ts,
        state.head_checked,
    )


def _walk(it: Iterator[bytes], key: bytes | None, head: TrustedHead | None, state: _State) -> None:
    for n, raw in enumerate(it, state.last.seq + 1):
        prev = state.last
        if not raw.endswith(b"\n"):
            _fail(
                Kind.TRUNCATED,
                prev.seq + 1,
                n,
                f"the file ends inside a record after seq {prev.seq} (a partial last line; "
                "a crash mid-write leaves one too, and the daemon drops it at restart)",
            )
        record = _parse(raw)
        if record is None:
            _fail(Kind.MALFORMED, prev.seq + 1, n, "not an audit record")
        seq = record["seq"]
        if record["hash"] != record_hash(record):
            _fail(Kind.EDITED, seq, n, "the record does not match its hash")
        if seq != prev.seq + 1:
            raise _Stop(_order_problem(it, prev, record, n))
        if record["prev"] != prev.hash:
            _fail(
                Kind.EDITED,
                prev.seq,
                n,
                f"chain broken between seq {prev.seq} and seq {seq}: seq {prev.seq} "
                f"was changed and re-hashed, or seq {seq} was replaced",
            )
        if record.get("kind") == CHECKPOINT:
            _check_checkpoint(record, key, n)
            if key is not None:
                state.checkpoints += 1
                state.signed_through = seq
                state.checkpoint_ts = record["ts"]
        elif "kind" in record:
            _fail(Kind.MALFORMED, seq, n, "unknown record kind")
        if head is not None and seq == head.seq:
            if record["hash"] != head.hash:
                _fail(
                    Kind.HEAD_MISMATCH,
                    seq,
                    n,
                    "the record differs from the trusted head: records up to here "
                    "were altered and re-chained",
                )
            state.head_checked = True
            state.signed_through = max(state.signed_through, seq)
        state.last = AuditHead(seq, record["hash"])
        state.records += 1


def _check_end(
    key: bytes | None, head: TrustedHead | None, state: _State, require_signed: bool
) -> None:
    last = state.last
    if head is not None and not state.head_checked:
        _fail(
            Kind.TRUNCATED,
            last.seq + 1,
            0,
            f"the file ends at seq {last.seq} but the trusted head is seq {head.seq}: "
            f"records {last.seq + 1}..{head.seq} are missing",
        )
    if key is not None and require_signed and last.seq > 0 and state.signed_through == 0:
        _fail(
            Kind.UNSIGNED,
            1,
            0,
            "no record is covered by a checkpoint signed with this key (a re-chained "
            "forgery looks like this; so does a log whose daemon stopped before its "
            "first checkpoint: check it with --head)",
        )


def _order_problem(it: Iterator[bytes], prev: AuditHead, record: dict[str, Any], n: int) -> Problem:
    seq, want = record["seq"], prev.seq + 1
    if seq > want:
        later = _find_later(it, want, seq, n)
        if later:
            return Problem(Kind.REORDERED, want, later, f"seq {want} appears after seq {seq}")
        missing = f"seq {want}" if seq == want + 1 else f"seqs {want}..{seq - 1}"
        return Problem(Kind.DROPPED, want, n, f"{missing} missing (this line is seq {seq})")
    if seq == prev.seq and record["hash"] == prev.hash:
        return Problem(Kind.DUPLICATED, seq, n, f"seq {seq} appears twice")
    return Problem(Kind.REORDERED, seq, n, f"seq {seq} appears after seq {prev.seq}")


def _find_later(it: Iterator[bytes], low: int, high: int, n: int) -> int:
    """Line number of a later record with low <= seq < high, else 0 (consumes ``it``)."""
    for m, raw in enumerate(it, n + 1):
        record = _parse(raw)
        if record is not None and low <= record["seq"] < high:
            return m
    return 0


def _check_checkpoint(record: dict[str, Any], key: bytes | None, n: int) -> None:
    seq = record["seq"]
    covers_seq, covers_hash = record.get("covers_seq"), record.get("covers_hash")
    key_name, sig = record.get("key"), record.get("sig")
    if not (
        type(covers_seq) is int
        and isinstance(covers_hash, str)
        and _HEX64.fullmatch(covers_hash)
        and isinstance(key_name, str)
        and isinstance(sig, str)
        and _HEX128.fullmatch(sig)
    ):
        _fail(Kind.MALFORMED, seq, n, "checkpoint fields missing or malformed")
    if covers_seq != seq - 1 or covers_hash != record["prev"]:
        _fail(Kind.EDITED, seq, n, "the checkpoint does not cover the record before it")
    if key is None:
        return
    if key_name != key_id(key):
        _fail(
            Kind.WRONG_KEY,
            seq,
            n,
            f"the checkpoint was signed by key id {key_name}; the given key is {key_id(key)}",
        )
    message = checkpoint_message(AuditHead(covers_seq, covers_hash), record["ts"])
    if not _valid(key, message, bytes.fromhex(sig)):
        _fail(
            Kind.BAD_SIGNATURE,
            seq,
            n,
            f"the checkpoint signature does not verify: records up to seq {covers_seq} "
            "were altered and re-chained, or the signature was edited",
        )


def _check_head_signature(head: TrustedHead, key: bytes | None) -> None:
    if head.signature is None or key is None:
        return
    if not _valid(key, head_message(AuditHead(head.seq, head.hash)), head.signature):
        _fail(Kind.BAD_SIGNATURE, head.seq, 0, "the given head's signature does not verify")


def _valid(key: bytes, message: bytes, signature: bytes) -> bool:
    try:
        VerifyKey(key).verify(message, signature)
    except (BadSignatureError, ValueError):
        return False
    return True


def _parse(raw: bytes) -> dict[str, Any] | None:
    """A record with the chain fields well typed, or None."""
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    if not (type(record.get("seq")) is int and type(record.get("ts")) is int):
        return None
    if not (isinstance(record.get("prev"), str) and isinstance(record.get("hash"), str)):
        return None
    return record
