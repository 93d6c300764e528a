"""``sequence-signer audit verify FILE --key PUB [--head HEAD]``: check an audit log offline.

``PUB`` is the daemon's Ed25519 audit public key (``GetIdentity``;
``sequence-signer call identity`` prints it as base64): base64, 64 hex
digits, or a file holding either (or the 32 raw bytes).
``HEAD`` is ``SEQ:HASH[:SIGNATURE]`` or a file with the JSON that
``sequence-signer call audit-head`` prints; it covers the records after the
last checkpoint, which the file alone cannot protect against truncation.

Exit status: 0 intact, 1 a problem was found (its kind and seq are printed),
2 bad arguments or an unreadable file. The checks are in ``signer.audit_verify``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime as dt
import json
import re
import sys
from pathlib import Path
from typing import Any

from signer.audit_format import key_id
from signer.audit_verify import Report, TrustedHead, verify

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_HEX128 = re.compile(r"[0-9a-fA-F]{128}")


def add_arguments(audit: argparse.ArgumentParser) -> None:
    """The ``audit`` subcommands."""
    ops = audit.add_subparsers(dest="audit_command", required=True)
    check = ops.add_parser(
        "verify",
        help="verify an audit log's chain and signed checkpoints",
        description="Verify the hash chain and every checkpoint signature. Exit 0: intact; "
        "1: a problem (its kind and seq are printed); 2: bad arguments or unreadable file. "
        "Records after the last checkpoint are checked by chain only unless --head covers them.",
    )
    check.add_argument("file", type=Path)
    check.add_argument("--key", required=True, help="audit public key: base64, hex, or a file")
    check.add_argument(
        "--head",
        help="trusted head from GetAuditHead: SEQ:HASH[:SIG] or a `call audit-head` JSON file",
    )


def run(args: argparse.Namespace) -> int:
    """``audit verify``: print a summary; 0 intact, 1 a problem, 2 usage."""
    try:
        key = parse_public_key(_value_or_file(args.key))
        head = _head(args.head) if args.head else None
    except (OSError, ValueError) as exc:
        print(f"audit verify: {exc}", file=sys.stderr)
        return 2
    try:
        with args.file.open("rb") as f:
            report = verify(f, key, head)
    except OSError as exc:
        print(f"audit verify: cannot read {args.file}: {type(exc).__name__}", file=sys.stderr)
        return 2
    for line in describe(report, str(args.file), key):
        print(line, file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1


def describe(report: Report, name: str, key: bytes) -> list[str]:
    """The human summary of a report."""
    last = report.last.seq
    if report.problem is not None:
        return [
            f"{name}: FAILED: {report.problem}",
            f"  verified before it: {report.records} records (through seq {last}), "
            f"{report.checkpoints} signed checkpoints",
        ]
    out = [f"{name}: OK, {report.records} records" + (f" (seq 1..{last})" if last else "")]
    if report.checkpoints:
        when = dt.datetime.fromtimestamp((report.last_checkpoint_ts or 0) / 1000, dt.UTC)
        out.append(
            f"  signed: {report.checkpoints} checkpoints verified with key id {key_id(key)}; "
            f"last at {when.isoformat(timespec='seconds')}"
        )
    if report.head_checked:
        out.append("  trusted head: matches")
    tail = report.unsigned_tail
    if tail:
        out.append(
            f"  unsigned tail: {tail} records (seq {last - tail + 1}..{last}) checked by chain "
            "only; truncating or rewriting them is not detectable without --head (GetAuditHead)"
        )
    else:
        out.append(f"  every record is covered through seq {last}")
    out.append(f"  head: seq {last} hash {report.last.hash}")
    return out


def parse_public_key(value: bytes) -> bytes:
    """A 32-byte key from raw bytes, 64 hex digits or base64."""
    if len(value) == 32:
        return value
    text = value.decode("ascii", "replace").strip()
    if _HEX64.fullmatch(text):
        return bytes.fromhex(text)
    raw = _b64(text)
    if len(raw) != 32:
        raise ValueError("--key must be 32 bytes as base64 or 64 hex digits (or a file of them)")
    return raw


def parse_head(text: str) -> TrustedHead:
    """``SEQ:HASH`` or ``SEQ:HASH:SIGNATURE`` (signature as hex or base64)."""
    parts = text.strip().split(":")
    if len(parts) not in (2, 3) or not parts[0].isdigit() or not _HEX64.fullmatch(parts[1]):
        raise ValueError("--head must be SEQ:HASH[:SIGNATURE] with a 64 hex digit hash")
    signature = None
    if len(parts) == 3:
        signature = bytes.fromhex(parts[2]) if _HEX128.fullmatch(parts[2]) else _b64(parts[2])
        if len(signature) != 64:
            raise ValueError("--head signature must be 64 bytes as hex or base64")
    return TrustedHead(int(parts[0]), parts[1].lower(), signature)


def head_from_json(obj: Any) -> TrustedHead:
    """The head in the JSON that ``call audit-head`` prints (seq may be a string)."""
    if not isinstance(obj, dict):
        raise ValueError("--head file must hold a JSON object")
    sig = obj.get("signature")
    text = f"{obj.get('seq', 0)}:{obj.get('hash', '')}" + (f":{sig}" if sig else "")
    return parse_head(text)


def _head(value: str) -> TrustedHead:
    if ":" in value:
        return parse_head(value)
    try:
        return head_from_json(json.loads(Path(value).read_text(encoding="utf-8")))
    except json.JSONDecodeError:
        raise ValueError("--head file is not JSON") from None


def _value_or_file(value: str) -> bytes:
    text = value.strip()
    if _HEX64.fullmatch(text) or len(_b64(text)) == 32:
        return text.encode()
    return Path(value).read_bytes()


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return b""
