"""EIP-4361 (Sign-In with Ethereum) link challenges and their EIP-191 verification.

The daemon writes the whole message itself and stores its SHA-256; a link is
accepted only for that exact message, so nothing in it (address, chain, nonce,
expiry, the principal it is bound to) can be altered by the front end.
"""

from __future__ import annotations

import datetime as dt
import secrets
import string

from signer.schemes.secp256k1 import eip191_personal_digest, recover_address

_NONCE_ALPHABET = string.ascii_letters + string.digits


def new_nonce() -> str:
    """A 24-character alphanumeric nonce (EIP-4361 asks for at least 8)."""
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(24))


def _iso(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_message(
    *,
    domain: str,
    address: str,
    chain_id: int,
    nonce: str,
    issued_at: int,
    expires_at: int,
    client_id: str,
    mode: str,
) -> str:
    """The EIP-4361 message that links ``address`` to (client_id, mode)."""
    return (
        f"{domain} wants you to sign in with your Ethereum account:\n"
        f"{address}\n"
        "\n"
        f"Link this wallet to your Sequence account ({mode}). Funds can be withdrawn "
        "from your Sequence trading wallet only to wallets you link.\n"
        "\n"
        f"URI: https://{domain}\n"
        "Version: 1\n"
        f"Chain ID: {chain_id}\n"
        f"Nonce: {nonce}\n"
        f"Issued At: {_iso(issued_at)}\n"
        f"Expiration Time: {_iso(expires_at)}\n"
        "Resources:\n"
        f"- urn:sequence-signer:principal:{mode}:{client_id}"
    )


def signer_of(message: str, signature: bytes) -> str | None:
    """The EIP-55 address that signed ``message`` with ``personal_sign``, or None."""
    if len(signature) != 65:
        return None
    try:
        return recover_address(eip191_personal_digest(message.encode("utf-8")), signature)
    except ValueError:
        return None
