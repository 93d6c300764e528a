"""One test per rule of policy.engine, the evaluation-error deny included."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policy.decision import Decision
from policy.document import PolicyDocument, load_document
from policy.engine import (
    RULE_CLASS_DISABLED,
    RULE_DEFAULT_DENY,
    RULE_ENDPOINT_ALLOWED,
    RULE_ENDPOINT_NOT_ALLOWLISTED,
    RULE_ENGINE_ERROR,
    RULE_IDS,
    RULE_MODE_DISABLED,
    RULE_STRICT_PARSE,
    RULE_VENUE_DISABLED,
    decide,
)
from policy.intents import EndpointClass, VenueRequestIntent

DOC = load_document(
    b"""version = 7
[venues.binance]
enabled = true
modes = ["live"]
classes = ["trade", "read"]
[venues.okx]
enabled = false
"""
)


def intent(**changes: Any) -> VenueRequestIntent:
    base = VenueRequestIntent(
        client_id="c1",
        mode="live",
        venue="binance",
        method="POST",
        path="/api/v3/order",
        endpoint="POST /api/v3/order",
        endpoint_class=EndpointClass.TRADE,
    )
    return dataclasses.replace(base, **changes)


def test_rule_ids_are_stable() -> None:
    assert RULE_IDS == (
        "request.strict-parse",
        "endpoint.not-allowlisted",
        "venue.disabled",
        "venue.mode-disabled",
        "endpoint.class-disabled",
        "venue.feature-disabled",
        "venue.recipient-not-linked",
        "venue.no-withdraw-cap",
        "limit.per-tx",
        "limit.error",
        "venue.endpoint-allowed",
        "default-deny",
        "engine.error",
    )


def test_allow_when_venue_mode_and_class_are_enabled() -> None:
    decision = decide(DOC, intent())
    assert decision.allowed
    assert decision.rule_id == RULE_ENDPOINT_ALLOWED
    (reason,) = decision.reasons
    for word in ('"binance"', '"POST /api/v3/order"', "trade", "live", "version 7"):
        assert word in reason


def test_violations_deny_first_and_are_the_reasons() -> None:
    found = ("unknown parameter address", "caller-supplied timestamp")
    decision = decide(DOC, intent(violations=found, venue="okx", endpoint=None))
    assert decision == Decision.deny(RULE_STRICT_PARSE, *found)


def test_no_allowlisted_endpoint_denies() -> None:
    decision = decide(DOC, intent(endpoint=None, path="/sapi/v1/capital/withdraw/apply"))
    assert not decision.allowed
    assert decision.rule_id == RULE_ENDPOINT_NOT_ALLOWLISTED
    assert '"POST /sapi/v1/capital/withdraw/apply" on venue "binance"' in decision.reasons[0]


def test_venue_with_enabled_false_denies() -> None:
    decision = decide(DOC, intent(venue="okx"))
    assert (decision.allowed, decision.rule_id) == (False, RULE_VENUE_DISABLED)
    assert '"okx"' in decision.reasons[0]


@pytest.mark.parametrize("venue", ["kraken", "ftx", "Binance", ""])
def test_venue_missing_from_the_document_is_denied_by_default(venue: str) -> None:
    decision = decide(DOC, intent(venue=venue))
    assert (decision.allowed, decision.rule_id) == (False, RULE_VENUE_DISABLED)


def test_mode_not_enabled_for_the_venue_denies() -> None:
    decision = decide(DOC, intent(mode="sandbox"))
    assert (decision.allowed, decision.rule_id) == (False, RULE_MODE_DISABLED)
    assert "sandbox" in decision.reasons[0]


def test_class_not_enabled_for_the_venue_denies() -> None:
    decision = decide(DOC, intent(endpoint_class=EndpointClass.CANCEL, method="DELETE"))
    assert (decision.allowed, decision.rule_id) == (False, RULE_CLASS_DISABLED)
    assert "cancel" in decision.reasons[0]


def test_endpoint_without_class_denies() -> None:
    decision = decide(DOC, intent(endpoint_class=None))
    assert (decision.allowed, decision.rule_id) == (False, RULE_CLASS_DISABLED)


@pytest.mark.parametrize(
    "changes",
    [
        {"mode": "staging"},
        {"mode": "LIVE"},
        {"endpoint": ""},
        {"endpoint": 42},
        {"endpoint_class": "trade"},  # a bare string is not an EndpointClass
        {"endpoint_class": "withdraw"},
    ],
)
def test_anything_the_rules_do_not_describe_is_default_deny(changes: dict[str, Any]) -> None:
    decision = decide(DOC, intent(**changes))
    assert (decision.allowed, decision.rule_id) == (False, RULE_DEFAULT_DENY)


class _Exploding:
    def __getattr__(self, name: str) -> Any:
        if name in VenueRequestIntent.__dataclass_fields__:
            raise RuntimeError("secret detail")
        raise AttributeError(name)


class _BrokenDocument(PolicyDocument):
    def venue(self, venue: str) -> None:
        raise RuntimeError("secret detail")


@pytest.mark.parametrize(
    ("document", "request_intent"),
    [
        (DOC, object()),
        (DOC, _Exploding()),
        (DOC, intent(violations=None)),
        (DOC, intent(violations=["a list, not a tuple"])),
        (DOC, intent(violations=(b"bytes",))),
        (None, intent()),
        (dataclasses.replace(DOC, venues=None), intent()),  # type: ignore[arg-type]
        (_BrokenDocument(1, (), b"", ""), intent()),
    ],
)
def test_evaluation_error_is_a_deny(document: Any, request_intent: Any) -> None:
    decision = decide(document, request_intent)
    assert decision == Decision.deny(RULE_ENGINE_ERROR, "policy evaluation failed")


def test_reasons_are_bounded_and_printable() -> None:
    decision = decide(DOC, intent(endpoint=None, path="/x\n\x1b[31m" + "A" * 10_000))
    assert decision.rule_id == RULE_ENDPOINT_NOT_ALLOWLISTED
    (reason,) = decision.reasons
    assert reason.isprintable()
    assert len(reason) < 200


_TEXT = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=20),
    st.sampled_from(["live", "sandbox", "binance", "okx"]),
)


@given(
    mode=_TEXT,
    venue=_TEXT,
    endpoint=_TEXT,
    endpoint_class=st.one_of(st.sampled_from(list(EndpointClass)), _TEXT),
    violations=st.one_of(st.tuples(), st.tuples(st.text()), st.lists(st.text()), _TEXT),
)
def test_decide_never_raises_and_allows_only_the_enabled_path(
    mode: Any, venue: Any, endpoint: Any, endpoint_class: Any, violations: Any
) -> None:
    request_intent = intent(
        mode=mode,
        venue=venue,
        endpoint=endpoint,
        endpoint_class=endpoint_class,
        violations=violations,
    )
    decision = decide(DOC, request_intent)
    assert isinstance(decision, Decision)
    assert decision.rule_id in RULE_IDS
    if decision.allowed:
        assert decision.rule_id == RULE_ENDPOINT_ALLOWED
        assert (mode, venue, violations) == ("live", "binance", ())
        assert endpoint_class in (EndpointClass.TRADE, EndpointClass.READ)
        assert isinstance(endpoint_class, EndpointClass)
        assert isinstance(endpoint, str)
        assert endpoint


def test_document_without_venues_denies_every_venue() -> None:
    empty = PolicyDocument(1, (), b"", "")
    assert decide(empty, intent()).rule_id == RULE_VENUE_DISABLED
