"""Polymarket CLOB signing schemes (VENUES.md section 11).

* V2 order EIP-712 (11.1): domain "Polymarket CTF Exchange" version "2" bound
  to one of the two V2 exchanges (``CTF_EXCHANGE_V2``/``NEG_RISK_EXCHANGE_V2``,
  same address on Polygon 137 and Amoy 80002); no other domain can be built.
* ClobAuth (11.2): the L1 key-provisioning attestation, domain
  "ClobAuthDomain" version "1" (no verifyingContract), fixed message text.
* L2 HMAC (11.3): ``urlsafe_b64(HMAC-SHA256(urlsafe_b64decode(secret),
  ts + METHOD + path + body))``.

* POLY_1271 (11.1, signatureType 3): the EOA signs the ERC-7739 nested
  ``TypedDataSign(Order contents, ...)`` of the deposit wallet (maker = signer
  = the wallet) under the exchange domain; the posted signature is
  ``sig(65) || exchange domain separator || contents hash || Order type
  string || uint16 length``.

SECURITY: the private key only leaves its ``Secret`` here (``Secp256k1Key``).
V1 orders and any other typed data (Permit, SafeTx...) have no code path in
this module; the only TypedDataSign built here wraps a V2 order.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from signer.keystore.handles import Secret
from signer.schemes.eip712 import Domain, TypedDataSchema, sign_typed_data, typed_data_digest
from signer.schemes.hmac import HmacSha256
from signer.schemes.secp256k1 import Secp256k1Key, parse_address

CHAIN_POLYGON = 137
CHAIN_AMOY = 80002
CHAINS = frozenset({CHAIN_POLYGON, CHAIN_AMOY})
CTF_EXCHANGE_V2 = "0xE111180000d2663C0091e4f400237545B87B996B"
NEG_RISK_EXCHANGE_V2 = "0xe2222d279d744050d28e00520010520000310F59"
EXCHANGES_V2 = (CTF_EXCHANGE_V2, NEG_RISK_EXCHANGE_V2)
CLOB_AUTH_MESSAGE = "This message attests that I control the given wallet"
ZERO_BYTES32 = "0x" + "00" * 32

ORDER_V2 = TypedDataSchema.compile(
    {
        "Order": (
            ("salt", "uint256"),
            ("maker", "address"),
            ("signer", "address"),
            ("tokenId", "uint256"),
            ("makerAmount", "uint256"),
            ("takerAmount", "uint256"),
            ("side", "uint8"),
            ("signatureType", "uint8"),
            ("timestamp", "uint256"),
            ("metadata", "bytes32"),
            ("builder", "bytes32"),
        )
    },
    "Order",
)
DEPOSIT_WALLET_SIGN = TypedDataSchema.compile(
    {
        "TypedDataSign": (
            ("contents", "Order"),
            ("name", "string"),
            ("version", "string"),
            ("chainId", "uint256"),
            ("verifyingContract", "address"),
            ("salt", "bytes32"),
        ),
        "Order": ORDER_V2.types["Order"],
    },
    "TypedDataSign",
)
_ORDER_TYPE_STRING = ORDER_V2.encode_type.encode("ascii")
POLY_1271 = 3
CLOB_AUTH = TypedDataSchema.compile(
    {
        "ClobAuth": (
            ("address", "address"),
            ("timestamp", "string"),
            ("nonce", "uint256"),
            ("message", "string"),
        )
    },
    "ClobAuth",
)


def order_domain(chain_id: int, exchange: str) -> Domain:
    """The V2 order domain for ``exchange`` on ``chain_id``.

    Raises:
        ValueError: not Polygon/Amoy, or not one of the two V2 exchanges.
    """
    if chain_id not in CHAINS:
        raise ValueError("polymarket: chain must be 137 (Polygon) or 80002 (Amoy)")
    wanted = parse_address(exchange)
    for known in EXCHANGES_V2:
        if parse_address(known) == wanted:
            return Domain("Polymarket CTF Exchange", "2", chain_id, known)
    raise ValueError("polymarket: verifyingContract is not a V2 exchange")


def clob_auth_domain(chain_id: int) -> Domain:
    """The ClobAuth domain (no verifyingContract)."""
    if chain_id not in CHAINS:
        raise ValueError("polymarket: chain must be 137 (Polygon) or 80002 (Amoy)")
    return Domain("ClobAuthDomain", "1", chain_id)


@dataclass(frozen=True, slots=True)
class OrderV2:
    """The signed V2 order struct (11.1); ``side`` 0 BUY / 1 SELL, ``timestamp`` in ms."""

    salt: int
    maker: str
    signer: str
    token_id: int
    maker_amount: int
    taker_amount: int
    side: int
    signature_type: int
    timestamp: int
    metadata: str = ZERO_BYTES32
    builder: str = ZERO_BYTES32

    def message(self) -> Mapping[str, Any]:
        """The EIP-712 message (strictly type-checked by ``ORDER_V2``)."""
        return {
            "salt": self.salt,
            "maker": self.maker,
            "signer": self.signer,
            "tokenId": self.token_id,
            "makerAmount": self.maker_amount,
            "takerAmount": self.taker_amount,
            "side": self.side,
            "signatureType": self.signature_type,
            "timestamp": self.timestamp,
            "metadata": self.metadata,
            "builder": self.builder,
        }


def order_digest(order: OrderV2, domain: Domain) -> bytes:
    """The EIP-712 digest of a V2 order."""
    return typed_data_digest(domain, ORDER_V2, order.message())


class PolymarketSigner:
    """The EOA key of a Polymarket account; build with ``from_secret``.

    ``repr`` shows the address only (``Secp256k1Key`` semantics).
    """

    __slots__ = ("_key",)

    def __init__(self, key: Secp256k1Key) -> None:
        self._key = key

    @classmethod
    def from_secret(cls, secret: Secret) -> PolymarketSigner:
        """Load from ``extra["signer_private_key"]`` (``0x`` + 64 hex digits)."""
        return cls(Secp256k1Key.from_secret(secret, field="extra_json.signer_private_key"))

    @property
    def address(self) -> str:
        """The EIP-55 address (``POLY_ADDRESS``; the order ``signer``)."""
        return self._key.address

    def sign_order(self, order: OrderV2, domain: Domain) -> str:
        """``0x`` + 65-byte hex signature over the V2 order.

        SECURITY: refuses an order whose ``signer`` is not this key's address.
        """
        if parse_address(order.signer) != parse_address(self.address):
            raise ValueError("polymarket: order signer is not this key")
        return sign_typed_data(self._key, domain, ORDER_V2, order.message()).to_hex()

    def sign_order_1271(self, order: OrderV2, domain: Domain) -> str:
        """``0x`` + the POLY_1271 signature of a deposit-wallet order (type 3).

        Which deposit wallet this key may sign for is the venue's check (the
        stored ``proxy_address``); here maker and signer must be that wallet.
        """
        if order.signature_type != POLY_1271 or parse_address(order.maker) != parse_address(
            order.signer
        ):
            raise ValueError("polymarket: a POLY_1271 order has maker = signer = deposit wallet")
        message = {
            "contents": order.message(),
            "name": "DepositWallet",
            "version": "1",
            "chainId": domain.chain_id,
            "verifyingContract": order.signer,
            "salt": ZERO_BYTES32,
        }
        sig = sign_typed_data(self._key, domain, DEPOSIT_WALLET_SIGN, message)
        contents = ORDER_V2.hash_struct(order.message())
        tail = domain.separator + contents + _ORDER_TYPE_STRING
        return sig.to_hex() + (tail + len(_ORDER_TYPE_STRING).to_bytes(2, "big")).hex()

    def sign_clob_auth(self, chain_id: int, timestamp: str, nonce: int) -> str:
        """``0x`` + 65-byte hex ClobAuth signature for this key's address."""
        message = {
            "address": self.address,
            "timestamp": timestamp,
            "nonce": nonce,
            "message": CLOB_AUTH_MESSAGE,
        }
        return sign_typed_data(self._key, clob_auth_domain(chain_id), CLOB_AUTH, message).to_hex()

    def __repr__(self) -> str:
        return f"PolymarketSigner(address={self.address}, <redacted>)"


