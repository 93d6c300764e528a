"""The one status mapping: codes, ErrorInfo reasons, and no leaks for unexpected errors."""

from __future__ import annotations

import logging

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from signer import errors
from signer.server.status import DETAILS_KEY, internal_error, status_for


@pytest.mark.parametrize(
    ("exc", "code", "reason"),
    [
        (errors.PolicyDeniedError("no"), grpc.StatusCode.PERMISSION_DENIED, "POLICY_DENIED"),
        (errors.InvalidCredentialsError("api_secret: bad", field="api_secret"), grpc.StatusCode.INVALID_ARGUMENT, "INVALID_CREDENTIALS"),
        (errors.NoTradingWalletError("none"), grpc.StatusCode.NOT_FOUND, "NO_TRADING_WALLET"),
        (errors.TradingWalletExistsError("x"), grpc.StatusCode.ALREADY_EXISTS, "TRADING_WALLET_EXISTS"),
        (errors.AuditUnavailableError("x"), grpc.StatusCode.UNAVAILABLE, "AUDIT_UNAVAILABLE"),
        (errors.RateLimitedError("x"), grpc.StatusCode.RESOURCE_EXHAUSTED, "RATE_LIMITED"),
        (errors.ConcurrencyLimitedError("x"), grpc.StatusCode.RESOURCE_EXHAUSTED, "CONCURRENCY_LIMITED"),
        (errors.UnauthenticatedCallerError("x"), grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED_CALLER"),
        (errors.ForbiddenRoleError("x"), grpc.StatusCode.PERMISSION_DENIED, "UNAUTHENTICATED_CALLER"),
        (errors.BrowserSignatureRequiredError("x"), grpc.StatusCode.FAILED_PRECONDITION, "BROWSER_SIGNATURE_REQUIRED"),
    ],
)  # fmt: skip
def test_signer_errors_map_to_code_and_reason(
    exc: errors.SignerError, code: grpc.StatusCode, reason: str
) -> None:
    got_code, message, trailers = status_for(exc)
    assert got_code == code
    assert message == exc.public_message
    ((key, value),) = trailers
    assert key == DETAILS_KEY
    status = status_pb2.Status.FromString(value)
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    assert info.reason == reason
    assert dict(info.metadata) == dict(exc.metadata)


def test_every_reason_has_an_error_class() -> None:
    classes = [
        c
        for c in vars(errors).values()
        if isinstance(c, type) and issubclass(c, errors.SignerError)
    ]
    covered = {c.reason for c in classes if c.reason is not None}
    assert covered == set(errors.Reason)


def test_unexpected_errors_do_not_leak_their_message(caplog: pytest.LogCaptureFixture) -> None:
    secret = "SECRET-in-a-library-message"
    try:
        raise ValueError(secret)
    except ValueError as exc:
        with caplog.at_level(logging.ERROR):
            code, message = internal_error(exc)
    assert code == grpc.StatusCode.INTERNAL
    assert secret not in message
    assert secret not in caplog.text
    assert "ValueError" in caplog.text
