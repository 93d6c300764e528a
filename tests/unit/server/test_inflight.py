"""signer/server/inflight.py: one test (or a few) per invariant of its docstring."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from signer.domain import Role
from signer.server.auth import CallerResolver
from signer.server.inflight import InflightLimiter, PerClientInflight
from signer.server.status import DETAILS_KEY


class Aborted(Exception):
    def __init__(self, code: grpc.StatusCode, reason: str) -> None:
        super().__init__(code, reason)
        self.code, self.reason = code, reason


@dataclass
class FakeContext:
    """What the interceptor and CallerResolver use of a ServicerContext."""

    cn: str | None = None
    written: list[object] = field(default_factory=list)

    def auth_context(self) -> dict[str, list[bytes]]:
        return {"x509_common_name": [self.cn.encode()]} if self.cn else {}

    async def abort(self, code: grpc.StatusCode, message: str, trailers: Any = ()) -> None:
        info = error_details_pb2.ErrorInfo()
        ((key, value),) = trailers
        assert key == DETAILS_KEY
        status_pb2.Status.FromString(value).details[0].Unpack(info)
        raise Aborted(code, info.reason)

    async def write(self, item: object) -> None:
        self.written.append(item)


@dataclass
class Details:
    method: str
    invocation_metadata: tuple[tuple[str, str], ...] = ()


def tls_interceptor(limiter: InflightLimiter) -> PerClientInflight:
    resolver = CallerResolver("l0:tls", None, {"frontend": Role.API, "other": Role.API})
    return PerClientInflight(limiter, resolver, "l0")


async def wrapped(icpt: PerClientInflight, handler: Any, method: str = "/s/M") -> Any:
    async def continuation(_: Any) -> Any:
        return handler

    return await icpt.intercept_service(continuation, Details(method))  # type: ignore[arg-type]


# --- the limiter ----------------------------------------------------------------------


def test_limiter_counts_per_identity_and_forgets_idle_ones() -> None:
    limiter = InflightLimiter(2)
    assert limiter.try_acquire("a") and limiter.try_acquire("a")
    assert not limiter.try_acquire("a")
    assert limiter.try_acquire("b")
    limiter.release("a")
    assert limiter.in_flight("a") == 1 and limiter.try_acquire("a")
    for who in ("a", "a", "b"):
        limiter.release(who)
    assert limiter._counts == {}


def test_limiter_refuses_a_cap_below_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        InflightLimiter(0)


# --- invariant 1: at most cap per identity, refused at once, others unaffected --------


async def _held_unary(gate: asyncio.Event, started: list[str]) -> Any:
    async def behavior(request: str, context: FakeContext) -> str:
        started.append(request)
        await gate.wait()
        return request

    return grpc.unary_unary_rpc_method_handler(behavior)


def test_one_call_over_the_cap_is_refused_before_its_handler_runs() -> None:
    async def scenario() -> None:
        limiter = InflightLimiter(3)
        gate, started = asyncio.Event(), list[str]()
        handler = await wrapped(tls_interceptor(limiter), await _held_unary(gate, started))
        flood = [asyncio.create_task(handler.unary_unary(f"a{i}", FakeContext("frontend"))) for i in range(3)]  # fmt: skip
        await asyncio.sleep(0)
        with pytest.raises(Aborted) as refused:
            await handler.unary_unary("a-extra", FakeContext("frontend"))
        assert (refused.value.code, refused.value.reason) == (
            grpc.StatusCode.RESOURCE_EXHAUSTED, "CONCURRENCY_LIMITED",
        )  # fmt: skip
        assert "a-extra" not in started
        # Another identity is not starved by the flood.
        other = asyncio.create_task(handler.unary_unary("b", FakeContext("other")))
        await asyncio.sleep(0)
        assert "b" in started and limiter.in_flight("cert:frontend") == 3
        gate.set()
        assert await asyncio.gather(*flood, other) == ["a0", "a1", "a2", "b"]
        assert limiter.in_flight("cert:frontend") == limiter.in_flight("cert:other") == 0

    asyncio.run(scenario())


def test_unresolvable_callers_share_one_bucket_per_listener() -> None:
    async def scenario() -> None:
        limiter = InflightLimiter(1)
        gate, started = asyncio.Event(), list[str]()
        handler = await wrapped(tls_interceptor(limiter), await _held_unary(gate, started))
        first = asyncio.create_task(handler.unary_unary("x", FakeContext("stranger")))
        await asyncio.sleep(0)
        with pytest.raises(Aborted):
            await handler.unary_unary("y", FakeContext(None))
        assert limiter.in_flight("l0:unresolved") == 1
        gate.set()
        await first

    asyncio.run(scenario())


# --- invariant 2: a stream holds one slot for its whole life ---------------------------


def test_a_stream_holds_one_slot_until_it_ends_or_is_closed() -> None:
    async def scenario() -> None:
        limiter = InflightLimiter(1)

        async def behavior(request: Any, context: FakeContext) -> AsyncIterator[int]:
            for i in range(3):
                yield i

        handler = await wrapped(tls_interceptor(limiter), grpc.stream_stream_rpc_method_handler(behavior))  # fmt: skip
        stream = handler.stream_stream(iter(()), FakeContext("frontend"))
        assert await stream.__anext__() == 0
        assert limiter.in_flight("cert:frontend") == 1
        with pytest.raises(Aborted):  # a second stream of the same client
            await handler.stream_stream(iter(()), FakeContext("frontend")).__anext__()
        assert [i async for i in stream] == [1, 2]
        assert limiter.in_flight("cert:frontend") == 0
        early = handler.stream_stream(iter(()), FakeContext("frontend"))
        await early.__anext__()
        await early.aclose()  # the client went away mid-stream
        assert limiter.in_flight("cert:frontend") == 0

    asyncio.run(scenario())


def test_a_coroutine_stream_handler_is_gated_too() -> None:
    # grpc_health's Watch writes with context.write instead of yielding.
    async def scenario() -> None:
        limiter = InflightLimiter(1)
        seen: list[int] = []

        async def watch(request: Any, context: FakeContext) -> None:
            seen.append(limiter.in_flight("cert:frontend"))
            await context.write("SERVING")

        handler = await wrapped(tls_interceptor(limiter), grpc.unary_stream_rpc_method_handler(watch))  # fmt: skip
        context = FakeContext("frontend")
        await handler.unary_stream(None, context)
        assert seen == [1] and context.written == ["SERVING"]
        assert limiter.in_flight("cert:frontend") == 0

    asyncio.run(scenario())


# --- invariant 3: slots come back on error, abort and cancellation ---------------------


def test_slots_come_back_on_error_and_cancellation() -> None:
    async def scenario() -> None:
        limiter = InflightLimiter(1)
        gate = asyncio.Event()

        async def behavior(request: str, context: FakeContext) -> str:
            if request == "boom":
                raise RuntimeError("handler failed")
            await gate.wait()
            return request

        handler = await wrapped(tls_interceptor(limiter), grpc.unary_unary_rpc_method_handler(behavior))  # fmt: skip
        with pytest.raises(RuntimeError):
            await handler.unary_unary("boom", FakeContext("frontend"))
        assert limiter.in_flight("cert:frontend") == 0
        task = asyncio.create_task(handler.unary_unary("wait", FakeContext("frontend")))
        await asyncio.sleep(0)
        assert limiter.in_flight("cert:frontend") == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert limiter.in_flight("cert:frontend") == 0

    asyncio.run(scenario())


# --- wrapping --------------------------------------------------------------------------


def test_unknown_methods_pass_through_uncached_and_sync_handlers_are_refused() -> None:
    async def scenario() -> None:
        icpt = tls_interceptor(InflightLimiter(1))
        assert await wrapped(icpt, None, "/nope/Nope") is None
        assert icpt._wrapped == {}

        def sync(request: Any, context: Any) -> None:
            return None

        with pytest.raises(TypeError, match="synchronous"):
            await wrapped(icpt, grpc.unary_unary_rpc_method_handler(sync))

    asyncio.run(scenario())


def test_wrapped_handlers_are_cached_per_method() -> None:
    async def scenario() -> None:
        icpt = tls_interceptor(InflightLimiter(1))

        async def behavior(request: Any, context: Any) -> None:
            return None

        handler: Any = grpc.unary_unary_rpc_method_handler(behavior)
        first = await wrapped(icpt, handler)
        assert await wrapped(icpt, None) is first  # continuation not consulted again

    asyncio.run(scenario())
