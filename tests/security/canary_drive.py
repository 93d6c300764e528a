"""Drives every RPC of a real daemon with the canary credentials, successes and failures.

Each function takes the ``Recorder`` (which asserts the expected status and
keeps every artefact) and the ``Channels`` to the daemon's listeners.
Wallet flows live in ``canary_wallets.py``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from nacl.public import PublicKey, SealedBox

from signer._proto.sequence.signer.v1 import audit_service_pb2 as a
from signer._proto.sequence.signer.v1 import credential_service_pb2 as c
from signer._proto.sequence.signer.v1 import identity_service_pb2 as i
from signer._proto.sequence.signer.v1 import policy_service_pb2 as p
from signer._proto.sequence.signer.v1 import signing_service_pb2 as s
from signer.client import channel
from tests.integration.conftest import Pki, RunningDaemon, principal
from tests.security.canary_invalid import Invalid
from tests.security.canary_recorder import METHODS, Recorder
from tests.security.canary_world import LIVE, SANDBOX, Account_, http

StatusCode = grpc.StatusCode
ENDPOINTS = json.loads(
    (Path(__file__).resolve().parents[3] / "shared/venues/venue_endpoints.json").read_text()
)
SIGN, EVAL = "SigningService/SignVenueRequest", "PolicyService/EvaluatePolicy"
SET, LIST = "CredentialService/SetCredentials", "CredentialService/ListVenues"
DELETE = "CredentialService/DeleteCredentials"
IDENT, READ = "IdentityService/GetIdentity", "AuditService/ReadAudit"
DENIED, INVALID = StatusCode.PERMISSION_DENIED, StatusCode.INVALID_ARGUMENT
PRECONDITION, UNAUTH = StatusCode.FAILED_PRECONDITION, StatusCode.UNAUTHENTICATED
ADMIN_ONLY = {"AuditService/GetAuditHead", "AuditService/ReadAudit", "PolicyService/UpdatePolicy"}
BOTH_ROLES = {"IdentityService/GetIdentity", "PolicyService/GetPolicy", EVAL}


@dataclass
class Channels:
    api: grpc.Channel
    admin: grpc.Channel
    tls_front: grpc.Channel
    tls_ops: grpc.Channel
    tls_stranger: grpc.Channel


@contextmanager
def channels(d: RunningDaemon, pki: Pki) -> Iterator[Channels]:
    state = d.config.state_dir

    def tls(who: str) -> grpc.Channel:
        cert, key = pki.client(who)
        return channel(
            d.target("tls"), ca_file=pki.ca, cert_file=cert, key_file=key, server_name="localhost"
        )

    api, admin = (channel(f"unix:{state / name}") for name in ("api.sock", "admin.sock"))
    chs = Channels(api, admin, tls("frontend"), tls("ops"), tls("stranger"))
    try:
        yield chs
    finally:
        for ch in vars(chs).values():
            ch.close()


@dataclass(frozen=True)
class Probes:
    """Harmless strings that legitimately travel through each capture channel.

    Each must be found by the scanner where it is expected: this proves that
    responses, error trailers, the state directory, the audit log, log
    records and fd output are really captured and scanned.
    """

    label: str = "PrbLabel" + secrets.token_hex(8)  # wallet label: response + database
    venue: str = "PrbVenue" + secrets.token_hex(8)  # unknown venue token: ErrorInfo metadata
    client: str = "PrbClient" + secrets.token_hex(8)  # principal: audit log + ReadAudit
    log: str = "PrbLog" + secrets.token_hex(8)  # a DEBUG log record
    fd: str = "PrbFd" + secrets.token_hex(8)  # written to file descriptor 2


def identity(rec: Recorder, ch: Channels) -> bytes:
    req = i.GetIdentityRequest()
    for name, chan in (("api", ch.api), ("admin", ch.admin), ("tls-front", ch.tls_front)):
        ident = rec.unary(chan, IDENT, req, f"identity.{name}")
    rec.unary(ch.tls_stranger, IDENT, req, "identity.stranger", UNAUTH, "UNAUTHENTICATED_CALLER")
    return bytes(ident.sealing_public_key)


def store_credentials(rec: Recorder, ch: Channels, accts: list[Account_], sealing: bytes) -> None:
    """Plain over the Unix socket (sandbox) or mutual TLS (live), or in a sealed box."""
    for acct in accts:
        req = acct.set_request()
        if acct.sealed:
            box = bytes(SealedBox(PublicKey(sealing)).encrypt(acct.sealed_plaintext()))
            req = c.SetCredentialsRequest(principal=acct.principal, venue=acct.venue, sealed=box)
        rec.unary(ch.tls_front if acct.mode == LIVE else ch.api, SET, req, f"set.{acct.client}")
        listed = rec.unary(ch.api, LIST, c.ListVenuesRequest(principal=acct.principal), "list")
        assert acct.venue in listed.venues


def refused_credentials(rec: Recorder, ch: Channels, cases: list[Invalid], sealing: bytes) -> None:
    for case in cases:
        rec.unary(ch.api, SET, case.build(sealing), f"bad-set.{case.name}", case.code, case.reason)


def sign_all(rec: Recorder, ch: Channels, accounts: list[Account_], tag: str) -> None:
    """Every valid request of every account: signed, and allowed by the dry run."""
    for acct in accounts:
        for n, req in enumerate(acct.requests):
            sreq = acct.sign_request(req)
            resp = rec.unary(ch.api, SIGN, sreq, f"{tag}.{acct.client}.{n}", legit=acct.legit)
            assert resp.audit_id
            ev = rec.unary(ch.api, EVAL, p.EvaluatePolicyRequest(request=sreq), f"eval.{n}")
            assert ev.allowed, f"{acct.client}: {ev.rule_id}"


def denied_all(rec: Recorder, ch: Channels, accounts: list[Account_]) -> None:
    """For every venue (credentials present): its first deny entries are refused."""
    to = "0x" + "ab" * 20
    for acct in accounts:
        for method, path in ENDPOINTS[acct.venue]["deny"][:2]:
            body: object = {"coin": "BTC", "amount": "1", "address": to}
            if path.startswith("/exchange#"):  # Hyperliquid action types
                kind = path.split("#")[1]
                path, body = "/exchange", {"action": {"type": kind, "destination": to, "amount": "1"}}  # fmt: skip
            path = path.replace("{", "").replace("}", "")
            sreq = acct.sign_request(http(method, path, body=None if method == "GET" else body))
            rec.unary(ch.api, SIGN, sreq, f"deny.{acct.client}", DENIED, "POLICY_DENIED")
            ev = rec.unary(ch.api, EVAL, p.EvaluatePolicyRequest(request=sreq), "eval-deny")
            assert not ev.allowed


def sign_failures(rec: Recorder, ch: Channels, by_client: dict[str, Account_], probes: Probes) -> None:  # fmt: skip
    kraken, binance, poly = by_client["c-kraken"], by_client["c-binance"], by_client["c-poly"]
    order = json.loads(poly.requests[0].body)
    order["order"]["maker"] = "0x" + "22" * 20  # not the stored signer's funder
    non_utf8 = binance.sign_request(http("GET", "/api/v3/account")).SerializeToString()
    cases: list[tuple[str, Message | bytes, StatusCode, str | None]] = [
        ("mode-mismatch", s.SignVenueRequestRequest(principal=principal(kraken.client, SANDBOX),
            venue="kraken", request=kraken.requests[0]), PRECONDITION, "MODE_MISMATCH"),
        ("no-credentials", s.SignVenueRequestRequest(principal=principal("c-nobody", SANDBOX),
            venue="binance", request=binance.requests[0]), PRECONDITION, "NO_CREDENTIALS"),
        ("client-probe", s.SignVenueRequestRequest(principal=principal(probes.client, SANDBOX),
            venue="binance", request=binance.requests[0]), PRECONDITION, "NO_CREDENTIALS"),
        ("unknown-venue-probe", s.SignVenueRequestRequest(principal=binance.principal,
            venue=probes.venue, request=binance.requests[0]), INVALID, "UNKNOWN_VENUE"),
        ("caller-timestamp", binance.sign_request(http("POST", "/api/v3/order",
            query=binance.requests[0].query + "&timestamp=1")), DENIED, "POLICY_DENIED"),
        ("wallet-id-on-cex", binance.sign_request(binance.requests[0], "turnkey:0x" + "11" * 20),
            INVALID, "INVALID_REQUEST"),
        ("connected-wallet", poly.sign_request(poly.requests[0], "connected:0x" + "11" * 20),
            PRECONDITION, "BROWSER_SIGNATURE_REQUIRED"),
        ("oversized", binance.sign_request(http("POST", "/api/v3/order", body=b"a" * (2 << 20))),
            StatusCode.RESOURCE_EXHAUSTED, None),
        ("non-utf8", non_utf8.replace(b"/api/v3/account", b"/api/v3/acc\xff\xfeunt"),
            INVALID, "INVALID_REQUEST"),
        ("polymarket-derive-key", poly.sign_request(http("GET", "/auth/derive-api-key")),
            DENIED, "POLICY_DENIED"),
        ("polymarket-maker-not-ours", poly.sign_request(http("POST", "/order", body=order)),
            DENIED, "POLICY_DENIED"),
        ("missing-request", s.SignVenueRequestRequest(principal=binance.principal, venue="binance"),
            INVALID, "INVALID_REQUEST"),
    ]  # fmt: skip
    for name, req, code, reason in cases:
        rec.unary(ch.api, SIGN, req, f"sign-fail.{name}", code, reason)
    rec.unary(ch.api, EVAL, p.EvaluatePolicyRequest(), "eval.missing", INVALID, "INVALID_REQUEST")


def stream(rec: Recorder, ch: Channels, accounts: list[Account_]) -> None:
    """Every valid request on one stream, plus a denied one and undecodable bytes."""
    items: list[Message | bytes] = []
    legit = {}
    for acct in accounts:
        for req in acct.requests:
            n = len(items) + 1
            items.append(s.SignVenueRequestStreamRequest(id=n, request=acct.sign_request(req)))
            if acct.legit:
                legit[n] = acct.legit
    first = accounts[0]
    denied = http("POST", ENDPOINTS[first.venue]["deny"][0][1], body=b"amount=1")
    items.append(s.SignVenueRequestStreamRequest(id=99, request=first.sign_request(denied)))
    items.append(b"\xff\xff\xff\xff")
    out = rec.stream(ch.api, "SigningService/SignVenueRequestStream", items, "stream", legit)
    results = [o.WhichOneof("result") for o in out]
    assert results == ["response"] * (len(items) - 2) + ["error", "error"], results


def policy_audit(rec: Recorder, ch: Channels) -> None:
    for name, chan in (("api", ch.api), ("admin", ch.admin), ("ops", ch.tls_ops)):
        rec.unary(chan, "PolicyService/GetPolicy", p.GetPolicyRequest(), f"policy.{name}")
    update = p.UpdatePolicyRequest(
        document=b"version = 99",
        signatures=[p.PolicySignature(public_key="00" * 32, signature=b"\x00" * 64)],
    )
    # No [policy_admin] keys in this daemon: every update is refused (its success
    # path is covered by tests/integration/test_policy_updates.py).
    rec.unary(
        ch.admin, "PolicyService/UpdatePolicy", update, "update",
        StatusCode.PERMISSION_DENIED, "POLICY_SIGNATURE_INVALID",
    )  # fmt: skip
    rec.unary(ch.admin, "AuditService/GetAuditHead", a.GetAuditHeadRequest(), "audit-head")
    read_audit(rec, ch, "audit")
    too_many = a.ReadAuditRequest(limit=1001)
    rec.stream_refused(ch.admin, READ, too_many, "audit.limit", INVALID, server_streaming_only=True)


def read_audit(rec: Recorder, ch: Channels, tag: str) -> int:
    """Every audit record, in pages, over mutual TLS as the admin; returns the count."""
    after, total = 0, 0
    while True:
        req = a.ReadAuditRequest(after_seq=after, limit=1000)
        page = rec.server_stream(ch.tls_ops, READ, req, f"{tag}.read")
        if not page:
            return total
        total += len(page)
        after = page[-1].record.seq


def wrong_roles(rec: Recorder, ch: Channels) -> None:
    """Every RPC on a listener whose caller may not use it: refused before any work."""
    for rpc, method in METHODS.items():
        request = GetMessageClass(method.input_type)()
        if rpc in ADMIN_ONLY:
            chan, code = ch.api, DENIED
        elif rpc in BOTH_ROLES:
            chan, code = ch.tls_stranger, UNAUTH
        else:
            chan, code = ch.admin, DENIED
        name = f"role.{rpc}"
        if method.client_streaming or method.server_streaming:
            rec.stream_refused(chan, rpc, request, name, code, not method.client_streaming)
        else:
            rec.unary(chan, rpc, request, name, code, "UNAUTHENTICATED_CALLER")


def delete(rec: Recorder, ch: Channels, acct: Account_) -> None:
    req = c.DeleteCredentialsRequest(principal=acct.principal, venue=acct.venue)
    assert rec.unary(ch.api, DELETE, req, "delete").deleted
    assert not rec.unary(ch.api, DELETE, req, "delete.again").deleted
    unknown = c.DeleteCredentialsRequest(principal=acct.principal, venue="ftx")
    rec.unary(ch.api, DELETE, unknown, "delete.unknown", INVALID, "UNKNOWN_VENUE")
    sreq = acct.sign_request(acct.requests[0])
    rec.unary(ch.api, SIGN, sreq, "sign.deleted", PRECONDITION, "NO_CREDENTIALS")
