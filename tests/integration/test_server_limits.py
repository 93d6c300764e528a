"""Abuse limits of a real daemon: message size and the per-client in-flight cap.

1. A message one byte over ``max_message_bytes`` is refused RESOURCE_EXHAUSTED
   by the transport (one of exactly that size reaches the servicer), on unary
   and streaming RPCs alike, and the daemon stays healthy. The limit is on what
   callers send: the daemon's replies (a policy document, a signed request with
   its headers) may be larger.
2. Client A (mTLS "frontend") holds streams open far beyond its cap: exactly
   ``max_inflight_per_client`` are served, the others and A's next unary call
   get RESOURCE_EXHAUSTED / CONCURRENCY_LIMITED; meanwhile client B ("frontend2",
   same listener) and the Unix socket client sign normally. Once A's streams
   end, A is served again. The only timing is a generous deadline.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from signer._proto.sequence.signer.v1 import (
    common_pb2,
    credential_service_pb2,
    policy_service_pb2,
    signing_service_pb2,
)
from signer.client import Stubs
from signer.config import Limits
from signer.domain import Role
from tests.integration.conftest import (
    LIVE,
    Pki,
    RunningDaemon,
    binance_secret,
    make_config,
    rpc_reason,
)

CAP = 6
LIMIT = 64 * 1024
ORDER = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=20000"


@pytest.fixture
def limited(state_dir: Path, pki: Pki) -> Iterator[RunningDaemon]:
    config = dataclasses.replace(
        make_config(state_dir, pki),
        callers={"frontend": Role.API, "frontend2": Role.API, "ops": Role.ADMIN},
        # The listener admits 3 x CAP calls in all: without the per-client cap, A's flood
        # of 4 x CAP streams would take every one of them and B would be refused.
        limits=Limits(
            max_message_bytes=LIMIT, max_concurrent_rpcs=3 * CAP, max_inflight_per_client=CAP
        ),
    )
    running = RunningDaemon(config)
    yield running
    running.stop()


def order(client: str, body: bytes = b"") -> signing_service_pb2.SignVenueRequestRequest:
    return signing_service_pb2.SignVenueRequestRequest(
        principal=common_pb2.Principal(client_id=client, mode=LIVE),
        venue="binance",
        request=common_pb2.HttpRequest(method="POST", path="/api/v3/order", query=ORDER, body=body),
    )


def store_binance(stubs: Stubs, client: str) -> None:
    stubs.credentials.SetCredentials(
        credential_service_pb2.SetCredentialsRequest(
            principal=common_pb2.Principal(client_id=client, mode=LIVE),
            venue="binance",
            api_key="abuseKey",
            api_secret=binance_secret(),
        )
    )


def healthy(d: RunningDaemon) -> None:
    ch = grpc.insecure_channel(f"unix:{d.config.state_dir / 'api.sock'}")
    status = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=30)
    assert status.status == health_pb2.HealthCheckResponse.SERVING
    store_binance(d.api(), "probe")
    assert d.api().signing.SignVenueRequest(order("probe"), timeout=30).headers


def sized(size: int) -> signing_service_pb2.SignVenueRequestRequest:
    """A sign request whose encoding is exactly ``size`` bytes."""
    body = b"x" * (size - order("c", b"").ByteSize())
    while order("c", body).ByteSize() > size:  # the length prefix grew by a byte or two
        body = body[:-1]
    msg = order("c", body)
    assert msg.ByteSize() == size
    return msg


def test_oversized_messages_are_refused_and_the_daemon_stays_healthy(
    limited: RunningDaemon,
) -> None:
    stubs = limited.api()
    with pytest.raises(grpc.RpcError) as at_limit:  # reaches the servicer: a typed refusal
        stubs.signing.SignVenueRequest(sized(LIMIT), timeout=30)
    assert at_limit.value.code() != grpc.StatusCode.RESOURCE_EXHAUSTED
    assert rpc_reason(at_limit.value)
    with pytest.raises(grpc.RpcError) as over:
        stubs.signing.SignVenueRequest(sized(LIMIT + 1), timeout=30)
    assert over.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    item = signing_service_pb2.SignVenueRequestStreamRequest(id=1, request=sized(LIMIT + 1))
    with pytest.raises(grpc.RpcError) as stream:
        list(stubs.signing.SignVenueRequestStream(iter([item]), timeout=30))
    assert stream.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    with pytest.raises(grpc.RpcError) as huge:
        stubs.signing.SignVenueRequest(order("c", b"x" * (8 << 20)), timeout=30)
    assert huge.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    healthy(limited)


def test_a_reply_larger_than_the_request_limit_is_sent(tmp_path: Path, pki: Pki) -> None:
    # The shipped policy (6.5 KB) is larger than the smallest request limit allowed.
    small = dataclasses.replace(
        make_config(tmp_path / "s", pki), limits=Limits(max_message_bytes=4096)
    )
    running = RunningDaemon(small)
    try:
        stubs = running.api()
        document = stubs.policy.GetPolicy(policy_service_pb2.GetPolicyRequest(), timeout=30)
        assert len(document.document) > 4096
    finally:
        running.stop()


def _held_stream(stubs: Stubs, release: threading.Event) -> tuple[grpc.StatusCode, str]:
    def requests() -> Iterator[signing_service_pb2.SignVenueRequestStreamRequest]:
        release.wait(120)  # send nothing until released: the stream stays in flight
        yield from ()

    try:
        list(stubs.signing.SignVenueRequestStream(requests(), timeout=120))
    except grpc.RpcError as err:
        return err.code(), rpc_reason(err)
    return grpc.StatusCode.OK, ""


def _wait_for(futures: list[Future[tuple[grpc.StatusCode, str]]], done: int) -> None:
    deadline = time.monotonic() + 60  # generous: proves progress, not speed
    while sum(f.done() for f in futures) < done and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_flooding_client_does_not_starve_another(limited: RunningDaemon, pki: Pki) -> None:
    a, b = limited.tls(pki, "frontend"), limited.tls(pki, "frontend2")
    store_binance(a, "client-a")
    store_binance(b, "client-b")
    flood = 4 * CAP
    release = threading.Event()
    with ThreadPoolExecutor(flood) as pool:
        futures = [pool.submit(_held_stream, a, release) for _ in range(flood)]
        try:
            _wait_for(futures, flood - CAP)
            # B, on the same listener, and the Unix socket client are served meanwhile.
            for _ in range(3 * CAP):
                assert b.signing.SignVenueRequest(order("client-b"), timeout=30).headers
            assert b.credentials.ListVenues(
                credential_service_pb2.ListVenuesRequest(
                    principal=common_pb2.Principal(client_id="client-b", mode=LIVE)
                ),
                timeout=30,
            ).venues == ["binance"]
            healthy(limited)
            refused = [f.result() for f in futures if f.done()]
            assert refused == [(grpc.StatusCode.RESOURCE_EXHAUSTED, "CONCURRENCY_LIMITED")] * (
                flood - CAP
            )
            with pytest.raises(grpc.RpcError) as extra:
                a.signing.SignVenueRequest(order("client-a"), timeout=30)
            assert (extra.value.code(), rpc_reason(extra.value)) == (
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                "CONCURRENCY_LIMITED",
            )
        finally:
            release.set()
        held = [f.result(timeout=60) for f in futures]
    assert held.count((grpc.StatusCode.OK, "")) == CAP
    assert a.signing.SignVenueRequest(order("client-a"), timeout=30).headers  # slots came back


def test_cancelled_calls_give_their_slots_back(limited: RunningDaemon, pki: Pki) -> None:
    a = limited.tls(pki, "frontend")
    store_binance(a, "client-a")
    gate = threading.Event()

    def requests() -> Iterator[signing_service_pb2.SignVenueRequestStreamRequest]:
        yield signing_service_pb2.SignVenueRequestStreamRequest(id=1, request=order("client-a"))
        gate.wait(60)

    calls = [a.signing.SignVenueRequestStream(requests(), timeout=60) for _ in range(CAP)]
    for call in calls:
        assert next(call).id == 1  # in flight: each holds a slot
    with pytest.raises(grpc.RpcError) as full:
        a.signing.SignVenueRequest(order("client-a"), timeout=30)
    assert rpc_reason(full.value) == "CONCURRENCY_LIMITED"
    for call in calls:
        call.cancel()  # the client goes away mid-stream
    gate.set()
    deadline = time.monotonic() + 30  # generous: the server learns of the cancels
    while limited.d.listeners.inflight.in_flight("cert:frontend") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert a.signing.SignVenueRequest(order("client-a"), timeout=30).headers
