"""The audit log's on-disk format: records, chain hashes, signed messages.

Shared by the writer (``signer.audit``) and the verifier (``signer.audit_verify``)
so both read one definition. Pure: no I/O, no keys.

A record is one line of canonical JSON (sorted keys, no spaces, ASCII):

- ``seq``: 1, 2, ... (the line number); ``ts``: milliseconds since the epoch;
  ``prev``: the previous record's ``hash`` (``GENESIS`` for seq 1);
  ``hash``: SHA-256 (hex) over the canonical JSON of the record without ``hash``.
- An event record adds the event's own fields (``action``, ids, digests, rule, reasons).
- A checkpoint record has ``kind = "checkpoint"`` and adds ``covers_seq`` and
  ``covers_hash`` (the record just before it: ``seq - 1`` and ``prev``), ``key``
  (``key_id`` of the audit key) and ``sig``: the hex Ed25519 signature over
  ``checkpoint_message``. It is chained like any record.

SECURITY: the signed messages are domain separated (distinct fixed-length
prefixes) so a head signature is never accepted as a checkpoint or the reverse.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64
HEAD_CONTEXT = b"sequence-signer/audit-head/v1"
CHECKPOINT_CONTEXT = b"sequence-signer/audit-checkpoint/v1"
CHECKPOINT = "checkpoint"
# Fields the log itself sets; an event may not carry them.
RESERVED = frozenset(
    {"seq", "ts", "prev", "hash", "kind", "covers_seq", "covers_hash", "key", "sig"}
)
# Every checkpoint line contains these bytes (canonical JSON escapes quotes in
# strings, so no string value can contain them); used to find checkpoints fast.
CHECKPOINT_MARK = b'"kind":"checkpoint"'


@dataclass(frozen=True, slots=True)
class AuditHead:
    """A position in the chain: record ``seq`` has chain hash ``hash`` (seq 0: empty log)."""

    seq: int
    hash: str


def canonical(obj: Mapping[str, Any]) -> bytes:
    """Canonical JSON: sorted keys, no spaces, ASCII only."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def record_hash(record: Mapping[str, Any]) -> str:
    """The chain hash of a record: SHA-256 over its canonical JSON without ``hash``."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(canonical(body)).hexdigest()


def sealed_line(body: Mapping[str, Any]) -> tuple[str, bytes]:
    """``record_hash(body)`` and the line ``canonical(body + hash) + "\\n"``, with one
    serialization of ``body`` (the writer's hot path; a test compares the two ways).

    Canonical JSON sorts the keys, so the text is the members before "hash",
    then "hash", then the members after it: ``body`` is serialized as those two
    halves, hashed as their concatenation, and the hash is put between them.
    """
    if "hash" in body:
        raise ValueError("the body of a record has no hash yet")
    low = canonical({k: v for k, v in body.items() if k < "hash"})[1:-1]
    high = canonical({k: v for k, v in body.items() if k > "hash"})[1:-1]
    digest = hashlib.sha256(b"{" + b",".join(x for x in (low, high) if x) + b"}").hexdigest()
    members = (low, b'"hash":"' + digest.encode() + b'"', high)
    return digest, b"{" + b",".join(x for x in members if x) + b"}\n"


def head_message(head: AuditHead) -> bytes:
    """The bytes the audit key signs for a head: context || seq (8 bytes BE) || hash."""
    return HEAD_CONTEXT + head.seq.to_bytes(8, "big") + bytes.fromhex(head.hash)


def checkpoint_message(covers: AuditHead, ts_ms: int) -> bytes:
    """The bytes a checkpoint signs: context || covers_seq (8 BE) || covers_hash || ts (8 BE)."""
    return (
        CHECKPOINT_CONTEXT
        + covers.seq.to_bytes(8, "big")
        + bytes.fromhex(covers.hash)
        + ts_ms.to_bytes(8, "big")
    )


def key_id(public_key: bytes) -> str:
    """Short public name of an audit key: the first 8 bytes of SHA-256(key), hex."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def checkpoint_fields(covers: AuditHead, public_key: bytes, sig: bytes) -> dict[str, Any]:
    """The fields of a checkpoint record (besides seq, ts, prev, hash)."""
    return {
        "kind": CHECKPOINT,
        "covers_seq": covers.seq,
        "covers_hash": covers.hash,
        "key": key_id(public_key),
        "sig": sig.hex(),
    }
