"""``sequence-signer policy keygen | sign | verify``: operator tooling for signed policies.

Files (formats in ``signer.policy_updates``):

* ``PREFIX.key``: the admin's Ed25519 seed, 64 hex characters, mode 0600;
  ``PREFIX.pub``: the public key, 64 hex characters (goes into the daemon's
  ``[policy_admin] keys``).
* ``FILE.sig``: the detached signature file next to the policy document;
  ``sign`` adds (or replaces) the signer's line and drops lines whose
  signature no longer verifies over the current bytes.

SECURITY: ``sign`` refuses a document that does not validate (admins never
sign something the daemon would refuse), and a key file readable by anyone
but its owner.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from policy.document import MAX_DOCUMENT_BYTES, PolicyDocument, PolicyDocumentError, load_document
from signer.errors import SignerError
from signer.policy_updates import (
    MAX_SIGNATURE_FILE_BYTES,
    SIGNATURE_FILE_HEADER,
    Signature,
    count_signatures,
    format_signature_line,
    parse_signature_file,
    sign_document,
    signed_message,
)


class _Refused(Exception):
    """A command-line refusal: printed, exit status 1."""


def add_policy_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``keygen``, ``sign`` and ``verify`` under ``sequence-signer policy``."""
    keygen = sub.add_parser("keygen", help="generate a policy admin Ed25519 key pair")
    keygen.add_argument("--out", type=Path, required=True, help="writes PREFIX.key and PREFIX.pub")
    sign = sub.add_parser("sign", help="sign a policy document (adds a line to FILE.sig)")
    sign.add_argument("file", type=Path)
    sign.add_argument("--key", type=Path, required=True, help="a PREFIX.key from keygen")
    sign.add_argument("--sig", type=Path, help="signature file (default: FILE.sig)")
    verify = sub.add_parser("verify", help="count valid admin signatures for a daemon config")
    verify.add_argument("file", type=Path)
    verify.add_argument("--config", type=Path, required=True, help="the daemon's config.toml")
    verify.add_argument("--sig", type=Path, help="signature file (default: FILE.sig)")


def run_policy_command(args: argparse.Namespace) -> int | None:
    """Run keygen/sign/verify; None for a policy subcommand handled elsewhere."""
    commands = {"keygen": _keygen, "sign": _sign, "verify": _verify}
    command = commands.get(args.policy_command)
    if command is None:
        return None
    try:
        return command(args)
    except _Refused as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{exc.filename}: {type(exc).__name__}: {exc.strerror}", file=sys.stderr)
        return 2


def _keygen(args: argparse.Namespace) -> int:
    key = SigningKey.generate()
    private, public = Path(f"{args.out}.key"), Path(f"{args.out}.pub")
    if public.exists():
        raise _Refused(f"{public} exists; refusing to overwrite")
    # SECURITY: created 0600 and never overwritten (O_EXCL).
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(bytes(key).hex() + "\n")
    public.write_text(bytes(key.verify_key).hex() + "\n")
    print(bytes(key.verify_key).hex())
    print(f"private key: {private} (keep it offline); public key: {public}", file=sys.stderr)
    return 0


def _document(path: Path) -> PolicyDocument:
    with path.open("rb") as handle:
        data = handle.read(MAX_DOCUMENT_BYTES + 1)
    try:
        return load_document(data)
    except PolicyDocumentError as exc:
        raise _Refused(f"{path}: {exc}") from None


def _signatures(path: Path) -> list[Signature]:
    if not path.exists():
        return []
    with path.open("rb") as handle:
        data = handle.read(MAX_SIGNATURE_FILE_BYTES + 1)
    try:
        return parse_signature_file(data)
    except SignerError as exc:
        raise _Refused(f"{path}: {exc.public_message}") from None


def _seed(path: Path) -> bytes:
    if path.stat().st_mode & 0o077:
        raise _Refused(f"{path}: key file is accessible by group or others; chmod 600 it")
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        seed = bytes.fromhex(text)
    except ValueError:
        seed = b""
    if len(seed) != 32:
        raise _Refused(f"{path}: not a policy admin key (64 hex characters)")
    return seed


def _verifies(document: bytes, signature: Signature) -> bool:
    try:
        VerifyKey(signature.public_key).verify(signed_message(document), signature.signature)
    except (BadSignatureError, ValueError):
        return False
    return True


def _sign(args: argparse.Namespace) -> int:
    doc = _document(args.file)
    sig_path: Path = args.sig or args.file.with_name(args.file.name + ".sig")
    new = sign_document(doc.raw, _seed(args.key))
    others = [s for s in _signatures(sig_path) if s.public_key != new.public_key]
    kept = [s for s in others if _verifies(doc.raw, s)]
    lines = [SIGNATURE_FILE_HEADER, *(format_signature_line(s) for s in [*kept, new])]
    tmp = sig_path.with_name(sig_path.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="ascii")
    os.replace(tmp, sig_path)
    print(
        f"{args.file}: version {doc.version}, sha256 {doc.sha256}\n"
        f"signed by {new.public_key.hex()}; {len(kept) + 1} signature(s) in {sig_path}"
        + (
            f" ({len(others) - len(kept)} stale signature(s) dropped)"
            if len(kept) < len(others)
            else ""
        )
    )
    return 0


def _verify(args: argparse.Namespace) -> int:
    from signer.config import ConfigError, load_config

    try:
        admins = load_config(args.config).policy_admin
    except ConfigError as exc:
        raise _Refused(f"config error: {exc}") from None
    if admins is None:
        raise _Refused(f"{args.config}: no [policy_admin] keys; signed updates are disabled")
    doc = _document(args.file)
    sig_path: Path = args.sig or args.file.with_name(args.file.name + ".sig")
    tally = count_signatures(doc.raw, _signatures(sig_path), admins)
    print(
        f"{args.file}: version {doc.version}, sha256 {doc.sha256}\n"
        f"{len(tally.signers)} of {tally.threshold} required admin signature(s) valid"
        + "".join(f"\n  {key}" for key in tally.signers)
    )
    return 0 if tally.sufficient else 1
