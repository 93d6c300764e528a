"""Hyperliquid L1 action signing (VENUES.md section 9.1).

``connectionId = keccak256(msgpack(action) || nonce (8 BE) || vault flag
[|| 0x00 || expiresAfter (8 BE)])``; the key then signs the EIP-712 phantom
agent ``Agent(string source, bytes32 connectionId)`` on domain
``{name "Exchange", version "1", chainId 1337, verifyingContract 0x0}`` with
source ``"a"`` (mainnet) or ``"b"`` (testnet).

Invariants (tests: tests/vectors/test_hyperliquid.py, tests/unit/venues/test_hyperliquid.py):

1. ``pack_action`` packs only ``dict`` (str keys) / ``list`` / ``str`` / ``int``
   (-2**63 .. 2**64-1) / ``bool`` / ``None``; anything else (float, Decimal,
   bytes, tuple) is a ``ValueError``, so the hashed bytes are exactly the
   validated JSON values, in the caller's (validated) key order.
2. Nonce and ``expiresAfter`` are unsigned 64-bit; the vault is 20 bytes.
3. SECURITY: the private key leaves its ``Secret`` only here
   (``Secp256k1Key``).
4. User-signed actions (section 9.2) are only the four of ``USER_SIGNED``;
   their digest covers exactly the fields of the type, on domain
   ``HyperliquidSignTransaction/1/<signatureChainId>/0x0``, and
   ``signatureChainId`` must be one of ``SIGNATURE_CHAIN_IDS``. Whether an
   action may be signed at all (recipient proven, agent held) is decided
   elsewhere; this module only hashes and signs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgpack  # type: ignore[import-untyped]

from signer.keystore.handles import Secret
from signer.schemes.eip712 import Domain, TypedDataSchema, typed_data_digest
from signer.schemes.secp256k1 import Secp256k1Key, Signature, keccak256, parse_address

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
EXCHANGE_DOMAIN = Domain("Exchange", "1", 1337, ZERO_ADDRESS)
AGENT = TypedDataSchema.compile(
    {"Agent": (("source", "string"), ("connectionId", "bytes32"))}, "Agent"
)
USER_DOMAIN_NAME = "HyperliquidSignTransaction"
SIGNATURE_CHAIN_IDS = frozenset({"0x66eee", "0xa4b1"})
"""Arbitrum Sepolia (the Python SDK's constant) and Arbitrum One (the web app)."""


def _user_type(name: str, *fields: tuple[str, str]) -> TypedDataSchema:
    primary = f"HyperliquidTransaction:{name}"
    return TypedDataSchema.compile({primary: (("hyperliquidChain", "string"), *fields)}, primary)


USER_SIGNED: Mapping[str, TypedDataSchema] = {
    "withdraw3": _user_type(
        "Withdraw", ("destination", "string"), ("amount", "string"), ("time", "uint64")
    ),
    "usdSend": _user_type(
        "UsdSend", ("destination", "string"), ("amount", "string"), ("time", "uint64")
    ),
    "spotSend": _user_type(
        "SpotSend",
        ("destination", "string"),
        ("token", "string"),
        ("amount", "string"),
        ("time", "uint64"),
    ),
    "approveAgent": _user_type(
        "ApproveAgent", ("agentAddress", "address"), ("agentName", "string"), ("nonce", "uint64")
    ),
}
"""action.type -> its EIP-712 struct (section 9.2); nothing else is user-signable here."""

_U64 = 1 << 64
_I64_MIN = -(1 << 63)
MAX_PACK_DEPTH = 16


def _check_packable(value: object, depth: int = 0) -> None:
    if depth > MAX_PACK_DEPTH:
        raise ValueError("hyperliquid: action nested too deeply")
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return
    if kind is int:
        if not _I64_MIN <= value < _U64:  # type: ignore[operator]
            raise ValueError("hyperliquid: integer out of msgpack range")
        return
    if kind is list:
        for item in value:  # type: ignore[attr-defined]
            _check_packable(item, depth + 1)
        return
    if kind is dict:
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) is not str:
                raise ValueError("hyperliquid: action keys must be strings")
            _check_packable(item, depth + 1)
        return
    raise ValueError(f"hyperliquid: cannot pack a {kind.__name__[:32]} value")


def pack_action(action: Mapping[str, Any]) -> bytes:
    """``msgpack(action)`` (insertion order kept; ints in their smallest encoding).

    Raises:
        ValueError: a value outside invariant 1.
    """
    if type(action) is not dict:
        raise ValueError("hyperliquid: action must be a dict")
    _check_packable(action)
    packed = msgpack.packb(action, use_bin_type=True)
    assert isinstance(packed, bytes)
    return packed


