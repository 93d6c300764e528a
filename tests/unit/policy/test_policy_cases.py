"""Run every tests/policy_cases/*.toml against the shipped policy/default.toml."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from policy.cases import DecisionCase, load_cases, run_cases
from policy.document import default_document_bytes, load_document
from policy.engine import RULE_ENGINE_ERROR, RULE_IDS

CASES_DIR = Path(__file__).resolve().parents[2] / "policy_cases"
DEFAULT_FILES = (
    "default_binance.toml",
    "default_exchanges.toml",
    "default_kraken.toml",
    "default_other_venues.toml",
)


def _all_cases() -> list[DecisionCase]:
    files = sorted(CASES_DIR.glob("*.toml"))
    assert {path.name for path in files} >= set(DEFAULT_FILES)
    return [case for path in files for case in load_cases(path.read_bytes(), path.name)]


def test_default_policy_decides_every_case_as_stated() -> None:
    document = load_document(default_document_bytes())
    failures = [
        result.describe() for result in run_cases(document, _all_cases()) if not result.passed
    ]
    assert not failures, f"{len(failures)} failing decision case(s):\n" + "\n".join(failures)


def test_cases_cover_every_rule_and_every_allow() -> None:
    cases = _all_cases()
    assert len(cases) >= 25
    # engine.error cannot be written as a well-formed case; test_engine.py covers it.
    assert set(Counter(case.rule_id for case in cases)) == set(RULE_IDS) - {RULE_ENGINE_ERROR}
    allowed = {
        (case.intent.venue, case.intent.mode, case.intent.endpoint_class)
        for case in cases
        if case.expect_allowed
    }
    # Every (venue, mode, class) the shipped document enables has an allow case, and nothing else.
    document = load_document(default_document_bytes())
    assert allowed == {
        (venue.venue, mode, str(cls))
        for venue in document.venues
        if venue.enabled
        for mode in venue.modes
        for cls in venue.classes
    }
    assert any(
        (c.intent.venue, c.intent.mode, c.rule_id) == ("kraken", "sandbox", "venue.mode-disabled")
        for c in cases
    )
