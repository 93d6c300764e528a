"""EvaluatePolicy explains a decision without touching a key (DESIGN.md section 4).

SECURITY: the dry run is the signing path stopped after ``policy.decide``
(``Pipeline.evaluate``): it must not read the keystore or the wallet store (no
key enumeration, no unsealing) and it writes no audit record (DESIGN.md audits
signing outcomes; section 4 defines EvaluatePolicy as a dry run). Proven with
spies on every method of the keystore, the wallet store, the SQLite store and
the audit log, with a positive control that the spies do see a real signing.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import grpc
import pytest

from signer._proto.sequence.signer.v1 import policy_service_pb2, signing_service_pb2
from signer._proto.sequence.signer.v1 import wallet_service_pb2 as w
from signer.server.status import error_info
from tests.integration.conftest import RunningDaemon, principal
from tests.integration.isolation_probe import MODES, store
from tests.integration.isolation_table import ROWS, VenueRow


def spy_on(monkeypatch: pytest.MonkeyPatch, calls: list[str], *objects: object) -> None:
    """Record every call of every method of ``objects`` (instance-level patches)."""
    for obj in objects:
        owner = type(obj).__name__
        for name in dir(obj):
            method = getattr(obj, name)
            if name.startswith("__") or not inspect.ismethod(method):
                continue

            def wrapper(
                *a: Any, _m: Callable[..., Any] = method, _n: str = f"{owner}.{name}", **k: Any
            ) -> Any:
                calls.append(_n)
                return _m(*a, **k)

            monkeypatch.setattr(obj, name, functools.wraps(method)(wrapper))


def evaluate(d: RunningDaemon, row: VenueRow, mode: str, client: str, path: str = "",
             wallet_id: str = "") -> tuple[object, ...]:  # fmt: skip
    """EvaluatePolicy's answer as a comparable tuple (or the refusal's reason and message)."""
    http = row.http()
    if path:
        http.path = path
    req = signing_service_pb2.SignVenueRequestRequest(
        principal=principal(client, MODES[mode]), venue=row.venue, request=http,
        wallet_id=wallet_id,
    )  # fmt: skip
    try:
        out = d.api().policy.EvaluatePolicy(policy_service_pb2.EvaluatePolicyRequest(request=req))
    except grpc.RpcError as exc:
        info = error_info(exc)
        return ("refused", info.reason if info else "", exc.details())
    return (out.allowed, out.rule_id, tuple(out.reasons))


def probes(row: VenueRow) -> list[tuple[str, str, str]]:
    """(mode, path override, wallet_id) for an allowed, a denied and a refused request."""
    out = [(m, "", "") for m in MODES] + [(m, "/withdraw/x", "") for m in MODES]
    if row.venue in ("hyperliquid", "polymarket"):
        out += [(m, "", "turnkey:0x" + "11" * 20) for m in MODES]
    return out


def test_evaluate_touches_no_key_store_or_audit(
    daemon: RunningDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = daemon.api()
    for row in ROWS:
        for mode in MODES:
            store(api, row.venue, mode, row.make())
    for mode in MODES:
        api.wallets.CreateTradingWallet(
            w.CreateTradingWalletRequest(principal=principal("alice", MODES[mode]))
        )
    audit_before = daemon.config.audit_path.read_bytes()
    calls: list[str] = []
    d = daemon.d
    spy_on(monkeypatch, calls, d.keystore, d.wallet_store, d.store, d.audit)
    answers = [evaluate(daemon, row, *probe[:1], "alice", *probe[1:]) for row in ROWS
               for probe in probes(row)]  # fmt: skip
    assert calls == [], f"EvaluatePolicy touched {sorted(set(calls))}"
    assert daemon.config.audit_path.read_bytes() == audit_before
    assert {a[0] for a in answers} == {True, False, "refused"}  # all three kinds were asked
    # Positive control: the same spies see a signing look up its key and audit it.
    row = ROWS[1]
    api.signing.SignVenueRequest(
        signing_service_pb2.SignVenueRequestRequest(
            principal=principal("alice", MODES["sandbox"]), venue=row.venue, request=row.http()
        )
    )
    assert "Keystore.credentials" in calls and "AuditLog.append" in calls


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.venue)
def test_same_answer_with_or_without_keys(daemon: RunningDaemon, row: VenueRow) -> None:
    api = daemon.api()
    for mode in MODES:
        store(api, row.venue, mode, row.make(), client="alice")
        api.wallets.CreateTradingWallet(
            w.CreateTradingWalletRequest(principal=principal("alice", MODES[mode]))
        )
    for mode, path, wallet_id in probes(row):
        with_keys = evaluate(daemon, row, mode, "alice", path, wallet_id)
        without = evaluate(daemon, row, mode, "nobody", path, wallet_id)
        assert with_keys == without, (mode, path, wallet_id)


def test_answers_carry_rule_ids_and_reasons(daemon: RunningDaemon) -> None:
    row = next(r for r in ROWS if r.venue == "binance")
    allowed = evaluate(daemon, row, "sandbox", "nobody")
    assert allowed[:2] == (True, "venue.endpoint-allowed")
    assert "sandbox mode" in str(allowed[2])
    denied = evaluate(daemon, row, "live", "nobody", "/sapi/v1/capital/withdraw/apply")
    assert denied[:2] == (False, "endpoint.not-allowlisted")
    assert "/sapi/v1/capital/withdraw/apply" in str(denied[2])
    kraken = next(r for r in ROWS if r.venue == "kraken")
    assert evaluate(daemon, kraken, "sandbox", "nobody")[:2] == ("refused", "MODE_MISMATCH")
