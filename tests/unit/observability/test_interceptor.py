"""The RPC timing interceptor without a server (signer/observability/interceptor.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from signer.observability.hooks import CURRENT_RPC
from signer.observability.interceptor import ObservingInterceptor
from signer.observability.metrics import Metrics
from signer.observability.observer import Observer


class Details:
    def __init__(self, method: str) -> None:
        self.method = method
        self.invocation_metadata = ()


class Context:
    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.INTERNAL

    def trailing_metadata(self) -> tuple[()]:
        return ()


def _intercept(icpt: ObservingInterceptor, handler: Any, method: str) -> Any:
    async def continuation(details: Any) -> Any:
        return handler

    return asyncio.run(icpt.intercept_service(continuation, Details(method)))  # type: ignore[arg-type]


def test_handlers_are_wrapped_once_and_unknown_methods_not_at_all() -> None:
    seen: list[str] = []

    async def behavior(request: Any, context: Any) -> str:
        timing = CURRENT_RPC.get()
        seen.append(timing.rpc if timing else "")
        return "ok"

    metrics = Metrics()
    icpt = ObservingInterceptor(Observer(metrics))
    handler: Any = grpc.unary_unary_rpc_method_handler(behavior)
    first = _intercept(icpt, handler, "/sequence.signer.v1.PolicyService/GetPolicy")
    again = _intercept(icpt, handler, "/sequence.signer.v1.PolicyService/GetPolicy")
    assert first is again and first is not handler
    other: Any = grpc.unary_unary_rpc_method_handler(behavior)  # another listener's handler
    assert _intercept(icpt, other, "/sequence.signer.v1.PolicyService/GetPolicy") is not first
    assert _intercept(icpt, None, "/x.Y/pwn") is None
    assert asyncio.run(first.unary_unary(object(), Context())) == "ok"
    assert seen == ["GetPolicy"] and CURRENT_RPC.get() is None
    get = metrics.registry.get_sample_value
    assert get("signer_rpcs_total", {"rpc": "GetPolicy", "code": "OK"}) == 1


def test_a_failing_call_is_counted_with_its_status_and_re_raised() -> None:
    async def behavior(request: Any, context: Any) -> str:
        raise RuntimeError("aborted")

    metrics = Metrics()
    wrapped = _intercept(ObservingInterceptor(Observer(metrics)),
                         grpc.unary_unary_rpc_method_handler(behavior), "/s.S/Withdraw")  # fmt: skip
    try:
        asyncio.run(wrapped.unary_unary(object(), Context()))
    except RuntimeError:
        pass
    else:  # pragma: no cover
        raise AssertionError("the exception must reach grpc")
    get = metrics.registry.get_sample_value
    assert get("signer_rpcs_total", {"rpc": "Withdraw", "code": "INTERNAL"}) == 1
    labels = {"action": "withdraw", "venue": "", "endpoint_class": "", "decision": "refused",
              "reason": "INTERNAL"}  # fmt: skip
    assert get("signer_signing_decisions_total", labels) == 1


def test_sync_handlers_are_served_untouched() -> None:
    def behavior(request: Any, context: Any) -> str:
        return "sync"

    handler: Any = grpc.unary_unary_rpc_method_handler(behavior)
    assert _intercept(ObservingInterceptor(Observer(None)), handler, "/s.S/M") is handler
