"""Audit tampering of each kind is detected, named, and located (signer/audit_verify.py)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

from signer.audit import AuditLog
from signer.audit_format import (
    AuditHead,
    canonical,
    checkpoint_message,
    head_message,
    key_id,
    record_hash,
)
from signer.audit_verify import Kind, Report, TrustedHead, verify
from signer.keystore.handles import Secret
from signer.schemes.daemon_keys import AuditSigner

SEED = b"\x05" * 32
KEY = bytes(SigningKey(SEED).verify_key)


@pytest.fixture(scope="module")
def lines(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """13 records: events 1-3, checkpoint 4, events 5-7, checkpoint 8, 9-11, checkpoint 12, 13."""
    path = tmp_path_factory.mktemp("av") / "audit.log"
    log = AuditLog(path, AuditSigner(Secret(SEED)), checkpoint_every=3)

    async def go() -> None:
        for i in range(10):
            await log.append({"action": "test", "i": i})

    asyncio.run(go())
    log.close()
    out = path.read_bytes().splitlines(keepends=True)
    assert len(out) == 13
    return out


def records(lines: list[bytes]) -> list[dict[str, Any]]:
    return [json.loads(x) for x in lines]


def dump(recs: list[dict[str, Any]]) -> list[bytes]:
    return [canonical(r) + b"\n" for r in recs]


def rehash(rec: dict[str, Any]) -> dict[str, Any]:
    rec["hash"] = record_hash(rec)
    return rec


def rechain(recs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a forger without the key can do: renumber, relink, re-hash everything."""
    prev = "0" * 64
    for seq, rec in enumerate(recs, 1):
        rec["seq"], rec["prev"] = seq, prev
        if rec.get("kind") == "checkpoint":
            rec["covers_seq"], rec["covers_hash"] = seq - 1, prev
        prev = rehash(rec)["hash"]
    return recs


def check(report: Report, kind: Kind, seq: int, words: str = "") -> None:
    assert report.problem is not None, "tampering not detected"
    assert (report.problem.kind, report.problem.seq) == (kind, seq), str(report.problem)
    assert words in report.problem.message
    assert str(report.problem).startswith(f"{kind} at seq {seq}")


def head_of(lines: list[bytes], seq: int) -> TrustedHead:
    rec = json.loads(lines[seq - 1])
    return TrustedHead(seq, rec["hash"])


def test_intact_log_verifies(lines: list[bytes]) -> None:
    report = verify(lines, KEY)
    assert report.ok and report.records == 13 and report.checkpoints == 3
    assert report.signed_through == 12 and report.unsigned_tail == 1
    assert verify(lines, KEY, head_of(lines, 13)).unsigned_tail == 0


def test_empty_log_verifies() -> None:
    assert verify([], KEY).ok
    assert verify([], KEY, TrustedHead(0, "0" * 64)).ok


def test_edited_field(lines: list[bytes]) -> None:
    recs = records(lines)
    recs[5]["i"] = 999  # seq 6, hash left as it was
    check(verify(dump(recs), KEY), Kind.EDITED, 6, "does not match its hash")


def test_edited_and_rehashed_record(lines: list[bytes]) -> None:
    recs = records(lines)
    recs[5]["i"] = 999
    rehash(recs[5])
    check(verify(dump(recs), KEY), Kind.EDITED, 6, "chain broken between seq 6 and seq 7")


@pytest.mark.parametrize(("drop", "words"), [([5], "seq 6 missing"), ([5, 6], "seqs 6..7 missing")])
def test_dropped(lines: list[bytes], drop: list[int], words: str) -> None:
    kept = [x for i, x in enumerate(lines) if i not in drop]
    check(verify(kept, KEY), Kind.DROPPED, 6, words)


def test_dropped_checkpoint(lines: list[bytes]) -> None:
    check(verify(lines[:7] + lines[8:], KEY), Kind.DROPPED, 8)


def test_dropped_first_record(lines: list[bytes]) -> None:
    check(verify(lines[1:], KEY), Kind.DROPPED, 1)


@pytest.mark.parametrize(("a", "b"), [(5, 6), (1, 9)])
def test_reordered(lines: list[bytes], a: int, b: int) -> None:
    swapped = list(lines)
    swapped[a], swapped[b] = swapped[b], swapped[a]
    check(verify(swapped, KEY), Kind.REORDERED, a + 1, f"seq {a + 1} appears after seq {b + 1}")


def test_duplicated(lines: list[bytes]) -> None:
    check(verify(lines[:6] + lines[5:], KEY), Kind.DUPLICATED, 6)


def test_truncated_mid_line(lines: list[bytes]) -> None:
    cut = [*lines[:9], lines[9][:20]]
    check(verify(cut, KEY), Kind.TRUNCATED, 10, "ends inside a record after seq 9")


