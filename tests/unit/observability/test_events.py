"""A decision as a bounded, secret-free record (signer/observability/events.py)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from policy.decision import Decision
from signer._proto.sequence.signer.v1 import common_pb2, signing_service_pb2
from signer.domain import VENUES, HttpRequest, Mode, Principal, SignRequest
from signer.evm.chains import CHAINS
from signer.observability import events
from signer.observability.hooks import RpcTiming

SECRET = "CnRyQ7zXw4Kp-secret-material"
HOSTILE = 'evil"venue{x="1"}\n'
ALLOWED_VENUES = {*VENUES, *(c.name for c in CHAINS), "", "other"}


def _event(**change: Any) -> dict[str, Any]:
    return {
        "action": "sign_venue_request", "caller": "frontend", "client_id": "alice",
        "mode": "sandbox", "venue": "binance", "endpoint": "POST /api/v3/order",
        "class": "trade", "decision": "allow", "rule": "venue.endpoint-allowed",
        "reasons": [f"echo {SECRET}"], "request_sha256": "ab" * 32,
        "policy_sha256": "cd" * 32, "api_secret": SECRET, **change,
    }  # fmt: skip


def test_audit_event_fields_are_copied_from_a_whitelist() -> None:
    """Invariant 1: reasons, digests, endpoint, anything unexpected: never copied."""
    line = events.from_audit(_event(), 12, RpcTiming("SignVenueRequest", time.perf_counter()))
    fields = line.fields()
    assert SECRET not in json.dumps(fields)
    assert "endpoint" not in fields and "reasons" not in fields
    assert (line.decision, line.reason, line.rule, line.audit_seq) == (
        "allow", "", "venue.endpoint-allowed", 12)  # fmt: skip
    assert (line.venue, line.endpoint_class, line.client_id, line.caller) == (
        "binance", "trade", "alice", "frontend")  # fmt: skip
    assert line.rpc == "SignVenueRequest" and line.latency_ms is not None and line.latency_ms >= 0


def test_outside_an_rpc_there_is_no_rpc_or_latency() -> None:
    line = events.from_audit(_event(), 1, None)
    assert (line.rpc, line.latency_ms) == ("", None)


@pytest.mark.parametrize(
    ("decision", "rule", "reason"),
    [
        ("allow", "venue.endpoint-allowed", ""),
        ("deny", "endpoint.not-allowlisted", "POLICY_DENIED"),
        ("deny", "venue.agent-not-held", "POLICY_DENIED"),
        ("deny", "limit.rate", "RATE_LIMITED"),
        ("deny", "limit.per-24h", "RATE_LIMITED"),
        ("deny", "INVALID_REQUEST", "INVALID_REQUEST"),
        ("refused", "MODE_MISMATCH", "MODE_MISMATCH"),
        ("no-credentials", "NO_CREDENTIALS", "NO_CREDENTIALS"),
        ("refused", "", "other"),
    ],
)
def test_reason_codes_come_from_the_enum(decision: str, rule: str, reason: str) -> None:
    assert events.reason_code(decision, rule) == reason


def test_a_failed_append_is_a_refusal_for_audit_unavailable() -> None:
    line = events.from_audit(_event(), None, None, failed=True)
    assert (line.decision, line.reason, line.audit_seq) == ("refused", "AUDIT_UNAVAILABLE", None)


def test_wallet_actions_carry_the_chain_not_a_venue() -> None:
    event = {"action": "withdraw", "venue": "", "chain": "arbitrum", "decision": "deny",
             "rule": "withdraw.recipient-not-linked", "recipient": "0x" + "ab" * 20,
             "amount": "100", "client_id": "bob", "mode": "live"}  # fmt: skip
    line = events.from_audit(event, 3, None)
    assert (line.venue, line.chain, line.reason) == ("", "arbitrum", "POLICY_DENIED")
    assert line.labels() == ("withdraw", "arbitrum", "", "deny", "POLICY_DENIED")
    assert "0x" + "ab" * 20 not in json.dumps(line.fields())


@pytest.mark.parametrize("field", ["venue", "class", "decision", "action", "mode", "chain"])
def test_hostile_values_in_an_event_never_become_label_values(field: str) -> None:
    """Invariant 2, against an event carrying text the daemon would never write."""
    line = events.from_audit(_event(**{field: HOSTILE}), 1, None)
    labels = line.labels()
    assert HOSTILE not in labels and HOSTILE not in line.fields().values()
    assert labels[1] in ALLOWED_VENUES
    assert labels[2] in {"", "trade", "cancel", "read", "withdraw-home", "approve-agent"}
    assert labels[3] in {*events.DECISIONS, "other"}


def test_labels_are_bounded_even_for_a_hand_built_line() -> None:
    line = events.DecisionLine(action=HOSTILE, decision=HOSTILE, reason=HOSTILE,
                               venue=HOSTILE, endpoint_class=HOSTILE)  # fmt: skip
    assert line.labels() == ("other", "other", "", "other", "other")


def _sign_msg(client_id: str, venue: str, mode: int = common_pb2.MODE_LIVE) -> Any:
    return signing_service_pb2.SignVenueRequestRequest(
        principal=common_pb2.Principal(client_id=client_id, mode=mode),  # type: ignore[arg-type]
        venue=venue,
        request=common_pb2.HttpRequest(method="POST", path="/attacker/" + SECRET, body=b"x"),
    )


def test_a_refusal_copies_only_validated_text_from_the_request() -> None:
    """Invariant 3: the request is untrusted; its path and body never appear."""
    line = events.refusal(
        "sign_venue_request", _sign_msg("bad id\n", HOSTILE), "UNKNOWN_VENUE", None
    )
    assert (line.client_id, line.venue, line.mode) == ("", "other", "live")
    assert line.labels() == ("sign_venue_request", "other", "", "refused", "UNKNOWN_VENUE")
    dumped = json.dumps(line.fields())
    assert SECRET not in dumped and "attacker" not in dumped and "bad id" not in dumped
    ok = events.refusal("sign_venue_request", _sign_msg("alice", "okx", 2), "INVALID_REQUEST", None)
    assert (ok.client_id, ok.venue, ok.mode, ok.rule) == (
        "alice",
        "okx",
        "sandbox",
        "INVALID_REQUEST",
    )


def test_a_refusal_of_an_evaluation_reads_the_inner_request() -> None:
    from signer._proto.sequence.signer.v1 import policy_service_pb2

    msg = policy_service_pb2.EvaluatePolicyRequest(request=_sign_msg("carol", "kraken"))
    line = events.refusal(events.EVALUATE, msg, "DEADLINE_EXCEEDED", None)
    assert (line.client_id, line.venue, line.reason, line.rule) == (
        "carol", "kraken", "DEADLINE_EXCEEDED", "")  # fmt: skip


def test_a_refusal_of_an_undecodable_message_is_still_a_line() -> None:
    line = events.refusal("withdraw", object(), "not a reason", None)
    assert (line.client_id, line.venue, line.chain, line.reason) == ("", "", "", "other")


def test_an_evaluation_line() -> None:
    from signer.observability.events import from_evaluation
    from signer.pipeline import Evaluation

    class Parsed:
        class intent:  # stands in for the attribute
            endpoint_class = None

    req = SignRequest(Principal("dave", Mode.SANDBOX), "bybit", HttpRequest("GET", "/v5/x"))
    evaluation = Evaluation(Decision.deny("default-deny", SECRET), Parsed())  # type: ignore[arg-type]
    line = from_evaluation(req, evaluation, None)
    assert line.labels() == ("evaluate_policy", "bybit", "", "deny", "POLICY_DENIED")
    assert (line.client_id, line.mode, line.rule) == ("dave", "sandbox", "default-deny")
    assert SECRET not in json.dumps(line.fields())
