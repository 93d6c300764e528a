"""Metrics and decision log lines of a real daemon (issue 6 item 7).

The daemon of tests/integration/conftest.py with ``[metrics]`` on 127.0.0.1:0;
/metrics is scraped over HTTP before and after the calls, and the series must
have moved by exactly what the calls did.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from signer._proto.sequence.signer.v1 import common_pb2, policy_service_pb2, signing_service_pb2
from signer.domain import VENUES
from signer.evm.chains import CHAINS
from signer.observability.logs import DECISIONS, JsonFormatter
from signer.observability.settings import MetricsConfig
from tests.integration.conftest import Pki, RunningDaemon, binance_secret, make_config, principal
from tests.integration.test_daemon import ORDER_QUERY, set_creds, sign

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]
SIGNED = {"action": "sign_venue_request", "venue": "binance", "endpoint_class": "trade",
          "decision": "allow", "reason": ""}  # fmt: skip
DENIED = {"action": "sign_venue_request", "venue": "binance", "endpoint_class": "",
          "decision": "deny", "reason": "POLICY_DENIED"}  # fmt: skip
ATTACK_VENUE = "pwnVenue_a1b2c3"
ATTACK_PATH = "/api/v3/pwnPath_d4e5f6"


class JsonLines(logging.Handler):
    """Decision records, formatted as the daemon writes them with log_format = "json"."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def decisions(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.lines]


@pytest.fixture
def json_lines() -> Iterator[JsonLines]:
    handler = JsonLines()
    level = DECISIONS.level
    DECISIONS.addHandler(handler)
    DECISIONS.setLevel(logging.INFO)
    yield handler
    DECISIONS.removeHandler(handler)
    DECISIONS.setLevel(level)


@pytest.fixture
def observed(state_dir: Path, pki: Pki, json_lines: JsonLines) -> Iterator[RunningDaemon]:
    config = replace(make_config(state_dir, pki), metrics=MetricsConfig("127.0.0.1", 0))
    running = RunningDaemon(config)
    yield running
    running.stop()


def scrape_text(d: RunningDaemon) -> str:
    address = d.d.observability.address
    assert address is not None and address[0] == "127.0.0.1"
    with urllib.request.urlopen(f"http://127.0.0.1:{address[1]}/metrics", timeout=10) as resp:
        assert resp.status == 200
        return str(resp.read().decode())


