"""The decision-case runner: strict case files and honest pass/fail results."""

from __future__ import annotations

import pytest

from policy.cases import DEFAULT_CLIENT_ID, PolicyCaseError, load_cases, run_cases
from policy.document import load_document
from policy.intents import EndpointClass

DOC = load_document(
    b'version = 1\n[venues.binance]\nenabled = true\nmodes = ["live"]\nclasses = ["trade"]\n'
)
CASE = """[[case]]
name = "live trade"
expect = "allow"
rule = "venue.endpoint-allowed"
[case.intent]
mode = "live"
venue = "binance"
method = "POST"
path = "/api/v3/order"
endpoint = "POST /api/v3/order"
endpoint_class = "trade"
"""


def test_load_case_builds_the_intent() -> None:
    (case,) = load_cases(CASE.encode(), "x.toml")
    assert (case.name, case.source, case.expect_allowed, case.rule_id) == (
        "live trade",
        "x.toml",
        True,
        "venue.endpoint-allowed",
    )
    assert case.intent.client_id == DEFAULT_CLIENT_ID
    assert case.intent.endpoint_class is EndpointClass.TRADE
    assert case.intent.violations == ()


def test_omitted_endpoint_and_class_are_none() -> None:
    text = CASE.replace('endpoint = "POST /api/v3/order"\n', "").replace(
        'endpoint_class = "trade"\n', ""
    )
    (case,) = load_cases(text.encode(), "x.toml")
    assert case.intent.endpoint is None and case.intent.endpoint_class is None


def test_run_cases_reports_pass_and_fail() -> None:
    wrong_rule = CASE.replace("live trade", "sandbox trade").replace(
        'mode = "live"', 'mode = "sandbox"'
    )
    cases = load_cases((CASE + wrong_rule).encode(), "x.toml")
    passed, failed = run_cases(DOC, cases)
    assert passed.passed and passed.actual_rule_id == "venue.endpoint-allowed"
    assert not failed.passed
    assert (failed.expected_allowed, failed.actual_allowed) == (True, False)
    assert failed.actual_rule_id == "venue.mode-disabled"
    assert failed.describe().startswith(
        "x.toml: sandbox trade: expected allow by venue.endpoint-allowed"
    )


def test_same_effect_other_rule_fails() -> None:
    text = (
        CASE.replace('expect = "allow"', 'expect = "deny"')
        .replace("venue.endpoint-allowed", "venue.disabled")
        .replace('mode = "live"', 'mode = "sandbox"')
    )
    (result,) = run_cases(DOC, load_cases(text.encode(), "x.toml"))
    assert not result.passed and not result.actual_allowed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (CASE.replace("name =", "nmae ="), 'x.toml:2: case[0].nmae: unknown key "nmae"'),
        (CASE + CASE, 'x.toml:13: case[1].name: duplicate case name "live trade"'),
        (
            CASE.replace('"allow"', '"permit"'),
            'x.toml:3: case[0].expect: must be "allow" or "deny"',
        ),
        (
            CASE.replace('rule = "venue.endpoint-allowed"', 'rule = "venue.allowed"'),
            "x.toml:4: case[0].rule",
        ),
        (
            CASE.replace('rule = "venue.endpoint-allowed"', 'rule = "venue.disabled"'),
            "cannot allow",
        ),
        (
            CASE.replace('endpoint_class = "trade"', 'endpoint_class = "withdraw"'),
            "x.toml:11: case[0].intent",
        ),
        (CASE.replace('mode = "live"\n', ""), "x.toml:5: case[0].intent.mode: required"),
        (
            CASE.replace('mode = "live"', "mode = 1"),
            "case[0].intent.mode: required, must be a non-empty",
        ),
        (CASE + 'violations = "x"\n', "x.toml:12: case[0].intent.violations: must be a list"),
        (CASE + 'signature = "x"\n', "case[0].intent.signature: unknown key"),
        (CASE.replace("[case.intent]", "[case.intnet]"), "case[0].intnet: unknown key"),
        ("title = 1\n" + CASE, "x.toml:1: title: unknown key"),
        ("# nothing\n", "x.toml: case: a case file needs at least one"),
        ("case = 1\n", "x.toml:1: case: a case file needs"),
        ("[[case]\n", "x.toml: not a valid TOML case file"),
    ],
)
def test_invalid_case_file_is_refused(text: str, message: str) -> None:
    with pytest.raises(PolicyCaseError) as caught:
        load_cases(text.encode(), "x.toml")
    assert message in str(caught.value)


def test_non_utf8_case_file_is_refused() -> None:
    with pytest.raises(PolicyCaseError, match="not a valid TOML case file"):
        load_cases(b"\xff", "x.toml")
