"""A real daemon with state worth attacking, and raw calls to any of its RPCs.

The daemon has an api and an admin socket, one signed-policy admin key, valid
credentials for every venue under ("alice", live) and ("alice", sandbox) (the
material of ``tests.property.seeds``), and a trading wallet with a linked
wallet for ("alice", live), so fuzzed calls reach the deep end of every RPC.

``call`` sends bytes (well-formed or not) to any method with an identity
serializer and reports the status; ``check_typed`` is the shared property:
never INTERNAL or UNKNOWN, and every refusal carries a stable reason code.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from nacl.signing import SigningKey

from policy.document import default_document_bytes
from signer._proto.sequence.signer.v1 import (
    audit_service_pb2,
    common_pb2,
    credential_service_pb2,
    identity_service_pb2,
    policy_service_pb2,
    signing_service_pb2,
    wallet_service_pb2,
)
from signer.config import Config, ListenerConfig
from signer.domain import Role
from signer.errors import Reason
from signer.policy_updates import AdminKeys, sign_document
from tests.integration.conftest import RunningDaemon, rpc_reason
from tests.integration.test_withdraw import GAS
from tests.integration.test_withdraw import setup as link_wallet
from tests.property import seeds

SERVICES: list[ServiceDescriptor] = [
    module.DESCRIPTOR.services_by_name[name]
    for module, name in [
        (credential_service_pb2, "CredentialService"),
        (signing_service_pb2, "SigningService"),
        (identity_service_pb2, "IdentityService"),
        (policy_service_pb2, "PolicyService"),
        (audit_service_pb2, "AuditService"),
        (wallet_service_pb2, "WalletService"),
    ]
]
METHODS: list[MethodDescriptor] = [m for s in SERVICES for m in s.methods]
ADMIN_SERVICES = {"PolicyService", "AuditService"}
REASONS = {r.value for r in Reason}
NEVER = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}


@dataclass
class AbuseDaemon:
    running: RunningDaemon
    admin_key: SigningKey
    trading: str  # ("alice", live)'s trading wallet address
    home: str  # and its linked wallet

    @property
    def max_message_bytes(self) -> int:
        return self.running.config.limits.max_message_bytes

    def target(self, role: str) -> str:
        return f"unix:{self.running.config.state_dir / f'{role}.sock'}"

    def target_for(self, method: MethodDescriptor) -> str:
        return self.target("admin" if method.containing_service.name in ADMIN_SERVICES else "api")


def start(state: Path) -> AbuseDaemon:
    key_file = state.parent / f"{state.name}-mk"
    key_file.write_text(secrets.token_hex(32))
    key_file.chmod(0o600)
    admin = SigningKey.generate()
    config = Config(
        state_dir=state,
        master_key_file=key_file,
        listeners=(
            ListenerConfig("unix", str(state / "api.sock"), Role.API),
            ListenerConfig("unix", str(state / "admin.sock"), Role.ADMIN),
        ),
        policy_admin=AdminKeys((bytes(admin.verify_key),), 1),
    )
    running = RunningDaemon(config)
    api = running.api()
    for mode in (common_pb2.MODE_LIVE, common_pb2.MODE_SANDBOX):
        principal = common_pb2.Principal(client_id="alice", mode=mode)
        for venue, f in seeds.credential_fields().items():
            api.credentials.SetCredentials(
                credential_service_pb2.SetCredentialsRequest(
                    principal=principal, venue=venue, api_key=f.api_key, api_secret=f.api_secret,
                    passphrase=f.passphrase, extra_json=f.extra_json,
                )
            )  # fmt: skip
    trading, home = link_wallet(running, "alice", common_pb2.MODE_LIVE)
    return AbuseDaemon(running, admin, trading, home)


def valid_messages(d: AbuseDaemon) -> dict[str, Message]:
    """A request each RPC accepts (or refuses only for state), keyed by method name."""
    alice = common_pb2.Principal(client_id="alice", mode=common_pb2.MODE_LIVE)
    bob = common_pb2.Principal(client_id="bob", mode=common_pb2.MODE_LIVE)
    kraken = seeds.credential_fields()["kraken"]
    order = signing_service_pb2.SignVenueRequestRequest(
        principal=alice, venue="binance", request=common_pb2.HttpRequest(
            method="POST", path="/api/v3/order",
            query="symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=20000",
        ),
    )  # fmt: skip
    document = default_document_bytes().replace(b"\nversion = 1\n", b"\nversion = 2\n")
    signature = sign_document(document, bytes(d.admin_key))
    gas = wallet_service_pb2.TransactionParams(**GAS)
    usdc = "0xaf88d065e77c8cC2239327C5EDb3A432268e5831"
    transfer = bytes.fromhex("a9059cbb") + bytes(12) + bytes.fromhex(d.home[2:]) + (5).to_bytes(32, "big")  # fmt: skip
    w = wallet_service_pb2
    return {
        "SetCredentials": credential_service_pb2.SetCredentialsRequest(
            principal=alice, venue="kraken", api_key=kraken.api_key, api_secret=kraken.api_secret
        ),
        "DeleteCredentials": credential_service_pb2.DeleteCredentialsRequest(
            principal=bob, venue="kraken"
        ),
        "ListVenues": credential_service_pb2.ListVenuesRequest(principal=alice),
        "SignVenueRequest": order,
        "SignVenueRequestStream": signing_service_pb2.SignVenueRequestStreamRequest(
            id=1, request=order
        ),
        "GetIdentity": identity_service_pb2.GetIdentityRequest(),
        "GetPolicy": policy_service_pb2.GetPolicyRequest(),
        "UpdatePolicy": policy_service_pb2.UpdatePolicyRequest(
            document=document,
            signatures=[
                policy_service_pb2.PolicySignature(
                    public_key=signature.public_key.hex(), signature=signature.signature
                )
            ],
        ),
        "EvaluatePolicy": policy_service_pb2.EvaluatePolicyRequest(request=order),
        "GetAuditHead": audit_service_pb2.GetAuditHeadRequest(),
        "ReadAudit": audit_service_pb2.ReadAuditRequest(after_seq=0, limit=10),
        "ListWallets": w.ListWalletsRequest(principal=alice),
        "GetTradingWallet": w.GetTradingWalletRequest(principal=alice),
        "GetDefaultWallet": w.GetDefaultWalletRequest(principal=alice),
        "CreateTradingWallet": w.CreateTradingWalletRequest(principal=bob, label="fuzz"),
        "GetLinkChallenge": w.GetLinkChallengeRequest(
            principal=alice, address=d.home, chain_id=42161
        ),
        "LinkConnectedWallet": w.LinkConnectedWalletRequest(
            principal=alice, message="x", signature=bytes(65)
        ),
        "UnlinkConnectedWallet": w.UnlinkConnectedWalletRequest(principal=bob, address=d.home),
        "Withdraw": w.WithdrawRequest(
            principal=alice, chain="arbitrum", token="USDC", amount="1.5", recipient=d.home, tx=gas
        ),
        "SignTransaction": w.SignTransactionRequest(
            principal=alice,
            wallet_id=f"turnkey:{d.trading}",
            chain_id=42161,
            to=usdc,
            value="0",
            data=transfer,
            tx=gas,
        ),
    }


@dataclass(frozen=True)
class Outcome:
    code: grpc.StatusCode
    reason: str
    details: str
    responses: tuple[bytes, ...] = ()


def _identity(data: bytes) -> bytes:
    return data


def call(
    ch: grpc.Channel, method: MethodDescriptor, payloads: list[bytes], timeout: float = 20
) -> Outcome:
    """Send ``payloads`` (one unless the method streams requests) as raw bytes."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    kinds = (method.client_streaming, method.server_streaming)
    factory: Callable[..., Any] = {
        (False, False): ch.unary_unary,
        (False, True): ch.unary_stream,
        (True, True): ch.stream_stream,
    }[kinds]
    rpc = factory(path, request_serializer=_identity, response_deserializer=_identity)
    arg: bytes | Iterator[bytes] = iter(payloads) if method.client_streaming else payloads[0]
    try:
        result = rpc(arg, timeout=timeout)
        responses = tuple(result) if method.server_streaming else (result,)
    except grpc.RpcError as err:
        return Outcome(err.code(), rpc_reason(err), err.details() or "")
    return Outcome(grpc.StatusCode.OK, "", "", responses)


def check_typed(outcome: Outcome, request_bytes: int, limit: int) -> None:
    """The shared property: a typed refusal with a stable reason, or success."""
    assert outcome.code not in NEVER, outcome
    if outcome.code in (grpc.StatusCode.OK, grpc.StatusCode.UNIMPLEMENTED):
        return
    if outcome.code is grpc.StatusCode.RESOURCE_EXHAUSTED and request_bytes > limit:
        return  # refused by the transport's max_receive_message_length
    assert outcome.reason in REASONS, outcome


def check_stream_items(method: MethodDescriptor, outcome: Outcome) -> None:
    """In-band errors of SignVenueRequestStream obey the same property."""
    if method.name != "SignVenueRequestStream":
        return
    for raw in outcome.responses:
        item = signing_service_pb2.SignVenueRequestStreamResponse.FromString(raw)
        if item.HasField("error"):
            assert item.error.code not in ("INTERNAL", "UNKNOWN"), item.error
            assert item.error.reason in REASONS, item.error
