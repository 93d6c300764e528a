"""Signed policy documents: admin keys, the signature file, threshold counting.

Pure functions, no I/O; ``signer.policy_reload`` applies them to the running daemon.

What an admin signs (Ed25519, RFC 8032, pure)::

    message = b"sequence-signer/policy/v1\\x00" + <the exact document bytes>

The document stays exactly as written (TOML); signatures travel beside it:
``UpdatePolicyRequest.signatures`` over gRPC, or a detached signature file
(``<policy file>.sig``) for the configured policy file::

    # sequence-signer policy signatures v1
    ed25519 <public key, 64 hex> <signature, standard base64 of 64 bytes>

one line per admin key; blank lines and lines starting with ``#`` are ignored.

Invariants (one test each in tests/unit/test_policy_updates.py):

1. A signature counts only if its public key is one of the admin keys fixed at
   deployment and it verifies over ``message`` for these exact bytes; a
   signature for other bytes, by another key, or forged counts for nothing.
2. Each admin key counts at most once, however many entries name it (in any
   hex case): ``threshold`` distinct admins must sign.
3. Malformed entries (bad hex, bad base64, wrong length, unknown algorithm,
   more than ``MAX_SIGNATURES``) refuse the whole update, naming the entry.
4. Signatures are checked before the document is parsed: unsigned bytes
   never reach the TOML parser.

SECURITY: the domain prefix keeps an admin signature over a policy from being
valid for anything else an admin key might sign, and vice versa.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from signer.errors import PolicySignatureInvalidError

SIGNATURE_CONTEXT = b"sequence-signer/policy/v1\x00"
MAX_SIGNATURES = 32
MAX_ADMIN_KEYS = 16
MAX_SIGNATURE_FILE_BYTES = 64 * 1024
ALGORITHM = "ed25519"
SIGNATURE_FILE_HEADER = "# sequence-signer policy signatures v1"


def signed_message(document: bytes) -> bytes:
    """The bytes an admin key signs for ``document``."""
    return SIGNATURE_CONTEXT + document


@dataclass(frozen=True, slots=True)
class AdminKeys:
    """Admin Ed25519 public keys and the threshold, fixed at deployment (config).

    Attributes:
        keys: distinct 32-byte public keys (1 to ``MAX_ADMIN_KEYS``).
        threshold: how many distinct keys must sign (1 to ``len(keys)``).
    """

    keys: tuple[bytes, ...]
    threshold: int

    def __post_init__(self) -> None:
        if not 1 <= len(self.keys) <= MAX_ADMIN_KEYS:
            raise ValueError(f"between 1 and {MAX_ADMIN_KEYS} admin keys are required")
        if any(len(key) != 32 for key in self.keys):
            raise ValueError("admin keys are 32-byte Ed25519 public keys")
        if len(set(self.keys)) != len(self.keys):
            raise ValueError("admin keys must be distinct")
        if type(self.threshold) is not int or not 1 <= self.threshold <= len(self.keys):
            raise ValueError("threshold must be between 1 and the number of admin keys")


@dataclass(frozen=True, slots=True)
class Signature:
    """One (public key, signature) entry, well-formed but not yet verified."""

    public_key: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class Tally:
    """The outcome of counting signatures over one document.

    Attributes:
        signers: hex public keys of the distinct admins whose signature verified.
        ignored: entries that counted for nothing (unknown key, bad signature, repeat).
        threshold: the threshold they were counted against.
    """

    signers: tuple[str, ...]
    ignored: int
    threshold: int

    @property
    def sufficient(self) -> bool:
        return len(self.signers) >= self.threshold


def parse_public_key(text: str, where: str) -> bytes:
    """A hex Ed25519 public key (either case) -> 32 bytes, or refuse naming ``where``."""
    if len(text) != 64:
        raise PolicySignatureInvalidError(f"{where}: a public key is 64 hex characters")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise PolicySignatureInvalidError(f"{where}: a public key is 64 hex characters") from None


def entry(public_key: str, signature: bytes, where: str) -> Signature:
    """Check one entry's shape (not its validity)."""
    key = parse_public_key(public_key, f"{where}.public_key")
    if len(signature) != 64:
        raise PolicySignatureInvalidError(f"{where}.signature: an Ed25519 signature is 64 bytes")
    return Signature(key, bytes(signature))


def parse_signature_file(data: bytes) -> list[Signature]:
    """Parse a detached signature file (format in the module docstring).

    Raises:
        PolicySignatureInvalidError: naming the line of the first malformed entry.
    """
    if len(data) > MAX_SIGNATURE_FILE_BYTES:
        raise PolicySignatureInvalidError("signature file is too large")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise PolicySignatureInvalidError("signature file is not ASCII") from None
    out: list[Signature] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        where = f"signature file line {number}"
        fields = line.split(" ")
        if len(fields) != 3 or fields[0] != ALGORITHM:
            raise PolicySignatureInvalidError(f"{where}: expected 'ed25519 <hex key> <base64>'")
        try:
            signature = base64.b64decode(fields[2], validate=True)
        except (binascii.Error, ValueError):
            raise PolicySignatureInvalidError(f"{where}: signature is not base64") from None
        out.append(entry(fields[1], signature, where))
    check_count(out)
    return out


def format_signature_line(signature: Signature) -> str:
    """One line of a signature file (without the newline)."""
    encoded = base64.b64encode(signature.signature).decode("ascii")
    return f"{ALGORITHM} {signature.public_key.hex()} {encoded}"


def check_count(signatures: Sequence[Signature]) -> None:
    """Refuse more than ``MAX_SIGNATURES`` entries (bounds the verification work)."""
    if len(signatures) > MAX_SIGNATURES:
        raise PolicySignatureInvalidError(f"at most {MAX_SIGNATURES} signatures are accepted")


def count_signatures(document: bytes, signatures: Iterable[Signature], admins: AdminKeys) -> Tally:
    """Count the distinct admin keys with a valid signature over ``document``.

    SECURITY: a key counts once (invariant 2); an entry by a key outside
    ``admins`` is never verified, so it cannot count by accident.
    """
    message = signed_message(document)
    trusted = set(admins.keys)
    signers: list[bytes] = []
    ignored = 0
    for sig in signatures:
        if sig.public_key not in trusted or sig.public_key in signers:
            ignored += 1
            continue
        try:
            VerifyKey(sig.public_key).verify(message, sig.signature)
        except (BadSignatureError, ValueError):
            ignored += 1
            continue
        signers.append(sig.public_key)
    return Tally(tuple(key.hex() for key in signers), ignored, admins.threshold)


def require_threshold(document: bytes, signatures: Sequence[Signature], admins: AdminKeys) -> Tally:
    """``count_signatures``, refusing a document with fewer than ``threshold`` signers."""
    check_count(signatures)
    tally = count_signatures(document, signatures, admins)
    if not tally.sufficient:
        raise PolicySignatureInvalidError(
            f"{len(tally.signers)} valid admin signature(s) over this document, "
            f"{admins.threshold} required"
        )
    return tally


def sign_document(document: bytes, seed: bytes) -> Signature:
    """Sign ``document`` with the Ed25519 key of ``seed`` (operator tooling)."""
    key = SigningKey(seed)
    return Signature(bytes(key.verify_key), bytes(key.sign(signed_message(document)).signature))
