"""The decision-case runner: EvaluatePolicy's path, exact matches, fail closed."""

from __future__ import annotations

import io
from pathlib import Path
from typing import ClassVar

import pytest

from policy.case_requests import CaseRequest, RequestCase
from policy.document import default_document_bytes, load_document
from signer import policy_test_runner as runner
from signer.domain import HttpRequest, Principal
from signer.venues.base import ParsedRequest

DOC = load_document(default_document_bytes())
VENUES = runner.default_venues()
ORDER = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=20000"
GOOD = f"""[[case]]
name = "binance sandbox order"
expect = "allow"
rule = "venue.endpoint-allowed"
[case.request]
mode = "sandbox"
venue = "binance"
method = "POST"
path = "/api/v3/order"
query = "{ORDER}"

[[case]]
name = "binance sandbox naming the live host"
expect = "error"
error = "MODE_MISMATCH"
[case.request]
mode = "sandbox"
venue = "binance"
method = "POST"
host = "api.binance.com"
path = "/api/v3/order"
query = "{ORDER}"
"""


def request_case(**over: str) -> RequestCase:
    fields = {"client_id": "c", "mode": "live", "venue": "binance", "method": "GET",
              "path": "/api/v3/account", **over}  # fmt: skip
    request = CaseRequest(**fields)  # type: ignore[arg-type]
    return RequestCase("n", "f.toml", "allow", "venue.endpoint-allowed", "", request)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_request_case_outcomes() -> None:
    allow = runner.evaluate_case(request_case(), DOC, VENUES)
    assert (allow.effect, allow.rule_or_reason) == ("allow", "venue.endpoint-allowed")
    deny = runner.evaluate_case(request_case(path="/sapi/v1/capital/withdraw/apply"), DOC, VENUES)
    assert (deny.effect, deny.rule_or_reason) == ("deny", "endpoint.not-allowlisted")
    refused = runner.evaluate_case(request_case(host="testnet.binance.vision"), DOC, VENUES)
    assert (refused.effect, refused.rule_or_reason) == ("error", "MODE_MISMATCH")
    bad_client = runner.evaluate_case(request_case(client_id="a b"), DOC, VENUES)
    assert (bad_client.effect, bad_client.rule_or_reason) == ("error", "INVALID_REQUEST")


class Exploding:
    name = "binance"
    hosts: ClassVar[dict[object, str | None]] = {}

    def parse(self, principal: Principal, request: HttpRequest) -> ParsedRequest:
        raise RuntimeError("secret detail")


def test_an_unexpected_exception_is_a_failing_outcome() -> None:
    out = runner.evaluate_case(request_case(), DOC, {"binance": Exploding()})  # type: ignore[dict-item]
    assert (out.effect, out.rule_or_reason, out.reasons) == ("error", "INTERNAL", ("RuntimeError",))


def test_run_file_passes_and_names_failures(tmp_path: Path) -> None:
    report = runner.run_file(write(tmp_path, "ok.toml", GOOD), DOC, VENUES)
    assert report.passed and [c.where for c in report.cases] == [
        f"{tmp_path}/ok.toml:1",
        f"{tmp_path}/ok.toml:12",
    ]
    wrong = GOOD.replace('error = "MODE_MISMATCH"', 'error = "INVALID_REQUEST"')
    report = runner.run_file(write(tmp_path, "bad.toml", wrong), DOC, VENUES)
    first, second = report.cases
    assert first.passed and not second.passed and not report.passed
    assert second.describe().startswith(
        f"{tmp_path}/bad.toml:12: binance sandbox naming the live host: "
        "expected error INVALID_REQUEST, got error MODE_MISMATCH"
    )


def test_same_effect_other_rule_fails(tmp_path: Path) -> None:
    text = GOOD.replace('path = "/api/v3/order"', 'path = "/api/v3/orderz"', 1).replace(
        'expect = "allow"\nrule = "venue.endpoint-allowed"',
        'expect = "deny"\nrule = "venue.disabled"',
    )
    (case, _) = runner.run_file(write(tmp_path, "r.toml", text), DOC, VENUES).cases
    assert not case.passed and case.actual.rule_or_reason == "endpoint.not-allowlisted"


def test_malformed_and_unreadable_files_are_errors(tmp_path: Path) -> None:
    bad = runner.run_file(
        write(tmp_path, "m.toml", GOOD.replace("venue =", "venu =", 1)), DOC, VENUES
    )
    assert not bad.passed and bad.error.startswith(f"{tmp_path}/m.toml:7: case[0].request.venu")
    missing = runner.run_file(tmp_path / "absent.toml", DOC, VENUES)
    assert missing.error == f"{tmp_path}/absent.toml: cannot read: FileNotFoundError"


def test_render_like_opa_test(tmp_path: Path) -> None:
    ok = runner.run_file(write(tmp_path, "ok.toml", GOOD), DOC, VENUES)
    out = io.StringIO()
    assert runner.render([ok], out, verbose=True)
    assert out.getvalue().splitlines() == [
        f"{tmp_path}/ok.toml: PASS (2/2)",
        "  PASS binance sandbox order",
        "  PASS binance sandbox naming the live host",
        runner.RULER,
        "PASS: 2/2",
    ]
    broken = runner.run_file(write(tmp_path, "x.toml", "[[case]]\n"), DOC, VENUES)
    out = io.StringIO()
    assert not runner.render([ok, broken], out, verbose=False)
    lines = out.getvalue().splitlines()
    assert lines[:3] == [f"{tmp_path}/ok.toml: PASS (2/2)", f"{tmp_path}/x.toml: ERROR",
                         f"  {tmp_path}/x.toml:1: case[0].name: required, must be a non-empty string"]  # fmt: skip
    assert lines[-1] == "ERROR: 1 case file(s) could not be run"
    assert not runner.render([], io.StringIO(), verbose=False)


def test_no_keystore_state_or_audit_is_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    """SECURITY: the runner has no key to touch; building one would fail this test."""

    def forbidden(*_: object, **__: object) -> None:
        raise AssertionError("policy test opened daemon state")

    for target in ("signer.keystore.Keystore.__init__", "signer.keystore.Store.__init__",
                   "signer.audit.AuditLog.__init__", "signer.keystore.MasterKey.load"):  # fmt: skip
        monkeypatch.setattr(target, forbidden)
    cases_dir = Path(__file__).resolve().parents[1] / "policy_cases"
    assert runner.run_cli(cases_dir, None, out=io.StringIO()) == 0
