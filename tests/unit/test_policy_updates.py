"""signer.policy_updates: what counts as an admin signature, one test per invariant."""

from __future__ import annotations

import base64
import hashlib

import pytest
from nacl.signing import SigningKey

from signer.errors import PolicySignatureInvalidError, Reason
from signer.policy_updates import (
    MAX_SIGNATURES,
    SIGNATURE_CONTEXT,
    AdminKeys,
    Signature,
    count_signatures,
    entry,
    format_signature_line,
    parse_signature_file,
    require_threshold,
    sign_document,
)

DOC = b'version = 7\n[venues.binance]\nenabled = true\nmodes = ["live"]\nclasses = ["read"]\n'


@pytest.fixture
def keys() -> list[SigningKey]:
    return [SigningKey.generate() for _ in range(4)]


def admins_of(keys: list[SigningKey], threshold: int = 2) -> AdminKeys:
    return AdminKeys(tuple(bytes(k.verify_key) for k in keys[:3]), threshold)


def sig(key: SigningKey, document: bytes = DOC) -> Signature:
    return sign_document(document, bytes(key))


def test_threshold_distinct_admins_accepted(keys: list[SigningKey]) -> None:
    tally = require_threshold(DOC, [sig(keys[0]), sig(keys[2])], admins_of(keys))
    assert tally.sufficient
    assert set(tally.signers) == {bytes(keys[0].verify_key).hex(), bytes(keys[2].verify_key).hex()}


def test_threshold_minus_one_refused(keys: list[SigningKey]) -> None:
    with pytest.raises(PolicySignatureInvalidError) as err:
        require_threshold(DOC, [sig(keys[0])], admins_of(keys))
    assert err.value.reason is Reason.POLICY_SIGNATURE_INVALID
    assert "1 valid admin signature(s) over this document, 2 required" in err.value.public_message


def test_forged_signature_counts_for_nothing(keys: list[SigningKey]) -> None:
    forged = Signature(bytes(keys[1].verify_key), bytes(64))
    tally = count_signatures(DOC, [sig(keys[0]), forged], admins_of(keys))
    assert len(tally.signers) == 1 and tally.ignored == 1 and not tally.sufficient
    # A real signature with one bit flipped is a forgery too.
    flipped = bytearray(sig(keys[1]).signature)
    flipped[10] ^= 1
    bad = Signature(bytes(keys[1].verify_key), bytes(flipped))
    assert not count_signatures(DOC, [sig(keys[0]), bad], admins_of(keys)).sufficient


def test_key_outside_admin_set_does_not_count(keys: list[SigningKey]) -> None:
    outsider = keys[3]  # a perfectly valid signature, by a key nobody configured
    tally = count_signatures(DOC, [sig(keys[0]), sig(outsider)], admins_of(keys))
    assert len(tally.signers) == 1 and not tally.sufficient


def test_same_admin_twice_counts_once(keys: list[SigningKey]) -> None:
    twice = [sig(keys[0]), sig(keys[0])]
    assert len(count_signatures(DOC, twice, admins_of(keys)).signers) == 1
    # The same key spelled in upper-case hex is still the same key.
    one = sig(keys[0])
    upper = entry(one.public_key.hex().upper(), one.signature, "signatures[1]")
    with pytest.raises(PolicySignatureInvalidError):
        require_threshold(DOC, [one, upper], admins_of(keys))


def test_signature_over_other_bytes_does_not_count(keys: list[SigningKey]) -> None:
    other = DOC.replace(b'["read"]', b'["trade"]')
    sigs = [sig(keys[0], other), sig(keys[1], other)]
    assert require_threshold(other, sigs, admins_of(keys)).sufficient
    with pytest.raises(PolicySignatureInvalidError):
        require_threshold(DOC, sigs, admins_of(keys))


def test_truncated_document_fails_signatures(keys: list[SigningKey]) -> None:
    sigs = [sig(keys[0]), sig(keys[1])]
    for cut in (DOC[:-1], DOC[: len(DOC) // 2], DOC + b"\n"):
        with pytest.raises(PolicySignatureInvalidError):
            require_threshold(cut, sigs, admins_of(keys))


def test_signature_without_domain_prefix_does_not_count(keys: list[SigningKey]) -> None:
    # SECURITY: a signature over the bare bytes or over their digest (what an
    # admin key might sign for something else) is not a policy signature.
    for message in (DOC, hashlib.sha256(DOC).digest(), SIGNATURE_CONTEXT[:-1] + DOC):
        sigs = [Signature(bytes(k.verify_key), k.sign(message).signature) for k in keys[:3]]
        assert count_signatures(DOC, sigs, admins_of(keys)).signers == ()


def test_too_many_signatures_refused_before_verifying(keys: list[SigningKey]) -> None:
    sigs = [sig(keys[0])] * (MAX_SIGNATURES + 1)
    with pytest.raises(PolicySignatureInvalidError, match="at most"):
        require_threshold(DOC, sigs, admins_of(keys, 1))


def test_signature_file_round_trip(keys: list[SigningKey]) -> None:
    sigs = [sig(keys[0]), sig(keys[1])]
    text = "# header\n\n" + "\n".join(format_signature_line(s) for s in sigs) + "\n"
    assert parse_signature_file(text.encode()) == sigs


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("rsa {key} {sig}", "expected 'ed25519"),
        ("ed25519 {key}", "expected 'ed25519"),
        ("ed25519  {key} {sig}", "expected 'ed25519"),
        ("ed25519 {key} {sig} extra", "expected 'ed25519"),
        ("ed25519 {key}00 {sig}", "64 hex"),
        ("ed25519 zz{key2} {sig}", "64 hex"),
        ("ed25519 {key} {sig}!", "not base64"),
        ("ed25519 {key} {short}", "64 bytes"),
    ],
)
def test_malformed_signature_line_names_the_line(
    keys: list[SigningKey], line: str, message: str
) -> None:
    good = sig(keys[0])
    filled = line.format(
        key=good.public_key.hex(),
        key2=good.public_key.hex()[2:],
        sig=base64.b64encode(good.signature).decode(),
        short=base64.b64encode(good.signature[:63]).decode(),
    )
    data = f"# sigs\n{format_signature_line(good)}\n{filled}\n".encode()
    with pytest.raises(PolicySignatureInvalidError) as err:
        parse_signature_file(data)
    assert "line 3" in err.value.public_message and message in err.value.public_message


def test_signature_file_not_ascii_or_too_large() -> None:
    with pytest.raises(PolicySignatureInvalidError, match="ASCII"):
        parse_signature_file("# é\n".encode())
    with pytest.raises(PolicySignatureInvalidError, match="too large"):
        parse_signature_file(b"#" * (64 * 1024 + 1))


@pytest.mark.parametrize(
    ("count", "threshold", "distinct", "size", "message"),
    [
        (0, 1, True, 32, "between 1 and"),
        (2, 0, True, 32, "threshold"),
        (2, 3, True, 32, "threshold"),
        (2, 2, False, 32, "distinct"),
        (1, 1, True, 31, "32-byte"),
    ],
)
def test_admin_keys_are_validated(
    count: int, threshold: int, distinct: bool, size: int, message: str
) -> None:
    base = [bytes([i + 1]) * size for i in range(count)]
    if not distinct:
        base = [base[0]] * count
    with pytest.raises(ValueError, match=message):
        AdminKeys(tuple(base), threshold)
