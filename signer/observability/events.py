"""A signing decision as one bounded, secret-free record: the log line and the metric labels.

Invariants (tests: tests/unit/observability/test_events.py):

1. Whitelist: a ``DecisionLine`` copies named fields one by one from the audit
   event (or the evaluation, or the refused request); nothing else of the event
   or the request reaches it. SECURITY: request bodies, paths, queries, headers,
   amounts, addresses and key material are never fields.
2. Bounded labels: every value ``labels()`` returns comes from a closed set
   (venue ids and chain names, endpoint classes, decisions, ``Reason`` codes,
   gRPC status code names, the actions below) or is ``"other"``. A string a
   client chose (an unknown venue, a path) can never become a label value.
3. Validated text: client-supplied text that reaches a line (``client_id``,
   ``venue``) is first checked against the same rules the daemon applies
   (``Principal``'s pattern, the venue list); otherwise the field is empty or
   ``"other"``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from policy.intents import EndpointClass
from policy.limits import RULE_ERROR, RULE_PER_24H, RULE_PER_TX, RULE_RATE
from signer._proto.sequence.signer.v1 import common_pb2
from signer.domain import VENUES, Mode, Principal
from signer.errors import InvalidRequestError, Reason
from signer.evm.chains import CHAINS

if TYPE_CHECKING:
    from signer.domain import SignRequest
    from signer.observability.hooks import RpcTiming
    from signer.pipeline import Evaluation

SIGN = "sign_venue_request"
EVALUATE = "evaluate_policy"
WALLET_ACTIONS = frozenset({"withdraw", "sign_transaction"})
SIGNING_ACTIONS = frozenset({SIGN, *WALLET_ACTIONS})
OTHER = "other"
DECISIONS = frozenset({"allow", "deny", "refused", "no-credentials"})

_VENUES = frozenset(VENUES)
_CHAINS = frozenset(chain.name for chain in CHAINS)
_CLASSES = frozenset(c.value for c in EndpointClass)
_REASONS = frozenset(r.value for r in Reason)
_LIMIT_RULES = frozenset({RULE_RATE, RULE_PER_TX, RULE_PER_24H, RULE_ERROR})
_MODES = {common_pb2.MODE_LIVE: Mode.LIVE.value, common_pb2.MODE_SANDBOX: Mode.SANDBOX.value}
_MODE_NAMES = frozenset(_MODES.values())
_RULE_MAX = 64
_GRPC_CODES = frozenset({
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
    "UNAUTHENTICATED",
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class DecisionLine:
    """One signing (or dry-run) decision, as logged and counted.

    Attributes:
        action: ``sign_venue_request``, ``withdraw``, ``sign_transaction`` or ``evaluate_policy``.
        decision: ``allow``, ``deny``, ``refused``, ``no-credentials`` (else ``other``).
        reason: the stable ``Reason`` code of a non-allow (``RATE_LIMITED`` for a
            limit rule), a gRPC code name when there is none, ``""`` for allow.
        rule: the rule id or reason the audit record names (daemon-chosen text).
        venue: a venue id, ``""`` (wallet actions, unknown) or ``other``.
        chain: the EVM chain of a wallet action, else ``""``.
        endpoint_class: an ``EndpointClass`` value or ``""``.
        client_id, mode, caller: who asked (validated; caller is the mTLS CN or listener).
        rpc: the method being served, ``""`` outside an RPC.
        latency_ms: time since the RPC (or stream item) arrived, None outside an RPC.
        audit_seq: the audit record's sequence number, None when not audited.
    """

    action: str
    decision: str
    reason: str
    rule: str = ""
    venue: str = ""
    chain: str = ""
    endpoint_class: str = ""
    client_id: str = ""
    mode: str = ""
    caller: str = ""
    rpc: str = ""
    latency_ms: float | None = None
    audit_seq: int | None = None

    def labels(self) -> tuple[str, str, str, str, str]:
        """(action, venue, endpoint_class, decision, reason): closed sets only (invariant 2)."""
        venue = self.venue or (self.chain if self.chain in _CHAINS else "")
        return (
            self.action if self.action in SIGNING_ACTIONS or self.action == EVALUATE else OTHER,
            venue if venue in _VENUES or venue in _CHAINS or not venue else OTHER,
            self.endpoint_class if self.endpoint_class in _CLASSES else "",
            self.decision if self.decision in DECISIONS else OTHER,
            _bounded_reason(self.reason),
        )

    def fields(self) -> dict[str, object]:
        """The structured fields of the log line (a fixed set of keys)."""
        return {
            "event": "signing_decision",
            "action": self.action,
            "decision": self.decision,
            "reason": self.reason,
            "rule": self.rule,
            "venue": self.venue,
            "chain": self.chain,
            "endpoint_class": self.endpoint_class,
            "client_id": self.client_id,
            "mode": self.mode,
            "caller": self.caller,
            "rpc": self.rpc,
            "latency_ms": self.latency_ms,
            "audit_seq": self.audit_seq,
        }


def from_audit(
    event: Mapping[str, Any], seq: int | None, timing: RpcTiming | None, failed: bool = False
) -> DecisionLine:
    """The decision an audit event of a signing action records (``failed``: it is not
    durable, so the caller was refused with AUDIT_UNAVAILABLE whatever was decided)."""
    action = _text(event.get("action"))
    decision, rule = _text(event.get("decision")), _text(event.get("rule"))[:_RULE_MAX]
    wallet = action in WALLET_ACTIONS
    return DecisionLine(
        action=_choice(action, SIGNING_ACTIONS),
        decision="refused" if failed else _choice(decision, DECISIONS),
        reason=Reason.AUDIT_UNAVAILABLE.value if failed else reason_code(decision, rule),
        rule=rule,
        venue="" if wallet else _choice(_text(event.get("venue")), _VENUES),
        chain=_choice(_text(event.get("chain")), _CHAINS) if wallet else "",
        endpoint_class=_choice(_text(event.get("class")), _CLASSES, ""),
        client_id=_client_id(_text(event.get("client_id"))),
        mode=_choice(_text(event.get("mode")), _MODE_NAMES, ""),
        caller=_text(event.get("caller"))[:128],
        rpc=timing.rpc if timing else "",
        latency_ms=_ms(timing),
        audit_seq=seq,
    )


def from_evaluation(
    req: SignRequest, evaluation: Evaluation, timing: RpcTiming | None
) -> DecisionLine:
    """A dry run (``EvaluatePolicy``): never audited, never signed."""
    decision, intent = evaluation.decision, evaluation.parsed.intent
    verdict = "allow" if decision.allowed else "deny"
    klass = intent.endpoint_class
    return DecisionLine(
        action=EVALUATE,
        decision=verdict,
        reason=reason_code(verdict, decision.rule_id),
        rule=decision.rule_id[:_RULE_MAX],
        venue=_choice(req.venue, _VENUES),
        endpoint_class=_choice(str(klass) if klass else "", _CLASSES, ""),
        client_id=req.principal.client_id,
        mode=req.principal.mode.value,
        rpc=timing.rpc if timing else "",
        latency_ms=_ms(timing),
    )


def refusal(action: str, request: object, reason: str, timing: RpcTiming | None) -> DecisionLine:
    """A call refused before any decision was audited (envelope checks: unknown
    venue, malformed principal, audit log already broken, wrong role...).

    ``request`` is the received message, untrusted: only a principal that passes
    the daemon's own validation and a known venue id are copied (invariant 3).
    """
    inner = getattr(request, "request", None)  # EvaluatePolicy, a stream item: the wrapped call
    msg = inner if hasattr(inner, "principal") else request
    principal = getattr(msg, "principal", None)
    venue, chain = _text(getattr(msg, "venue", "")), _text(getattr(msg, "chain", ""))
    mode: Any = getattr(principal, "mode", None)
    return DecisionLine(
        action=action,
        decision="refused",
        reason=_bounded_reason(reason),
        rule=reason if reason in _REASONS else "",
        venue=_choice(venue, _VENUES),
        chain=_choice(chain, _CHAINS),
        client_id=_client_id(_text(getattr(principal, "client_id", ""))),
        mode=_MODES.get(mode, ""),
        rpc=timing.rpc if timing else "",
        latency_ms=_ms(timing),
    )


def reason_code(decision: str, rule: str) -> str:
    """The ``Reason`` code of an audited outcome (``""`` for allow)."""
    if decision == "allow":
        return ""
    if rule in _REASONS:
        return rule
    if rule in _LIMIT_RULES:  # signer.limits raises RateLimitedError with these rule ids
        return Reason.RATE_LIMITED.value
    return Reason.POLICY_DENIED.value if decision == "deny" else OTHER


def _bounded_reason(reason: str) -> str:
    # gRPC status code names are a closed set too (refusals without an ErrorInfo).
    if not reason or reason in _REASONS or reason in _GRPC_CODES:
        return reason
    return OTHER


def _choice(value: str, allowed: frozenset[str], other: str = OTHER) -> str:
    return value if value in allowed else (other if value else "")


@functools.lru_cache(maxsize=4096)  # bounded; client ids repeat on the hot path
def _client_id(value: str) -> str:
    try:
        return Principal(value, Mode.LIVE).client_id
    except InvalidRequestError:
        return ""


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _ms(timing: RpcTiming | None) -> float | None:
    return round(timing.elapsed_s() * 1000, 3) if timing else None
