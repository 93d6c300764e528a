"""The one place where errors become gRPC statuses.

A ``SignerError`` becomes its status code, its safe public message and a
``google.rpc.Status`` (trailer ``grpc-status-details-bin``) with one
``google.rpc.ErrorInfo`` detail: reason, domain ``signer.sequence``, safe metadata.
Anything else becomes INTERNAL "internal error" with an incident id; the
exception type and traceback are logged locally, never its message.
SECURITY: exception messages from libraries may contain input fragments.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from signer.errors import SignerError

log = logging.getLogger(__name__)

DOMAIN = "signer.sequence"
DETAILS_KEY = "grpc-status-details-bin"


def status_for(exc: SignerError) -> tuple[grpc.StatusCode, str, tuple[tuple[str, bytes], ...]]:
    """(code, message, trailing metadata) for a SignerError."""
    code = grpc.StatusCode[exc.code]
    status = status_pb2.Status(code=code_pb2.Code.Value(exc.code), message=exc.public_message)
    if exc.reason is not None:
        info = error_details_pb2.ErrorInfo(
            reason=exc.reason.value, domain=DOMAIN, metadata=dict(exc.metadata)
        )
        detail = any_pb2.Any()
        detail.Pack(info)
        status.details.append(detail)
    return code, exc.public_message, ((DETAILS_KEY, status.SerializeToString()),)


def internal_error(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """Log an unexpected exception without its message; return the INTERNAL status."""
    incident = uuid.uuid4().hex[:12]
    frames = traceback.extract_tb(exc.__traceback__)
    where = " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}" for f in reversed(frames))
    log.error("internal error %s: %s at %s", incident, type(exc).__name__, where)
    return grpc.StatusCode.INTERNAL, f"internal error (incident {incident})"


def error_info(rpc_error: grpc.RpcError) -> error_details_pb2.ErrorInfo | None:
    """Client side helper: the ErrorInfo detail of a failed call, if any."""
    trailers: Any = rpc_error.trailing_metadata() or ()
    return error_info_in(trailers)


def error_info_in(trailers: Any) -> error_details_pb2.ErrorInfo | None:
    """The ErrorInfo detail in trailing metadata (``status_for``'s trailer), if any."""
    for key, value in trailers or ():
        if key == DETAILS_KEY and isinstance(value, bytes):
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return info
    return None
