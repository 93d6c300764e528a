"""Protobuf <-> domain conversion. No logic beyond conversion and field bounds."""

from __future__ import annotations

from google.protobuf.message import Message

from signer._proto.sequence.signer.v1 import common_pb2, signing_service_pb2
from signer.domain import HttpRequest, Mode, Principal, SignedRequest, SignRequest
from signer.errors import InvalidRequestError

_MODES = {common_pb2.MODE_LIVE: Mode.LIVE, common_pb2.MODE_SANDBOX: Mode.SANDBOX}
MAX_HEADERS = 32


def principal(msg: Message) -> Principal:
    """The ``principal`` field of a request; refused if absent or mode unspecified."""
    if not msg.HasField("principal"):
        raise InvalidRequestError("principal is required", field="principal")
    p = msg.principal  # type: ignore[attr-defined]
    mode = _MODES.get(p.mode)
    if mode is None:
        raise InvalidRequestError(
            "principal.mode must be MODE_LIVE or MODE_SANDBOX", field="principal.mode"
        )
    return Principal(p.client_id, mode)


def sign_request(msg: signing_service_pb2.SignVenueRequestRequest) -> SignRequest:
    if not msg.HasField("request"):
        raise InvalidRequestError("request is required", field="request")
    r = msg.request
    if len(r.headers) > MAX_HEADERS:
        raise InvalidRequestError(f"at most {MAX_HEADERS} headers", field="request.headers")
    http = HttpRequest(
        method=r.method,
        path=r.path,
        query=r.query,
        body=bytes(r.body),
        headers=tuple(sorted(r.headers.items())),
        host=r.host,
    )
    return SignRequest(principal(msg), msg.venue, http, msg.wallet_id)


def signed_response(signed: SignedRequest) -> signing_service_pb2.SignVenueRequestResponse:
    r = signed.request
    return signing_service_pb2.SignVenueRequestResponse(
        request=common_pb2.HttpRequest(
            method=r.method,
            path=r.path,
            query=r.query,
            body=r.body,
            headers=dict(r.headers),
            host=r.host,
        ),
        headers=dict(signed.auth_headers),
        audit_id=signed.audit_id,
    )
