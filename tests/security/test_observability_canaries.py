"""Secret canaries in the observability outputs (issue 6, item 7).

The canary world of test_secret_canaries.py (credentials for all eleven venues,
trading wallets, withdrawals) drives a daemon that has the metrics endpoint on
and every log record formatted as the production JSON lines. Captured: every
/metrics scrape and every JSON line of every logger at DEBUG. Assertion: no
form of any canary (credentials, wallet keys, daemon keys, master key, TLS key)
in any of them. The capture is shown to be real: each driven venue and client
appears in the series and the lines, and a planted canary is found.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from signer.observability.logs import JsonFormatter
from signer.observability.settings import MetricsConfig
from tests.integration.conftest import Pki, RunningDaemon, make_config
from tests.security import canary_drive as drive
from tests.security.canaries import marker_canaries, report, scan
from tests.security.canary_offline import deployment_canaries, generated_canaries
from tests.security.canary_recorder import Recorder
from tests.security.canary_wallets import wallets
from tests.security.canary_world import build_accounts

pytestmark = [pytest.mark.timeout(600), pytest.mark.withhold_output]


class JsonCapture(logging.Handler):
    """Every record of every logger, as the daemon writes it with log_format = "json"."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def json_logs() -> Iterator[JsonCapture]:
    root, handler = logging.getLogger(), JsonCapture()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def _scrape(d: RunningDaemon) -> bytes:
    address = d.d.observability.address
    assert address is not None
    with urllib.request.urlopen(f"http://127.0.0.1:{address[1]}/metrics", timeout=10) as resp:
        return bytes(resp.read())


def test_no_canary_in_metrics_or_json_log_lines(
    state_dir: Path, pki: Pki, json_logs: JsonCapture
) -> None:
    config = replace(make_config(state_dir, pki), metrics=MetricsConfig("127.0.0.1", 0))
    assert config.master_key_file is not None
    accounts = build_accounts()
    by_client = {a.client: a for a in accounts}
    rec, probes = Recorder(), drive.Probes()
    scrapes: dict[str, bytes] = {}
    d = RunningDaemon(config)
    try:
        with drive.channels(d, pki) as ch:
            sealing = drive.identity(rec, ch)
            drive.store_credentials(rec, ch, accounts, sealing)
            scrapes["metrics:stored"] = _scrape(d)
            drive.sign_all(rec, ch, accounts, "sign")
            drive.denied_all(rec, ch, accounts)
            drive.sign_failures(rec, ch, by_client, probes)
            drive.stream(rec, ch, accounts)
            holders = wallets(rec, ch, probes, by_client["c-hl-agent"])
            scrapes["metrics:final"] = _scrape(d)
    finally:
        d.stop()
    artefacts = {**scrapes, "log:json": "\n".join(json_logs.lines).encode()}
    canaries = [c for a in accounts for c in a.canaries]
    canaries += generated_canaries(state_dir, config.master_key_file, holders, accounts, [])
    canaries += deployment_canaries(config.master_key_file, pki) + marker_canaries()

    _assert_capture_is_real(scrapes["metrics:final"].decode(), json_logs.lines, accounts)
    leaks = scan(canaries, artefacts)
    assert not leaks, report(leaks)
    planted = next(iter(canaries[0].forms.values()))
    assert scan(canaries[:1], {"log:planted": b"x" + planted + b"y"})


def _assert_capture_is_real(metrics: str, lines: list[str], accounts: list) -> None:  # type: ignore[type-arg]
    """Every venue signed and was denied in the series; every client has decision lines."""
    for acct in accounts:
        for decision in ("allow", "deny"):
            assert f'decision="{decision}"' in metrics
            assert f'venue="{acct.venue}"' in metrics, acct.venue
    decisions = [json.loads(x) for x in lines if '"logger":"signer.decisions"' in x]
    clients = {x["client_id"] for x in decisions}
    assert {a.client for a in accounts} <= clients
    actions = {x["action"] for x in decisions}
    assert {"sign_venue_request", "evaluate_policy", "withdraw", "sign_transaction"} <= actions
    assert all(len(x.splitlines()) == 1 for x in lines) and len(lines) > len(accounts)
