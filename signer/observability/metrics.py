"""Prometheus series of one daemon, in a registry of its own.

Invariants (tests: tests/unit/observability/test_metrics.py,
tests/integration/test_observability.py):

1. A dedicated ``CollectorRegistry`` per ``Metrics`` (never the process-wide
   default), so two daemons in one process (tests) never share a series.
2. Label values are bounded: decision labels come from ``DecisionLine.labels``
   (closed sets, ``signer.observability.events`` invariant 2), RPC names only
   from methods the server registered, policy-update labels from closed sets.
   SECURITY: no client id, caller, path or other client-chosen text is a label.
3. State read at scrape time (policy version, keystore cache counters) is read
   by a collector from objects that keep their own plain counters, so serving
   a request never pays for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from signer.errors import Reason
from signer.observability.events import OTHER, DecisionLine
from signer.observability.writer import dropped_total

if TYPE_CHECKING:
    from signer.keystore import Keystore
    from signer.pipeline import PolicyHolder

# Seconds: a cached HMAC signature is well under 1 ms, a cold RSA unseal or a
# slow fsync tens of ms; the deadline cap is 30 s.
_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
_UPDATE_SOURCES = frozenset({"rpc", "sighup", "startup"})
_UPDATE_RESULTS = frozenset({"accept", "reject", "stored"})
_REASONS = frozenset(r.value for r in Reason)


class Metrics:
    """Every series the daemon exports (README "Observability" lists them)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.decisions = Counter(
            "signer_signing_decisions",
            "Signing decisions (action allow = a signature returned) by venue, class and reason",
            ["action", "venue", "endpoint_class", "decision", "reason"],
            registry=r,
        )
        self.rpc_seconds = Histogram(
            "signer_rpc_duration_seconds",
            "Time to serve an RPC (SignVenueRequestStream: one observation per item)",
            ["rpc"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.rpcs = Counter(
            "signer_rpcs", "Finished RPCs by final gRPC status code", ["rpc", "code"], registry=r
        )
        self.audit_seconds = Histogram(
            "signer_audit_append_duration_seconds",
            "Time from an audit append to its record being durable (fsync'd)",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.audit_failures = Counter(
            "signer_audit_append_failures",
            "Audit appends that were not made durable (the caller got AUDIT_UNAVAILABLE)",
            registry=r,
        )
        self.policy_updates = Counter(
            "signer_policy_updates",
            "Policy updates (UpdatePolicy, SIGHUP reload, start-up choice) by result",
            ["source", "result", "reason"],
            registry=r,
        )
        # Label children by label values: skips prometheus-client's per-call validation.
        self._children: dict[tuple[str, ...], Counter] = {}
        self._timers: dict[str, Histogram] = {}

    def decision(self, line: DecisionLine) -> None:
        labels = line.labels()
        child = self._children.get(labels)
        if child is None:  # bounded: the label values are closed sets (invariant 2)
            child = self._children[labels] = self.decisions.labels(*labels)
        child.inc()

    def rpc(self, rpc: str, seconds: float | None, code: str | None) -> None:
        """``seconds`` None: not timed; ``code`` None: not finished (a stream item)."""
        if seconds is not None:
            timer = self._timers.get(rpc)
            if timer is None:
                timer = self._timers[rpc] = self.rpc_seconds.labels(rpc)
            timer.observe(seconds)
        if code is not None:
            self.rpcs.labels(rpc, code).inc()

    def audit_appended(self, event: Mapping[str, Any], seconds: float | None) -> None:
        """One audit append: durable after ``seconds``, or failed (None)."""
        if seconds is None:
            self.audit_failures.inc()
        else:
            self.audit_seconds.observe(seconds)
        if event.get("action") == "policy_update":
            self.policy_updates.labels(
                _one_of(event.get("source"), _UPDATE_SOURCES),
                _one_of(event.get("decision"), _UPDATE_RESULTS),
                _one_of(event.get("rule"), _REASONS, empty=""),
            ).inc()

    def watch(self, keystore: Keystore, policy: PolicyHolder) -> None:
        """Export the policy in force and the keystore cache counters at scrape time."""
        self.registry.register(_StateCollector(keystore, policy))


class _StateCollector:
    def __init__(self, keystore: Keystore, policy: PolicyHolder) -> None:
        self._keystore = keystore
        self._policy = policy

    def collect(self) -> Iterable[Metric]:
        document, loaded_at = self._policy.document, self._policy.loaded_at
        yield GaugeMetricFamily(
            "signer_policy_version", "Version of the policy document in force", document.version
        )
        yield GaugeMetricFamily(
            "signer_policy_loaded_timestamp_seconds",
            "When the policy in force was put in force (Unix time)",
            loaded_at,
        )
        stats = self._keystore.cache_stats()
        yield CounterMetricFamily(
            "signer_keystore_cache_hits", "Credential lookups served unsealed from the cache",
            stats.hits,
        )  # fmt: skip
        yield CounterMetricFamily(
            "signer_keystore_cache_misses", "Credential lookups that went to the store",
            stats.misses,
        )  # fmt: skip
        yield GaugeMetricFamily(
            "signer_keystore_cache_entries", "Unsealed credentials held in the cache", stats.size
        )
        yield CounterMetricFamily(
            "signer_log_lines_dropped", "Log lines dropped because stderr was not being read",
            dropped_total(),
        )  # fmt: skip


def _one_of(value: object, allowed: frozenset[str], empty: str = OTHER) -> str:
    if value is None or value == "":
        return empty
    return value if isinstance(value, str) and value in allowed else OTHER
