"""The floor: a bare grpc.aio server with the daemon's SigningService message types.

It serves ``/sequence.signer.v1.SigningService/SignVenueRequest`` and
``SignVenueRequestStream`` with the same request and response classes as the
daemon, so gRPC parses the same request bytes and serializes a response of
the same size: the canned response is a real daemon response (``--response``,
written by ``bench/run.py`` from one call to the daemon). The handler does
nothing else. Server options (message size limits, maximum concurrent RPCs)
are the daemon's defaults, and a health service answers readiness checks.

Run: ``python -m bench.echo_server --uds PATH --tcp 127.0.0.1:PORT --response FILE``.
Stops on SIGTERM / SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from signer._proto.sequence.signer.v1 import signing_service_pb2 as pb
from signer.config import Limits

SERVICE = "sequence.signer.v1.SigningService"


def handler(canned: pb.SignVenueRequestResponse) -> grpc.GenericRpcHandler:
    async def sign(
        request: pb.SignVenueRequestRequest, context: Any
    ) -> pb.SignVenueRequestResponse:
        return canned

    async def stream(
        requests: AsyncIterator[pb.SignVenueRequestStreamRequest], context: Any
    ) -> AsyncIterator[pb.SignVenueRequestStreamResponse]:
        async for item in requests:
            yield pb.SignVenueRequestStreamResponse(id=item.id, response=canned)

    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "SignVenueRequest": grpc.unary_unary_rpc_method_handler(
                sign,
                request_deserializer=pb.SignVenueRequestRequest.FromString,
                response_serializer=pb.SignVenueRequestResponse.SerializeToString,
            ),
            "SignVenueRequestStream": grpc.stream_stream_rpc_method_handler(
                stream,
                request_deserializer=pb.SignVenueRequestStreamRequest.FromString,
                response_serializer=pb.SignVenueRequestStreamResponse.SerializeToString,
            ),
        },
    )


async def serve(uds: Path, tcp: str, response: bytes) -> None:
    limits = Limits()
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", limits.max_message_bytes),
            ("grpc.max_send_message_length", limits.max_message_bytes),
            ("grpc.so_reuseport", 0),
        ],
        maximum_concurrent_rpcs=limits.max_concurrent_rpcs,
    )
    server.add_generic_rpc_handlers((handler(pb.SignVenueRequestResponse.FromString(response)),))
    status = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(status, server)
    with contextlib.suppress(FileNotFoundError):
        uds.unlink()
    server.add_insecure_port(f"unix:{uds}")
    server.add_insecure_port(tcp)
    await server.start()
    await status.set("", health_pb2.HealthCheckResponse.SERVING)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    await done.wait()
    await server.stop(1)
    with contextlib.suppress(FileNotFoundError):
        uds.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--uds", type=Path, required=True)
    parser.add_argument("--tcp", required=True, help="127.0.0.1:PORT")
    parser.add_argument("--response", type=Path, required=True, help="serialized response")
    args = parser.parse_args()
    if not args.tcp.startswith("127.0.0.1:"):
        parser.error("--tcp must be a loopback address")
    asyncio.run(serve(args.uds, args.tcp, args.response.read_bytes()))


if __name__ == "__main__":
    main()
