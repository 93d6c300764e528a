"""Method handlers built from the service descriptors, with a deserializer that never raises.

grpc's generated ``add_*Servicer_to_server`` use ``Message.FromString`` as the
deserializer; a malformed message (e.g. a string field that is not UTF-8)
then ends the call as UNKNOWN with the parser's text. Here a message that
does not parse becomes the ``UNDECODABLE`` sentinel, which the servicers turn
into INVALID_ARGUMENT / INVALID_REQUEST through the one status mapping.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import DecodeError, Message
from google.protobuf.message_factory import GetMessageClass

from signer.errors import InvalidRequestError


class _Undecodable:
    def __repr__(self) -> str:
        return "UNDECODABLE"


UNDECODABLE: Any = _Undecodable()

_FACTORIES: dict[tuple[bool, bool], Callable[..., grpc.RpcMethodHandler[Any, Any]]] = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}


def check_decoded(request: object) -> None:
    """Raise INVALID_REQUEST for a message that did not parse."""
    if request is UNDECODABLE:
        raise InvalidRequestError(
            "request is not a well-formed message (string fields must be UTF-8)"
        )


def _safe(parse: Callable[[bytes], Message]) -> Callable[[bytes], Message]:
    def deserialize(data: bytes) -> Message:
        try:
            return parse(data)
        except (DecodeError, ValueError, RuntimeError):
            return UNDECODABLE  # type: ignore[no-any-return]

    return deserialize


def generic_handler(service: ServiceDescriptor, servicer: object) -> grpc.GenericRpcHandler:
    """A handler for every method of ``service``, served by ``servicer``."""
    handlers = {}
    for method in service.methods:
        request_cls = GetMessageClass(method.input_type)
        response_cls = GetMessageClass(method.output_type)
        factory = _FACTORIES[(method.client_streaming, method.server_streaming)]
        handlers[method.name] = factory(
            getattr(servicer, method.name),
            request_deserializer=_safe(request_cls.FromString),
            response_serializer=response_cls.SerializeToString,
        )
    return grpc.method_handlers_generic_handler(service.full_name, handlers)
