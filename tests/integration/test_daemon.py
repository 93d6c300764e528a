"""End to end through a real daemon: credentials, signing, denials, audit, roles."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
from urllib.parse import parse_qsl

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from nacl.public import PublicKey, SealedBox
from nacl.signing import VerifyKey

from signer._proto.sequence.signer.v1 import (
    audit_service_pb2,
    common_pb2,
    credential_service_pb2,
    identity_service_pb2,
    policy_service_pb2,
    signing_service_pb2,
    wallet_service_pb2,
)
from signer.audit import AuditHead, head_message, verify_lines
from signer.client import Stubs, channel
from tests.integration.conftest import (
    LIVE,
    SANDBOX,
    Pki,
    RunningDaemon,
    binance_secret,
    kraken_secret,
    principal,
    rpc_reason,
)

ORDER_QUERY = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=20000"


def set_creds(stubs: Stubs, venue: str, key: str, secret: str, mode: int = SANDBOX, passphrase: str = "") -> None:  # fmt: skip
    stubs.credentials.SetCredentials(
        credential_service_pb2.SetCredentialsRequest(
            principal=principal(mode=mode),
            venue=venue,
            api_key=key,
            api_secret=secret,
            passphrase=passphrase,
        )
    )


def sign(stubs: Stubs, venue: str, method: str, path: str, query: str = "", body: bytes = b"",
         mode: int = SANDBOX) -> signing_service_pb2.SignVenueRequestResponse:  # fmt: skip
    return stubs.signing.SignVenueRequest(
        signing_service_pb2.SignVenueRequestRequest(
            principal=principal(mode=mode),
            venue=venue,
            request=common_pb2.HttpRequest(method=method, path=path, query=query, body=body),
        )
    )


def audit_records(d: RunningDaemon) -> list[dict[str, object]]:
    return [json.loads(line) for line in d.config.audit_path.read_bytes().splitlines()]


def test_health_and_reflection(daemon: RunningDaemon) -> None:
    ch = channel(f"unix:{daemon.config.state_dir / 'api.sock'}")
    health = health_pb2_grpc.HealthStub(ch)
    resp = health.Check(health_pb2.HealthCheckRequest(service=""))
    assert resp.status == health_pb2.HealthCheckResponse.SERVING
    svc = health.Check(health_pb2.HealthCheckRequest(service="sequence.signer.v1.SigningService"))
    assert svc.status == health_pb2.HealthCheckResponse.SERVING
    refl = reflection_pb2_grpc.ServerReflectionStub(ch)
    answers = list(
        refl.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    )
    names = {s.name for s in answers[0].list_services_response.service}
    assert {"sequence.signer.v1.SigningService", "sequence.signer.v1.WalletService"} <= names


def test_binance_sandbox_order_signed_end_to_end(daemon: RunningDaemon) -> None:
    api = daemon.api()
    secret = binance_secret()
    set_creds(api, "binance", "binanceKey1", secret)
    venues = api.credentials.ListVenues(
        credential_service_pb2.ListVenuesRequest(principal=principal())
    )
    assert list(venues.venues) == ["binance"]
    resp = sign(api, "binance", "POST", "/api/v3/order", query=ORDER_QUERY)
    out = resp.request
    assert out.host == "testnet.binance.vision"  # sandbox principal -> testnet host
    assert out.headers["X-MBX-APIKEY"] == "binanceKey1"
    payload = out.query + out.body.decode()
    params = dict(parse_qsl(payload))
    signature = params.pop("signature")
    unsigned = payload[: payload.rindex("signature=")].rstrip("&")
    expected = hmac.new(secret.encode(), unsigned.encode(), hashlib.sha256).hexdigest()
    assert signature == expected
    assert params["symbol"] == "BTCUSDT" and "timestamp" in params and "recvWindow" in params
    assert resp.audit_id and int(resp.audit_id) > 0
    last = audit_records(daemon)[-1]
    assert last["decision"] == "allow" and last["venue"] == "binance"
    assert secret not in json.dumps(last)


def test_kraken_live_signature_verifies(daemon: RunningDaemon) -> None:
    api = daemon.api()
    secret = kraken_secret()
    set_creds(api, "kraken", "kraken-key", secret, mode=LIVE)
    body = b"ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
    first = sign(api, "kraken", "POST", "/0/private/AddOrder", body=body, mode=LIVE).request
    second = sign(api, "kraken", "POST", "/0/private/AddOrder", body=body, mode=LIVE).request
    for out in (first, second):
        assert out.host == "api.kraken.com"
        nonce = dict(parse_qsl(out.body.decode()))["nonce"]
        digest = hashlib.sha256(nonce.encode() + out.body).digest()
        mac = hmac.new(base64.b64decode(secret), out.path.encode() + digest, hashlib.sha512)
        assert out.headers["API-Sign"] == base64.b64encode(mac.digest()).decode()
    n1 = int(dict(parse_qsl(first.body.decode()))["nonce"])
    n2 = int(dict(parse_qsl(second.body.decode()))["nonce"])
    assert n2 > n1


@pytest.mark.parametrize(
    ("venue", "method", "path", "query"),
    [
        ("binance", "POST", "/sapi/v1/capital/withdraw/apply", "coin=BTC&address=x&amount=1"),
        ("binance", "POST", "/api/v3/order", ORDER_QUERY + "&address=attacker"),
        ("binance", "POST", "/api/v3/order/", ORDER_QUERY),
        ("binance", "POST", "/API/v3/order", ORDER_QUERY),
        ("binance", "POST", "/api/v3/order", ORDER_QUERY + "&timestamp=1"),
    ],
)
def test_expfail_denied_and_audited(
    daemon: RunningDaemon, venue: str, method: str, path: str, query: str
) -> None:
    api = daemon.api()
    set_creds(api, "binance", "bk", binance_secret())
    before = len(audit_records(daemon))
    with pytest.raises(grpc.RpcError) as err:
        sign(api, venue, method, path, query=query)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert rpc_reason(err.value) == "POLICY_DENIED"
    records = audit_records(daemon)
    assert len(records) == before + 1 and records[-1]["decision"] == "deny"


def test_no_credentials_after_policy_allows(daemon: RunningDaemon) -> None:
    with pytest.raises(grpc.RpcError) as err:
        sign(daemon.api(), "binance", "POST", "/api/v3/order", query=ORDER_QUERY)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert rpc_reason(err.value) == "NO_CREDENTIALS"


def test_kraken_has_no_sandbox(daemon: RunningDaemon) -> None:
    api = daemon.api()
    with pytest.raises(grpc.RpcError) as err:
        sign(api, "kraken", "POST", "/0/private/Balance", mode=SANDBOX)
    assert rpc_reason(err.value) == "MODE_MISMATCH"


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (signing_service_pb2.SignVenueRequestRequest(venue="binance"), "INVALID_REQUEST"),
        (
            signing_service_pb2.SignVenueRequestRequest(
                principal=common_pb2.Principal(client_id="alice"), venue="binance",
                request=common_pb2.HttpRequest(method="GET", path="/api/v3/account"),
            ),
            "INVALID_REQUEST",
        ),
        (
            signing_service_pb2.SignVenueRequestRequest(
                principal=principal(), venue="ftx",
                request=common_pb2.HttpRequest(method="GET", path="/x"),
            ),
            "UNKNOWN_VENUE",
        ),
        (
            signing_service_pb2.SignVenueRequestRequest(
                principal=principal(client_id="a b"), venue="binance",
                request=common_pb2.HttpRequest(method="GET", path="/api/v3/account"),
            ),
            "INVALID_REQUEST",
        ),
    ],
)  # fmt: skip
def test_bad_input_is_invalid_argument(
    daemon: RunningDaemon, request_: signing_service_pb2.SignVenueRequestRequest, reason: str
) -> None:
    with pytest.raises(grpc.RpcError) as err:
        daemon.api().signing.SignVenueRequest(request_)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert rpc_reason(err.value) == reason


def test_invalid_credentials_name_the_field_never_the_value(daemon: RunningDaemon) -> None:
    canary = "CANARY-" + "Zq9" * 20
    with pytest.raises(grpc.RpcError) as err:
        set_creds(daemon.api(), "kalshi", "6f1c2c4e-1111-2222-3333-444455556666",
                  f"-----BEGIN RSA PRIVATE KEY-----\n{canary}\n-----END RSA PRIVATE KEY-----\n")  # fmt: skip
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert rpc_reason(err.value) == "INVALID_CREDENTIALS"
    assert "api_secret" in (err.value.details() or "")
    assert canary not in (err.value.details() or "")
    assert canary.encode() not in repr(err.value.trailing_metadata()).encode()
    last = audit_records(daemon)[-1]
    assert last["action"] == "set_credentials"
    assert last["decision"] == "refused" and last["rule"] == "INVALID_CREDENTIALS"
    assert canary.encode() not in daemon.config.audit_path.read_bytes()


def test_polymarket_exact_message(daemon: RunningDaemon) -> None:
    with pytest.raises(grpc.RpcError) as err:
        set_creds(daemon.api(), "polymarket", "k", "s")
    assert err.value.details() == (
        "Polymarket orders require signer material in credentials.extra_json.signer_private_key"
    )


def test_sealed_credentials_round_trip(daemon: RunningDaemon) -> None:
    api = daemon.api()
    ident = api.identity.GetIdentity(identity_service_pb2.GetIdentityRequest())
    assert len(ident.sealing_public_key) == 32 and len(ident.audit_public_key) == 32
    secret = binance_secret()
    plaintext = json.dumps({"api_key": "sealedKey", "api_secret": secret}).encode()
    sealed = SealedBox(PublicKey(ident.sealing_public_key)).encrypt(plaintext)
    api.credentials.SetCredentials(
        credential_service_pb2.SetCredentialsRequest(
            principal=principal(), venue="binance", sealed=bytes(sealed)
        )
    )
    out = sign(api, "binance", "GET", "/api/v3/account").request
    assert out.headers["X-MBX-APIKEY"] == "sealedKey"
    with pytest.raises(grpc.RpcError) as err:
        api.credentials.SetCredentials(
            credential_service_pb2.SetCredentialsRequest(
                principal=principal(), venue="binance", sealed=b"\x00" * 80
            )
        )
    assert rpc_reason(err.value) == "INVALID_CREDENTIALS"


def test_delete_credentials(daemon: RunningDaemon) -> None:
    api = daemon.api()
    set_creds(api, "binance", "bk", binance_secret())
    req = credential_service_pb2.DeleteCredentialsRequest(principal=principal(), venue="binance")
    assert api.credentials.DeleteCredentials(req).deleted is True
    assert api.credentials.DeleteCredentials(req).deleted is False
    with pytest.raises(grpc.RpcError) as err:
        sign(api, "binance", "GET", "/api/v3/account")
    assert rpc_reason(err.value) == "NO_CREDENTIALS"


def test_live_and_sandbox_credentials_are_separate(daemon: RunningDaemon) -> None:
    api = daemon.api()
    set_creds(api, "binance", "sandboxKey", binance_secret(), mode=SANDBOX)
    with pytest.raises(grpc.RpcError) as err:
        sign(api, "binance", "GET", "/api/v3/account", mode=LIVE)
    assert rpc_reason(err.value) == "NO_CREDENTIALS"
    live = api.credentials.ListVenues(
        credential_service_pb2.ListVenuesRequest(principal=principal(mode=LIVE))
    )
    assert list(live.venues) == []


def test_roles_on_sockets(daemon: RunningDaemon) -> None:
    with pytest.raises(grpc.RpcError) as err:
        daemon.api().audit.GetAuditHead(audit_service_pb2.GetAuditHeadRequest())
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert rpc_reason(err.value) == "UNAUTHENTICATED_CALLER"
    with pytest.raises(grpc.RpcError) as err:
        daemon.admin().credentials.ListVenues(
            credential_service_pb2.ListVenuesRequest(principal=principal())
        )
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_audit_head_is_signed_and_chain_verifies(daemon: RunningDaemon) -> None:
    api = daemon.api()
    set_creds(api, "binance", "bk", binance_secret())
    sign(api, "binance", "GET", "/api/v3/account")
    admin = daemon.admin()
    head = admin.audit.GetAuditHead(audit_service_pb2.GetAuditHeadRequest())
    ident = api.identity.GetIdentity(identity_service_pb2.GetIdentityRequest())
    VerifyKey(ident.audit_public_key).verify(
        head_message(AuditHead(head.seq, head.hash)), head.signature
    )
    records = list(admin.audit.ReadAudit(audit_service_pb2.ReadAuditRequest(after_seq=0, limit=10)))
    assert [r.record.seq for r in records] == list(range(1, head.seq + 1))
    assert verify_lines(daemon.config.audit_path.read_bytes().splitlines()) == []


def test_mtls_roles(daemon: RunningDaemon, pki: Pki) -> None:
    front = daemon.tls(pki, "frontend")
    ident = front.identity.GetIdentity(identity_service_pb2.GetIdentityRequest(), timeout=10)
    assert len(ident.sealing_public_key) == 32
    with pytest.raises(grpc.RpcError) as err:
        front.audit.GetAuditHead(audit_service_pb2.GetAuditHeadRequest(), timeout=10)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    ops = daemon.tls(pki, "ops")
    assert ops.audit.GetAuditHead(audit_service_pb2.GetAuditHeadRequest(), timeout=10).seq >= 0
    stranger = daemon.tls(pki, "stranger")
    with pytest.raises(grpc.RpcError) as err:
        stranger.identity.GetIdentity(identity_service_pb2.GetIdentityRequest(), timeout=10)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert rpc_reason(err.value) == "UNAUTHENTICATED_CALLER"


@pytest.mark.parametrize("who", [None, "rogue"])
def test_mtls_refuses_missing_or_foreign_client_cert(daemon: RunningDaemon, pki: Pki, who: str | None) -> None:  # fmt: skip
    stubs = daemon.tls(pki, who)
    with pytest.raises(grpc.RpcError) as err:
        stubs.identity.GetIdentity(identity_service_pb2.GetIdentityRequest(), timeout=5)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


def test_withdraw_without_chain_is_invalid(daemon: RunningDaemon) -> None:
    with pytest.raises(grpc.RpcError) as err:
        daemon.api().wallets.Withdraw(wallet_service_pb2.WithdrawRequest(principal=principal()))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "chain" in (err.value.details() or "")


def test_oversized_message_refused(daemon: RunningDaemon) -> None:
    with pytest.raises(grpc.RpcError) as err:
        sign(daemon.api(), "binance", "POST", "/api/v3/order", body=b"a" * (2 << 20))
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_stream_reports_errors_in_band(daemon: RunningDaemon) -> None:
    api = daemon.api()
    set_creds(api, "binance", "bk", binance_secret())

    def item(i: int, path: str) -> signing_service_pb2.SignVenueRequestStreamRequest:
        return signing_service_pb2.SignVenueRequestStreamRequest(
            id=i,
            request=signing_service_pb2.SignVenueRequestRequest(
                principal=principal(), venue="binance",
                request=common_pb2.HttpRequest(method="GET", path=path),
            ),
        )  # fmt: skip

    items = [
        item(i, "/api/v3/account" if i % 2 else "/sapi/v1/capital/withdraw/apply")
        for i in range(10)
    ]
    out = list(api.signing.SignVenueRequestStream(iter(items)))
    assert [o.id for o in out] == list(range(10))
    for o in out:
        if o.id % 2:
            assert (
                o.WhichOneof("result") == "response"
                and o.response.request.headers["X-MBX-APIKEY"] == "bk"
            )
        else:
            assert o.WhichOneof("result") == "error" and o.error.reason == "POLICY_DENIED"


def test_stream_nonces_of_one_key_increase_in_stream_order(daemon: RunningDaemon) -> None:
    """Items of a stream run concurrently but stamp in order (signer/stamp_order.py)."""
    api = daemon.api()
    set_creds(api, "kraken", "kraken-key", kraken_secret(), mode=LIVE)
    body = b"ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
    items = [
        signing_service_pb2.SignVenueRequestStreamRequest(
            id=i,
            request=signing_service_pb2.SignVenueRequestRequest(
                principal=principal(mode=LIVE),
                venue="kraken",
                request=common_pb2.HttpRequest(
                    method="POST", path="/0/private/AddOrder", body=body
                ),
            ),
        )
        for i in range(60)
    ]
    out = list(api.signing.SignVenueRequestStream(iter(items), timeout=30))
    assert [o.id for o in out] == list(range(60))
    nonces = [int(dict(parse_qsl(o.response.request.body.decode()))["nonce"]) for o in out]
    assert all(a < b for a, b in itertools.pairwise(nonces))
    audit_ids = [int(o.response.audit_id) for o in out]
    assert audit_ids == sorted(audit_ids)


def test_evaluate_policy_is_a_dry_run(daemon: RunningDaemon) -> None:
    req = signing_service_pb2.SignVenueRequestRequest(
        principal=principal(), venue="binance",
        request=common_pb2.HttpRequest(method="POST", path="/sapi/v1/capital/withdraw/apply", query="coin=BTC"),
    )  # fmt: skip
    before = len(audit_records(daemon))
    result = daemon.api().policy.EvaluatePolicy(
        policy_service_pb2.EvaluatePolicyRequest(request=req)
    )
    assert not result.allowed and result.rule_id == "endpoint.not-allowlisted"
    ok = daemon.api().policy.EvaluatePolicy(
        policy_service_pb2.EvaluatePolicyRequest(
            request=signing_service_pb2.SignVenueRequestRequest(
                principal=principal(), venue="binance",
                request=common_pb2.HttpRequest(method="GET", path="/api/v3/account"),
            )
        )
    )  # fmt: skip
    assert ok.allowed and ok.rule_id == "venue.endpoint-allowed"
    assert len(audit_records(daemon)) == before


def test_audit_failure_fails_closed(daemon: RunningDaemon) -> None:
    api = daemon.api()
    set_creds(api, "binance", "bk", binance_secret())

    def broken(data: bytes) -> None:
        raise OSError("disk full")

    daemon.d.audit._write = broken  # type: ignore[method-assign]
    for _ in range(2):  # the failing append, then every later one
        with pytest.raises(grpc.RpcError) as err:
            sign(api, "binance", "GET", "/api/v3/account")
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        assert rpc_reason(err.value) == "AUDIT_UNAVAILABLE"


def test_restart_keeps_credentials_and_nonces_increase(state_dir, pki) -> None:  # type: ignore[no-untyped-def]
    from tests.integration.conftest import make_config

    config = make_config(state_dir, pki)
    first = RunningDaemon(config)
    secret = kraken_secret()
    set_creds(first.api(), "kraken", "kk", secret, mode=LIVE)
    body = b"docalcs=true"
    before = sign(first.api(), "kraken", "POST", "/0/private/OpenPositions", body=body, mode=LIVE)
    first.stop()
    second = RunningDaemon(config)
    try:
        after = sign(
            second.api(), "kraken", "POST", "/0/private/OpenPositions", body=body, mode=LIVE
        )
        n1 = int(dict(parse_qsl(before.request.body.decode()))["nonce"])
        n2 = int(dict(parse_qsl(after.request.body.decode()))["nonce"])
        assert n2 > n1
        assert verify_lines(config.audit_path.read_bytes().splitlines()) == []
    finally:
        second.stop()


def test_no_plaintext_secret_in_state_dir(daemon: RunningDaemon) -> None:
    api = daemon.api()
    canary = "CANARYSECRET" + "x7" * 20
    set_creds(api, "binance", "bk", canary)
    set_creds(api, "okx", "okxkey", "CANARYOKXSECRETVALUE", passphrase="CANARYPASSPHRASE")
    sign(api, "binance", "GET", "/api/v3/account")
    for path in daemon.config.state_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for c in (canary, "CANARYOKXSECRETVALUE", "CANARYPASSPHRASE"):
                assert c.encode() not in data, f"{c} found in {path.name}"


@pytest.mark.parametrize(
    "rpc",
    [
        "/sequence.signer.v1.SigningService/SignVenueRequest",
        "/sequence.signer.v1.PolicyService/EvaluatePolicy",
    ],
)
def test_non_utf8_string_on_the_wire_is_invalid_argument(daemon: RunningDaemon, rpc: str) -> None:
    inner = signing_service_pb2.SignVenueRequestRequest(
        principal=principal(), venue="binance",
        request=common_pb2.HttpRequest(method="GET", path="/api/v3/account"),
    )  # fmt: skip
    msg = policy_service_pb2.EvaluatePolicyRequest(request=inner) if "Evaluate" in rpc else inner
    raw = msg.SerializeToString().replace(b"/api/v3/account", b"/api/v3/acc\xff\xfeunt")
    ch = channel(f"unix:{daemon.config.state_dir / 'api.sock'}")
    call = ch.unary_unary(rpc, request_serializer=lambda b: b, response_deserializer=lambda b: b)
    with pytest.raises(grpc.RpcError) as err:
        call(raw, timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert rpc_reason(err.value) == "INVALID_REQUEST"


def test_garbage_bytes_on_stream_reported_in_band(daemon: RunningDaemon) -> None:
    ch = channel(f"unix:{daemon.config.state_dir / 'api.sock'}")
    call = ch.stream_stream(
        "/sequence.signer.v1.SigningService/SignVenueRequestStream",
        request_serializer=lambda b: b,
        response_deserializer=signing_service_pb2.SignVenueRequestStreamResponse.FromString,
    )
    out = list(call(iter([b"\xff\xff\xff\xff", b"\x12\x03\x0a\x01\xff"]), timeout=10))
    assert len(out) == 2
    assert all(o.error.reason == "INVALID_REQUEST" for o in out)
