"""What the daemon's core calls to be observed; no logging or metrics library here.

``AuditLog`` reports each append to an ``AuditObserver`` and ``Pipeline.evaluate``
each dry-run decision to a ``DecisionObserver``; both are ``None`` when
observability is off, so the hot path then pays one ``is None`` check.

``CURRENT_RPC`` carries the method name and start time of the RPC being served
(one ``RpcTiming`` per unary call, reset per item of a request stream). The
gRPC interceptor (``signer.observability.interceptor``) sets it; grpc.aio runs
every RPC in its own task, so the value never crosses calls. Code outside an
RPC (unit tests, start-up) sees ``None``.

This module imports nothing from ``signer`` so the audit log can depend on it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from signer.domain import SignRequest
    from signer.pipeline import Evaluation


@dataclass(slots=True)
class RpcTiming:
    """The RPC (or stream item) in progress in this task.

    Attributes:
        rpc: the method name (e.g. ``"SignVenueRequest"``); only registered methods.
        start: ``time.perf_counter()`` when the call (or stream item) arrived.
        decided: a decision of this call (or item) was observed already.
        request: the request message (stream: the current item); read only to
            describe a refusal that was decided before the audit log saw it.
    """

    rpc: str
    start: float
    decided: bool = False
    request: object = None

    def elapsed_s(self) -> float:
        return time.perf_counter() - self.start


CURRENT_RPC: ContextVar[RpcTiming | None] = ContextVar("signer_current_rpc", default=None)


class AuditObserver(Protocol):
    """Told about every audit append. Implementations never raise."""

    def appended(self, event: Mapping[str, Any], seq: int, seconds: float) -> None:
        """``event`` is durable as record ``seq``; the append took ``seconds``."""

    def append_failed(self, event: Mapping[str, Any]) -> None:
        """``event`` was not made durable (the caller gets AUDIT_UNAVAILABLE)."""


class DecisionObserver(Protocol):
    """Told about decisions that are not audited (``EvaluatePolicy`` dry runs)."""

    def evaluated(self, req: SignRequest, evaluation: Evaluation) -> None:
        """A dry run of ``req`` decided ``evaluation.decision``."""
