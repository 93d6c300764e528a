"""Tests for ``signer.venues.credentials``.

One valid set per venue and key variant (accepted and normalised); every refusal
with its exact field; no refusal echoes any part of the submitted values (a
canary, and every key-like chunk of the value, is searched for in the message,
the ``repr``, the metadata) nor chains a foreign exception; strict sealed-box
JSON; and hypothesis sweeps that only typed errors ever escape. All keys are
generated here (or are published test vectors); none is a real credential.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

import pytest
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st

from signer.domain import VENUES, CredentialFields
from signer.errors import InvalidCredentialsError, SignerError, UnknownVenueError
from signer.venues.credentials import (
    MAX_LENGTHS,
    MAX_SEALED_BYTES,
    POLYMARKET_SIGNER_MESSAGE,
    parse_sealed_fields,
    validate_credentials,
)

CANARY = "CANARYq7Zx"

# --- key material (generated; cached so the module stays fast) ---------------------------------

PKCS8 = ser.PrivateFormat.PKCS8
TRAD = ser.PrivateFormat.TraditionalOpenSSL


def _pem(
    key: rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | dsa.DSAPrivateKey,
    fmt: ser.PrivateFormat = PKCS8,
    enc: ser.KeySerializationEncryption | None = None,
) -> str:
    return key.private_bytes(ser.Encoding.PEM, fmt, enc or ser.NoEncryption()).decode()


@functools.cache
def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, bits)


@functools.cache
def ec_key(curve: str) -> ec.EllipticCurvePrivateKey:
    curves = {"p256": ec.SECP256R1(), "p384": ec.SECP384R1(), "k1": ec.SECP256K1()}
    return ec.generate_private_key(curves[curve])


ED = ed25519.Ed25519PrivateKey.generate()
ED_SEED = ED.private_bytes_raw()
ED_PUB = ED.public_key().public_bytes_raw()


def _odd(bits: int) -> int:
    return secrets.randbits(bits) | (1 << (bits - 1)) | 1


def bogus_rsa_pem(prime_bits: int) -> str:
    """An RSA PEM whose numbers are inconsistent (built without validation)."""
    p, q = _odd(prime_bits), _odd(prime_bits)
    n = p * q
    parts = (_odd(2 * prime_bits - 8), _odd(prime_bits - 8), _odd(prime_bits - 8), _odd(64))
    numbers = rsa.RSAPrivateNumbers(p, q, *parts, rsa.RSAPublicNumbers(65537, n))
    return _pem(numbers.private_key(unsafe_skip_rsa_key_validation=True))


def corrupt_pem(pem: str) -> str:
    """Drop one base64 line from the middle of the body: a well-formed PEM of junk DER."""
    lines = pem.strip().split("\n")
    del lines[len(lines) // 2]
    return "\n".join(lines)


RSA_PEM = _pem(rsa_key(), PKCS8)
RSA_PKCS1_PEM = _pem(rsa_key(), TRAD)
RSA_1024_PEM = _pem(rsa_key(1024))
EC_SEC1_PEM = _pem(ec_key("p256"), TRAD)
EC_PKCS8_PEM = _pem(ec_key("p256"), PKCS8)
P384_PEM = _pem(ec_key("p384"), TRAD)
K1_PEM = _pem(ec_key("k1"), PKCS8)
ED_PEM = _pem(ED)
DSA_PEM = _pem(dsa.generate_private_key(1024), TRAD)  # noqa: S505 - must be refused
ENCRYPTED_PEM = _pem(ec_key("p256"), PKCS8, ser.BestAvailableEncryption(b"pw"))
ENCRYPTED_TRAD_PEM = _pem(rsa_key(), TRAD, ser.BestAvailableEncryption(b"pw"))
OPENSSH_PEM = _pem(ED, ser.PrivateFormat.OpenSSH)
PUBLIC_PEM = (
    ec_key("p256")
    .public_key()
    .public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)

# Hyperliquid SDK published vector key (VENUES.md 9.5), not a real credential.
HL_KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"
HL_ADDR = "0x14791697260E4c9A71f18484C9f997B308e59325"
OTHER_ADDR = Account.from_key("0x" + "11" * 32).address
ZERO_ADDR = "0x" + "0" * 40
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

B64_64 = base64.b64encode(bytes(range(64))).decode()
HMAC = "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6"
CB_NAME = "organizations/5a3c1f8e-0b6d-4c2e/apiKeys/9f8e7d6c-5b4a-4392"
KALSHI_ID = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"
POLY_SECRET = base64.urlsafe_b64encode(bytes(range(200, 232))).decode()
BUILDER = "0x" + "AB" * 32
POLY_SHORT = base64.urlsafe_b64encode(b"x" * 15).decode()
ED_B64_32 = base64.b64encode(ED_SEED).decode()
ED_B64_BAD = base64.b64encode(ED_SEED + bytes(32)).decode()


def creds(
    api_key: str = "", api_secret: str = "", passphrase: str = "", extra_json: str = ""
) -> CredentialFields:
    return CredentialFields(api_key, api_secret, passphrase, extra_json)


def poly_extra(**values: str) -> str:
    return json.dumps({"signer_private_key": HL_KEY, **values})


def poly_raw(member: str) -> str:
    """A Polymarket extra_json with one more member written verbatim (bad types, duplicates)."""
    return f'{{"signer_private_key": "{HL_KEY}", {member}}}'


BASE: dict[str, CredentialFields] = {
    "kraken": creds("KrakenKey+/=1", B64_64),
    "coinbase": creds(CB_NAME, EC_SEC1_PEM),
    "binance": creds("vmPUZE6mv9SD5VNH", HMAC),
    "bitget": creds("bg_0123", HMAC, "Pass phrase 1"),
    "cryptocom": creds("cdc0123", HMAC),
    "bitmart": creds("bm0123", HMAC, "memo001"),
    "okx": creds("okx-0123", HMAC, "Passphrase1!"),
    "bybit": creds("bybit0123", HMAC),
    "hyperliquid": creds(HL_ADDR, HL_KEY),
    "kalshi": creds(KALSHI_ID, RSA_PEM),
    "polymarket": creds(extra_json=poly_extra()),
}


def payload(
    api_key: str = "",
    api_secret: str = "",
    passphrase: str = "",
    extra: dict[str, str] | None = None,
) -> dict[str, object]:
    return {
        "api_key": api_key,
        "api_secret": api_secret,
        "passphrase": passphrase,
        "extra": extra or {},
    }


# --- the no-echo check ----------------------------------------------------------------------------

_CHUNK_RE = re.compile(r"[A-Za-z0-9+=]{10,}")


def assert_no_echo(exc: BaseException, *values: str) -> None:
    """Neither the canary nor any key-like chunk of a submitted value is shown."""
    shown = [str(exc), repr(exc)]
    if isinstance(exc, SignerError):
        shown += [exc.public_message, *exc.metadata.keys(), *exc.metadata.values()]
    text = "\n".join(shown)
    assert CANARY not in text
    for value in values:
        for chunk in _CHUNK_RE.findall(value):
            if not chunk.isalpha() or not chunk.islower():  # skip plain English words
                assert chunk not in text
    # SECURITY: a chained foreign exception (e.g. JSONDecodeError.doc) could quote the input.
    assert exc.__cause__ is None
    assert exc.__context__ is None


T = TypeVar("T")


def attempt(call: Callable[[], T]) -> tuple[T | None, SignerError | None]:
    """Run ``call``; return its result or the typed error (anything else propagates)."""
    try:
        return call(), None
    except (InvalidCredentialsError, UnknownVenueError) as exc:
        return None, exc


def refuse(venue: str, fields: CredentialFields, field: str) -> InvalidCredentialsError:
    with pytest.raises(InvalidCredentialsError) as info:
        validate_credentials(venue, fields)
    exc = info.value
    assert exc.metadata["field"] == field
    assert_no_echo(exc, fields.api_key, fields.api_secret, fields.passphrase, fields.extra_json)
    return exc


# --- accepted and normalised -----------------------------------------------------------------------


def _valid_cases() -> list[object]:
    ws = " \t\r\n"
    cases = [
        ("kraken", BASE["kraken"], payload("KrakenKey+/=1", B64_64)),
        ("kraken-stripped", creds(f"{ws}K1{ws}", f"{B64_64}\n"), payload("K1", B64_64)),
        ("coinbase-sec1", BASE["coinbase"], payload(CB_NAME, EC_SEC1_PEM.strip())),
        (
            "coinbase-ec-pkcs8",
            creds("key-id-1", EC_PKCS8_PEM),
            payload("key-id-1", EC_PKCS8_PEM.strip()),
        ),
        ("coinbase-ed-pem", creds("k", ED_PEM), payload("k", ED_PEM.strip())),
        (
            "coinbase-ed-crlf",
            creds("k", ED_PEM.replace("\n", "\r\n")),
            payload("k", ED_PEM.strip().replace("\n", "\r\n")),
        ),
    ]
    for raw in (ED_SEED, ED_SEED + ED_PUB):
        b64 = base64.b64encode(raw).decode()
        cases.append((f"coinbase-ed-b64-{len(raw)}", creds("k", b64), payload("k", b64)))
    for name, pem in (("ed", ED_PEM), ("rsa-pkcs8", RSA_PEM), ("rsa-pkcs1", RSA_PKCS1_PEM)):
        cases.append((f"binance-{name}", creds("abc123", pem), payload("abc123", pem.strip())))
    cases += [
        ("binance-hmac", BASE["binance"], payload("vmPUZE6mv9SD5VNH", HMAC)),
        ("bitget", BASE["bitget"], payload("bg_0123", HMAC, "Pass phrase 1")),
        ("cryptocom", BASE["cryptocom"], payload("cdc0123", HMAC)),
        ("bitmart", BASE["bitmart"], payload("bm0123", HMAC, "memo001")),
        ("okx", BASE["okx"], payload("okx-0123", HMAC, "Passphrase1!")),
        ("bybit-hmac", BASE["bybit"], payload("bybit0123", HMAC)),
        ("bybit-rsa", creds("b1", RSA_PKCS1_PEM), payload("b1", RSA_PKCS1_PEM.strip())),
        ("hyperliquid", BASE["hyperliquid"], payload(HL_ADDR, HL_KEY)),
        (
            "hyperliquid-normalised",
            creds(HL_ADDR.lower(), HL_KEY[2:].upper(), f" {OTHER_ADDR.lower()} "),
            payload(HL_ADDR, HL_KEY, OTHER_ADDR),
        ),
        (
            "hyperliquid-upper-address",
            creds("0x" + HL_ADDR[2:].upper(), HL_KEY),
            payload(HL_ADDR, HL_KEY),
        ),
        ("kalshi-pkcs8", BASE["kalshi"], payload(KALSHI_ID, RSA_PEM.strip())),
        (
            "kalshi-pkcs1",
            creds(KALSHI_ID, RSA_PKCS1_PEM),
            payload(KALSHI_ID, RSA_PKCS1_PEM.strip()),
        ),
        (
            "polymarket-signer-only",
            BASE["polymarket"],
            payload(extra={"signer_private_key": HL_KEY}),
        ),
        (
            "polymarket-full",
            creds(
                "poly-key",
                POLY_SECRET,
                "f00d" * 16,
                json.dumps(
                    {
                        "signer_private_key": HL_KEY[2:].upper(),
                        "proxy_address": OTHER_ADDR.lower(),
                        "builder": BUILDER,
                    },
                    indent=2,
                ),
            ),
            payload(
                "poly-key",
                POLY_SECRET,
                "f00d" * 16,
                {
                    "signer_private_key": HL_KEY,
                    "proxy_address": OTHER_ADDR,
                    "builder": BUILDER.lower(),
                },
            ),
        ),
    ]
    return [
        pytest.param(venue.split("-")[0], fields, expected, id=venue)
        for venue, fields, expected in cases
    ]


@pytest.mark.parametrize(("venue", "fields", "expected"), _valid_cases())
def test_valid_credentials_are_accepted_and_normalised(
    venue: str, fields: CredentialFields, expected: dict[str, object]
) -> None:
    assert validate_credentials(venue, fields) == expected


@pytest.mark.parametrize(
    ("venue", "fields"),
    [
        pytest.param(
            "kraken",
            creds(
                "k",
                "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==",
            ),
            id="kraken",
        ),
        pytest.param(
            "binance",
            creds(
                "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
                "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j",
            ),
            id="binance",
        ),
        pytest.param(
            "bitmart",
            creds(
                "k", "6c6c98544461bbe71db2bca4c6d7fd0021e0ba9efc215f9c6ad41852df9d9df9", "test001"
            ),
            id="bitmart",
        ),
    ],
)
def test_published_vector_credentials_are_accepted(venue: str, fields: CredentialFields) -> None:
    """The credentials of VENUES.md's published vectors pass (the signers' tests use them)."""
    out = validate_credentials(venue, fields)
    assert (out["api_key"], out["api_secret"]) == (fields.api_key, fields.api_secret)


def test_every_venue_has_a_valid_set() -> None:
    assert set(BASE) == set(VENUES)
    for venue, fields in BASE.items():
        validate_credentials(venue, fields)


@settings(max_examples=30, deadline=None)
@given(st.binary(min_size=32, max_size=32))
def test_hyperliquid_address_matches_eth_account(raw: bytes) -> None:
    """Oracle: eth-account derives the same EIP-55 address from the same key."""
    try:
        expected = Account.from_key(raw).address
    except (ValueError, TypeError):  # zero or >= n: our side must refuse too
        expected = None
    if expected is None:
        refuse("hyperliquid", creds(HL_ADDR, raw.hex()), "api_secret")
        return
    out = validate_credentials("hyperliquid", creds(expected.lower(), raw.hex()))
    assert out["api_key"] == expected
    assert out["api_secret"] == "0x" + raw.hex()


# --- refusals --------------------------------------------------------------------------------------


KEY, SECRET, PASS, EXTRA = "api_key", "api_secret", "passphrase", "extra_json"
SIGNER, PROXY = "extra_json.signer_private_key", "extra_json.proxy_address"


def case(venue: str, name: str, field: str, problem: str, **changes: str) -> object:
    """One refusal: BASE[venue] with ``changes``, refused on ``field`` with ``problem``."""
    fields = replace(BASE[venue], **changes)
    return pytest.param(venue, fields, field, problem, id=f"{venue}-{name}")


def _common_cases() -> list[object]:
    """Rules every venue shares: sizes, character sets, extra_json shape, empties."""
    out: list[object] = []
    for v in VENUES:
        c = functools.partial(case, v)
        out += [
            c("key-size", KEY, "longer than 512", api_key=CANARY * 52),
            c("secret-size", SECRET, "longer than 16384", api_secret=CANARY * 1639),
            c("pass-size", PASS, "longer than 512", passphrase=CANARY * 52),
            c("extra-size", EXTRA, "longer than 16384", extra_json=" " * 16385),
            c("key-nul", KEY, "printable ASCII", api_key=f"{CANARY}\x00x"),
            c("key-space", KEY, "printable ASCII", api_key=f"{CANARY} x"),
            c("key-cyrillic", KEY, "printable ASCII", api_key=f"{CANARY}\u0430"),
            c("key-ctl-at-end", KEY, "printable ASCII", api_key=f"{CANARY}\x1f"),
            c("secret-bell", SECRET, "printable ASCII", api_secret=f"{CANARY}\x07"),
            c("secret-surrogates", SECRET, "printable ASCII", api_secret=f"{CANARY}\udcff\udcfe"),
            c("secret-c1", SECRET, "printable ASCII", api_secret=f"{CANARY}\x85\x9b"),
            c("secret-bom", SECRET, "printable ASCII", api_secret=f"\ufeff{CANARY}"),
            c("pass-escape", PASS, "printable ASCII", passphrase=f"{CANARY}\x1b[31m"),
            c("pass-tab", PASS, "printable ASCII", passphrase=f"{CANARY}\tx"),
            c("extra-unicode", EXTRA, "printable ASCII", extra_json='{"x": "\u00e9"}'),
            c("extra-not-json", EXTRA, "not valid JSON", extra_json="{" + CANARY),
            c("extra-trailing", EXTRA, "not valid JSON", extra_json=f'{{}} "{CANARY}"'),
            c("extra-dup", EXTRA, "duplicate key", extra_json=f'{{"a":"1","a":"{CANARY}"}}'),
            c("extra-list", EXTRA, "must be a JSON object", extra_json=f'["{CANARY}"]'),
            c("extra-string", EXTRA, "must be a JSON object", extra_json=f'"{CANARY}"'),
            c("extra-null", EXTRA, "must be a JSON object", extra_json="null"),
            c("extra-nan", EXTRA, "not valid JSON", extra_json='{"builder": NaN}'),
            c("extra-deep", EXTRA, "nested too deeply", extra_json="[" * 5000 + "]" * 5000),
            c("extra-unknown", EXTRA, "unknown key 'memo'", extra_json=f'{{"memo": "{CANARY}"}}'),
            c("extra-unknown-unnamed", EXTRA, "unknown key", extra_json=f'{{"{CANARY}": "x"}}'),
        ]
        if v != "polymarket":
            out += [
                c("no-key", KEY, "required", api_key=""),
                c("blank-key", KEY, "required", api_key=" \n "),
                c("no-secret", SECRET, "required", api_secret=""),
                c("poly-extra", EXTRA, "unknown key 'signer_private_key'", extra_json=poly_extra()),
            ]
        if not BASE[v].passphrase and v not in ("hyperliquid", "polymarket"):
            out.append(c("pass-unused", PASS, "not used by this venue", passphrase=CANARY))
    return out


def _venue_cases() -> list[object]:
    venues = ("kraken", "coinbase", "binance", "bybit", "cryptocom", "hyperliquid", "kalshi")
    kraken, coinbase, binance, bybit, cryptocom, hyperliquid, kalshi = (
        functools.partial(case, v) for v in venues
    )
    polymarket = functools.partial(case, "polymarket")
    bad_checksum = HL_ADDR.replace("E4c9A", "e4C9a")
    short_b64 = base64.b64encode(b"\x01" * 31).decode()
    out = [
        # kraken: strict, canonical, padded base64 of >= 32 bytes
        kraken("junk", SECRET, "base64", api_secret=CANARY + "!!"),
        kraken("truncated", SECRET, "base64", api_secret=B64_64[:-1]),
        kraken("unpadded", SECRET, "base64", api_secret=B64_64.rstrip("=")),
        kraken("bad-char", SECRET, "base64", api_secret=B64_64.replace("A", "!")),
        kraken("urlsafe", SECRET, "base64", api_secret=B64_64[:-4] + "-_8="),
        kraken("trailing-bits", SECRET, "base64", api_secret=B64_64[:-3] + "x=="),
        kraken("inner-newline", SECRET, "base64", api_secret=f"{B64_64[:40]}\n{B64_64[40:]}"),
        kraken("short", SECRET, "at least 32 bytes", api_secret=short_b64),
        # coinbase: key name, EC P-256 or Ed25519
        coinbase("bad-name", KEY, "key name", api_key=f"organizations/{CANARY}/apiKeys"),
        coinbase("name-suffix", KEY, "key name", api_key=CB_NAME + "/x"),
        coinbase("p384", SECRET, "wrong key type", api_secret=P384_PEM),
        coinbase("secp256k1", SECRET, "wrong key type", api_secret=K1_PEM),
        coinbase("rsa", SECRET, "wrong key type", api_secret=RSA_PEM),
        coinbase("pem-corrupt", SECRET, "malformed PEM", api_secret=corrupt_pem(EC_SEC1_PEM)),
        coinbase(
            "pem-no-end", SECRET, "malformed PEM", api_secret=EC_SEC1_PEM.rsplit("-----END")[0]
        ),
        coinbase(
            "pem-label-mismatch",
            SECRET,
            "malformed PEM",
            api_secret=EC_SEC1_PEM.replace("END EC", "END RSA"),
        ),
        coinbase("pem-prefixed", SECRET, "malformed PEM", api_secret=f"{CANARY}\n{EC_SEC1_PEM}"),
        coinbase("pem-two", SECRET, "malformed PEM", api_secret=EC_SEC1_PEM + EC_PKCS8_PEM),
        coinbase(
            "pem-escaped-newlines",
            SECRET,
            "malformed PEM",
            api_secret=EC_SEC1_PEM.replace("\n", "\\n"),
        ),
        coinbase("pem-encrypted", SECRET, "encrypted", api_secret=ENCRYPTED_PEM),
        coinbase("pem-public", SECRET, "not a PEM private key", api_secret=PUBLIC_PEM),
        coinbase("pem-openssh", SECRET, "not a PEM private key", api_secret=OPENSSH_PEM),
        coinbase("b64-48", SECRET, "Ed25519", api_secret=base64.b64encode(bytes(48)).decode()),
        coinbase("b64-truncated", SECRET, "Ed25519", api_secret=ED_B64_32[:-2]),
        coinbase("b64-pub-mismatch", SECRET, "does not match the seed", api_secret=ED_B64_BAD),
        coinbase("junk", SECRET, "not a PEM-encoded EC P-256 or Ed25519", api_secret=CANARY),
        # binance: alnum key; HMAC 16-256 or Ed25519/RSA >= 2048 PEM
        binance("key-not-alnum", KEY, "letters and digits", api_key=CANARY + "-1"),
        binance("hmac-short", SECRET, "HMAC secret", api_secret=CANARY + "12345"),
        binance("hmac-long", SECRET, "HMAC secret", api_secret=CANARY * 26),
        binance("hmac-space", SECRET, "HMAC secret", api_secret=CANARY + " 1234567890"),
        binance("ec", SECRET, "wrong key type", api_secret=EC_PKCS8_PEM),
        binance("dsa", SECRET, "wrong key type", api_secret=DSA_PEM),
        binance("rsa-1024", SECRET, "shorter than 2048", api_secret=RSA_1024_PEM),
        binance("pem-corrupt", SECRET, "malformed PEM", api_secret=corrupt_pem(ED_PEM)),
        binance("rsa-encrypted", SECRET, "encrypted", api_secret=ENCRYPTED_TRAD_PEM),
        # bybit: HMAC or RSA PEM only; cryptocom: HMAC only
        bybit("ed25519", SECRET, "wrong key type", api_secret=ED_PEM),
        bybit("ec", SECRET, "wrong key type", api_secret=EC_SEC1_PEM),
        bybit("rsa-1024", SECRET, "shorter than 2048", api_secret=RSA_1024_PEM),
        bybit("hmac-short", SECRET, "HMAC secret", api_secret=CANARY),
        cryptocom("hmac-short", SECRET, "HMAC secret", api_secret=CANARY),
        cryptocom("pem", SECRET, "HMAC secret", api_secret=RSA_PEM),
        # hyperliquid: agent address, its key, optional vault address
        hyperliquid("key-junk", KEY, "not an address", api_key=CANARY),
        hyperliquid("key-short", KEY, "not an address", api_key=HL_ADDR[:-1]),
        hyperliquid("key-checksum", KEY, "EIP-55", api_key=bad_checksum),
        hyperliquid("secret-junk", SECRET, "32-byte hex", api_secret=CANARY * 6 + "1234"),
        hyperliquid("secret-63", SECRET, "32-byte hex", api_secret=HL_KEY[:-1]),
        hyperliquid("secret-0X", SECRET, "32-byte hex", api_secret="0X" + HL_KEY[2:]),
        hyperliquid("secret-zero", SECRET, "not a valid secp256k1", api_secret="00" * 32),
        hyperliquid("secret-n", SECRET, "not a valid secp256k1", api_secret=f"{SECP256K1_N:064x}"),
        hyperliquid("secret-other", SECRET, "does not belong", api_secret="11" * 32),
        hyperliquid("vault-junk", PASS, "not an address", passphrase=CANARY),
        hyperliquid("vault-zero", PASS, "zero address", passphrase=ZERO_ADDR),
        # kalshi: UUID key id, RSA >= 2048 PEM
        kalshi("key-not-uuid", KEY, "UUID", api_key=CANARY),
        kalshi("ec-sec1", SECRET, "wrong key type", api_secret=EC_SEC1_PEM),
        kalshi("ec-pkcs8", SECRET, "wrong key type", api_secret=EC_PKCS8_PEM),
        kalshi("ed25519", SECRET, "wrong key type", api_secret=ED_PEM),
        kalshi("not-pem", SECRET, "malformed PEM", api_secret=CANARY),
        kalshi("pem-corrupt", SECRET, "malformed PEM", api_secret=corrupt_pem(RSA_PKCS1_PEM)),
        kalshi("pem-one-line", SECRET, "malformed PEM", api_secret=RSA_PEM.replace("\n", "")),
        kalshi("rsa-1024", SECRET, "shorter than 2048", api_secret=RSA_1024_PEM),
        kalshi("rsa-huge", SECRET, "longer than 4096", api_secret=bogus_rsa_pem(4200)),
        kalshi("rsa-inconsistent", SECRET, "consistency check", api_secret=bogus_rsa_pem(1025)),
        # polymarket: signer key, proxy, builder; L2 all-or-nothing
        polymarket(
            "signer-junk", SIGNER, "32-byte hex", extra_json=poly_extra(signer_private_key=CANARY)
        ),
        polymarket(
            "signer-zero", SIGNER, "secp256k1", extra_json=poly_extra(signer_private_key="0" * 64)
        ),
        polymarket(
            "signer-int", SIGNER, "must be a string", extra_json='{"signer_private_key": 1}'
        ),
        polymarket(
            "proxy-junk", PROXY, "not an address", extra_json=poly_extra(proxy_address=CANARY)
        ),
        polymarket("proxy-sum", PROXY, "EIP-55", extra_json=poly_extra(proxy_address=bad_checksum)),
        polymarket(
            "proxy-null", PROXY, "must be a string", extra_json=poly_raw('"proxy_address": null')
        ),
        polymarket(
            "builder-31",
            "extra_json.builder",
            "bytes32",
            extra_json=poly_extra(builder=BUILDER[:-2]),
        ),
        polymarket(
            "builder-no-0x",
            "extra_json.builder",
            "bytes32",
            extra_json=poly_extra(builder=BUILDER[2:]),
        ),
        polymarket(
            "builder-list",
            "extra_json.builder",
            "must be a string",
            extra_json=poly_raw('"builder": [1]'),
        ),
        polymarket(
            "dup-signer",
            EXTRA,
            "duplicate key",
            extra_json=poly_raw(f'"signer_private_key": "{HL_KEY}"'),
        ),
        polymarket("l2-key-only", SECRET, "required", api_key="poly-key"),
        polymarket("l2-secret-only", KEY, "required", api_secret=POLY_SECRET),
        polymarket("l2-pass-only", KEY, "required", passphrase=CANARY),
        polymarket("l2-no-pass", PASS, "required", api_key="k", api_secret=POLY_SECRET),
        polymarket(
            "l2-pass-ws",
            PASS,
            "whitespace",
            api_key="k",
            api_secret=POLY_SECRET,
            passphrase=CANARY + " ",
        ),
        polymarket(
            "l2-std-b64",
            SECRET,
            "urlsafe base64",
            api_key="k",
            api_secret="+/" + POLY_SECRET[2:],
            passphrase="p",
        ),
        polymarket(
            "l2-short", SECRET, "urlsafe base64", api_key="k", api_secret=POLY_SHORT, passphrase="p"
        ),
        polymarket(
            "l2-junk",
            SECRET,
            "urlsafe base64",
            api_key="k",
            api_secret=CANARY + "!",
            passphrase="p",
        ),
    ]
    for v, needs in (("bitget", "required"), ("okx", "required"), ("bitmart", "BitMart API memo")):
        c = functools.partial(case, v)
        out += [
            c("no-pass", PASS, needs, passphrase=""),
            c("pass-lead-ws", PASS, "whitespace", passphrase=" " + CANARY),
            c("pass-trail-ws", PASS, "whitespace", passphrase=CANARY + " "),
            c("secret-pem", SECRET, "HMAC secret", api_secret=RSA_PEM),
            c("secret-short", SECRET, "HMAC secret", api_secret=CANARY),
        ]
    return out


@pytest.mark.parametrize(("venue", "fields", "field", "problem"), _common_cases() + _venue_cases())
def test_refusal_names_the_field_and_never_echoes(
    venue: str, fields: CredentialFields, field: str, problem: str
) -> None:
    exc = refuse(venue, fields, field)
    assert str(exc).startswith(f"{field}: ")
    assert problem in str(exc)


# --- Polymarket's exact message ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param(creds(CANARY + "key", POLY_SECRET), id="l2-without-signer"),
        pytest.param(creds(CANARY + "key", POLY_SECRET, "pass"), id="l2-full-without-signer"),
        pytest.param(creds(), id="all-empty"),
        pytest.param(creds(extra_json="{}"), id="empty-object"),
        pytest.param(creds(extra_json='{"signer_private_key": ""}'), id="empty-signer"),
        pytest.param(creds(extra_json='{"signer_private_key": " \\n "}'), id="blank-signer"),
        pytest.param(creds(extra_json=json.dumps({"proxy_address": HL_ADDR})), id="proxy-only"),
    ],
)
def test_polymarket_without_signer_material_has_the_exact_message(fields: CredentialFields) -> None:
    exc = refuse("polymarket", fields, "extra_json.signer_private_key")
    assert exc.public_message == POLYMARKET_SIGNER_MESSAGE
    assert str(exc) == (
        "Polymarket orders require signer material in credentials.extra_json.signer_private_key"
    )


# --- unknown venue -------------------------------------------------------------------------------


@pytest.mark.parametrize("venue", ["ftx", "Kraken", "kraken2", "coin.base-x_1"])
def test_unknown_venue_named_when_a_short_token(venue: str) -> None:
    with pytest.raises(UnknownVenueError) as info:
        validate_credentials(venue, BASE["kraken"])
    assert str(info.value) == f"unknown venue: {venue}"


@pytest.mark.parametrize(
    "venue",
    ["", "kraken ", f"{CANARY}\x00", f"{CANARY}/../x", CANARY * 4, f"{CANARY}\u0430", "\udcff"],
)
def test_unknown_venue_not_echoed_otherwise(venue: str) -> None:
    with pytest.raises(UnknownVenueError) as info:
        validate_credentials(venue, BASE["kraken"])
    assert str(info.value) == "unknown venue"
    assert_no_echo(info.value)


def test_unknown_venue_checked_before_material() -> None:
    with pytest.raises(UnknownVenueError):
        validate_credentials("nope", creds(CANARY * 100, "\x00"))


# --- sealed-box plaintext ------------------------------------------------------------------------------


def test_sealed_fields_parsed() -> None:
    doc = {"api_key": "k", "api_secret": EC_SEC1_PEM, "passphrase": "p", "extra_json": '{"a":"b"}'}
    assert parse_sealed_fields(json.dumps(doc).encode()) == CredentialFields(
        "k", EC_SEC1_PEM, "p", '{"a":"b"}'
    )


def test_sealed_fields_absent_keys_are_empty() -> None:
    assert parse_sealed_fields(b'{"api_key": "k"}') == creds("k")
    assert parse_sealed_fields(b" {} \n") == creds()


def test_sealed_extra_json_object_is_reserialised_and_validates() -> None:
    doc = {"extra_json": {"signer_private_key": HL_KEY, "builder": BUILDER}}
    fields = parse_sealed_fields(json.dumps(doc).encode())
    assert json.loads(fields.extra_json) == doc["extra_json"]
    out = validate_credentials("polymarket", fields)
    assert out["extra"] == {"signer_private_key": HL_KEY, "builder": BUILDER.lower()}


def test_sealed_unicode_is_decoded_then_refused_by_validation() -> None:
    fields = parse_sealed_fields('{"api_key": "cl\u00e9"}'.encode())
    assert fields.api_key == "cl\u00e9"
    refuse("kraken", replace(fields, api_secret=B64_64), "api_key")


def test_sealed_lone_surrogate_escape_is_refused_by_validation() -> None:
    fields = parse_sealed_fields(
        b'{"api_key": "k", "api_secret": "\\udcff' + CANARY.encode() + b'"}'
    )
    refuse("kraken", fields, "api_secret")


_C = CANARY.encode()


@pytest.mark.parametrize(
    ("plaintext", "problem"),
    [
        pytest.param(b'{"api_key": "' + _C + b'\xff"}', "not valid UTF-8", id="invalid-utf8"),
        pytest.param(b'{"api_key": "' + _C + b'\xc0\xaf"}', "not valid UTF-8", id="overlong-utf8"),
        pytest.param(
            b'{"api_key": "' + _C + b'\xed\xa0\x80"}', "not valid UTF-8", id="utf8-surrogate"
        ),
        pytest.param(
            b'{"api_key": "' + _C + b'"}'.decode().encode("utf-16"), "not valid UTF-8", id="utf16"
        ),
        pytest.param(b'\xef\xbb\xbf{"api_key": "' + _C + b'"}', "not valid JSON", id="bom"),
        pytest.param(b"", "not valid JSON", id="empty"),
        pytest.param(b'{"api_key": "' + _C, "not valid JSON", id="truncated"),
        pytest.param(b'{"api_key": "' + _C + b'"} {}', "not valid JSON", id="trailing"),
        pytest.param(b"{'api_key': '" + _C + b"'}", "not valid JSON", id="single-quotes"),
        pytest.param(
            b'{"api_key": "a\nb' + _C + b'"}', "not valid JSON", id="raw-newline-in-string"
        ),
        pytest.param(
            b'{"api_key": "' + _C + b'", "api_key": "x"}', "duplicate key", id="duplicate"
        ),
        pytest.param(
            b'{"extra_json": {"a": "' + _C + b'", "a": "b"}}',
            "duplicate key",
            id="nested-duplicate",
        ),
        pytest.param(b'{"extra_json": {"a": NaN}}', "not valid JSON", id="nan"),
        pytest.param(b'{"api_key": "' + _C + b'", "memo": "x"}', "unknown key", id="unknown-key"),
        pytest.param(b'{"' + _C + b'": "x"}', "unknown key", id="unknown-key-canary"),
        pytest.param(b'["' + _C + b'"]', "must be a JSON object", id="list"),
        pytest.param(b'"' + _C + b'"', "must be a JSON object", id="string"),
        pytest.param(b"1", "must be a JSON object", id="number"),
        pytest.param(b"null", "must be a JSON object", id="null"),
        pytest.param(b'{"api_key": 1}', "api_key must be a string", id="key-int"),
        pytest.param(b'{"api_secret": null}', "api_secret must be a string", id="secret-null"),
        pytest.param(
            b'{"passphrase": ["' + _C + b'"]}', "passphrase must be a string", id="pass-list"
        ),
        pytest.param(
            b'{"api_key": {"a": "' + _C + b'"}}', "api_key must be a string", id="key-object"
        ),
        pytest.param(
            b'{"extra_json": ["' + _C + b'"]}', "extra_json must be a string", id="extra-list"
        ),
        pytest.param(b'{"extra_json": true}', "extra_json must be a string", id="extra-bool"),
        pytest.param(b"[" * 100000 + b"]" * 100000, "nested too deeply", id="deep-nesting"),
        pytest.param(
            b'{"extra_json": ' + b"{" * 5 + b"}" * 5 + b"}", "nested too deeply", id="depth-5"
        ),
        pytest.param(b'{"api_key": "' + _C * 30000 + b'"}', "larger than", id="oversized"),
    ],
)
def test_sealed_fields_refused_without_echo(plaintext: bytes, problem: str) -> None:
    with pytest.raises(InvalidCredentialsError) as info:
        parse_sealed_fields(plaintext)
    exc = info.value
    assert exc.metadata["field"] == "sealed"
    assert str(exc) == f"sealed: {problem}" or (
        problem == "larger than" and "larger than" in str(exc)
    )
    assert_no_echo(exc, plaintext.decode("utf-8", "replace"))


@pytest.mark.parametrize("unit", ['"\\', '\\"', '["\\"', '"a'])
def test_sealed_adversarial_quoting_is_linear_time(unit: str) -> None:
    """Regression: the nesting pre-scan once backtracked quadratically (minutes at this size)."""
    plaintext = (unit * (MAX_SEALED_BYTES // len(unit))).encode()
    started = time.monotonic()
    with pytest.raises(InvalidCredentialsError):
        parse_sealed_fields(plaintext)
    assert time.monotonic() - started < 5


def test_brackets_inside_json_strings_do_not_count_as_nesting() -> None:
    fields = creds(extra_json=poly_extra(builder="[[[[[[{{{{{{" + "\\"))
    refuse("polymarket", fields, "extra_json.builder")
    sealed = json.dumps({"api_key": "[[[[[[", "extra_json": {"builder": "{{{{{{"}}).encode()
    assert parse_sealed_fields(sealed).api_key == "[[[[[["


def test_sealed_size_limit_is_inclusive() -> None:
    pad = MAX_SEALED_BYTES - len(b'{"api_key": ""}')
    assert parse_sealed_fields(b'{"api_key": "' + b"k" * pad + b'"}').api_key == "k" * pad


# --- size limits are exact -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["api_key", "api_secret", "passphrase", "extra_json"])
def test_size_limit_is_inclusive(name: str) -> None:
    limit = MAX_LENGTHS[name]
    at_limit = replace(BASE["bitget"], **{name: "x" * limit})
    over = replace(BASE["bitget"], **{name: "x" * (limit + 1)})
    try:
        validate_credentials("bitget", at_limit)
        problem = ""
    except InvalidCredentialsError as exc:  # a format refusal is fine, a size refusal is not
        problem = str(exc)
    assert "longer than" not in problem
    assert "longer than" in str(refuse("bitget", over, name))


# --- hypothesis: only typed errors escape ------------------------------------------------------------------

_VALUES = [v for f in BASE.values() for v in (f.api_key, f.api_secret, f.passphrase, f.extra_json)]
_TEXT = st.one_of(
    st.text(),
    st.text(st.characters(min_codepoint=0, max_codepoint=0x7F)),
    st.text(st.characters(categories=["Cs", "Cc", "Zs"])),
    st.from_regex(r"(0x)?[0-9a-fA-F]{38,66}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9+/=_-]{0,100}", fullmatch=True),
    st.sampled_from(_VALUES),
    st.builds(lambda v, cut: v[:cut], st.sampled_from(_VALUES), st.integers(0, 300)),
    st.builds(
        lambda d: json.dumps(d),
        st.dictionaries(
            st.sampled_from(["signer_private_key", "proxy_address", "builder", "x"]),
            st.text(max_size=70),
        ),
    ),
)


@settings(max_examples=400, deadline=None)
@given(
    venue=st.one_of(st.sampled_from(VENUES), st.text(max_size=12)),
    fields=st.builds(CredentialFields, _TEXT, _TEXT, _TEXT, _TEXT),
)
def test_random_fields_only_raise_typed_errors(venue: str, fields: CredentialFields) -> None:
    out, exc = attempt(lambda: validate_credentials(venue, fields))
    if exc is not None:
        assert exc.__cause__ is None
        assert exc.__context__ is None
        return
    assert out is not None
    assert set(out) == {"api_key", "api_secret", "passphrase", "extra"}
    for value in (out["api_key"], out["api_secret"], out["passphrase"]):
        assert isinstance(value, str)
        value.encode("ascii")  # sealable: only printable ASCII is ever stored


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=300),
        _JSON.map(lambda v: json.dumps(v).encode()),
        st.dictionaries(
            st.sampled_from(["api_key", "api_secret", "passphrase", "extra_json"]), _JSON
        ).map(lambda v: json.dumps(v).encode()),
    )
)
def test_random_sealed_plaintext_only_raises_typed_errors(plaintext: bytes) -> None:
    fields, exc = attempt(lambda: parse_sealed_fields(plaintext))
    if exc is not None:
        assert exc.metadata["field"] == "sealed"
        assert exc.__context__ is None
        return
    assert fields is not None
    for venue in VENUES:
        _, exc = attempt(functools.partial(validate_credentials, venue, fields))
        assert exc is None or exc.__context__ is None


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["api_key", "api_secret", "passphrase", "extra_json"]), st.text()
    )
)
def test_sealed_round_trip(doc: dict[str, str]) -> None:
    fields = parse_sealed_fields(json.dumps(doc).encode("utf-8", "surrogatepass"))
    assert fields == CredentialFields(
        **{k: doc.get(k, "") for k in ("api_key", "api_secret", "passphrase", "extra_json")}
    )
