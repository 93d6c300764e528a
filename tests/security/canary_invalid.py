"""SetCredentials calls that must fail, each carrying its own canary.

Every case holds a distinctive secret (or key) inside invalid material: the
refusal must name the field, never echo the value, and nothing of it may be
stored. Sealed cases go through the libsodium sealed box to the daemon's key.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from cryptography.hazmat.primitives import serialization
from eth_account import Account
from nacl.public import PublicKey, SealedBox

from signer._proto.sequence.signer.v1 import common_pb2
from signer._proto.sequence.signer.v1.credential_service_pb2 import SetCredentialsRequest
from tests.security.canaries import (
    RAW_MARK,
    Canary,
    canary,
    ed25519_key,
    key_forms,
    marked_raw,
    marked_text,
    p256_key,
    pem_of,
    raw_forms,
    rsa_key,
    text_forms,
)

INVALID = grpc.StatusCode.INVALID_ARGUMENT
Builder = Callable[[bytes, str], SetCredentialsRequest | bytes]
PRINCIPAL = common_pb2.Principal(client_id="c-invalid", mode=common_pb2.MODE_LIVE)


@dataclass
class Invalid:
    """One refused SetCredentials: ``build(sealing_public_key)`` -> request (or raw bytes)."""

    name: str
    canary: Canary
    build: Callable[[bytes], SetCredentialsRequest | bytes]
    code: grpc.StatusCode = INVALID
    reason: str | None = "INVALID_CREDENTIALS"


def _fill(fields: dict[str, str], value: str) -> dict[str, str]:
    return {k: v.replace("@", value) for k, v in fields.items()}


def _plain(venue: str, **fields: str) -> Builder:
    def build(_: bytes, value: str) -> SetCredentialsRequest:
        request = SetCredentialsRequest(principal=PRINCIPAL, venue=venue)
        for name, text in _fill(fields, value).items():
            setattr(request, name, text)
        return request

    return build


def _sealed(venue: str, plaintext: bytes, **plain: str) -> Builder:
    def build(public: bytes, value: str) -> SetCredentialsRequest:
        data = plaintext.replace(b"@", value.encode())
        request = _plain(venue, **plain)(public, value)
        assert isinstance(request, SetCredentialsRequest)
        request.sealed = bytes(SealedBox(PublicKey(public)).encrypt(data))
        return request

    return build


def _pem_with(inner: str, label: str = "RSA PRIVATE KEY") -> str:
    return f"-----BEGIN {label}-----\n{inner}\n-----END {label}-----\n"


def _t(name: str) -> tuple[str, Canary]:
    value = marked_text(name.replace("-", ""), alphabet_safe=True)
    return value, canary(f"invalid.{name}", text_forms(value))


def _fixed(build: Builder) -> Callable[[bytes], SetCredentialsRequest | bytes]:
    return lambda pk: build(pk, "")


def _key(name: str, key: object, text: str) -> Canary:
    return canary(f"invalid.{name}", key_forms(key, text))  # type: ignore[arg-type]


def cases() -> list[Invalid]:
    out: list[Invalid] = []

    def add(name: str, build: Builder, **kw: object) -> None:
        value, c = _t(name)
        out.append(Invalid(name, c, lambda pk, b=build, v=value: b(pk, v), **kw))  # type: ignore[arg-type,misc]

    # Builders write "@" where the case's canary text goes.
    # "@" stands for the case's canary text in every template below.
    add("unknown-venue", _plain("ftx", api_key="k", api_secret="@"), reason="UNKNOWN_VENUE")
    add(
        "kalshi-malformed-pem",
        _plain("kalshi", api_key="6f1c2c4e-1111-2222-3333-444455556666", api_secret=_pem_with("@")),
    )
    add("bybit-malformed-pem", _plain("bybit", api_key="k", api_secret=_pem_with("@")))
    add("kraken-not-base64", _plain("kraken", api_key="k", api_secret="@!!"))
    add(
        "kraken-unused-passphrase",
        _plain("kraken", api_key="k", api_secret="QUFB" * 12, passphrase="@"),
    )
    add(
        "okx-passphrase-outer-space",
        _plain("okx", api_key="k", api_secret="s" * 32, passphrase=" @ "),
    )
    add("okx-secret-with-space", _plain("okx", api_key="k", api_secret="@ @", passphrase="pp"))
    add("binance-non-ascii", _plain("binance", api_key="k", api_secret="@\u00e9"))
    add("binance-too-long", _plain("binance", api_key="k", api_secret="@" * 300))
    add("bitmart-missing-memo", _plain("bitmart", api_key="k", api_secret="@"))
    add("hyperliquid-not-hex", _plain("hyperliquid", api_key="0x" + "11" * 20, api_secret="0x@"))
    add("polymarket-no-signer", _plain("polymarket", api_key="k", api_secret="@"))
    add("polymarket-bad-signer", _plain("polymarket", extra_json='{"signer_private_key":"@"}'))
    add("extra-json-unterminated", _plain("polymarket", extra_json='{"signer_private_key":"@'))
    add("extra-json-duplicate", _plain("polymarket", extra_json='{"builder":"@","builder":"@"}'))
    add("extra-json-unknown-key", _plain("polymarket", extra_json='{"@":"x"}'))
    add("extra-json-not-string", _plain("polymarket", extra_json='{"signer_private_key":["@"]}'))
    add(
        "extra-json-too-deep",
        _plain("polymarket", extra_json='{"builder":' + "[" * 50 + '"@"' + "]" * 50 + "}"),
    )
    add(
        "missing-principal",
        lambda _, v: SetCredentialsRequest(venue="binance", api_key="k", api_secret=v),
        reason="INVALID_REQUEST",
    )
    add("sealed-invalid-json", _sealed("okx", b'{"api_secret":"@'))
    add("sealed-non-utf8", _sealed("okx", b'{"api_secret":"@\xff"}'))
    add("sealed-unknown-key", _sealed("okx", b'{"secret":"@"}'))
    add("sealed-not-string", _sealed("okx", b'{"api_secret":["@"]}'))
    add(
        "sealed-bad-material",
        _sealed(
            "kalshi",
            json.dumps(
                {"api_key": "6f1c2c4e-1111-2222-3333-444455556666", "api_secret": _pem_with("@")}
            ).encode(),
        ),
    )
    add("sealed-and-plain", _sealed("okx", b'{"api_key":"k"}', api_secret="@"))
    add("sealed-too-large", _sealed("okx", b'{"api_secret":"' + b"@" * 2000 + b'"}'))
    add(
        "oversized-message",
        _plain("binance", api_key="k", api_secret="@" * 30000),
        code=grpc.StatusCode.RESOURCE_EXHAUSTED,
        reason=None,
    )
    add("non-utf8-on-the-wire", lambda _, v: _non_utf8(v), reason="INVALID_REQUEST")
    out.extend(_key_cases())
    return out


def _non_utf8(value: str) -> bytes:
    ok = SetCredentialsRequest(
        principal=PRINCIPAL, venue="binance", api_key="k", api_secret=value + "\x01"
    )
    return ok.SerializeToString().replace(b"\x01", b"\xff\xfe")


def _key_cases() -> list[Invalid]:
    """Real keys of the wrong type or size, and keys that do not match their address."""
    kalshi_id = "6f1c2c4e-1111-2222-3333-444455556666"

    def plain(venue: str, **fields: str) -> Callable[[bytes], SetCredentialsRequest | bytes]:
        return _fixed(_plain(venue, **fields))

    ec_pem = pem_of(p256_key(), serialization.PrivateFormat.PKCS8)
    ec = serialization.load_pem_private_key(ec_pem.encode(), None)
    small = rsa_key(1024)
    small_pem = pem_of(small, serialization.PrivateFormat.PKCS8)
    ed = ed25519_key()
    encrypted = ed.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"canary-password"),
    ).decode()
    wrong_half = marked_raw(32) + RAW_MARK * 2
    half_text = base64.b64encode(wrong_half).decode()
    hl_raw = marked_raw(32)
    hl_hex = "0x" + hl_raw.hex()
    garbage = marked_raw(80)
    return [
        Invalid(
            "kalshi-wrong-type-ec",
            _key("kalshi-ec", ec, ec_pem),
            plain("kalshi", api_key=kalshi_id, api_secret=ec_pem),
        ),
        Invalid(
            "binance-wrong-type-ec",
            _key("binance-ec", ec, ec_pem),
            plain("binance", api_key="k", api_secret=ec_pem),
        ),
        Invalid(
            "kalshi-short-rsa",
            _key("rsa1024", small, small_pem),
            plain("kalshi", api_key=kalshi_id, api_secret=small_pem),
        ),
        Invalid(
            "coinbase-wrong-type-rsa",
            _key("rsa1024-coinbase", small, small_pem),
            plain("coinbase", api_key="k", api_secret=small_pem),
        ),
        Invalid(
            "coinbase-encrypted-pem",
            canary(
                "invalid.encrypted-pem",
                {
                    **text_forms(encrypted, pieces=False),
                    **raw_forms(ed.private_bytes_raw(), "seed-"),
                },
            ),
            plain("coinbase", api_key="k", api_secret=encrypted),
        ),
        Invalid(
            "coinbase-ed25519-wrong-half",
            canary(
                "invalid.ed25519-half",
                {**text_forms(half_text), **raw_forms(wrong_half[:32], "seed-")},
            ),
            plain("coinbase", api_key="k", api_secret=half_text),
        ),
        Invalid(
            "hyperliquid-key-mismatch",
            canary(
                "invalid.hl-key", {**text_forms(hl_hex), **raw_forms(hl_raw, "key-", chunks=True)}
            ),
            plain("hyperliquid", api_key=str(Account.create().address), api_secret=hl_hex),
        ),
        Invalid(
            "sealed-garbage",
            canary("invalid.sealed-garbage", raw_forms(garbage)),
            lambda _: SetCredentialsRequest(principal=PRINCIPAL, venue="okx", sealed=garbage),
        ),
    ]
