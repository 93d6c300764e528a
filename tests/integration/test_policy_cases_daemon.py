"""The request cases of tests/policy_cases/ get the same answer from a real daemon.

``sequence-signer policy test`` claims to evaluate request cases the way
EvaluatePolicy does; here every request case is also sent to a running
daemon's EvaluatePolicy and the two answers must be identical.
"""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from policy.case_requests import RequestCase
from policy.cases import load_case_file
from policy.document import default_document_bytes, load_document
from signer import policy_test_runner as runner
from signer._proto.sequence.signer.v1 import common_pb2, policy_service_pb2, signing_service_pb2
from signer.server.status import error_info
from tests.integration.conftest import RunningDaemon
from tests.integration.isolation_probe import MODES

CASES = Path(__file__).resolve().parents[1] / "policy_cases"


def request_cases() -> list[RequestCase]:
    found = [
        case
        for path in sorted(CASES.rglob("*.toml"))
        for case in load_case_file(path.read_bytes(), path.name, error_reasons=runner.ERROR_REASONS)
        if isinstance(case, RequestCase)
    ]
    assert len(found) >= 20
    return found


@pytest.mark.parametrize("case", request_cases(), ids=lambda c: c.name)
def test_daemon_evaluate_policy_answers_like_the_runner(
    daemon: RunningDaemon, case: RequestCase
) -> None:
    r = case.request
    msg = signing_service_pb2.SignVenueRequestRequest(
        principal=common_pb2.Principal(client_id=r.client_id, mode=MODES[r.mode]),
        venue=r.venue, wallet_id=r.wallet_id,
        request=common_pb2.HttpRequest(method=r.method, host=r.host, path=r.path, query=r.query,
                                       body=r.body.encode(), headers=dict(r.headers)),
    )  # fmt: skip
    try:
        resp = daemon.api().policy.EvaluatePolicy(
            policy_service_pb2.EvaluatePolicyRequest(request=msg)
        )
        daemon_says: tuple[str, str, tuple[str, ...]] = (
            "allow" if resp.allowed else "deny",
            resp.rule_id,
            tuple(resp.reasons),
        )
    except grpc.RpcError as exc:
        info = error_info(exc)
        daemon_says = ("error", info.reason if info else "", (exc.details() or "",))
    out = runner.evaluate_case(
        case, load_document(default_document_bytes()), runner.default_venues()
    )
    assert daemon_says == (out.effect, out.rule_or_reason, out.reasons)
