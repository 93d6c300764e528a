"""Mutated venue requests through the real daemon's signing RPCs.

Every seed of ``tests.property.seeds`` is signable for ("alice", its mode) on
this daemon; a mutation (``tests.property.mutations``) is sent through
SignVenueRequest, SignVenueRequestStream and EvaluatePolicy. Properties: the
outcomes are typed (``rpc_harness.check_typed``), and a malformed mutant is
never signed, in either RPC, nor evaluated as allowed. ``-m slow`` runs many
more examples.
"""

from __future__ import annotations

import grpc
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from signer._proto.sequence.signer.v1 import common_pb2, policy_service_pb2, signing_service_pb2
from signer.client import channel
from tests.property import seeds
from tests.property.mutations import mutants
from tests.property.rpc_harness import METHODS, AbuseDaemon, call, check_stream_items, check_typed

_MODES = {"live": common_pb2.MODE_LIVE, "sandbox": common_pb2.MODE_SANDBOX}
BY_NAME = {m.name: m for m in METHODS}
Case = tuple[signing_service_pb2.SignVenueRequestRequest, bool, str]


@st.composite
def _venue_mutants(draw: st.DrawFn) -> Case:
    principal, venue, seed = draw(st.sampled_from(seeds.allowed_seeds()))
    mutant = draw(mutants(seed))
    r = mutant.request
    http = common_pb2.HttpRequest(
        method=r.method, path=r.path, query=r.query, body=r.body, headers=dict(r.headers), host=r.host
    )  # fmt: skip
    msg = signing_service_pb2.SignVenueRequestRequest(
        principal=common_pb2.Principal(client_id="alice", mode=_MODES[principal.mode.value]),
        venue=venue,
        request=http,
    )
    return msg, mutant.malformed, f"{venue} {mutant.kind}"


FAST = settings(
    max_examples=200,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def check(d: AbuseDaemon, case: Case) -> None:
    msg, malformed, kind = case
    ch = channel(d.target("api"))
    unary = call(ch, BY_NAME["SignVenueRequest"], [msg.SerializeToString()])
    check_typed(unary, msg.ByteSize(), d.max_message_bytes)
    item = signing_service_pb2.SignVenueRequestStreamRequest(id=7, request=msg)
    stream = call(ch, BY_NAME["SignVenueRequestStream"], [item.SerializeToString()])
    check_typed(stream, item.ByteSize(), d.max_message_bytes)
    check_stream_items(BY_NAME["SignVenueRequestStream"], stream)
    dry = policy_service_pb2.EvaluatePolicyRequest(request=msg)
    evaluated = call(ch, BY_NAME["EvaluatePolicy"], [dry.SerializeToString()])
    check_typed(evaluated, dry.ByteSize(), d.max_message_bytes)
    event(f"{kind}: {unary.code.name} {unary.reason}")
    if not malformed:
        return
    assert unary.code is not grpc.StatusCode.OK, kind
    for raw in stream.responses:  # none when the transport refused an oversized item
        assert signing_service_pb2.SignVenueRequestStreamResponse.FromString(raw).HasField("error")
    if evaluated.code is grpc.StatusCode.OK:
        (resp,) = evaluated.responses
        assert not policy_service_pb2.EvaluatePolicyResponse.FromString(resp).allowed, kind


@FAST
@given(case=_venue_mutants())
def test_mutated_venue_requests_are_never_signed_when_malformed(
    abuse_daemon: AbuseDaemon, case: Case
) -> None:
    check(abuse_daemon, case)


@pytest.mark.slow
@settings(FAST, max_examples=3000)
@given(case=_venue_mutants())
def test_mutated_venue_requests_many_examples(abuse_daemon: AbuseDaemon, case: Case) -> None:
    check(abuse_daemon, case)


def test_seeds_sign_for_every_venue(abuse_daemon: AbuseDaemon) -> None:
    # Not vacuous: unmutated seeds are signed by this daemon, for every venue.
    ch = channel(abuse_daemon.target("api"))
    signed = set()
    for principal, venue, r in seeds.allowed_seeds():
        http = common_pb2.HttpRequest(method=r.method, path=r.path, query=r.query, body=r.body)
        msg = signing_service_pb2.SignVenueRequestRequest(
            principal=common_pb2.Principal(client_id="alice", mode=_MODES[principal.mode.value]),
            venue=venue,
            request=http,
        )
        if (
            call(ch, BY_NAME["SignVenueRequest"], [msg.SerializeToString()]).code
            is grpc.StatusCode.OK
        ):
            signed.add(venue)
    assert signed == set(seeds.venues())
