"""Live and sandbox never meet (DESIGN.md invariant 7), venue by venue, through a real daemon.

Each test runs for every row of ``isolation_table.ROWS`` and both directions
(a sandbox principal against live's material and hosts, and the reverse). Every
signing attempt is also put to EvaluatePolicy, which must agree
(``isolation_probe.attempt``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from policy.document import default_document_bytes, load_document
from signer._proto.sequence.signer.v1 import common_pb2, signing_service_pb2
from signer.client import Stubs
from signer.config import Config
from signer.domain import VENUES, Mode, Principal
from signer.venues import build_venues
from tests.integration.conftest import Pki, RunningDaemon, principal
from tests.integration.isolation_probe import MODES, OTHER, attempt, delete, store, venues
from tests.integration.isolation_table import BY_VENUE, ROWS, VenueRow, hyperliquid_signer

DEX = frozenset({"hyperliquid", "polymarket"})
DIRECTIONS = [("live", "sandbox"), ("sandbox", "live")]


def host(row: VenueRow, mode: str) -> str | None:
    return row.live_host if mode == "live" else row.sandbox_host


def can_sign(row: VenueRow, mode: str) -> bool:
    return host(row, mode) is not None and mode in row.policy_modes


def refusal_without_credentials(row: VenueRow, mode: str) -> str:
    """What the daemon answers a principal of ``mode`` that stored nothing for ``row``."""
    if host(row, mode) is None:
        return "MODE_MISMATCH"  # the venue has no such environment (checked first)
    # On-chain venues fall back to the trading wallet, and there is none.
    return "NO_TRADING_WALLET" if row.venue in DEX else "NO_CREDENTIALS"


def test_table_names_every_registered_venue_with_its_hosts_and_modes() -> None:
    registry = build_venues(Config(state_dir=Path("."), listeners=()))
    assert set(BY_VENUE) == set(registry) == set(VENUES), "add the new venue to isolation_table"
    document = load_document(default_document_bytes())
    for row in ROWS:
        venue = registry[row.venue]
        assert venue.hosts == {Mode.LIVE: row.live_host, Mode.SANDBOX: row.sandbox_host}
        policy = document.venue(row.venue)
        assert policy is not None and set(policy.modes) == row.policy_modes, row.venue
        # A venue without a sandbox environment must not be enabled for sandbox.
        assert row.sandbox_host is not None or "sandbox" not in policy.modes


@pytest.fixture(params=["unix", "tls"])
def api(request: pytest.FixtureRequest, daemon: RunningDaemon, pki: Pki) -> Stubs:
    return daemon.api() if request.param == "unix" else daemon.tls(pki, "frontend")


@pytest.mark.parametrize(("owner", "intruder"), DIRECTIONS)
@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.venue)
def test_credentials_never_cross_modes(
    daemon: RunningDaemon, api: Stubs, row: VenueRow, owner: str, intruder: str
) -> None:
    mine = row.make()
    store(api, row.venue, owner, mine)
    assert venues(api, owner) == [row.venue] and venues(api, intruder) == []
    # The intruder has no credentials of its own: never a signature with the owner's.
    out = attempt(api, row.venue, intruder, row.http())
    assert (out.signed, out.reason) == (None, refusal_without_credentials(row, intruder))

    theirs = row.make()
    store(api, row.venue, intruder, theirs)  # must not overwrite the owner's row
    assert venues(api, owner) == venues(api, intruder) == [row.venue]
    for mode, material in ((owner, mine), (intruder, theirs)):
        stored = daemon.d.keystore.credentials(Principal("alice", Mode(mode)), row.venue)
        assert stored is not None and stored.api_key == material.api_key
        out = attempt(api, row.venue, mode, row.http())
        if can_sign(row, mode):
            assert out.signed is not None, out
            assert row.identity(out.signed, mode) == material.identity
        else:
            assert out.reason == "MODE_MISMATCH"

    assert delete(api, row.venue, intruder) is True
    assert delete(api, row.venue, intruder) is False
    assert venues(api, owner) == [row.venue] and venues(api, intruder) == []
    out = attempt(api, row.venue, intruder, row.http())
    assert (out.signed, out.reason) == (None, refusal_without_credentials(row, intruder))
    if can_sign(row, owner):
        out = attempt(api, row.venue, owner, row.http())
        assert out.signed is not None and row.identity(out.signed, owner) == mine.identity


def _disguises(name: str) -> list[str]:
    return [name.upper(), name + ".", name + ":443", "https://" + name, name + "/", " " + name]


@pytest.mark.parametrize("mode", ["live", "sandbox"])
@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.venue)
def test_a_request_never_reaches_the_other_modes_host(
    daemon: RunningDaemon, row: VenueRow, mode: str
) -> None:
    api = daemon.api()
    material = {m: row.make() for m in MODES}
    for m in MODES:  # both modes hold keys: no refusal below is for want of a key
        store(api, row.venue, m, material[m])
    own, other = host(row, mode), host(row, OTHER[mode])
    if own is None:
        for name in (row.live_host, "", "api-testnet." + row.live_host):
            out = attempt(api, row.venue, mode, row.http(host=name))
            assert (out.signed, out.reason) == (None, "MODE_MISMATCH"), name
        return
    for name in ("", own):
        out = attempt(api, row.venue, mode, row.http(host=name))
        assert out.signed is not None and out.signed.host == own
        assert row.identity(out.signed, mode) == material[mode].identity
        if row.demo_header:
            flag, value = row.demo_header
            assert out.signed.headers.get(flag) == (value if mode == "sandbox" else None)
    if other is not None and other != own:
        out = attempt(api, row.venue, mode, row.http(host=other))
        assert (out.signed, out.reason) == (None, "MODE_MISMATCH")
    for name in _disguises(other or row.live_host):
        out = attempt(api, row.venue, mode, row.http(host=name))
        assert (out.signed, out.reason) == (None, "INVALID_REQUEST"), name


@pytest.mark.parametrize("value", ["1", "0", ""])
@pytest.mark.parametrize("mode", ["live", "sandbox"])
@pytest.mark.parametrize("row", [r for r in ROWS if r.demo_header], ids=lambda r: r.venue)
def test_the_demo_flag_cannot_be_set_or_stripped_by_the_caller(
    daemon: RunningDaemon, row: VenueRow, mode: str, value: str
) -> None:
    assert row.demo_header is not None
    api = daemon.api()
    store(api, row.venue, mode, row.make())
    flag = row.demo_header[0]
    for name in (flag, flag.upper()):
        out = attempt(api, row.venue, mode, row.http(headers={name: value}))
        assert (out.signed, out.reason, out.rule) == (None, "POLICY_DENIED", "request.strict-parse")


@pytest.mark.parametrize("mode", ["live", "sandbox"])
def test_hyperliquid_agent_signs_under_its_modes_source_only(
    daemon: RunningDaemon, mode: str
) -> None:
    row, api = BY_VENUE["hyperliquid"], daemon.api()
    agents = {m: row.make() for m in MODES}
    for m in MODES:
        store(api, "hyperliquid", m, agents[m])
    out = attempt(api, "hyperliquid", mode, row.http())
    assert out.signed is not None
    body = json.loads(out.signed.body)
    own, other = ("a", "b") if mode == "live" else ("b", "a")
    assert hyperliquid_signer(body, own) == agents[mode].identity
    # Under the other mode's source the signature belongs to neither agent.
    assert hyperliquid_signer(body, other) not in {a.identity for a in agents.values()}


def test_stream_refuses_like_unary(daemon: RunningDaemon) -> None:
    row, api = BY_VENUE["binance"], daemon.api()
    store(api, "binance", "live", row.make())
    Item = signing_service_pb2.SignVenueRequestStreamRequest
    items = [
        Item(id=1, request=signing_service_pb2.SignVenueRequestRequest(
            principal=principal("alice", common_pb2.MODE_SANDBOX), venue="binance",
            request=row.http())),
        Item(id=2, request=signing_service_pb2.SignVenueRequestRequest(
            principal=principal("alice", common_pb2.MODE_LIVE), venue="binance",
            request=row.http(host="testnet.binance.vision"))),
    ]  # fmt: skip
    answers = {a.id: a for a in api.signing.SignVenueRequestStream(iter(items))}
    assert answers[1].error.reason == "NO_CREDENTIALS"
    assert answers[2].error.reason == "MODE_MISMATCH"
