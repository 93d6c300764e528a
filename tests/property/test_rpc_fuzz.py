"""Random SignVenueRequests against a real daemon.

Properties: (1) only typed errors come back (never INTERNAL or UNKNOWN), each
with an ErrorInfo reason; (2) whatever is signed is for an endpoint on the
venue's allow list of ../shared/venues/venue_endpoints.json.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from signer._proto.sequence.signer.v1 import common_pb2, credential_service_pb2, signing_service_pb2
from signer.client import Stubs, channel
from signer.config import Config, ListenerConfig
from signer.domain import Role
from tests.integration.conftest import RunningDaemon, rpc_reason

ENDPOINTS = Path(__file__).resolve().parents[3] / "shared" / "venues" / "venue_endpoints.json"
ALLOWED = {
    venue: {(m, p) for m, p in spec["allow"]}
    for venue, spec in json.loads(ENDPOINTS.read_text()).items()
}
VENUES = ["kraken", "binance"] * 6 + ["okx", "", "KRAKEN", "nope"]
PATHS = [
    *sorted({p for v in ("kraken", "binance") for _, p in ALLOWED[v]}),
    "/sapi/v1/capital/withdraw/apply", "/0/private/Withdraw", "/api/v3/order/", "/api/v3/%6frder",
    "/0/private/../private/Withdraw", "//api/v3/order", "/", "",
]  # fmt: skip
PARAM_NAMES = ["symbol", "side", "type", "quantity", "price", "timeInForce", "address", "coin",
               "amount", "network", "timestamp", "signature", "nonce", "pair", "volume",
               "ordertype", "recvWindow", "txid", "newClientOrderId", "a"]  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(
        ["BTCUSDT", "BUY", "SELL", "LIMIT", "GTC", "1", "0.1", "XBTUSD", "buy", "limit"]
    ),
    st.text(max_size=12),
)


@st.composite
def form(draw: st.DrawFn) -> str:
    pairs = draw(st.lists(st.tuples(st.sampled_from(PARAM_NAMES), VALUES), max_size=4))
    raw = draw(st.booleans())
    return "&".join(f"{k}={v if raw else v.encode('utf-8', 'replace').hex()}" for k, v in pairs)


requests = st.builds(
    lambda venue, mode, method, path, query, body, headers, client: (
        signing_service_pb2.SignVenueRequestRequest(
            principal=common_pb2.Principal(client_id=client, mode=mode),
            venue=venue,
            request=common_pb2.HttpRequest(
                method=method, path=path, query=query, body=body, headers=headers
            ),
        )
    ),
    st.sampled_from(VENUES),
    st.sampled_from([1, 2] * 6 + [0, 7]),
    st.sampled_from(["GET", "POST", "DELETE"] * 4 + ["PUT", "get", "PATCH", ""]),
    st.one_of(st.sampled_from(PATHS), st.sampled_from(PATHS), st.text(max_size=40)),
    st.one_of(st.just(""), form()),
    st.one_of(st.just(b""), st.just(b""), form().map(str.encode), st.binary(max_size=64)),
    st.dictionaries(
        st.sampled_from(["Content-Type", "X-MBX-APIKEY", "API-Sign", "Accept", "x"]),
        st.text(max_size=20),
        max_size=2,
    ),
    st.sampled_from(["alice"] * 6 + ["bob", "", "a" * 200]),
)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    d = tmp_path_factory.mktemp("fz")
    key = d / "mk"
    key.write_text(secrets.token_hex(32))
    key.chmod(0o600)
    config = Config(
        state_dir=d / "s",
        master_key_file=key,
        listeners=(ListenerConfig("unix", str(d / "s" / "api.sock"), Role.API),),
    )
    running = RunningDaemon(config)
    stubs = running.api()
    for mode in (common_pb2.MODE_LIVE, common_pb2.MODE_SANDBOX):
        principal = common_pb2.Principal(client_id="alice", mode=mode)
        stubs.credentials.SetCredentials(
            credential_service_pb2.SetCredentialsRequest(
                principal=principal, venue="binance", api_key="fuzzKey",
                api_secret=secrets.token_hex(32),
            )
        )  # fmt: skip
        stubs.credentials.SetCredentials(
            credential_service_pb2.SetCredentialsRequest(
                principal=principal, venue="kraken", api_key="fuzzKey",
                api_secret=base64.b64encode(secrets.token_bytes(64)).decode(),
            )
        )  # fmt: skip
    yield running
    running.stop()


def _req(venue: str, method: str, path: str, query: str = "") -> signing_service_pb2.SignVenueRequestRequest:  # fmt: skip
    return signing_service_pb2.SignVenueRequestRequest(
        principal=common_pb2.Principal(client_id="alice", mode=common_pb2.MODE_LIVE),
        venue=venue,
        request=common_pb2.HttpRequest(method=method, path=path, query=query),
    )


SIGNED: list[str] = []

TYPED = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.UNIMPLEMENTED,
}


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(request=requests)
@example(request=_req("binance", "GET", "/api/v3/account"))
@example(request=_req("kraken", "POST", "/0/private/Balance"))
@example(
    request=_req(
        "binance", "POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1"
    )
)
def test_random_requests_get_typed_errors_or_allowlisted_signatures(
    daemon: RunningDaemon, request: signing_service_pb2.SignVenueRequestRequest
) -> None:
    stubs: Stubs = Stubs.on(channel(f"unix:{daemon.config.state_dir / 'api.sock'}"))
    try:
        resp = stubs.signing.SignVenueRequest(request, timeout=10)
    except grpc.RpcError as err:
        failure = err
    else:
        event("signed")
        SIGNED.append(request.venue)
        out = resp.request
        assert (out.method, out.path) in ALLOWED[request.venue]
        assert out.method == request.request.method and out.path == request.request.path
        return
    event(f"refused {failure.code().name} {rpc_reason(failure)}")
    assert failure.code() in TYPED, (failure.code(), failure.details())
    if failure.code() != grpc.StatusCode.UNIMPLEMENTED:
        assert rpc_reason(failure), failure.details()


def test_the_signed_branch_was_exercised() -> None:
    # Runs after the property test in file order: the explicit examples sign.
    assert {"binance", "kraken"} <= set(SIGNED)