def scrape(d: RunningDaemon) -> Series:
    out: Series = {}
    for family in text_string_to_metric_families(scrape_text(d)):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def moved(before: Series, after: Series, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_a_signature_and_a_denial_move_exactly_their_series(
    observed: RunningDaemon, json_lines: JsonLines
) -> None:
    api = observed.api()
    set_creds(api, "binance", "bk", binance_secret())
    before = scrape(observed)
    sign(api, "binance", "POST", "/api/v3/order", query=ORDER_QUERY)
    with pytest.raises(grpc.RpcError) as err:
        sign(api, "binance", "POST", "/sapi/v1/capital/withdraw/apply", query="coin=BTC")
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    after = scrape(observed)

    assert moved(before, after, "signer_signing_decisions_total", **SIGNED) == 1
    assert moved(before, after, "signer_signing_decisions_total", **DENIED) == 1
    rpc = {"rpc": "SignVenueRequest"}
    assert moved(before, after, "signer_rpc_duration_seconds_count", **rpc) == 2
    assert moved(before, after, "signer_rpcs_total", code="OK", **rpc) == 1
    assert moved(before, after, "signer_rpcs_total", code="PERMISSION_DENIED", **rpc) == 1
    assert moved(before, after, "signer_audit_append_duration_seconds_count") == 2
    assert moved(before, after, "signer_audit_append_failures_total") == 0
    # SetCredentials invalidated the cache: the one allowed signature unsealed (a miss).
    assert moved(before, after, "signer_keystore_cache_misses_total") == 1
    assert moved(before, after, "signer_keystore_cache_hits_total") == 0
    version = observed.d.policy.document.version
    assert after[("signer_policy_version", frozenset())] == version

    lines = [x for x in json_lines.decisions() if x["action"] == "sign_venue_request"]
    assert [(x["decision"], x["reason"], x["endpoint_class"]) for x in lines] == [
        ("allow", "", "trade"), ("deny", "POLICY_DENIED", "")]  # fmt: skip
    audit = [json.loads(r) for r in observed.config.audit_path.read_bytes().splitlines()]
    for line in lines:
        assert (line["client_id"], line["mode"], line["venue"]) == ("alice", "sandbox", "binance")
        assert line["rpc"] == "SignVenueRequest" and line["caller"] == "listener0:unix"
        assert isinstance(line["latency_ms"], float) and line["latency_ms"] > 0
        record = next(r for r in audit if r["seq"] == line["audit_seq"])
        assert (record["decision"], record["rule"]) == (line["decision"], line["rule"])


def test_attacker_chosen_venue_and_path_create_no_label_value(
    observed: RunningDaemon, json_lines: JsonLines
) -> None:
    api = observed.api()
    before = scrape(observed)
    for venue, path in ((ATTACK_VENUE, "/x"), ("binance", ATTACK_PATH)):
        with pytest.raises(grpc.RpcError):
            sign(api, venue, "POST", path, query="symbol=" + ATTACK_VENUE)
    req = signing_service_pb2.SignVenueRequestRequest(
        principal=principal(), venue=ATTACK_VENUE,
        request=common_pb2.HttpRequest(method="GET", path=ATTACK_PATH),
    )  # fmt: skip
    with pytest.raises(grpc.RpcError):
        api.policy.EvaluatePolicy(policy_service_pb2.EvaluatePolicyRequest(request=req))
    item = signing_service_pb2.SignVenueRequestStreamRequest(id=1, request=req)
    (out,) = list(api.signing.SignVenueRequestStream(iter([item])))
    assert out.error.reason == "UNKNOWN_VENUE"
    text = scrape_text(observed)
    after = scrape(observed)

    assert ATTACK_VENUE not in text and "pwnPath" not in text
    known = {*VENUES, *(c.name for c in CHAINS), "", "other"}
    venues = {dict(labels).get("venue") for _, labels in after} - {None}
    assert venues <= known
    unknown = {"venue": "other", "endpoint_class": "", "decision": "refused",
               "reason": "UNKNOWN_VENUE"}  # fmt: skip
    name = "signer_signing_decisions_total"
    assert moved(before, after, name, action="sign_venue_request", **unknown) == 2  # unary + item
    assert moved(before, after, name, action="evaluate_policy", **unknown) == 1
    # The known venue's strange path: parsed, denied, counted under binance.
    denied = {**DENIED, "decision": "deny"}
    assert moved(before, after, name, **denied) == 1
    assert (
        moved(before, after, "signer_rpc_duration_seconds_count", rpc="SignVenueRequestStream") == 1
    )

    logged = json.dumps(json_lines.lines)
    assert ATTACK_VENUE not in logged and "pwnPath" not in logged
    refused = [x for x in json_lines.decisions() if x["decision"] == "refused"]
    assert len(refused) == 3 and {x["venue"] for x in refused} == {"other"}
    assert {x["rpc"] for x in refused} == {"SignVenueRequest", "EvaluatePolicy",
                                           "SignVenueRequestStream"}  # fmt: skip


def test_the_metrics_endpoint_stops_with_the_daemon(state_dir: Path, pki: Pki) -> None:
    config = replace(make_config(state_dir, pki), metrics=MetricsConfig("127.0.0.1", 0))
    running = RunningDaemon(config)
    address = running.d.observability.address
    assert address is not None
    assert "signer_policy_version" in scrape_text(running)
    running.stop()
    assert running.d.observability.address is None
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{address[1]}/metrics", timeout=5)


def test_without_metrics_or_decision_logging_nothing_is_hooked(daemon: RunningDaemon) -> None:
    """The default test daemon (logs at WARNING, no [metrics]): no observer, no interceptor."""
    if DECISIONS.isEnabledFor(logging.INFO):
        pytest.skip("decision logging is enabled in this run")
    obs = daemon.d.observability
    assert obs.observer is None and obs.metrics is None and obs.address is None
    assert obs.interceptors() == ()


def test_server_streams_and_health_are_timed_and_unknown_methods_are_not(
    observed: RunningDaemon,
) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from signer._proto.sequence.signer.v1 import audit_service_pb2
    from signer.client import channel

    set_creds(observed.api(), "binance", "bk", binance_secret())
    before = scrape(observed)
    records = list(observed.admin().audit.ReadAudit(audit_service_pb2.ReadAuditRequest()))
    assert len(records) == 1
    ch = channel(f"unix:{observed.config.state_dir / 'api.sock'}")
    health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest())
    watch = health_pb2_grpc.HealthStub(ch).Watch(health_pb2.HealthCheckRequest())
    assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
    watch.cancel()
    bogus: Any = ch.unary_unary("/sequence.signer.v1.SigningService/pwnMethod_q9")
    with pytest.raises(grpc.RpcError) as err:
        bogus(b"")
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    ch.close()
    text = scrape_text(observed)
    after = scrape(observed)
    assert moved(before, after, "signer_rpcs_total", rpc="ReadAudit", code="OK") == 1
    assert moved(before, after, "signer_rpc_duration_seconds_count", rpc="ReadAudit") == 1
    assert moved(before, after, "signer_rpcs_total", rpc="Check", code="OK") == 1
    assert "pwnMethod" not in text


def test_a_busy_metrics_port_stops_the_start_before_any_listener(state_dir: Path, pki: Pki) -> None:
    import socket

    from signer.observability.runtime import MetricsListenError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = replace(make_config(state_dir, pki), metrics=MetricsConfig("127.0.0.1", port))
        with pytest.raises(MetricsListenError, match=f"127.0.0.1:{port}"):
            RunningDaemon(config)
    assert not (state_dir / "api.sock").exists()
