"""Per-caller cap on in-flight RPCs: a flood from one client cannot starve another.

Invariants (tests/unit/server/test_inflight.py; a real daemon with two mTLS
clients in tests/integration/test_inflight.py):

1. Each caller identity has at most ``Limits.max_inflight_per_client`` RPCs in
   progress, counted across all listeners. One more is refused at once, before
   its handler runs, with RESOURCE_EXHAUSTED / CONCURRENCY_LIMITED. Nothing is
   queued: a queue would still hold memory and the listener's global slots.
2. A streaming RPC (either direction) holds one slot from its start until it
   ends; a bidirectional stream is processed one item at a time
   (``SigningServicer.SignVenueRequestStream``), so its in-flight items are
   bounded by the stream itself.
3. A slot is always given back: on return, error, abort and cancellation.
4. The identity is ``CallerResolver``'s: a Unix socket (or vsock, or the
   dev-only TCP port) is one identity, a TLS client certificate is another per
   common name. Calls whose caller cannot be resolved (an unmapped certificate)
   share one bucket per listener; the servicer refuses them as before.

SECURITY: the listener-wide ``max_concurrent_rpcs`` still bounds the total, so
the per-client cap must be lower for the guarantee to hold (the config loader
refuses a cap above it). The kernel does not tell gRPC which process is on the
other end of a Unix socket, so every front-end process on one socket shares a
budget; give separately trusted clients their own socket or certificate.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeAlias

import grpc

from signer.errors import ConcurrencyLimitedError, SignerError
from signer.server.auth import CallerResolver
from signer.server.status import status_for

Ctx = grpc.aio.ServicerContext[Any, Any]
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"


class InflightLimiter:
    """Counts in-flight calls per identity (one event loop, so no lock is needed)."""

    def __init__(self, cap: int) -> None:
        if cap < 1:
            raise ValueError("the per-client in-flight cap must be at least 1")
        self.cap = cap
        self._counts: dict[str, int] = {}

    def in_flight(self, identity: str) -> int:
        return self._counts.get(identity, 0)

    def try_acquire(self, identity: str) -> bool:
        count = self._counts.get(identity, 0)
        if count >= self.cap:
            return False
        self._counts[identity] = count + 1
        return True

    def release(self, identity: str) -> None:
        count = self._counts[identity] - 1
        if count:
            self._counts[identity] = count
        else:
            del self._counts[identity]  # idle identities take no memory


class PerClientInflight(grpc.aio.ServerInterceptor):
    """Wraps every method handler of one listener with the shared limiter."""

    def __init__(self, limiter: InflightLimiter, resolver: CallerResolver, listener: str) -> None:
        self._limiter = limiter
        self._resolver = resolver
        self._unresolved = f"{listener}:unresolved"
        self._wrapped: dict[str, Handler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        method = handler_call_details.method
        wrapped = self._wrapped.get(method)
        if wrapped is None:
            handler = await continuation(handler_call_details)
            if handler is None:  # unknown method: not cached, so random names cost nothing
                return handler
            wrapped = self._wrapped[method] = _wrap(handler, self)
        return wrapped

    def _identity(self, context: Ctx) -> str:
        try:
            return self._resolver.resolve(context).identity
        except SignerError:
            return self._unresolved

    async def enter(self, context: Ctx) -> str:
        """Take a slot for the caller of ``context`` (aborting if none is free)."""
        identity = self._identity(context)
        if not self._limiter.try_acquire(identity):
            error = ConcurrencyLimitedError(
                f"too many calls in progress for this client (at most {self._limiter.cap})"
            )
            code, message, trailers = status_for(error)
            await context.abort(code, message, trailers)  # raises
        return identity

    def leave(self, identity: str) -> None:
        self._limiter.release(identity)


def _gate(behavior: Callable[..., Any], gate: PerClientInflight) -> Callable[..., Any]:
    # Plain try/finally rather than a context manager: this runs on every call.
    if inspect.isasyncgenfunction(behavior):

        async def stream(request: Any, context: Ctx) -> AsyncIterator[Any]:
            identity = await gate.enter(context)
            try:
                async for item in behavior(request, context):
                    yield item
            finally:
                gate.leave(identity)

        return stream
    if inspect.iscoroutinefunction(behavior):

        async def unary(request: Any, context: Ctx) -> Any:
            identity = await gate.enter(context)
            try:
                return await behavior(request, context)
            finally:
                gate.leave(identity)

        return unary
    # SECURITY: every handler of this daemon is async (servicers, health, reflection);
    # a synchronous one would bypass the cap, so it is refused rather than served.
    raise TypeError(f"synchronous handler {getattr(behavior, '__name__', '?')} is not supported")


def _wrap(handler: Handler, gate: PerClientInflight) -> Handler:
    kinds: dict[str, Callable[..., Handler]] = {
        "unary_unary": grpc.unary_unary_rpc_method_handler,
        "unary_stream": grpc.unary_stream_rpc_method_handler,
        "stream_unary": grpc.stream_unary_rpc_method_handler,
        "stream_stream": grpc.stream_stream_rpc_method_handler,
    }
    for attr, factory in kinds.items():
        behavior = getattr(handler, attr)
        if behavior is not None:
            return factory(
                _gate(behavior, gate),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
    raise TypeError("a method handler without a behavior")
