"""EIP-1559 (type 2) transactions: validate, build, sign, and decode back.

``Eip1559Fields`` is the complete content of a transaction; building it
validates every field, so an instance is always encodable. The access list is
always empty (there is no field for it) and contract creation is impossible
(``to`` is required and exactly 20 bytes).

Signing takes a callable rather than a key so that the key object (owned by
``signer/schemes/``) never has to enter this module:
``sign_digest(digest32) -> (v, r, s)`` where ``v`` is the y-parity (0 or 1;
27 or 28 are accepted and mapped to 0 or 1) and ``r``, ``s`` are integers.

SECURITY:
- The digest is computed here from validated fields only; this module never
  signs a digest handed to it (DESIGN.md invariant 1).
- After signing, the sender is recovered from the signature and, when
  ``expected_from`` is given, compared with it before the transaction is
  returned. A wrong key, a faulty signer or a high-s (malleable) signature is
  an internal error, never a returned transaction.
- ``decode_signed`` is strict (canonical RLP, exactly 12 fields, empty access
  list, low-s) so that verification reads the same transaction nodes execute.
- This module does not decide whether a transaction is allowed (chain, mode,
  recipient, gas caps): the policy does, before ``sign`` is called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import coincurve

from signer.errors import InvalidRequestError
from signer.evm import rlp
from signer.evm.address import (
    address_from_public_key,
    checksum_address,
    keccak256,
    to_checksum,
)

TX_TYPE = 0x02
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
UINT64_MAX = 2**64 - 1
UINT256_MAX = 2**256 - 1
MIN_GAS_LIMIT = 21_000  # intrinsic gas of any transaction; less can never be mined
MAX_DATA_BYTES = 128 * 1024  # geth's pool limit on a whole transaction
_FIELD_COUNT_SIGNED = 12

SignDigest = Callable[[bytes], tuple[int, int, int]]


class TransactionSigningError(Exception):
    """The signing callable misbehaved. Internal: callers only see INTERNAL."""


def _check_uint(name: str, value: object, low: int, high: int) -> None:
    # SECURITY: type() is int, not isinstance: bool is refused, not read as 0/1.
    if type(value) is not int or not low <= value <= high:
        raise InvalidRequestError(f"tx.{name}: must be an integer in [{low}, {high}]", field=name)


@dataclass(frozen=True, slots=True)
class Eip1559Fields:
    """Every field of an unsigned EIP-1559 transaction (access list always empty).

    Attributes:
        chain_id: EIP-155 chain id, 1 to 2**64-1 (resolve it with ``chains`` first).
        nonce: 0 to 2**64-2 (EIP-2681).
        max_priority_fee_per_gas: wei, at most ``max_fee_per_gas``.
        max_fee_per_gas: wei, below 2**256.
        gas_limit: 21000 to 2**64-1.
        to: 20 raw address bytes (contract creation is not supported).
        value: wei sent, below 2**256.
        data: calldata, at most 128 KiB.
    """

    chain_id: int
    nonce: int
    max_priority_fee_per_gas: int
    max_fee_per_gas: int
    gas_limit: int
    to: bytes
    value: int
    data: bytes

    def __post_init__(self) -> None:
        _check_uint("chain_id", self.chain_id, 1, UINT64_MAX)
        _check_uint("nonce", self.nonce, 0, UINT64_MAX - 1)
        _check_uint("max_fee_per_gas", self.max_fee_per_gas, 0, UINT256_MAX)
        _check_uint(
            "max_priority_fee_per_gas", self.max_priority_fee_per_gas, 0, self.max_fee_per_gas
        )
        _check_uint("gas_limit", self.gas_limit, MIN_GAS_LIMIT, UINT64_MAX)
        _check_uint("value", self.value, 0, UINT256_MAX)
        if type(self.to) is not bytes or len(self.to) != 20:
            raise InvalidRequestError("tx.to: must be a 20-byte address", field="to")
        if type(self.data) is not bytes or len(self.data) > MAX_DATA_BYTES:
            raise InvalidRequestError("tx.data: must be at most 128 KiB of bytes", field="data")

    @property
    def to_address(self) -> str:
        """``to`` in EIP-55 form."""
        return to_checksum(self.to)

    def _rlp_items(self) -> list[rlp.RlpItem]:
        u = rlp.encode_uint
        return [
            u(self.chain_id),
            u(self.nonce),
            u(self.max_priority_fee_per_gas),
            u(self.max_fee_per_gas),
            u(self.gas_limit),
            self.to,
            u(self.value),
            self.data,
            [],  # access list: always empty
        ]

    def unsigned_payload(self) -> bytes:
        """``0x02 || rlp([chain_id, nonce, tip, max_fee, gas, to, value, data, []])``."""
        return bytes([TX_TYPE]) + rlp.encode(self._rlp_items())

    def signing_hash(self) -> bytes:
        """The 32-byte digest that is signed: keccak256 of ``unsigned_payload()``."""
        return keccak256(self.unsigned_payload())


@dataclass(frozen=True, slots=True)
class SignedTransaction:
    """A signed type-2 transaction, ready for ``eth_sendRawTransaction``.

    Attributes:
        fields: what was signed.
        raw: ``0x02 || rlp([... fields ..., [], y_parity, r, s])``.
        tx_hash: ``0x`` + hex keccak256 of ``raw``.
        from_address: EIP-55 sender, recovered from the signature.
        y_parity, r, s: the signature.
    """

    fields: Eip1559Fields
    raw: bytes
    tx_hash: str
    from_address: str
    y_parity: int
    r: int
    s: int

    @property
    def raw_hex(self) -> str:
        """``raw`` as ``0x``-prefixed lower-case hex."""
        return "0x" + self.raw.hex()


class DecodedTransaction(NamedTuple):
    """What ``decode_signed`` reads back: ``(fields, y_parity, r, s)``."""

    fields: Eip1559Fields
    y_parity: int
    r: int
    s: int


def _valid_signature(y_parity: int, r: int, s: int) -> bool:
    # EIP-2: s in the lower half of the curve order, so signatures are not malleable.
    return y_parity in (0, 1) and 0 < r < SECP256K1_N and 0 < s <= SECP256K1_N // 2


def _recover(digest: bytes, y_parity: int, r: int, s: int) -> str:
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([y_parity])
    public = coincurve.PublicKey.from_signature_and_message(signature, digest, hasher=None)
    return to_checksum(address_from_public_key(public.format(compressed=False)[1:]))


def _encode_signed(fields: Eip1559Fields, y_parity: int, r: int, s: int) -> bytes:
    u = rlp.encode_uint
    items = [*fields._rlp_items(), u(y_parity), u(r), u(s)]
    return bytes([TX_TYPE]) + rlp.encode(items)


def sign(
    fields: Eip1559Fields, sign_digest: SignDigest, *, expected_from: str | None = None
) -> SignedTransaction:
    """Sign ``fields`` with ``sign_digest`` and return the complete transaction.

    Args:
        fields: validated transaction fields.
        sign_digest: returns ``(v, r, s)`` for a 32-byte digest; ``v`` is the
            y-parity 0/1 (27/28 accepted).
        expected_from: the signing key's address; when given, the recovered
            sender must equal it.

    Raises:
        TransactionSigningError: malformed or high-s signature, or a sender
            other than ``expected_from``.
    """
    digest = fields.signing_hash()
    result = sign_digest(digest)
    if type(result) is not tuple or len(result) != 3 or any(type(x) is not int for x in result):
        raise TransactionSigningError("signer returned something other than (v, r, s)")
    v, r, s = result
    y_parity = v - 27 if v in (27, 28) else v
    if not _valid_signature(y_parity, r, s):
        raise TransactionSigningError("signer returned an invalid or high-s signature")
    try:
        sender = _recover(digest, y_parity, r, s)
    except ValueError as exc:
        raise TransactionSigningError("signature does not recover a public key") from exc
    if expected_from is not None and sender != checksum_address(expected_from):
        raise TransactionSigningError("signature was made by a different key")
    raw = _encode_signed(fields, y_parity, r, s)
    return SignedTransaction(fields, raw, "0x" + keccak256(raw).hex(), sender, y_parity, r, s)


def _refuse(reason: str) -> InvalidRequestError:
    return InvalidRequestError(f"raw_transaction: {reason}", field="raw_transaction")


def decode_signed(raw: bytes) -> DecodedTransaction:
    """Strictly decode a signed type-2 transaction (for verification).

    Raises:
        InvalidRequestError: not exactly a canonical, low-s EIP-1559
            transaction with an empty access list and a 20-byte ``to``.
    """
    if type(raw) is not bytes or not raw or raw[0] != TX_TYPE:
        raise _refuse("not an EIP-1559 (type 2) transaction")
    try:
        items = rlp.decode(raw[1:])
    except rlp.RlpDecodingError as exc:
        raise _refuse(str(exc)) from None
    if type(items) is not list or len(items) != _FIELD_COUNT_SIGNED:
        raise _refuse("expected exactly 12 fields")
    chain_id, nonce, tip, max_fee, gas, to, value, data, access, v, r, s = items
    if access != [] or type(to) is not bytes or type(data) is not bytes:
        raise _refuse("bad access list, to or data")
    uint = rlp.decode_uint
    try:
        fields = Eip1559Fields(
            chain_id=uint(chain_id, max_bytes=8),
            nonce=uint(nonce, max_bytes=8),
            max_priority_fee_per_gas=uint(tip),
            max_fee_per_gas=uint(max_fee),
            gas_limit=uint(gas, max_bytes=8),
            to=to,
            value=uint(value),
            data=data,
        )
        y_parity, r_int, s_int = uint(v, max_bytes=1), uint(r), uint(s)
    except rlp.RlpDecodingError as exc:
        raise _refuse(str(exc)) from None
    except InvalidRequestError as exc:  # a field out of range: report it under one name
        raise _refuse(exc.public_message) from None
    if not _valid_signature(y_parity, r_int, s_int):
        raise _refuse("invalid or high-s signature")
    if _encode_signed(fields, y_parity, r_int, s_int) != raw:  # canonical decode => equal
        raise _refuse("not canonical")
    return DecodedTransaction(fields, y_parity, r_int, s_int)


def recover_sender(decoded: DecodedTransaction) -> str:
    """The EIP-55 address that signed ``decoded``.

    Raises:
        InvalidRequestError: the signature recovers no public key.
    """
    digest = decoded.fields.signing_hash()
    try:
        return _recover(digest, decoded.y_parity, decoded.r, decoded.s)
    except ValueError:
        raise _refuse("signature does not recover a public key") from None