class L2Hmac:
    """The L2 HMAC key (urlsafe-base64-decoded ``api_secret``)."""

    __slots__ = ("_mac",)

    def __init__(self, secret: Secret) -> None:
        self._mac = HmacSha256.from_urlsafe_base64_secret(secret)

    def sign(self, timestamp: str, method: str, request_path: str, body: str) -> str:
        """``POLY_SIGNATURE``: urlsafe base64 of the MAC over ``ts+METHOD+path+body``."""
        message = (timestamp + method + request_path + body).encode("utf-8")
        return base64.urlsafe_b64encode(self._mac.digest(message)).decode("ascii")

    def __repr__(self) -> str:
        return "L2Hmac(<redacted>)"


def extra_address(secret: Secret, field: str = "extra_json.proxy_address") -> bytes:
    """The 20 bytes of a public address kept in credentials ``extra`` (the funder).

    Raises:
        ValueError: not an address (the message names ``field`` only).
    """
    try:
        return parse_address(secret.expose().decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise ValueError(f"{field}: not an address") from None


def extra_bytes32(secret: Secret, field: str = "extra_json.builder") -> str:
    """A public bytes32 code kept in credentials ``extra`` (the builder), lower-case 0x-hex."""
    text = secret.expose().decode("ascii", errors="replace").lower()
    if (
        len(text) != 66
        or not text.startswith("0x")
        or not all(c in "0123456789abcdef" for c in text[2:])
    ):
        raise ValueError(f"{field}: not a bytes32 code")
    return text
