"""The series and their registry (signer/observability/metrics.py)."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import REGISTRY, generate_latest

from policy.document import load_document
from signer.app import default_policy_bytes
from signer.domain import Mode, Principal
from signer.keystore import Keystore, MasterKey, Store
from signer.observability.events import DecisionLine
from signer.observability.metrics import Metrics
from signer.pipeline import PolicyHolder


def test_each_metrics_has_its_own_registry_never_the_global_one() -> None:
    """Invariant 1: two daemons in one process never share a series."""
    a, b = Metrics(), Metrics()
    a.decision(DecisionLine("sign_venue_request", "allow", "", venue="okx"))
    labels = {"action": "sign_venue_request", "venue": "okx", "endpoint_class": "",
              "decision": "allow", "reason": ""}  # fmt: skip
    assert a.registry.get_sample_value("signer_signing_decisions_total", labels) == 1
    assert b.registry.get_sample_value("signer_signing_decisions_total", labels) is None
    assert b"signer_" not in generate_latest(REGISTRY)


def test_policy_update_labels_are_closed_sets() -> None:
    """Invariant 2: an event with unexpected text is counted under "other"."""
    m = Metrics()
    m.audit_appended({"action": "policy_update", "source": "x\n", "decision": "maybe",
                      "rule": "rule-from-a-document"}, 0.01)  # fmt: skip
    m.audit_appended({"action": "policy_update", "source": "rpc", "decision": "accept",
                      "rule": ""}, None)  # fmt: skip
    text = generate_latest(m.registry).decode()
    assert 'signer_policy_updates_total{reason="other",result="other",source="other"} 1.0' in text
    assert 'signer_policy_updates_total{reason="",result="accept",source="rpc"} 1.0' in text
    assert "rule-from-a-document" not in text
    assert m.registry.get_sample_value("signer_audit_append_failures_total") == 1


def test_policy_version_and_keystore_cache_are_read_at_scrape_time(tmp_path: Path) -> None:
    """Invariant 3: nothing is counted on the request path beyond the keystore's own ints."""
    key = tmp_path / "master.key"
    master = MasterKey.generate_dev(key)
    keystore = Keystore(Store(tmp_path / "db"), master)
    holder = PolicyHolder(load_document(default_policy_bytes()))
    m = Metrics()
    m.watch(keystore, holder)
    alice = Principal("alice", Mode.LIVE)
    keystore.put_credentials(alice, "okx", {"api_key": "k", "api_secret": "s", "passphrase": "p"})
    assert keystore.credentials(alice, "okx") is not None  # miss, then cached
    assert keystore.credentials(alice, "okx") is not None  # hit
    assert keystore.credentials(alice, "kraken") is None  # miss
    get = m.registry.get_sample_value
    assert (get("signer_keystore_cache_hits_total"), get("signer_keystore_cache_misses_total")) == (
        1,
        2,
    )
    assert get("signer_keystore_cache_entries") == 1
    assert get("signer_policy_version") == holder.document.version
    assert get("signer_policy_loaded_timestamp_seconds") == holder.loaded_at
    keystore.close()


def test_rpc_series() -> None:
    m = Metrics()
    m.rpc("SignVenueRequestStream", 0.003, None)  # a stream item: timed, not finished
    m.rpc("SignVenueRequestStream", None, "OK")  # the stream ended
    get = m.registry.get_sample_value
    assert get("signer_rpc_duration_seconds_count", {"rpc": "SignVenueRequestStream"}) == 1
    assert get("signer_rpcs_total", {"rpc": "SignVenueRequestStream", "code": "OK"}) == 1
