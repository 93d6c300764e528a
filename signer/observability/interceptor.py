"""A grpc.aio server interceptor that times calls and reports how they ended.

It wraps the handler of every method the server registered (an unknown method
has no handler and is never wrapped, so method names used as labels are
bounded), sets ``hooks.CURRENT_RPC`` for the call, and tells the observer when
the call ends with which status. For a request stream (``SignVenueRequestStream``)
the timing restarts with each item, and each answered item is reported on its
own: its latency, and its in-band error when nothing was decided for it.

Installed only when observability is on (``signer.observability.runtime``);
otherwise the server has no interceptor and pays nothing.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc

from signer.observability.hooks import CURRENT_RPC, RpcTiming
from signer.observability.observer import DECISION_RPCS, Observer
from signer.server.status import error_info_in

if TYPE_CHECKING:
    Handler = grpc.RpcMethodHandler[Any, Any]


class ObservingInterceptor(grpc.aio.ServerInterceptor):
    """Times every registered method; see the module docstring."""

    def __init__(self, observer: Observer) -> None:
        self._observer = observer
        # id(inner handler) -> (inner, wrapped). Keyed by handler, not method name: each
        # listener registers its own handlers; holding ``inner`` keeps its id unique.
        self._wrapped: dict[int, tuple[Handler, Handler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None  # unknown method: grpc answers UNIMPLEMENTED
        cached = self._wrapped.get(id(handler))
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap(handler_call_details.method.rsplit("/", 1)[-1], handler)
        self._wrapped[id(handler)] = (handler, wrapped)
        return wrapped

    def _wrap(self, rpc: str, h: Handler) -> Handler:
        opts = {
            "request_deserializer": h.request_deserializer,
            "response_serializer": h.response_serializer,
        }
        if h.unary_unary is not None and inspect.iscoroutinefunction(h.unary_unary):
            return grpc.unary_unary_rpc_method_handler(self._unary(rpc, h.unary_unary), **opts)
        if h.unary_stream is not None and inspect.isasyncgenfunction(h.unary_stream):
            return grpc.unary_stream_rpc_method_handler(self._out(rpc, h.unary_stream), **opts)
        if h.unary_stream is not None and inspect.iscoroutinefunction(h.unary_stream):
            # A writer-style stream (health Watch): timed like a unary call.
            return grpc.unary_stream_rpc_method_handler(self._unary(rpc, h.unary_stream), **opts)
        if h.stream_stream is not None and inspect.isasyncgenfunction(h.stream_stream):
            return grpc.stream_stream_rpc_method_handler(self._items(rpc, h.stream_stream), **opts)
        return h  # sync or client-streaming handlers: none registered; served untimed

    def _unary(self, rpc: str, behavior: Any) -> Any:
        observer = self._observer

        async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            timing = RpcTiming(rpc, time.perf_counter(), request=request)
            token = CURRENT_RPC.set(timing)
            code = "OK"
            try:
                return await behavior(request, context)
            except BaseException as exc:
                code = _code(context, exc)
                raise
            finally:
                CURRENT_RPC.reset(token)
                observer.rpc_finished(timing, code, _refusal(timing, code, context))

        return call

    def _out(self, rpc: str, behavior: Any) -> Any:
        observer = self._observer

        async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            # The RPC's own task runs this generator: the value never leaks to another call.
            timing = RpcTiming(rpc, time.perf_counter(), request=request)
            CURRENT_RPC.set(timing)
            code = "OK"
            try:
                async for response in behavior(request, context):
                    yield response
            except BaseException as exc:
                code = _code(context, exc)
                raise
            finally:
                observer.rpc_finished(timing, code, "")

        return call

    def _items(self, rpc: str, behavior: Any) -> Any:
        observer = self._observer

        async def call(requests: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            timing = RpcTiming(rpc, time.perf_counter())
            CURRENT_RPC.set(timing)
            code = "OK"
            try:
                async for response in behavior(_Items(requests, timing), context):
                    reason = "" if timing.decided or rpc not in DECISION_RPCS else _error(response)
                    observer.item_finished(timing, reason)
                    yield response
            except BaseException as exc:
                code = _code(context, exc)
                raise
            finally:
                observer.stream_finished(rpc, code)

        return call


class _Items:
    """The request stream, restarting the call's timing at each item."""

    def __init__(self, inner: AsyncIterator[Any], timing: RpcTiming) -> None:
        self._inner = inner
        self._timing = timing

    def __aiter__(self) -> _Items:
        return self

    async def __anext__(self) -> Any:
        item = await self._inner.__anext__()
        timing = self._timing
        timing.start, timing.decided, timing.request = time.perf_counter(), False, item
        return item


def _code(context: grpc.aio.ServicerContext[Any, Any], exc: BaseException) -> str:
    if isinstance(exc, asyncio.CancelledError | GeneratorExit):
        return "CANCELLED"
    code = context.code()
    return code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"


def _refusal(timing: RpcTiming, code: str, context: grpc.aio.ServicerContext[Any, Any]) -> str:
    """The reason of a failed decision RPC that decided nothing (else "")."""
    if code == "OK" or timing.decided or timing.rpc not in DECISION_RPCS:
        return ""
    info = error_info_in(context.trailing_metadata())
    return info.reason if info is not None and info.reason else code


def _error(response: Any) -> str:
    """The in-band error of a stream response (``StreamError``), or ""."""
    try:
        if not response.HasField("error"):
            return ""
    except (AttributeError, ValueError):  # a message without an ``error`` field
        return ""
    return str(response.error.reason or response.error.code or "UNKNOWN")
