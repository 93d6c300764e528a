"""Every deny entry of venue_endpoints.json, for every exchange, through a real daemon:
PERMISSION_DENIED / POLICY_DENIED, no signature, and one audit record each."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from signer._proto.sequence.signer.v1 import common_pb2, credential_service_pb2, signing_service_pb2
from signer.config import Config, ListenerConfig
from signer.domain import Role
from tests.integration.conftest import RunningDaemon, rpc_reason

ENDPOINTS = json.loads(
    (Path(__file__).resolve().parents[3] / "shared/venues/venue_endpoints.json").read_text()
)
EXCHANGES = ["kraken", "coinbase", "binance", "bitget", "cryptocom", "bitmart", "okx", "bybit", "kalshi"]  # fmt: skip
DENY = [(v, m, p) for v in EXCHANGES for m, p in ENDPOINTS[v]["deny"]]
# Plausible bodies: the point is that even a well-formed withdrawal is refused.
BODIES = {
    "json": b'{"coin":"BTC","amount":"1","address":"0xattacker","network":"BTC"}',
    "form": b"coin=BTC&amount=1&address=0xattacker&network=BTC",
}


HMAC_VENUES = {"okx", "bitget", "bitmart", "bybit", "cryptocom", "binance"}


def _concrete(path: str) -> str:
    return path.replace("{", "").replace("}", "")


def _events(daemon: RunningDaemon) -> list[dict[str, object]]:
    """Audit records other than signed checkpoints (written every N records or T seconds)."""
    lines = daemon.config.audit_path.read_bytes().splitlines()
    return [r for r in map(json.loads, lines) if r.get("kind") != "checkpoint"]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    d = tmp_path_factory.mktemp("xf")
    key = d / "mk"
    key.write_text(secrets.token_hex(32))
    key.chmod(0o600)
    running = RunningDaemon(
        Config(
            state_dir=d / "s",
            master_key_file=key,
            listeners=(ListenerConfig("unix", str(d / "s" / "api.sock"), Role.API),),
        )
    )
    yield running
    running.stop()


def test_deny_corpus_is_complete() -> None:
    assert len(DENY) >= 200
    assert {v for v, _, _ in DENY} == set(EXCHANGES)


@pytest.mark.parametrize("shape", sorted(BODIES))
@pytest.mark.parametrize(
    ("venue", "method", "path"), DENY, ids=[f"expfail_{v}_{m}_{p}" for v, m, p in DENY]
)
def test_every_deny_entry_is_refused_and_audited(
    daemon: RunningDaemon, venue: str, method: str, path: str, shape: str
) -> None:
    api = daemon.api()
    secret = secrets.token_hex(24)
    if venue in HMAC_VENUES:  # credentials present: the deny must not depend on their absence
        api.credentials.SetCredentials(
            credential_service_pb2.SetCredentialsRequest(
                principal=common_pb2.Principal(client_id="mallory", mode=common_pb2.MODE_LIVE),
                venue=venue, api_key="attackerKey", api_secret=secret,
                passphrase="Passphrase1" if venue in {"okx", "bitget", "bitmart"} else "",
            )
        )  # fmt: skip
    before = len(_events(daemon))
    query = "coin=BTC&amount=1&address=0xattacker" if method in ("GET", "DELETE") else ""
    with pytest.raises(grpc.RpcError) as err:
        api.signing.SignVenueRequest(
            signing_service_pb2.SignVenueRequestRequest(
                principal=common_pb2.Principal(client_id="mallory", mode=common_pb2.MODE_LIVE),
                venue=venue,
                request=common_pb2.HttpRequest(
                    method=method, path=_concrete(path), query=query,
                    body=b"" if query else BODIES[shape],
                    headers={"Content-Type": "application/json" if shape == "json"
                             else "application/x-www-form-urlencoded"},
                ),
            ),
            timeout=10,
        )  # fmt: skip
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED, err.value.details()
    assert rpc_reason(err.value) == "POLICY_DENIED"
    records = _events(daemon)
    assert len(records) == before + 1
    last = records[-1]
    assert (last["venue"], last["decision"]) == (venue, "deny")
    assert secret.encode() not in daemon.config.audit_path.read_bytes()
