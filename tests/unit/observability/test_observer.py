"""The observer and the audit hook (signer/observability/observer.py, hooks.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from signer.audit import AuditLog
from signer.errors import AuditUnavailableError
from signer.keystore.handles import Secret
from signer.observability.events import DecisionLine
from signer.observability.hooks import CURRENT_RPC, RpcTiming
from signer.observability.metrics import Metrics
from signer.observability.observer import Observer
from signer.schemes.daemon_keys import AuditSigner

SIGN_EVENT = {"action": "sign_venue_request", "client_id": "alice", "mode": "live",
              "venue": "okx", "class": "cancel", "decision": "deny",
              "rule": "limit.rate", "caller": "frontend"}  # fmt: skip
DECISION_LABELS = {"action": "sign_venue_request", "venue": "okx", "endpoint_class": "cancel",
                   "decision": "deny", "reason": "RATE_LIMITED"}  # fmt: skip


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Mapping[str, Any], int | None, float | None]] = []

    def appended(self, event: Mapping[str, Any], seq: int, seconds: float) -> None:
        self.calls.append(("appended", event, seq, seconds))

    def append_failed(self, event: Mapping[str, Any]) -> None:
        self.calls.append(("failed", event, None, None))


def _sample(m: Metrics, name: str, labels: dict[str, str] | None = None) -> float:
    return m.registry.get_sample_value(name, labels or {}) or 0.0


def test_audit_reports_each_durable_append_with_its_seq(tmp_path: Path) -> None:
    rec = Recorder()
    log = AuditLog(tmp_path / "audit.log", AuditSigner(Secret(b"\x01" * 32)), observer=rec)

    async def go() -> list[int]:
        heads = await asyncio.gather(*(log.append({"i": i}) for i in range(3)))
        return [h.seq for h in heads]

    seqs = asyncio.run(go())
    assert [(c[0], c[1]["i"], c[2]) for c in rec.calls] == [
        ("appended", i, s) for i, s in enumerate(seqs)
    ]
    assert all(c[3] is not None and c[3] >= 0 for c in rec.calls)
    log.close()


def test_audit_reports_failed_appends_and_still_fails_closed(tmp_path: Path) -> None:
    rec = Recorder()
    log = AuditLog(tmp_path / "audit.log", AuditSigner(Secret(b"\x01" * 32)), observer=rec)

    def broken(data: bytes) -> None:
        raise OSError(28, "disk full")

    log._write = broken  # type: ignore[method-assign]

    async def go() -> None:
        for i in range(2):  # the failing write, then the broken log
            with pytest.raises(AuditUnavailableError):
                await log.append({"i": i})

    asyncio.run(go())
    assert [(c[0], c[1]["i"]) for c in rec.calls] == [("failed", 0), ("failed", 1)]
    log.close()


def test_an_audited_decision_is_counted_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="signer.decisions")
    metrics = Metrics()
    observer = Observer(metrics)
    timing = RpcTiming("SignVenueRequest", time.perf_counter())
    token = CURRENT_RPC.set(timing)
    try:
        observer.appended(SIGN_EVENT, 41, 0.002)
    finally:
        CURRENT_RPC.reset(token)
    assert timing.decided
    assert _sample(metrics, "signer_signing_decisions_total", DECISION_LABELS) == 1
    assert _sample(metrics, "signer_audit_append_duration_seconds_count") == 1
    (record,) = [r for r in caplog.records if r.name == "signer.decisions"]
    fields = record.fields  # type: ignore[attr-defined]
    assert (fields["audit_seq"], fields["rpc"], fields["reason"]) == (
        41,
        "SignVenueRequest",
        "RATE_LIMITED",
    )
    observer.rpc_finished(timing, "RESOURCE_EXHAUSTED", "RATE_LIMITED")  # decided: no second line
    assert len([r for r in caplog.records if r.name == "signer.decisions"]) == 1
    assert _sample(metrics, "signer_signing_decisions_total", DECISION_LABELS) == 1
    assert (
        _sample(
            metrics, "signer_rpcs_total", {"rpc": "SignVenueRequest", "code": "RESOURCE_EXHAUSTED"}
        )
        == 1
    )


def test_a_call_refused_before_any_decision_gets_one_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="signer.decisions")
    metrics = Metrics()
    observer = Observer(metrics)
    timing = RpcTiming("EvaluatePolicy", time.perf_counter())
    observer.rpc_finished(timing, "INVALID_ARGUMENT", "UNKNOWN_VENUE")
    observer.rpc_finished(RpcTiming("GetPolicy", 0.0), "INTERNAL", "INTERNAL")  # not a decision RPC
    labels = {"action": "evaluate_policy", "venue": "", "endpoint_class": "",
              "decision": "refused", "reason": "UNKNOWN_VENUE"}  # fmt: skip
    assert _sample(metrics, "signer_signing_decisions_total", labels) == 1
    lines = [r for r in caplog.records if r.name == "signer.decisions"]
    assert len(lines) == 1 and lines[0].fields["decision"] == "refused"  # type: ignore[attr-defined]


def test_non_signing_audit_events_count_only_as_appends() -> None:
    metrics = Metrics()
    Observer(metrics).appended({"action": "set_credentials", "venue": "okx"}, 1, 0.001)
    Observer(metrics).appended(
        {"action": "policy_update", "source": "sighup", "decision": "reject",
         "rule": "POLICY_ROLLBACK"}, 2, 0.001)  # fmt: skip
    assert _sample(metrics, "signer_audit_append_duration_seconds_count") == 2
    assert _sample(metrics, "signer_policy_updates_total", {
        "source": "sighup", "result": "reject", "reason": "POLICY_ROLLBACK"}) == 1  # fmt: skip
    assert metrics.registry.get_sample_value(
        "signer_signing_decisions_total", DECISION_LABELS) is None  # fmt: skip


def test_no_line_is_built_when_decision_logging_is_off(monkeypatch: pytest.MonkeyPatch,
                                                        caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    """Observer invariant 3: at WARNING no fields dict and no formatting per request."""
    caplog.set_level(logging.WARNING, logger="signer.decisions")
    built: list[int] = []
    real = DecisionLine.fields

    def counting(self: DecisionLine) -> dict[str, object]:
        built.append(1)
        return real(self)

    monkeypatch.setattr(DecisionLine, "fields", counting)
    metrics = Metrics()
    Observer(metrics).appended(SIGN_EVENT, 1, 0.001)
    assert built == [] and _sample(metrics, "signer_signing_decisions_total", DECISION_LABELS) == 1
    caplog.set_level(logging.INFO, logger="signer.decisions")
    Observer(metrics).appended(SIGN_EVENT, 2, 0.001)
    assert built == [1]


def test_an_observer_failure_never_reaches_the_caller(caplog: pytest.LogCaptureFixture) -> None:
    """Observer invariant 2: swallowed, reported once by type, never by message."""
    metrics = Metrics()

    def boom(line: DecisionLine) -> None:
        raise RuntimeError("CnRyQ7zXw4Kp secret in a message")

    metrics.decision = boom  # type: ignore[method-assign]
    observer = Observer(metrics)
    for _ in range(3):
        observer.appended(SIGN_EVENT, 1, 0.001)
        observer.append_failed(SIGN_EVENT)
    errors = [r for r in caplog.records if r.name == "signer.observability.observer"]
    assert len(errors) == 1 and "RuntimeError" in errors[0].getMessage()
    assert "CnRyQ7zXw4Kp" not in caplog.text


def test_logs_only_observer_counts_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="signer.decisions")
    observer = Observer(None)
    observer.appended(SIGN_EVENT, 1, 0.001)
    observer.stream_finished("SignVenueRequestStream", "OK")
    assert observer.metrics is None
    assert [r.name for r in caplog.records] == ["signer.decisions"]
