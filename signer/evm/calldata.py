"""ERC-20 calldata: encode, and strictly decode, three known calls.

Known calls (selector = first 4 bytes of keccak256 of the signature):

- ``transfer(address,uint256)``              ``0xa9059cbb``, 68 bytes
- ``transferFrom(address,address,uint256)``  ``0x23b872dd``, 100 bytes
- ``approve(address,uint256)``               ``0x095ea7b3``, 68 bytes

``decode_erc20_call`` returns one of three frozen results, or ``UnknownCall``
with a reason. It never raises on untrusted bytes and never guesses.

SECURITY: decoding is exact. The length must be exactly 4 + 32 * arguments
(no trailing bytes: extra data after the arguments is ignored by Solidity but
could carry a second meaning for another reader), and every address word must
have its 12 high bytes zero (Solidity would silently drop them, so a
non-canonical word could display one address and pay another). Anything not
on the allowlist, including calls with a known selector but a bad shape, is
``UnknownCall``, which the policy denies (DESIGN.md invariants 2 and 4).
``approve`` is decodable so that the policy can refuse it, or admit it only
for an allowlisted spender; decoding is not permission.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from signer.evm.address import parse_address, to_checksum

TRANSFER_SELECTOR = bytes.fromhex("a9059cbb")
TRANSFER_FROM_SELECTOR = bytes.fromhex("23b872dd")
APPROVE_SELECTOR = bytes.fromhex("095ea7b3")

_WORD = 32
_UINT256_LIMIT = 2**256

UnknownReason = Literal["no_selector", "unknown_selector", "bad_length", "non_canonical_address"]


@dataclass(frozen=True, slots=True)
class Erc20Transfer:
    """``transfer(to, amount)``: move ``amount`` base units from the signer to ``to``."""

    to: str
    amount: int


@dataclass(frozen=True, slots=True)
class Erc20TransferFrom:
    """``transferFrom(owner, to, amount)``: spend an allowance ``owner`` granted."""

    owner: str
    to: str
    amount: int


@dataclass(frozen=True, slots=True)
class Erc20Approve:
    """``approve(spender, amount)``: let ``spender`` move up to ``amount``."""

    spender: str
    amount: int


@dataclass(frozen=True, slots=True)
class UnknownCall:
    """Calldata that is not exactly one of the known calls.

    Attributes:
        selector: lower-case hex of the first 4 bytes, or None if shorter.
        length: total calldata length in bytes.
        reason: why it was not decoded.
    """

    selector: str | None
    length: int
    reason: UnknownReason


DecodedCall = Erc20Transfer | Erc20TransferFrom | Erc20Approve | UnknownCall

_ARITY = {TRANSFER_SELECTOR: 2, TRANSFER_FROM_SELECTOR: 3, APPROVE_SELECTOR: 2}


def _address_word(address: str, field: str) -> bytes:
    return bytes(12) + parse_address(address, field=field)


def _uint_word(amount: int) -> bytes:
    if type(amount) is not int or not 0 <= amount < _UINT256_LIMIT:
        raise ValueError("amount must be an int in [0, 2**256)")
    return amount.to_bytes(_WORD, "big")


def encode_transfer(to: str, amount: int) -> bytes:
    """Calldata for ``transfer(to, amount)``; ``to`` is parsed strictly."""
    return TRANSFER_SELECTOR + _address_word(to, "to") + _uint_word(amount)


def encode_transfer_from(owner: str, to: str, amount: int) -> bytes:
    """Calldata for ``transferFrom(owner, to, amount)``."""
    return (
        TRANSFER_FROM_SELECTOR
        + _address_word(owner, "from")
        + _address_word(to, "to")
        + _uint_word(amount)
    )


def encode_approve(spender: str, amount: int) -> bytes:
    """Calldata for ``approve(spender, amount)``."""
    return APPROVE_SELECTOR + _address_word(spender, "spender") + _uint_word(amount)


def decode_erc20_call(data: bytes) -> DecodedCall:
    """Decode ``data`` as exactly one known ERC-20 call, else ``UnknownCall``.

    Args:
        data: the transaction's calldata.

    Raises:
        TypeError: ``data`` is not ``bytes`` (a programming error, not input).
    """
    if type(data) is not bytes:
        raise TypeError("calldata must be bytes")
    if len(data) < 4:
        return UnknownCall(None, len(data), "no_selector")
    selector = data[:4]
    arity = _ARITY.get(selector)
    if arity is None:
        return UnknownCall(selector.hex(), len(data), "unknown_selector")
    if len(data) != 4 + _WORD * arity:
        return UnknownCall(selector.hex(), len(data), "bad_length")
    words = [data[4 + _WORD * i : 4 + _WORD * (i + 1)] for i in range(arity)]
    addresses = words[:-1]
    if any(word[:12] != bytes(12) for word in addresses):
        return UnknownCall(selector.hex(), len(data), "non_canonical_address")
    first, *rest = (to_checksum(word[12:]) for word in addresses)
    amount = int.from_bytes(words[-1], "big")
    if selector == TRANSFER_SELECTOR:
        return Erc20Transfer(to=first, amount=amount)
    if selector == APPROVE_SELECTOR:
        return Erc20Approve(spender=first, amount=amount)
    return Erc20TransferFrom(owner=first, to=rest[0], amount=amount)
