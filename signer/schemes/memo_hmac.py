"""HMAC-SHA256 over ``timestamp#memo#payload`` (BitMart ``X-BM-SIGN``, VENUES.md section 6).

BitMart mixes the API memo into the signed string. The memo is stored as the
credential's ``passphrase`` (a ``Secret``) and only ``signer/schemes/`` may
expose secrets, so the memo is read here, once, when the signer is built.

SECURITY: like ``HmacSha256``, the signer has a redacted ``repr`` and refuses
pickling; nothing here returns the key or the memo. The venue module builds
the timestamp and the payload (the exact bytes it sends) itself.
"""

from __future__ import annotations

from signer.errors import InvalidCredentialsError
from signer.keystore.handles import Secret
from signer.schemes.hmac import HmacSha256


class MemoHmacSha256(HmacSha256):
    """``hex(HMAC-SHA256(secret, timestamp || "#" || memo || "#" || payload))``.

    Args:
        secret: the API secret (HMAC key, used as stored).
        memo: the API memo; must not be empty.

    Raises:
        InvalidCredentialsError: empty secret or memo.
    """

    __slots__ = ("_memo",)

    def __init__(self, secret: Secret, memo: Secret) -> None:
        super().__init__(secret)
        raw = memo.expose()
        if not raw:
            raise InvalidCredentialsError(
                "passphrase: the API memo must not be empty", field="passphrase"
            )
        self._memo = raw

    def sign_hex(self, timestamp: str, payload: bytes) -> str:
        """Lower-case hex MAC of ``timestamp#memo#payload`` (``timestamp`` is ASCII digits)."""
        return self.hex(timestamp.encode("ascii") + b"#" + self._memo + b"#" + payload)