def test_truncated_tail_needs_a_head(lines: list[bytes]) -> None:
    cut = lines[:10]
    report = verify(cut, KEY)  # SECURITY: the file alone cannot show this (documented)
    assert report.ok and report.unsigned_tail == 2
    check(verify(cut, KEY, head_of(lines, 13)), Kind.TRUNCATED, 11, "records 11..13 are missing")


def test_rewritten_unsigned_tail_needs_a_head(lines: list[bytes]) -> None:
    recs = records(lines)
    recs[12]["i"] = 999
    rehash(recs[12])
    assert verify(dump(recs), KEY).ok  # chain-only tail: not detectable from the file alone
    check(verify(dump(recs), KEY, head_of(lines, 13)), Kind.HEAD_MISMATCH, 13)


def test_checkpoint_signature_edited(lines: list[bytes]) -> None:
    recs = records(lines)
    recs[7]["sig"] = ("0" if recs[7]["sig"][0] != "0" else "1") + recs[7]["sig"][1:]
    check(verify(dump(recs), KEY), Kind.EDITED, 8)  # naive edit: the hash gives it away
    check(verify(dump(rechain(recs)), KEY), Kind.BAD_SIGNATURE, 8, "signature does not verify")


def test_checkpoint_not_covering_its_predecessor(lines: list[bytes]) -> None:
    recs = records(lines)
    recs[7]["covers_seq"] = 3
    rehash(recs[7])
    check(verify(dump(recs)[:8], KEY), Kind.EDITED, 8, "does not cover")


def test_rechained_forgery_without_the_key(lines: list[bytes]) -> None:
    recs = records(lines)
    recs[1]["action"] = "forged"
    check(verify(dump(rechain(recs)), KEY), Kind.BAD_SIGNATURE, 4, "up to seq 3")


def test_rechained_forgery_without_checkpoints(lines: list[bytes]) -> None:
    recs = [r for r in records(lines) if r.get("kind") != "checkpoint"]
    recs[1]["action"] = "forged"
    forged = dump(rechain(recs))
    assert verify(forged, None).ok  # the chain alone is consistent
    check(verify(forged, KEY), Kind.UNSIGNED, 1, "no record is covered")


@pytest.mark.parametrize("claim_our_key", [True, False])
def test_forgery_signed_with_another_key(lines: list[bytes], claim_our_key: bool) -> None:
    rogue = SigningKey(b"\x66" * 32)
    recs = rechain(records(lines)[:4])
    recs[1]["action"] = "forged"
    recs = rechain(recs)
    cp = recs[3]
    msg = checkpoint_message(AuditHead(cp["covers_seq"], cp["covers_hash"]), cp["ts"])
    cp["sig"] = rogue.sign(msg).signature.hex()
    cp["key"] = key_id(KEY) if claim_our_key else key_id(bytes(rogue.verify_key))
    report = verify(dump(rechain(recs)), KEY)
    check(report, Kind.BAD_SIGNATURE if claim_our_key else Kind.WRONG_KEY, 4)


def test_wrong_public_key(lines: list[bytes]) -> None:
    other = bytes(SigningKey(b"\x07" * 32).verify_key)
    check(verify(lines, other), Kind.WRONG_KEY, 4, f"the given key is {key_id(other)}")


def test_head_signature_is_checked(lines: list[bytes]) -> None:
    head = head_of(lines, 13)
    good = SigningKey(SEED).sign(head_message(AuditHead(head.seq, head.hash))).signature
    assert verify(lines, KEY, TrustedHead(head.seq, head.hash, good)).ok
    bad = TrustedHead(head.seq, head.hash, bytes(64))
    check(verify(lines, KEY, bad), Kind.BAD_SIGNATURE, 13, "head's signature")


@pytest.mark.parametrize(
    "line",
    [b"not json\n", b"[1,2]\n", b'{"seq":"4","ts":1,"prev":"","hash":""}\n', b'{"seq":true}\n'],
)
def test_malformed_line(lines: list[bytes], line: bytes) -> None:
    check(verify([*lines[:3], line, *lines[4:]], KEY), Kind.MALFORMED, 4)


def test_unknown_record_kind(lines: list[bytes]) -> None:
    recs = records(lines)[:3]
    recs[2]["kind"] = "mystery"
    check(verify(dump(rechain(recs)), None), Kind.MALFORMED, 3, "unknown record kind")


def test_malformed_checkpoint(lines: list[bytes]) -> None:
    recs = records(lines)[:4]
    recs[3]["sig"] = "zz"
    check(verify(dump(rechain(recs)), KEY), Kind.MALFORMED, 4, "checkpoint fields")


def test_verification_can_start_after_a_checkpoint(lines: list[bytes], tmp_path: Path) -> None:
    recs = records(lines)
    start = AuditHead(7, recs[7]["prev"])
    report = verify(lines[7:], KEY, start=start, require_signed=False)
    assert report.ok and report.last.seq == 13 and report.checkpoints == 2
