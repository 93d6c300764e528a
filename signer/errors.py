"""One error base that decides what a caller may see.

Every error the daemon reports to a caller is a ``SignerError``: a gRPC status
code name, a stable upper-case reason (DESIGN.md section 4) and a message that
is safe to show a user. SECURITY: messages never contain secret material or
echo caller-supplied secret fields; they name the field instead. Anything that
is not a ``SignerError`` reaches the caller only as INTERNAL "internal error".

This module imports nothing from grpc so that every layer can raise these.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class Reason(StrEnum):
    """Stable reason codes carried in ``google.rpc.ErrorInfo.reason``."""

    NO_TRADING_WALLET = "NO_TRADING_WALLET"
    TRADING_WALLET_NOT_READY = "TRADING_WALLET_NOT_READY"
    TRADING_WALLET_EXISTS = "TRADING_WALLET_EXISTS"
    BROWSER_SIGNATURE_REQUIRED = "BROWSER_SIGNATURE_REQUIRED"
    POLICY_DENIED = "POLICY_DENIED"
    UNKNOWN_VENUE = "UNKNOWN_VENUE"
    NO_CREDENTIALS = "NO_CREDENTIALS"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    INVALID_REQUEST = "INVALID_REQUEST"
    MODE_MISMATCH = "MODE_MISMATCH"
    RATE_LIMITED = "RATE_LIMITED"
    CONCURRENCY_LIMITED = "CONCURRENCY_LIMITED"
    AUDIT_UNAVAILABLE = "AUDIT_UNAVAILABLE"
    POLICY_SIGNATURE_INVALID = "POLICY_SIGNATURE_INVALID"
    POLICY_ROLLBACK = "POLICY_ROLLBACK"
    UNAUTHENTICATED_CALLER = "UNAUTHENTICATED_CALLER"


class SignerError(Exception):
    """Base of every error a caller may see.

    Attributes:
        code: gRPC status code name (e.g. ``"INVALID_ARGUMENT"``).
        reason: stable reason code, or None for plain statuses (UNIMPLEMENTED).
        public_message: safe to return to the caller.
        metadata: extra safe key/values for ErrorInfo (field names, rule ids).
    """

    code: str = "INTERNAL"
    reason: Reason | None = None

    def __init__(self, public_message: str, **metadata: str) -> None:
        super().__init__(public_message)
        self.public_message = public_message
        self.metadata: Mapping[str, str] = MappingProxyType(dict(metadata))


class InvalidRequestError(SignerError):
    code = "INVALID_ARGUMENT"
    reason = Reason.INVALID_REQUEST


class InvalidCredentialsError(SignerError):
    """Credential material failed validation. The message names the field only."""

    code = "INVALID_ARGUMENT"
    reason = Reason.INVALID_CREDENTIALS


class UnknownVenueError(SignerError):
    code = "INVALID_ARGUMENT"
    reason = Reason.UNKNOWN_VENUE


class NoCredentialsError(SignerError):
    code = "FAILED_PRECONDITION"
    reason = Reason.NO_CREDENTIALS


class ModeMismatchError(SignerError):
    code = "FAILED_PRECONDITION"
    reason = Reason.MODE_MISMATCH


class PolicyDeniedError(SignerError):
    code = "PERMISSION_DENIED"
    reason = Reason.POLICY_DENIED


class RateLimitedError(SignerError):
    code = "RESOURCE_EXHAUSTED"
    reason = Reason.RATE_LIMITED


class ConcurrencyLimitedError(SignerError):
    """The caller already has ``Limits.max_inflight_per_client`` calls in progress."""

    code = "RESOURCE_EXHAUSTED"
    reason = Reason.CONCURRENCY_LIMITED


class AuditUnavailableError(SignerError):
    code = "UNAVAILABLE"
    reason = Reason.AUDIT_UNAVAILABLE


class PolicySignatureInvalidError(SignerError):
    code = "PERMISSION_DENIED"
    reason = Reason.POLICY_SIGNATURE_INVALID


class PolicyRollbackError(SignerError):
    code = "FAILED_PRECONDITION"
    reason = Reason.POLICY_ROLLBACK


class UnauthenticatedCallerError(SignerError):
    """No usable caller identity (no client certificate, unmapped identity)."""

    code = "UNAUTHENTICATED"
    reason = Reason.UNAUTHENTICATED_CALLER


class ForbiddenRoleError(SignerError):
    """An authenticated caller whose role may not use this RPC."""

    code = "PERMISSION_DENIED"
    reason = Reason.UNAUTHENTICATED_CALLER


class NoTradingWalletError(SignerError):
    code = "NOT_FOUND"
    reason = Reason.NO_TRADING_WALLET


class TradingWalletNotReadyError(SignerError):
    code = "FAILED_PRECONDITION"
    reason = Reason.TRADING_WALLET_NOT_READY


class TradingWalletExistsError(SignerError):
    code = "ALREADY_EXISTS"
    reason = Reason.TRADING_WALLET_EXISTS


class BrowserSignatureRequiredError(SignerError):
    code = "FAILED_PRECONDITION"
    reason = Reason.BROWSER_SIGNATURE_REQUIRED


class NotImplementedYetError(SignerError):
    """An RPC declared in the contract that this build does not serve yet."""

    code = "UNIMPLEMENTED"
    reason = None


class StorageError(Exception):
    """The store failed (I/O, corruption). Never shown to callers in detail."""


class UnsealError(Exception):
    """A sealed record failed authentication (tampered, swapped or wrong key)."""


class AuditLogError(Exception):
    """The audit log cannot be opened, or its tail fails verification at start-up.

    The daemon does not start (fail closed); the message names the problem
    (kind and seq, never record contents beyond that).
    """


class StateError(Exception):
    """The state directory cannot be used as it is: held by another process,
    mid-rotation, or sealed under another master key.

    The message says what to do; it names key ids (public), never key bytes.
    """


class BackupError(Exception):
    """A backup cannot be written, or a backup file is refused (format,
    integrity, master key). The message never echoes file or key bytes."""
