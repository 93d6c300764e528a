"""Decision cases: expected decisions stated as data, run like ``opa test``.

A case file is TOML::

    [[case]]
    name = "binance live trade is allowed"
    expect = "allow"                  # or "deny"
    rule = "venue.endpoint-allowed"   # the rule id that must decide
    [case.intent]                     # the VenueRequestIntent fields
    mode = "live"
    venue = "binance"
    method = "POST"
    path = "/api/v3/order"
    endpoint = "POST /api/v3/order"   # omit for None
    endpoint_class = "trade"          # omit for None
    violations = []                   # optional
    features = []                     # optional (policy.venue_options)
    client_id = "c1"                  # optional
    recipient = "0x..."               # optional (withdraw-home)
    recipient_linked = true           # optional, default false
    spend_chain = "hyperliquid"       # optional (withdraw-home: the cap's chain,
    spend_token = "USDC"              #   token and the amount as a decimal string)
    spend_amount = "12.5"

A case may state a request instead of an intent (``[case.request]``, see
``policy/case_requests.py``); ``load_case_file`` reads both kinds, ``load_cases``
only intent cases (this pure library cannot parse requests).

Case files are as strict as policy documents: unknown keys, unknown rule ids,
an ``expect`` that contradicts the rule's effect and duplicate case names are
refused with ``PolicyCaseError`` naming the source, key path and line.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from policy._toml_lines import PathPart, find_line, format_path
from policy.case_requests import DEFAULT_CLIENT_ID as DEFAULT_CLIENT_ID
from policy.case_requests import RequestCase, read_outcome, read_request
from policy.document import PolicyDocument, display
from policy.engine import ALLOW_RULE_IDS, RULE_IDS, decide
from policy.intents import EndpointClass, VenueRequestIntent

_CASE_KEYS = ("name", "expect", "rule", "intent", "request", "error")
_REQUIRED_STR = ("mode", "venue", "method", "path")
_OPTIONAL_STR = (
    "client_id",
    "endpoint",
    "endpoint_class",
    "recipient",
    "spend_chain",
    "spend_token",
    "spend_amount",
)
_INTENT_KEYS = (*_REQUIRED_STR, *_OPTIONAL_STR, "violations", "features", "recipient_linked")


class PolicyCaseError(ValueError):
    """A case file was refused; the message names source, key path and line."""


@dataclass(frozen=True, slots=True)
class DecisionCase:
    """One expected decision.

    Attributes:
        name: unique within its file.
        source: where the case came from (a file name), for messages.
        expect_allowed: the expected ``Decision.allowed``.
        rule_id: the rule id that must decide.
        intent: the intent to evaluate.
        line: where the case starts in its file, for messages.
    """

    name: str
    source: str
    expect_allowed: bool
    rule_id: str
    intent: VenueRequestIntent
    line: int | None = None


@dataclass(frozen=True, slots=True)
class CaseResult:
    """The outcome of running one case.

    Attributes:
        name: the case name.
        source: the file the case came from.
        passed: True when both the effect and the rule id matched.
        expected_allowed, expected_rule_id: what the case states.
        actual_allowed, actual_rule_id, actual_reasons: what ``decide`` returned.
    """

    name: str
    source: str
    passed: bool
    expected_allowed: bool
    expected_rule_id: str
    actual_allowed: bool
    actual_rule_id: str
    actual_reasons: tuple[str, ...]

    def describe(self) -> str:
        """One line for a failure listing."""

        expected = "allow" if self.expected_allowed else "deny"
        actual = "allow" if self.actual_allowed else "deny"
        return (
            f"{self.source}: {self.name}: expected {expected} by {self.expected_rule_id}, "
            f"got {actual} by {self.actual_rule_id} {self.actual_reasons!r}"
        )


class _Reader:
    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source

    def fail(self, path: Sequence[PathPart], problem: str) -> PolicyCaseError:
        line = find_line(self.text, path)
        where = f"{self.source}:{line}" if line is not None else self.source
        return PolicyCaseError(f"{where}: {format_path(path)}: {problem}")

    def table(
        self, value: object, path: tuple[PathPart, ...], keys: Iterable[str]
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, "must be a table")
        for key in value:
            if key not in keys:
                raise self.fail((*path, key), f"unknown key {display(key)}")
        return value

    def string(self, table: dict[str, Any], path: tuple[PathPart, ...], key: str) -> str:
        value = table.get(key)
        if not isinstance(value, str) or not value:
            raise self.fail((*path, key), "required, must be a non-empty string")
        return value

    def strings(self, table: dict[str, Any], path: tuple[PathPart, ...], key: str) -> list[str]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail((*path, key), "must be a list of strings")
        return value

    def case(
        self, raw: object, index: int, seen: set[str], error_reasons: frozenset[str]
    ) -> DecisionCase | RequestCase:
        path: tuple[PathPart, ...] = ("case", index)
        table = self.table(raw, path, _CASE_KEYS)
        name = self.string(table, path, "name")
        if name in seen:
            raise self.fail((*path, "name"), f"duplicate case name {display(name)}")
        seen.add(name)
        line = find_line(self.text, path)
        if "request" in table:
            if "intent" in table:
                raise self.fail(
                    (*path, "request"), "a case states an intent or a request, not both"
                )
            expect, rule, error = read_outcome(
                self, table, path, error_reasons, lambda r, e: self.rule(path, r, e)
            )
            request = read_request(self, table["request"], (*path, "request"))
            return RequestCase(name, self.source, expect, rule, error, request, line)
        if "error" in table:
            raise self.fail((*path, "error"), "only request cases can expect an error")
        expect = self.string(table, path, "expect")
        if expect not in ("allow", "deny"):
            raise self.fail((*path, "expect"), 'must be "allow" or "deny"')
        rule = self.rule(path, self.string(table, path, "rule"), expect)
        intent = self.intent(table.get("intent"), (*path, "intent"))
        return DecisionCase(name, self.source, expect == "allow", rule, intent, line)

    def rule(self, path: tuple[PathPart, ...], rule: str, expect: str) -> str:
        if rule not in RULE_IDS:
            raise self.fail((*path, "rule"), f"unknown rule id {display(rule)}")
        if (rule in ALLOW_RULE_IDS) != (expect == "allow"):
            raise self.fail((*path, "rule"), f"rule {rule} cannot {expect}")
        return rule

    def intent(self, raw: object, path: tuple[PathPart, ...]) -> VenueRequestIntent:
        table = self.table(raw, path, _INTENT_KEYS)
        fields = {key: self.string(table, path, key) for key in _REQUIRED_STR}
        optional = {key: self.string(table, path, key) for key in _OPTIONAL_STR if key in table}
        endpoint_class = optional.get("endpoint_class")
        classes = [member.value for member in EndpointClass]
        if endpoint_class is not None and endpoint_class not in classes:
            raise self.fail((*path, "endpoint_class"), f"unknown class {display(endpoint_class)}")
        violations, features = (
            self.strings(table, path, key) for key in ("violations", "features")
        )
        linked = table.get("recipient_linked", False)
        if not isinstance(linked, bool):
            raise self.fail((*path, "recipient_linked"), "must be true or false")
        return VenueRequestIntent(
            client_id=optional.get("client_id", DEFAULT_CLIENT_ID),
            mode=fields["mode"],
            venue=fields["venue"],
            method=fields["method"],
            path=fields["path"],
            endpoint=optional.get("endpoint"),
            endpoint_class=None if endpoint_class is None else EndpointClass(endpoint_class),
            violations=tuple(violations),
            features=tuple(features),
            recipient=optional.get("recipient", ""),
            recipient_linked=linked,
            spend_chain=optional.get("spend_chain", ""),
            spend_token=optional.get("spend_token", ""),
            spend_amount=optional.get("spend_amount", ""),
        )


def load_case_file(
    data: bytes, source: str, *, error_reasons: frozenset[str] = frozenset()
) -> list[DecisionCase | RequestCase]:
    """Parse a case file holding intent cases and/or request cases.

    Args:
        data: the TOML bytes.
        source: a name for messages (usually the file name).
        error_reasons: the reason codes a request case may expect with
            ``expect = "error"`` (the caller's; this library knows none).

    Returns:
        The cases in file order (at least one).

    Raises:
        PolicyCaseError: invalid TOML or any schema violation.
    """
    try:
        text = data.decode("utf-8")
        tree = tomllib.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as exc:
        raise PolicyCaseError(f"{source}: not a valid TOML case file: {exc}") from None
    reader = _Reader(text, source)
    reader.table(tree, (), ("case",))
    raw_cases = tree.get("case")
    if not isinstance(raw_cases, list) or not raw_cases:
        raise reader.fail(("case",), "a case file needs at least one [[case]] table")
    seen: set[str] = set()
    return [reader.case(raw, index, seen, error_reasons) for index, raw in enumerate(raw_cases)]


def load_cases(data: bytes, source: str) -> list[DecisionCase]:
    """Parse a case file of intent cases (``load_case_file``); request cases are refused.

    Raises:
        PolicyCaseError: invalid TOML, any schema violation, or a request case
            (those need the venue parsers: ``sequence-signer policy test``).
    """
    cases = load_case_file(data, source)
    for index, case in enumerate(cases):
        if isinstance(case, RequestCase):
            where = f"{source}:{case.line}" if case.line is not None else source
            raise PolicyCaseError(
                f"{where}: case[{index}].request: request cases need the venue parsers; "
                "run them with sequence-signer policy test"
            )
    return [case for case in cases if isinstance(case, DecisionCase)]


def run_cases(document: PolicyDocument, cases: Iterable[DecisionCase]) -> list[CaseResult]:
    """Evaluate every case against ``document``; a case passes when effect and rule match."""
    results = []
    for case in cases:
        decision = decide(document, case.intent)
        results.append(
            CaseResult(
                name=case.name,
                source=case.source,
                passed=decision.allowed == case.expect_allowed and decision.rule_id == case.rule_id,
                expected_allowed=case.expect_allowed,
                expected_rule_id=case.rule_id,
                actual_allowed=decision.allowed,
                actual_rule_id=decision.rule_id,
                actual_reasons=decision.reasons,
            )
        )
    return results
