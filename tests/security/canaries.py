"""Canary secrets, every form they could leak in, and the scanner that looks for them.

A ``Canary`` is one secret with a label ("okx.api_secret") and its forms: the
exact text, the raw bytes a scheme uses, hex (both cases), standard and
urlsafe base64 at every 3-byte alignment (so a secret inside a larger base64
blob is still found), a SHA-256 digest (a digest of a low-entropy passphrase is
a dictionary oracle), and for keys the DER, its PEM lines and the private
numbers. ``scan`` reports ``Leak``s naming the canary, the form and the
artefact, never the secret beyond ``PREVIEW`` characters.

Partial leaks: generated secrets start with ``TEXT_MARK`` (text) or
``RAW_MARK`` (raw bytes) where the venue's format allows it, so a truncated
prefix is caught by the marker canaries; texts, and key material that carries
no marker (daemon-generated keys, RSA numbers), also have ``CHUNK``-sized
pieces as forms, so any truncated piece of 2*CHUNK-1 bytes or more is caught.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

TEXT_MARK = "CnRyQ7zXw4Kp"  # alphanumeric: valid inside every venue's secret alphabet
RAW_MARK = bytes.fromhex("c4a9a7e15b0d3f6e92c8a1d47e3b6f05")
PREVIEW = 6
MIN_FORM = 12  # shorter forms would match by chance in megabytes of ciphertext
CHUNK = 16  # piece size for partial-leak forms


@dataclass(frozen=True)
class Canary:
    """One secret and the byte strings that would reveal it."""

    label: str
    forms: Mapping[str, bytes] = field(repr=False)


@dataclass(frozen=True)
class Leak:
    canary: str
    form: str
    artefact: str
    preview: str

    def __str__(self) -> str:
        return f"{self.canary} [{self.form}, starts {self.preview!r}...] in {self.artefact}"


def _b64_forms(prefix: str, raw: bytes) -> dict[str, bytes]:
    """Standard and urlsafe base64 of ``raw`` at each 3-byte alignment, edges trimmed."""
    out: dict[str, bytes] = {}
    for offset in range(3):
        for name, encode in (("b64", base64.b64encode), ("b64url", base64.urlsafe_b64encode)):
            text = encode(bytes(offset) + raw)
            # Characters touched by the alignment prefix or the padding depend on neighbours.
            out[f"{prefix}{name}@{offset}"] = text[4 if offset else 0 : -4]
    return out


def _chunks(data: bytes) -> dict[int, bytes]:
    """CHUNK-sized pieces at every CHUNK offset, and the tail: any truncated leak
    (a prefix, a suffix, or any 2*CHUNK-1 contiguous bytes) contains one of them."""
    if len(data) < 2 * CHUNK:
        return {}
    pieces = {off: data[off : off + CHUNK] for off in range(0, len(data) - CHUNK + 1, CHUNK)}
    pieces[len(data) - CHUNK] = data[-CHUNK:]
    return pieces


def raw_forms(raw: bytes, prefix: str = "", *, chunks: bool = False) -> dict[str, bytes]:
    """Raw bytes, hex (lower/upper) and base64 forms of ``raw``; with ``chunks``, also
    the raw and hex forms of its pieces (for key material that carries no marker)."""
    forms = {
        f"{prefix}raw": raw,
        f"{prefix}hex": raw.hex().encode(),
        f"{prefix}HEX": raw.hex().upper().encode(),
    }
    forms.update(_b64_forms(prefix, raw))
    for off, piece in (_chunks(raw) if chunks else {}).items():
        forms[f"{prefix}piece{off}-raw"] = piece
        forms[f"{prefix}piece{off}-hex"] = piece.hex().encode()
        forms[f"{prefix}piece{off}-HEX"] = piece.hex().upper().encode()
    return forms


def text_forms(text: str, *, pieces: bool = True) -> dict[str, bytes]:
    """The exact text and its pieces, its encodings, its JSON-escaped form and its SHA-256.

    ``pieces=False`` for PEM text: its first pieces are the public armour line
    ("-----BEGIN EC PR"), the same for every key; its body lines are forms instead.
    """
    data = text.encode()
    forms = raw_forms(data, "text-")
    if pieces:
        forms.update({f"text-piece{off}": piece for off, piece in _chunks(data).items()})
    forms["text"] = forms.pop("text-raw")  # the same bytes: one name
    forms["json-escaped"] = json.dumps(text)[1:-1].encode()
    forms["sha256-hex"] = hashlib.sha256(data).hexdigest().encode()
    forms["sha256-raw"] = hashlib.sha256(data).digest()
    return forms


def _int_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def key_forms(key: PrivateKeyTypes, pem: str) -> dict[str, bytes]:
    """A PEM private key: the PEM text, every body line, the DER and the private numbers."""
    forms = text_forms(pem, pieces=False)
    lines = [ln for ln in pem.splitlines() if ln and not ln.startswith("-----")]
    forms.update({f"pem-line{i}": ln.encode() for i, ln in enumerate(lines) if len(ln) >= 16})
    der = base64.b64decode("".join(lines))
    forms.update(raw_forms(der, "der-"))
    formats = {"pkcs8": serialization.PrivateFormat.PKCS8}
    if not isinstance(key, ed25519.Ed25519PrivateKey):  # Ed25519 has PKCS#8 only
        formats["traditional"] = serialization.PrivateFormat.TraditionalOpenSSL
    for fmt_name, fmt in formats.items():  # the same key in the other DER container
        other = key.private_bytes(serialization.Encoding.DER, fmt, serialization.NoEncryption())
        forms.update(raw_forms(other, f"der-{fmt_name}-"))
    if isinstance(key, ec.EllipticCurvePrivateKey):
        scalar = key.private_numbers().private_value.to_bytes(32, "big")
        forms.update(raw_forms(scalar, "scalar-", chunks=True))
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        forms.update(raw_forms(key.private_bytes_raw(), "seed-", chunks=True))
    elif isinstance(key, rsa.RSAPrivateKey):
        n = key.private_numbers()
        for name, value in (("d", n.d), ("p", n.p), ("q", n.q), ("dmp1", n.dmp1),
                            ("dmq1", n.dmq1), ("iqmp", n.iqmp)):  # fmt: skip
            forms.update(raw_forms(_int_bytes(value), f"{name}-", chunks=True))
    return forms


def canary(label: str, forms: Mapping[str, bytes]) -> Canary:
    short = [name for name, form in forms.items() if len(form) < MIN_FORM]
    assert not short, f"{label}: forms too short to scan reliably: {short}"
    return Canary(label, dict(forms))


def marker_canaries() -> list[Canary]:
    """The shared markers: any partial leak of a marked secret contains one of them."""
    return [
        canary("marker.text", {"text": TEXT_MARK.encode(), **_b64_forms("text-", TEXT_MARK.encode())}),
        canary("marker.raw", raw_forms(RAW_MARK)),
    ]  # fmt: skip


# --- generators --------------------------------------------------------------------------------


def marked_text(kind: str, alphabet_safe: bool = False) -> str:
    """A distinctive printable secret: TEXT_MARK, a kind, random hex (alnum if asked)."""
    sep = "" if alphabet_safe else "-"
    return f"{TEXT_MARK}{sep}{kind}{sep}{secrets.token_hex(20)}"


def marked_raw(size: int) -> bytes:
    return RAW_MARK + secrets.token_bytes(size - len(RAW_MARK))


def pem_of(key: PrivateKeyTypes, fmt: serialization.PrivateFormat) -> str:
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()


def p256_key() -> ec.EllipticCurvePrivateKey:
    """A P-256 key whose private scalar starts with RAW_MARK."""
    return ec.derive_private_key(int.from_bytes(marked_raw(32), "big"), ec.SECP256R1())


def ed25519_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.from_private_bytes(marked_raw(32))


def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


# --- scanning ----------------------------------------------------------------------------------


def scan(canaries: Iterable[Canary], artefacts: Mapping[str, bytes]) -> list[Leak]:
    """Every (canary, form) found in every artefact."""
    # One pass over all artefacts joined, then per artefact only for forms seen at all
    # (a form spanning two joined artefacts is found in the blob, then in neither).
    blob = b"\x00".join(artefacts.values())
    leaks = []
    for c in canaries:
        for form_name, form in c.forms.items():
            if form not in blob:
                continue
            preview = form[:PREVIEW].decode("ascii", "backslashreplace")
            leaks += [
                Leak(c.label, form_name, n, preview) for n, d in artefacts.items() if form in d
            ]
    return leaks


def report(leaks: list[Leak], limit: int = 40) -> str:
    """One line per (canary, artefact): the forms found and a 6-character preview."""
    grouped: dict[tuple[str, str], list[Leak]] = {}
    for leak in leaks:
        grouped.setdefault((leak.canary, leak.artefact), []).append(leak)
    lines = [
        f"{c} in {a}: {', '.join(x.form for x in found)} (starts {found[0].preview!r}...)"
        for (c, a), found in grouped.items()
    ]
    more = f"\n... and {len(lines) - limit} more" if len(lines) > limit else ""
    return f"{len(leaks)} canary form(s) found:\n" + "\n".join(lines[:limit]) + more


def category(artefact: str) -> str:
    """``response:okx.sign`` -> ``response``."""
    return artefact.partition(":")[0]
