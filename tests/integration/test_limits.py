"""Server limits: the deadline cap and the per-listener concurrency limit."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from signer._proto.sequence.signer.v1 import common_pb2, signing_service_pb2
from signer.config import Config, Limits, ListenerConfig
from signer.domain import Caller, Role, SignedRequest, SignRequest
from signer.stamp_order import StampTurn
from tests.integration.conftest import RunningDaemon


def _config(d: Path, limits: Limits) -> Config:
    key = d / "mk"
    key.write_text(secrets.token_hex(32))
    key.chmod(0o600)
    return Config(
        state_dir=d / "s",
        master_key_file=key,
        listeners=(ListenerConfig("unix", str(d / "s" / "api.sock"), Role.API),),
        limits=limits,
    )


@pytest.fixture
def slow_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    running = RunningDaemon(
        _config(tmp_path_factory.mktemp("lim"), Limits(max_concurrent_rpcs=2, max_deadline_s=1.0))
    )

    async def slow_sign(
        caller: Caller, req: SignRequest, turn: StampTurn | None = None
    ) -> SignedRequest:
        await asyncio.sleep(3)
        raise AssertionError("never reached within the deadline")

    running.d.pipeline.sign = slow_sign  # type: ignore[method-assign]
    yield running
    running.stop()


def _req() -> signing_service_pb2.SignVenueRequestRequest:
    return signing_service_pb2.SignVenueRequestRequest(
        principal=common_pb2.Principal(client_id="a", mode=common_pb2.MODE_LIVE),
        venue="binance",
        request=common_pb2.HttpRequest(method="GET", path="/api/v3/account"),
    )


def test_server_caps_a_call_without_deadline(slow_daemon: RunningDaemon) -> None:
    stubs = slow_daemon.api()
    start = time.monotonic()
    with pytest.raises(grpc.RpcError) as err:
        stubs.signing.SignVenueRequest(_req())  # no client deadline
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - start < 2.5  # the 1 s cap, not the 3 s handler


def test_client_deadline_is_respected(slow_daemon: RunningDaemon) -> None:
    with pytest.raises(grpc.RpcError) as err:
        slow_daemon.api().signing.SignVenueRequest(_req(), timeout=0.3)
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_concurrency_limit_refuses_excess_calls(slow_daemon: RunningDaemon) -> None:
    stubs = slow_daemon.api()

    def call(_: int) -> grpc.StatusCode:
        try:
            stubs.signing.SignVenueRequest(_req(), timeout=5)
        except grpc.RpcError as exc:
            return exc.code()
        return grpc.StatusCode.OK

    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(call, range(6)))
    assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) >= 1
    assert set(codes) <= {grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.DEADLINE_EXCEEDED}
