"""Credential validation: what SetCredentials may seal, per venue (DESIGN.md section 4).

``validate_credentials`` turns submitted ``CredentialFields`` into the normalised
payload that is sealed; ``parse_sealed_fields`` reads the plaintext of a sealed
box into ``CredentialFields``. Invariants (each has a test):

1. Every refusal is an ``InvalidCredentialsError`` (or ``UnknownVenueError``)
   whose message names the field and the problem from a fixed vocabulary.
   SECURITY: no message contains any part of a submitted value, and errors are
   raised outside ``except`` blocks so that no foreign exception (which could
   quote the input, as ``JSONDecodeError.doc`` does) hangs off ``__cause__`` or
   ``__context__``.
2. Sizes are bounded before any parsing; only printable ASCII is accepted
   (newlines only in ``api_secret``, for PEM; JSON whitespace in ``extra_json``).
3. Unknown venues, unknown ``extra_json`` keys, unknown sealed keys, duplicate
   JSON keys and fields a venue does not use are refused, never ignored.
4. Key material is loaded with ``cryptography``/``coincurve`` and its type and
   size checked, not merely pattern-matched.

Whitespace: ``api_key`` and ``api_secret`` lose leading/trailing spaces, tabs
and newlines (identifiers, base64, hex and PEM never carry meaningful outer
whitespace); ``extra_json`` likewise (insignificant in JSON), and so do address
and hex values (Hyperliquid vault passphrase, Polymarket extras). A passphrase
or BitMart memo is a user-chosen secret: it is never altered, and outer
whitespace is refused instead.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NoReturn

from coincurve import PrivateKey as Secp256k1PrivateKey
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from signer.domain import CredentialFields
from signer.errors import InvalidCredentialsError, UnknownVenueError
from signer.schemes.secp256k1 import keccak256 as keccak

MAX_LENGTHS: Mapping[str, int] = MappingProxyType(
    {"api_key": 512, "api_secret": 16384, "passphrase": 512, "extra_json": 16384}
)
MAX_SEALED_BYTES = 262144  # every field at its limit, \u-escaped, fits
RSA_MIN_BITS, RSA_MAX_BITS = 2048, 4096
POLYMARKET_SIGNER_MESSAGE = (
    "Polymarket orders require signer material in credentials.extra_json.signer_private_key"
)

_A = re.ASCII
_CHARSETS: Mapping[str, tuple[re.Pattern[str], str]] = MappingProxyType(
    {
        "api_key": (re.compile(r"[\x21-\x7e]*", _A), "must be printable ASCII without whitespace"),
        "api_secret": (re.compile(r"[\x20-\x7e\r\n]*", _A), "must be printable ASCII"),
        "passphrase": (re.compile(r"[\x20-\x7e]*", _A), "must be printable ASCII"),
        "extra_json": (re.compile(r"[\x20-\x7e\t\r\n]*", _A), "must be printable ASCII JSON"),
    }
)
_OUTER_WS = " \t\r\n"  # SECURITY: only these are stripped; other controls are refused
_B64_RE = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?", _A)
_B64URL_RE = re.compile(r"(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}==|[A-Za-z0-9_-]{3}=)?", _A)
_HMAC_RE = re.compile(r"[\x21-\x7e]{16,256}", _A)
_ALNUM_RE = re.compile(r"[A-Za-z0-9]+", _A)
_HEX32_RE = re.compile(r"(?:0x)?([0-9a-fA-F]{64})", _A)
_BYTES32_RE = re.compile(r"0x[0-9a-fA-F]{64}", _A)
_ADDRESS_RE = re.compile(r"0x([0-9a-fA-F]{40})", _A)
_UUID_RE = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}", _A)
_COINBASE_NAME_RE = re.compile(r"organizations/[A-Za-z0-9-]{1,64}/apiKeys/[A-Za-z0-9-]{1,64}", _A)
_PEM_RE = re.compile(
    r"-----BEGIN (?P<label>[A-Z0-9 ]{1,40})-----\r?\n"
    r"(?:[A-Za-z0-9+/=]{1,4096}\r?\n)+"
    r"-----END (?P=label)-----",
    _A,
)
_PEM_PRIVATE_LABELS = frozenset(
    {"PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "DSA PRIVATE KEY"}
)
# SECURITY: an unknown key is named only if it cannot plausibly be key material
# pasted into the wrong place (no digits, lower-case, short).
_NAMEABLE_KEY_RE = re.compile(r"[a-z_]{1,32}", _A)
_NAMEABLE_VENUE_RE = re.compile(r"[A-Za-z0-9_.-]{1,32}", _A)
# A string token (closing quote optional, so an unterminated string never
# backtracks: linear time) or a bracket.
_JSON_TOKEN_RE = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)
_MAX_JSON_DEPTH = 4  # sealed object > extra_json object > string values is depth 2
_SEALED_KEYS = frozenset({"api_key", "api_secret", "passphrase", "extra_json"})


def _fail(field_name: str, problem: str) -> NoReturn:
    """Raise the credential error. SECURITY: callers pass only fixed text, never input."""
    raise InvalidCredentialsError(f"{field_name}: {problem}", field=field_name)


@dataclass(frozen=True, slots=True)
class _Checked:
    """Fields after the common checks (and, once a venue ran, normalised)."""

    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)
    passphrase: str = field(repr=False)
    extra: Mapping[str, str] = field(repr=False)


# --- shared helpers ---------------------------------------------------------------------------


def _check_text(name: str, value: str) -> str:
    """Bound, strip (where harmless) and charset-check one submitted field."""
    limit = MAX_LENGTHS[name]
    if len(value) > limit:
        _fail(name, f"longer than {limit} characters")
    if name != "passphrase":
        value = value.strip(_OUTER_WS)
    pattern, problem = _CHARSETS[name]
    if pattern.fullmatch(value) is None:
        _fail(name, problem)
    return value


class _DuplicateKeyError(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError
        out[key] = value
    return out


def _no_constants(_: str) -> NoReturn:
    raise ValueError  # NaN, Infinity, -Infinity are not JSON


def _too_deep(text: str) -> bool:
    """Whether brackets outside JSON strings nest deeper than ``_MAX_JSON_DEPTH``.

    SECURITY: json's C decoder recurses once per level, and py_ecc (imported via
    eth-account) raises the recursion limit to 100000, so deep nesting overflows
    the C stack and kills the process instead of raising RecursionError.
    """
    depth = 0
    for token in _JSON_TOKEN_RE.finditer(text):
        bracket = token[0]
        if bracket in ("[", "{"):
            depth += 1
            if depth > _MAX_JSON_DEPTH:
                return True
        elif bracket in ("]", "}"):
            depth -= 1
    return False


def _strict_json(text: str) -> tuple[object, str | None]:
    """Parse strict JSON; return (value, None) or (None, problem). Never raises."""
    if _too_deep(text):
        return None, "nested too deeply"
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except _DuplicateKeyError:
        return None, "duplicate key"
    except (ValueError, RecursionError):
        return None, "not valid JSON"
    return value, None


def _parse_extra(text: str, known: frozenset[str]) -> dict[str, str]:
    """``extra_json``: empty, or a JSON object of string values under known keys."""
    if not text:
        return {}
    value, problem = _strict_json(text)
    if problem is not None:
        _fail("extra_json", problem)
    if not isinstance(value, dict):
        _fail("extra_json", "must be a JSON object")
    out: dict[str, str] = {}
    for key, item in value.items():
        if key not in known:
            if _NAMEABLE_KEY_RE.fullmatch(key):
                _fail("extra_json", f"unknown key {key!r}")
            _fail("extra_json", "unknown key")
        if not isinstance(item, str):
            _fail(f"extra_json.{key}", "must be a string")
        out[key] = item
    return out


def _require(name: str, value: str) -> str:
    if not value:
        _fail(name, "required")
    return value


def _user_passphrase(value: str, what: str = "required") -> str:
    if not value:
        _fail("passphrase", what)
    if value != value.strip(_OUTER_WS):
        _fail("passphrase", "leading or trailing whitespace (a passphrase is never altered)")
    return value


def _hmac_secret(name: str, value: str) -> str:
    if _HMAC_RE.fullmatch(_require(name, value)) is None:
        _fail(name, "not an HMAC secret (16-256 printable characters, no whitespace)")
    return value


def _strict_b64(value: str, *, urlsafe: bool = False) -> bytes | None:
    """Canonical, padded base64 (standard or urlsafe alphabet), else None."""
    if (_B64URL_RE if urlsafe else _B64_RE).fullmatch(value) is None:
        return None
    raw = base64.urlsafe_b64decode(value) if urlsafe else base64.b64decode(value)
    again = base64.urlsafe_b64encode(raw) if urlsafe else base64.b64encode(raw)
    return raw if again.decode("ascii") == value else None  # non-zero trailing bits


def _try_load_pem(data: bytes, *, validate_rsa: bool) -> PrivateKeyTypes | None:
    try:
        return serialization.load_pem_private_key(
            data, password=None, unsafe_skip_rsa_key_validation=not validate_rsa
        )
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None


def _load_pem(name: str, value: str) -> PrivateKeyTypes:
    """Load exactly one unencrypted PEM private key; RSA keys are size-checked and validated."""
    if "ENCRYPTED" in value or "Proc-Type:" in value:
        _fail(name, "encrypted PEM keys are not supported")
    match = _PEM_RE.fullmatch(value)
    if match is None:
        _fail(name, "malformed PEM")
    if match["label"] not in _PEM_PRIVATE_LABELS:
        _fail(name, "not a PEM private key")
    data = value.encode("ascii")
    # SECURITY: bound the RSA size before the (superlinear) consistency check:
    # validating an 8192-bit key costs seconds of CPU.
    key = _try_load_pem(data, validate_rsa=False)
    if key is None:
        _fail(name, "malformed PEM")
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < RSA_MIN_BITS:
            _fail(name, f"RSA key shorter than {RSA_MIN_BITS} bits")
        if key.key_size > RSA_MAX_BITS:
            _fail(name, f"RSA key longer than {RSA_MAX_BITS} bits")
        key = _try_load_pem(data, validate_rsa=True)
        if key is None:
            _fail(name, "RSA key fails its consistency check")
    return key


def _rsa_pem(name: str, value: str) -> str:
    if not isinstance(_load_pem(name, value), rsa.RSAPrivateKey):
        _fail(name, "wrong key type: expected an RSA private key")
    return value


def _secp256k1_key(name: str, value: str) -> tuple[str, str]:
    """A 32-byte hex secp256k1 key (0x optional) -> (0x-lowercase key, checksummed address)."""
    match = _HEX32_RE.fullmatch(value)
    if match is None:
        _fail(name, "not a 32-byte hex private key")
    raw = bytes.fromhex(match[1])
    try:
        public = Secp256k1PrivateKey(raw).public_key.format(compressed=False)
    except ValueError:
        public = None
    if public is None:
        _fail(name, "not a valid secp256k1 private key")
    return "0x" + raw.hex(), _checksum(keccak(public[1:])[-20:].hex())


def _checksum(lower_hex40: str) -> str:
    """EIP-55 checksum of a lower-case 40-hex-digit address."""
    digest = keccak(lower_hex40.encode("ascii")).hex()
    mixed = (c.upper() if int(d, 16) >= 8 else c for c, d in zip(lower_hex40, digest, strict=False))
    return "0x" + "".join(mixed)


def _address(name: str, value: str) -> str:
    """0x + 40 hex -> EIP-55; a mixed-case input must already carry a valid checksum."""
    match = _ADDRESS_RE.fullmatch(value.strip(_OUTER_WS))
    if match is None:
        _fail(name, "not an address (0x followed by 40 hex digits)")
    digits = match[1]
    out = _checksum(digits.lower())
    if digits not in (digits.lower(), digits.upper()) and out[2:] != digits:
        _fail(name, "mixed-case address fails its EIP-55 checksum")
    if int(digits, 16) == 0:
        _fail(name, "zero address")
    return out


# --- venues -------------------------------------------------------------------------------------


def _kraken(c: _Checked) -> _Checked:
    key = _require("api_key", c.api_key)
    raw = _strict_b64(_require("api_secret", c.api_secret))
    if raw is None or len(raw) < 32:
        _fail("api_secret", "not standard base64 of at least 32 bytes")
    return _Checked(key, c.api_secret, "", {})


def _coinbase(c: _Checked) -> _Checked:
    key = _require("api_key", c.api_key)
    if "/" in key and _COINBASE_NAME_RE.fullmatch(key) is None:
        _fail("api_key", "not a key name (organizations/{org}/apiKeys/{key}) or bare key id")
    secret = _require("api_secret", c.api_secret)
    if "-----" in secret:
        pk = _load_pem("api_secret", secret)
        p256 = isinstance(pk, ec.EllipticCurvePrivateKey) and isinstance(pk.curve, ec.SECP256R1)
        if not (p256 or isinstance(pk, ed25519.Ed25519PrivateKey)):
            _fail("api_secret", "wrong key type: expected EC P-256 or Ed25519")
    else:
        raw = _strict_b64(secret)
        if raw is None or len(raw) not in (32, 64):
            _fail("api_secret", "not a PEM-encoded EC P-256 or Ed25519 key, nor base64 Ed25519")
        public = ed25519.Ed25519PrivateKey.from_private_bytes(raw[:32]).public_key()
        if len(raw) == 64 and not hmac.compare_digest(public.public_bytes_raw(), raw[32:]):
            _fail("api_secret", "Ed25519 public key half does not match the seed")
    return _Checked(key, secret, "", {})


def _binance(c: _Checked) -> _Checked:
    if _ALNUM_RE.fullmatch(_require("api_key", c.api_key)) is None:
        _fail("api_key", "must be letters and digits only")
    secret = _require("api_secret", c.api_secret)
    if "-----" in secret:
        if not isinstance(
            _load_pem("api_secret", secret), ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
        ):
            _fail("api_secret", "wrong key type: expected Ed25519 or RSA")
    else:
        _hmac_secret("api_secret", secret)
    return _Checked(c.api_key, secret, "", {})


def _hmac_venue(needs: str | None, *, rsa_allowed: bool = False) -> Callable[[_Checked], _Checked]:
    """Key + HMAC secret (or RSA PEM); ``needs``: the refusal for a missing passphrase."""

    def validate(c: _Checked) -> _Checked:
        key = _require("api_key", c.api_key)
        if rsa_allowed and "-----" in c.api_secret:
            secret = _rsa_pem("api_secret", c.api_secret)
        else:
            secret = _hmac_secret("api_secret", c.api_secret)
        if needs is None:
            return _Checked(key, secret, "", {})
        return _Checked(key, secret, _user_passphrase(c.passphrase, needs), {})

    return validate


def _hyperliquid(c: _Checked) -> _Checked:
    agent = _address("api_key", _require("api_key", c.api_key))
    secret, derived = _secp256k1_key("api_secret", _require("api_secret", c.api_secret))
    if derived != agent:
        _fail("api_secret", "private key does not belong to the agent address in api_key")
    vault = _address("passphrase", c.passphrase) if c.passphrase.strip(_OUTER_WS) else ""
    return _Checked(agent, secret, vault, {})


def _kalshi(c: _Checked) -> _Checked:
    if _UUID_RE.fullmatch(_require("api_key", c.api_key)) is None:
        _fail("api_key", "not a key id (UUID)")
    secret = _rsa_pem("api_secret", _require("api_secret", c.api_secret))
    return _Checked(c.api_key, secret, "", {})


def _polymarket(c: _Checked) -> _Checked:
    signer_key = c.extra.get("signer_private_key", "").strip(_OUTER_WS)
    if not signer_key:
        raise InvalidCredentialsError(
            POLYMARKET_SIGNER_MESSAGE, field="extra_json.signer_private_key"
        )
    extra = {"signer_private_key": _secp256k1_key("extra_json.signer_private_key", signer_key)[0]}
    if "proxy_address" in c.extra:
        extra["proxy_address"] = _address("extra_json.proxy_address", c.extra["proxy_address"])
    if "builder" in c.extra:
        builder = c.extra["builder"].strip(_OUTER_WS)
        if _BYTES32_RE.fullmatch(builder) is None:
            _fail("extra_json.builder", "not a bytes32 builder code (0x followed by 64 hex digits)")
        extra["builder"] = builder.lower()
    if not (c.api_key or c.api_secret or c.passphrase):
        return _Checked("", "", "", extra)
    # L2 credentials are optional, but all-or-nothing.
    key = _require("api_key", c.api_key)
    raw = _strict_b64(_require("api_secret", c.api_secret), urlsafe=True)
    if raw is None or len(raw) < 16:
        _fail("api_secret", "not urlsafe base64 of at least 16 bytes")
    return _Checked(key, c.api_secret, _user_passphrase(c.passphrase), extra)


_VALIDATORS: Mapping[str, Callable[[_Checked], _Checked]] = MappingProxyType(
    {
        "kraken": _kraken,
        "coinbase": _coinbase,
        "binance": _binance,
        "bitget": _hmac_venue("required"),
        "cryptocom": _hmac_venue(None),
        "bitmart": _hmac_venue("required (the BitMart API memo)"),
        "okx": _hmac_venue("required"),
        "bybit": _hmac_venue(None, rsa_allowed=True),
        "hyperliquid": _hyperliquid,
        "kalshi": _kalshi,
        "polymarket": _polymarket,
    }
)
_EXTRA_KEYS: Mapping[str, frozenset[str]] = MappingProxyType(
    {"polymarket": frozenset({"signer_private_key", "proxy_address", "builder"})}
)
# SECURITY: default deny; a field a venue does not sign with is refused, not stored.
_NO_PASSPHRASE = frozenset({"kraken", "coinbase", "binance", "cryptocom", "bybit", "kalshi"})


# --- public API ---------------------------------------------------------------------------------


def validate_credentials(venue: str, fields: CredentialFields) -> dict[str, object]:
    """Validate and normalise submitted credentials for one venue.

    Args:
        venue: a venue id from ``signer.domain.VENUES`` (exact, lower-case).
        fields: the submitted material (from the request or ``parse_sealed_fields``).

    Returns:
        The payload to seal: ``{"api_key": str, "api_secret": str,
        "passphrase": str, "extra": dict[str, str]}``.

    Raises:
        UnknownVenueError: the venue is not one of ``VENUES``.
        InvalidCredentialsError: a field is missing, oversized or malformed, or
            holds the wrong key type; ``metadata["field"]`` names it.
    """
    validate = _VALIDATORS.get(venue)
    if validate is None:
        shown = venue if _NAMEABLE_VENUE_RE.fullmatch(venue) else ""
        raise UnknownVenueError(
            f"unknown venue: {shown}" if shown else "unknown venue", field="venue"
        )
    checked = _Checked(
        _check_text("api_key", fields.api_key),
        _check_text("api_secret", fields.api_secret),
        _check_text("passphrase", fields.passphrase),
        _parse_extra(
            _check_text("extra_json", fields.extra_json), _EXTRA_KEYS.get(venue, frozenset())
        ),
    )
    if venue in _NO_PASSPHRASE and checked.passphrase:
        _fail("passphrase", "not used by this venue; leave it empty")
    out = validate(checked)
    return {
        "api_key": out.api_key,
        "api_secret": out.api_secret,
        "passphrase": out.passphrase,
        "extra": dict(out.extra),
    }


def _utf8(plaintext: bytes) -> str | None:
    try:
        return plaintext.decode("utf-8")
    except UnicodeDecodeError:
        return None


def parse_sealed_fields(plaintext: bytes) -> CredentialFields:
    """Read the plaintext of a sealed box into ``CredentialFields``.

    The plaintext is strict UTF-8 JSON: one object whose keys are among
    ``api_key``, ``api_secret``, ``passphrase``, ``extra_json`` (absent means
    empty), each a string; ``extra_json`` may also be an object, which is
    re-serialised compactly. Validation proper is ``validate_credentials``.

    Raises:
        InvalidCredentialsError: with ``field="sealed"``; never echoes content.
    """
    if len(plaintext) > MAX_SEALED_BYTES:
        _fail("sealed", f"larger than {MAX_SEALED_BYTES} bytes")
    text = _utf8(plaintext)
    if text is None:
        _fail("sealed", "not valid UTF-8")
    value, problem = _strict_json(text)
    if problem is not None:
        _fail("sealed", problem)
    if not isinstance(value, dict):
        _fail("sealed", "must be a JSON object")
    out: dict[str, str] = {}
    for key, item in value.items():
        if key not in _SEALED_KEYS:
            _fail("sealed", "unknown key")
        if key == "extra_json" and isinstance(item, dict):
            # Cannot fail: parsed JSON, depth <= _MAX_JSON_DEPTH, NaN already refused.
            item = json.dumps(item, separators=(",", ":"))
        if not isinstance(item, str):
            _fail("sealed", f"{key} must be a string")
        out[key] = item
    return CredentialFields(
        api_key=out.get("api_key", ""),
        api_secret=out.get("api_secret", ""),
        passphrase=out.get("passphrase", ""),
        extra_json=out.get("extra_json", ""),
    )
