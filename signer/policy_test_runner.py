"""``sequence-signer policy test DIR``: decision cases against a policy document, like ``opa test``.

Every ``*.toml`` under DIR (recursively, sorted) is a case file in the format
of ``policy/cases.py``: intent cases and request cases (``policy/case_requests.py``).

Invariants (tests: tests/unit/test_policy_test_runner.py, tests/unit/test_cli_policy_test.py):

1. A request case takes the path of EvaluatePolicy: the protobuf request is
   converted by ``signer.server.convert.sign_request`` and evaluated by
   ``signer.pipeline.evaluate_request`` (venue selection, strict parse,
   ``policy.decide``). SECURITY: nothing here opens a keystore, a state
   directory or the audit log; no key exists to be touched.
2. An intent case is decided by ``policy.decide`` directly.
3. A case passes only on an exact match: the effect and the rule id, or the
   refusal's reason code. An unexpected exception is outcome ``error INTERNAL``,
   which no case can expect: it fails.
4. Fail closed: a malformed or unreadable case file, a directory without case
   files, or an invalid policy document fails the run (exit 1), and the message
   names the file (and line). Nothing is skipped silently.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from policy.case_requests import RequestCase
from policy.cases import DecisionCase, PolicyCaseError, load_case_file
from policy.document import PolicyDocument, PolicyDocumentError, load_document
from policy.engine import decide
from signer._proto.sequence.signer.v1 import common_pb2, signing_service_pb2
from signer.config import Config
from signer.domain import VENUES
from signer.errors import Reason, SignerError
from signer.pipeline import evaluate_request
from signer.server import convert
from signer.venues import build_venues
from signer.venues.base import Venue

ERROR_REASONS = frozenset(reason.value for reason in Reason)
_MODES = {"live": common_pb2.MODE_LIVE, "sandbox": common_pb2.MODE_SANDBOX}
RULER = "-" * 80


@dataclass(frozen=True, slots=True)
class CaseOutcome:
    """``allow``/``deny`` with the deciding rule id, or ``error`` with the reason code."""

    effect: str
    rule_or_reason: str
    reasons: tuple[str, ...] = ()

    def __str__(self) -> str:
        joiner = " " if self.effect == "error" else " by "
        return f"{self.effect}{joiner}{self.rule_or_reason}"


@dataclass(frozen=True, slots=True)
class CaseReport:
    """One case run: where it is, what it expected, what happened."""

    name: str
    where: str
    expected: CaseOutcome
    actual: CaseOutcome

    @property
    def passed(self) -> bool:
        return (self.expected.effect, self.expected.rule_or_reason) == (
            self.actual.effect,
            self.actual.rule_or_reason,
        )

    def describe(self) -> str:
        reasons = f" {list(self.actual.reasons)!r}" if self.actual.reasons else ""
        return f"{self.where}: {self.name}: expected {self.expected}, got {self.actual}{reasons}"


@dataclass(frozen=True, slots=True)
class FileReport:
    """The cases of one file, or the reason the file could not be run."""

    path: Path
    cases: tuple[CaseReport, ...] = ()
    error: str = ""

    @property
    def passed(self) -> bool:
        return not self.error and all(case.passed for case in self.cases)


def default_venues() -> dict[str, Venue]:
    """The venue registry of a default build (no state directory is involved)."""
    return build_venues(Config(state_dir=Path("."), listeners=()))


def evaluate_case(
    case: DecisionCase | RequestCase, document: PolicyDocument, venues: Mapping[str, Venue]
) -> CaseOutcome:
    """What EvaluatePolicy (request case) or ``decide`` (intent case) answers."""
    if isinstance(case, DecisionCase):
        decision = decide(document, case.intent)
    else:
        r = case.request
        msg = signing_service_pb2.SignVenueRequestRequest(
            principal=common_pb2.Principal(client_id=r.client_id, mode=_MODES[r.mode]),
            venue=r.venue, wallet_id=r.wallet_id,
            request=common_pb2.HttpRequest(
                method=r.method, host=r.host, path=r.path, query=r.query,
                body=r.body.encode("utf-8"), headers=dict(r.headers),
            ),
        )  # fmt: skip
        try:
            req = convert.sign_request(msg)
            decision = evaluate_request(venues, frozenset(VENUES), document, req).decision
        except SignerError as exc:
            code = exc.reason.value if exc.reason else exc.code
            return CaseOutcome("error", code, (exc.public_message,))
        except Exception as exc:  # noqa: BLE001 - reported as a failing outcome, never a pass
            return CaseOutcome("error", "INTERNAL", (type(exc).__name__,))
    effect = "allow" if decision.allowed else "deny"
    return CaseOutcome(effect, decision.rule_id, decision.reasons)


def _expected(case: DecisionCase | RequestCase) -> CaseOutcome:
    if isinstance(case, DecisionCase):
        return CaseOutcome("allow" if case.expect_allowed else "deny", case.rule_id)
    return CaseOutcome(case.expect, case.error if case.expect == "error" else case.rule_id)


def run_file(path: Path, document: PolicyDocument, venues: Mapping[str, Venue]) -> FileReport:
    """Load and run one case file; a malformed or unreadable file is an ``error`` report."""
    try:
        cases = load_case_file(path.read_bytes(), str(path), error_reasons=ERROR_REASONS)
    except OSError as exc:
        return FileReport(path, error=f"{path}: cannot read: {type(exc).__name__}")
    except PolicyCaseError as exc:
        return FileReport(path, error=str(exc))
    reports = []
    for case in cases:
        where = f"{path}:{case.line}" if case.line is not None else str(path)
        actual = evaluate_case(case, document, venues)
        reports.append(CaseReport(case.name, where, _expected(case), actual))
    return FileReport(path, tuple(reports))


def render(reports: Sequence[FileReport], out: TextIO, *, verbose: bool) -> bool:
    """Print per-file results and a summary; True when everything passed."""
    total = passed = 0
    for report in reports:
        if report.error:
            print(f"{report.path}: ERROR", file=out)
            print(f"  {report.error}", file=out)
            continue
        ok = sum(case.passed for case in report.cases)
        total, passed = total + len(report.cases), passed + ok
        status = "PASS" if report.passed else "FAIL"
        print(f"{report.path}: {status} ({ok}/{len(report.cases)})", file=out)
        for case in report.cases:
            if verbose or not case.passed:
                label = "PASS" if case.passed else "FAIL"
                print(f"  {label} {case.describe() if not case.passed else case.name}", file=out)
    errors = sum(1 for report in reports if report.error)
    print(RULER, file=out)
    print(f"PASS: {passed}/{total}", file=out)
    if passed != total:
        print(f"FAIL: {total - passed}/{total}", file=out)
    if errors:
        print(f"ERROR: {errors} case file(s) could not be run", file=out)
    return passed == total and not errors and bool(reports)


def run_cli(directory: Path, policy_file: Path | None, *, verbose: bool = False,
            out: TextIO | None = None, err: TextIO | None = None) -> int:  # fmt: skip
    """``policy test``: exit 0 when every case passed, 1 on any failure, 2 if unreadable."""
    from signer.app import default_policy_bytes

    out, err = out or sys.stdout, err or sys.stderr

    try:
        data = policy_file.read_bytes() if policy_file else default_policy_bytes()
        document = load_document(data)
    except OSError as exc:
        print(f"{policy_file}: cannot read: {type(exc).__name__}", file=err)
        return 2
    except PolicyDocumentError as exc:
        print(f"{policy_file or 'default policy'}: {exc}", file=err)
        return 1
    if not directory.is_dir():
        print(f"{directory}: not a directory", file=err)
        return 2
    files = sorted(directory.rglob("*.toml"))
    if not files:
        print(f"{directory}: no case files (*.toml)", file=err)
        return 1
    venues = default_venues()
    reports = [run_file(path, document, venues) for path in files]
    return 0 if render(reports, out, verbose=verbose) else 1
