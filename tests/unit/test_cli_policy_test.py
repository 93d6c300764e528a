"""``sequence-signer policy test``: the repo's own cases pass; a wrong case fails by name."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from signer.cli import main

CASES = Path(__file__).resolve().parents[1] / "policy_cases"
WRONG = """[[case]]
name = "binance sandbox order (right)"
expect = "allow"
rule = "venue.endpoint-allowed"
[case.request]
mode = "sandbox"
venue = "binance"
method = "POST"
path = "/api/v3/order"
query = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=20000"

[[case]]
name = "kraken sandbox stated with a wrong rule id"
expect = "deny"
rule = "venue.disabled"
[case.intent]
mode = "sandbox"
venue = "kraken"
method = "POST"
path = "/0/private/AddOrder"
endpoint = "POST /0/private/AddOrder"
endpoint_class = "trade"
"""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["policy", "test", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_repo_cases_pass_against_the_shipped_policy(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(CASES))
    assert code == 0, out
    files = sorted(CASES.rglob("*.toml"))
    assert any(path.parent.name == "requests" for path in files)
    for path in files:
        assert f"{path}: PASS (" in out
    assert "FAIL" not in out and out.splitlines()[-1].startswith("PASS: ")
    code, verbose, _ = run(capsys, str(CASES), "-v")
    assert code == 0
    assert "  PASS binance sandbox request naming the live host is refused" in verbose


def test_a_wrong_expected_rule_fails_and_names_the_case(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(CASES, tmp_path / "cases", ignore=shutil.ignore_patterns("*.py"))
    (tmp_path / "cases" / "wrong.toml").write_text(WRONG)
    code, out, _ = run(capsys, str(tmp_path / "cases"))
    assert code == 1
    wrong = str(tmp_path / "cases" / "wrong.toml")
    assert f"{wrong}: FAIL (1/2)" in out
    assert (
        f"  FAIL {wrong}:12: kraken sandbox stated with a wrong rule id: "
        "expected deny by venue.disabled, got deny by venue.mode-disabled"
    ) in out
    assert "FAIL: 1/" in out.splitlines()[-1]


def test_a_policy_that_disagrees_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = (CASES.parents[1] / "policy" / "default.toml").read_text()
    narrowed = policy.replace(
        '[venues.binance]\nenabled = true\nmodes = ["live", "sandbox"]',
        '[venues.binance]\nenabled = true\nmodes = ["live"]',
    )
    assert narrowed != policy
    (tmp_path / "p.toml").write_text(narrowed)
    code, out, _ = run(capsys, str(CASES), "--policy", str(tmp_path / "p.toml"))
    assert code == 1 and "binance sandbox order signs for the testnet: expected allow" in out


def test_malformed_case_file_names_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.toml").write_text(WRONG.replace('rule = "venue.disabled"', 'rule = "nope"'))
    code, out, _ = run(capsys, str(tmp_path))
    assert code == 1
    assert f"{tmp_path}/bad.toml:15: case[1].rule: unknown rule id" in out


@pytest.mark.parametrize(
    ("make", "code", "message"),
    [
        (lambda d: d / "absent", 2, "not a directory"),
        (lambda d: d, 1, "no case files"),
    ],
)
def test_nothing_to_run_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: object, code: int, message: str
) -> None:
    target = make(tmp_path)  # type: ignore[operator]
    got, _, err = run(capsys, str(target))
    assert got == code and message in err


def test_invalid_policy_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "p.toml").write_text("version = 0\n")
    code, _, err = run(capsys, str(CASES), "--policy", str(tmp_path / "p.toml"))
    assert code == 1 and str(tmp_path / "p.toml") in err
