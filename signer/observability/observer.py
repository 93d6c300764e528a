"""The observer: turns audit appends, dry runs and finished RPCs into decision
log lines and metrics.

Invariants (tests: tests/unit/observability/test_observer.py):

1. One decision line per decision: an audited signing decision is reported
   when its record is durable (or its append failed); a dry run when it is
   decided; a call refused before any of these (``RpcTiming.decided`` still
   false when the call or stream item ends with an error) by the interceptor.
2. Never in the way: an observer failure is swallowed (reported once, by
   exception type) and never changes what the caller gets. It runs on the
   event loop after the record is durable, so it cannot delay the fsync.
3. No work for disabled outputs: without ``Metrics`` nothing is counted; the
   log line's fields are built only when ``signer.decisions`` is enabled for INFO.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from signer.observability import events
from signer.observability.events import SIGNING_ACTIONS, DecisionLine
from signer.observability.hooks import CURRENT_RPC, RpcTiming
from signer.observability.logs import DECISIONS

if TYPE_CHECKING:
    from signer.domain import SignRequest
    from signer.observability.metrics import Metrics
    from signer.pipeline import Evaluation

log = logging.getLogger(__name__)

# Methods whose every call is a signing decision, and the audit action they record.
DECISION_RPCS = {
    "SignVenueRequest": events.SIGN,
    "SignVenueRequestStream": events.SIGN,
    "EvaluatePolicy": events.EVALUATE,
    "Withdraw": "withdraw",
    "SignTransaction": "sign_transaction",
}


class Observer:
    """Implements ``hooks.AuditObserver`` and ``hooks.DecisionObserver``."""

    def __init__(self, metrics: Metrics | None, logger: logging.Logger = DECISIONS) -> None:
        self.metrics = metrics
        self._log = logger
        self._failed = False

    def appended(self, event: Mapping[str, Any], seq: int, seconds: float) -> None:
        try:
            if self.metrics is not None:
                self.metrics.audit_appended(event, seconds)
            if event.get("action") in SIGNING_ACTIONS:
                self._decision(events.from_audit(event, seq, _decided()))
        except Exception as exc:  # noqa: BLE001 - invariant 2
            self._report(exc)

    def append_failed(self, event: Mapping[str, Any]) -> None:
        try:
            if self.metrics is not None:
                self.metrics.audit_appended(event, None)
            if event.get("action") in SIGNING_ACTIONS:
                self._decision(events.from_audit(event, None, _decided(), failed=True))
        except Exception as exc:  # noqa: BLE001 - invariant 2
            self._report(exc)

    def evaluated(self, req: SignRequest, evaluation: Evaluation) -> None:
        try:
            self._decision(events.from_evaluation(req, evaluation, _decided()))
        except Exception as exc:  # noqa: BLE001 - invariant 2
            self._report(exc)

    def rpc_finished(self, timing: RpcTiming, code: str, reason: str) -> None:
        """A unary (or server-streaming) call ended with ``code``; ``reason`` is the
        ErrorInfo reason (or the code) of a failed decision RPC that decided nothing."""
        try:
            if self.metrics is not None:
                self.metrics.rpc(timing.rpc, timing.elapsed_s(), code)
            self._refused(timing, reason)
        except Exception as exc:  # noqa: BLE001 - invariant 2
            self._report(exc)

    def item_finished(self, timing: RpcTiming, reason: str) -> None:
        """One item of a request stream was answered (``reason``: its in-band error)."""
        try:
            if self.metrics is not None:
                self.metrics.rpc(timing.rpc, timing.elapsed_s(), None)
            self._refused(timing, reason)
        except Exception as exc:  # noqa: BLE001 - invariant 2
            self._report(exc)

    def stream_finished(self, rpc: str, code: str) -> None:
        if self.metrics is not None:
            self.metrics.rpc(rpc, None, code)

    def _refused(self, timing: RpcTiming, reason: str) -> None:
        action = DECISION_RPCS.get(timing.rpc)
        if reason and action is not None and not timing.decided:
            timing.decided = True
            self._decision(events.refusal(action, timing.request, reason, timing))

    def _decision(self, line: DecisionLine) -> None:
        if self.metrics is not None:
            self.metrics.decision(line)
        logger = self._log
        if logger.isEnabledFor(logging.INFO):
            # makeRecord + handle: what ``info`` does, minus the caller-frame lookup.
            record = logger.makeRecord(
                logger.name, logging.INFO, __file__, 0, "signing decision", (), None,
                extra={"fields": line.fields()},
            )  # fmt: skip
            logger.handle(record)

    def _report(self, exc: Exception) -> None:
        if not self._failed:
            self._failed = True
            # SECURITY: the type only; a message could quote what was being observed.
            log.error("observability hook failed (%s); later failures are not logged",
                      type(exc).__name__)  # fmt: skip


def _decided() -> RpcTiming | None:
    """The current call's timing, marked as having reached a decision."""
    timing = CURRENT_RPC.get()
    if timing is not None:
        timing.decided = True
    return timing