def _u64(value: int, name: str) -> bytes:
    if type(value) is not int or not 0 <= value < _U64:
        raise ValueError(f"hyperliquid: {name} must be an unsigned 64-bit int")
    return value.to_bytes(8, "big")


def connection_id(
    action: Mapping[str, Any],
    nonce: int,
    vault: str | None = None,
    expires_after: int | None = None,
) -> bytes:
    """The 32-byte action hash (``connectionId``) of section 9.1 steps 1-5."""
    data = pack_action(action) + _u64(nonce, "nonce")
    data += b"\x00" if vault is None else b"\x01" + parse_address(vault)
    if expires_after is not None:
        data += b"\x00" + _u64(expires_after, "expiresAfter")
    return keccak256(data)


def agent_digest(conn_id: bytes, *, mainnet: bool) -> bytes:
    """The EIP-712 digest of the phantom agent for ``conn_id``."""
    message = {"source": "a" if mainnet else "b", "connectionId": conn_id}
    return typed_data_digest(EXCHANGE_DOMAIN, AGENT, message)


def l1_digest(
    action: Mapping[str, Any],
    nonce: int,
    vault: str | None,
    expires_after: int | None,
    *,
    mainnet: bool,
) -> bytes:
    """``agent_digest(connection_id(...))``."""
    return agent_digest(connection_id(action, nonce, vault, expires_after), mainnet=mainnet)


def user_signed_digest(action: Mapping[str, Any]) -> bytes:
    """The EIP-712 digest of a user-signed ``action`` (its ``type`` picks the struct).

    Raises:
        ValueError: an action type outside ``USER_SIGNED``, a chain id outside
            ``SIGNATURE_CHAIN_IDS``, or a field the struct rejects.
    """
    schema = USER_SIGNED.get(action.get("type"))  # type: ignore[arg-type]
    chain_id = action.get("signatureChainId")
    if schema is None:
        raise ValueError("hyperliquid: not a user-signed action type")
    if chain_id not in SIGNATURE_CHAIN_IDS:
        raise ValueError("hyperliquid: signatureChainId is not an allowed chain")
    domain = Domain(USER_DOMAIN_NAME, "1", int(chain_id, 16), ZERO_ADDRESS)
    struct = schema.types[schema.primary_type]
    message = {name: action.get(name, "") for name, _ in struct}
    return typed_data_digest(domain, schema, message)


def signature_json(sig: Signature) -> dict[str, object]:
    """``{"r": 0x + 64 hex, "s": 0x + 64 hex, "v": 27|28}`` (left-padded)."""
    return {"r": f"0x{sig.r:064x}", "s": f"0x{sig.s:064x}", "v": sig.v}


def vault_from_secret(secret: Secret) -> str | None:
    """The stored vault address (credentials ``passphrase``), lower-case, or None if empty.

    Raises:
        ValueError: not an address (the message names the field only).
    """
    raw = secret.expose()
    if not raw:
        return None
    try:
        return "0x" + parse_address(raw.decode("ascii")).hex()
    except (UnicodeDecodeError, ValueError):
        raise ValueError("passphrase: not a vault address") from None


class HyperliquidSigner:
    """An agent (API wallet) or trading key; build with ``from_secret``."""

    __slots__ = ("_key",)

    def __init__(self, key: Secp256k1Key) -> None:
        self._key = key

    @classmethod
    def from_secret(cls, secret: Secret) -> HyperliquidSigner:
        """Load from ``0x`` + 64 hex digits (credentials ``api_secret``)."""
        return cls(Secp256k1Key.from_secret(secret, field="api_secret"))

    @property
    def address(self) -> str:
        """The EIP-55 address of the key."""
        return self._key.address

    def sign_l1(
        self,
        action: Mapping[str, Any],
        nonce: int,
        vault: str | None,
        expires_after: int | None,
        *,
        mainnet: bool,
    ) -> Signature:
        """Sign the phantom agent of ``action`` (low-s, v 27/28)."""
        return self._key.sign_digest(
            l1_digest(action, nonce, vault, expires_after, mainnet=mainnet)
        )

    def sign_user(self, action: Mapping[str, Any]) -> Signature:
        """Sign a user-signed action (invariant 4; low-s, v 27/28)."""
        return self._key.sign_digest(user_signed_digest(action))

    def __repr__(self) -> str:
        return f"HyperliquidSigner(address={self.address}, <redacted>)"
