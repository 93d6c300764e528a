"""Request cases: strict loading, one outcome kind per case, line numbers in every refusal."""

from __future__ import annotations

import pytest

from policy.case_requests import DEFAULT_CLIENT_ID, CaseRequest, RequestCase
from policy.cases import DecisionCase, PolicyCaseError, load_case_file, load_cases

REASONS = frozenset({"MODE_MISMATCH", "INVALID_REQUEST"})
CASE = """[[case]]
name = "sandbox order naming the live host"
expect = "error"
error = "MODE_MISMATCH"
[case.request]
mode = "sandbox"
venue = "binance"
method = "POST"
path = "/api/v3/order"
host = "api.binance.com"
query = "symbol=BTCUSDT"
headers = { "Content-Type" = "application/json" }
"""
ALLOW = """[[case]]
name = "live read"
expect = "allow"
rule = "venue.endpoint-allowed"
[case.request]
mode = "live"
venue = "binance"
method = "GET"
path = "/api/v3/account"
client_id = "alice"
"""
INTENT = """[[case]]
name = "intent"
expect = "deny"
rule = "venue.disabled"
[case.intent]
mode = "live"
venue = "kraken"
method = "GET"
path = "/x"
endpoint = "GET /x"
"""


def load(text: str) -> list[DecisionCase | RequestCase]:
    return load_case_file(text.encode(), "r.toml", error_reasons=REASONS)


def test_request_cases_and_intent_cases_in_one_file() -> None:
    error, allow, intent = load(CASE + "\n" + ALLOW + "\n" + INTENT)
    assert isinstance(error, RequestCase) and isinstance(allow, RequestCase)
    assert (error.expect, error.rule_id, error.error, error.line) == (
        "error",
        "",
        "MODE_MISMATCH",
        1,
    )
    assert error.request == CaseRequest(
        DEFAULT_CLIENT_ID, "sandbox", "binance", "POST", "/api/v3/order",
        host="api.binance.com", query="symbol=BTCUSDT",
        headers=(("Content-Type", "application/json"),),
    )  # fmt: skip
    assert (allow.expect, allow.rule_id, allow.error) == ("allow", "venue.endpoint-allowed", "")
    assert allow.request.client_id == "alice" and allow.line == 14
    assert isinstance(intent, DecisionCase) and intent.line == 25


def test_load_cases_refuses_request_cases_naming_the_line() -> None:
    with pytest.raises(PolicyCaseError, match=r"r\.toml:12: case\[1\]\.request: request cases"):
        load_cases((INTENT + "\n" + ALLOW).encode(), "r.toml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (CASE.replace('"MODE_MISMATCH"', '"MODE_MISMATCHED"'),
         'r.toml:4: case[0].error: unknown error reason "MODE_MISMATCHED"'),
        (CASE.replace('error = "MODE_MISMATCH"', 'rule = "venue.disabled"'),
         "r.toml:4: case[0].rule: a refusal has no rule"),
        (CASE.replace('error = "MODE_MISMATCH"\n', ""), "r.toml:1: case[0].error: required"),
        (ALLOW.replace("[case.request]", 'error = "MODE_MISMATCH"\n[case.request]'),
         "r.toml:5: case[0].error: only with expect"),
        (ALLOW.replace('"allow"', '"permit"'), 'case[0].expect: must be "allow", "deny" or "error"'),
        (ALLOW.replace("venue.endpoint-allowed", "venue.disabled"), "rule venue.disabled cannot allow"),
        (ALLOW.replace('"live"', '"prod"'), 'r.toml:6: case[0].request.mode: must be "live"'),
        (ALLOW.replace('path = "/api/v3/account"', "path = 1"), "case[0].request.path: required"),
        (ALLOW + "query = 1\n", "r.toml:11: case[0].request.query: must be a string"),
        (ALLOW + "headers = { a = 1 }\n", "case[0].request.headers: must be a table of strings"),
        (ALLOW + 'signature = "x"\n', 'case[0].request.signature: unknown key "signature"'),
        (ALLOW + "[case.intent]\n", "case[0].request: a case states an intent or a request"),
        (INTENT.replace('rule = "venue.disabled"', 'error = "MODE_MISMATCH"'),
         "case[0].error: only request cases can expect an error"),
    ],
)  # fmt: skip
def test_invalid_request_case_is_refused(text: str, message: str) -> None:
    with pytest.raises(PolicyCaseError) as caught:
        load(text)
    assert message in str(caught.value)


def test_error_cases_need_known_reasons() -> None:
    with pytest.raises(PolicyCaseError, match="known: none"):
        load_case_file(CASE.encode(), "r.toml")
