"""A small client for the daemon: channels and stubs (``sequence-signer call``, tests)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc

from signer._proto.sequence.signer.v1 import (
    audit_service_pb2_grpc,
    credential_service_pb2_grpc,
    identity_service_pb2_grpc,
    policy_service_pb2_grpc,
    signing_service_pb2_grpc,
    wallet_service_pb2_grpc,
)


def channel(
    target: str,
    *,
    ca_file: Path | None = None,
    cert_file: Path | None = None,
    key_file: Path | None = None,
    server_name: str | None = None,
) -> grpc.Channel:
    """A channel to ``unix:/path``, ``host:port`` (plaintext, dev) or mutual TLS."""
    if ca_file is None:
        return grpc.insecure_channel(target)
    creds = grpc.ssl_channel_credentials(
        root_certificates=ca_file.read_bytes(),
        private_key=key_file.read_bytes() if key_file else None,
        certificate_chain=cert_file.read_bytes() if cert_file else None,
    )
    options = [("grpc.ssl_target_name_override", server_name)] if server_name else []
    return grpc.secure_channel(target, creds, options=options)


@dataclass
class Stubs:
    credentials: credential_service_pb2_grpc.CredentialServiceStub
    signing: signing_service_pb2_grpc.SigningServiceStub
    identity: identity_service_pb2_grpc.IdentityServiceStub
    policy: policy_service_pb2_grpc.PolicyServiceStub
    audit: audit_service_pb2_grpc.AuditServiceStub
    wallets: wallet_service_pb2_grpc.WalletServiceStub

    @classmethod
    def on(cls, ch: grpc.Channel) -> Stubs:
        return cls(
            credential_service_pb2_grpc.CredentialServiceStub(ch),
            signing_service_pb2_grpc.SigningServiceStub(ch),
            identity_service_pb2_grpc.IdentityServiceStub(ch),
            policy_service_pb2_grpc.PolicyServiceStub(ch),
            audit_service_pb2_grpc.AuditServiceStub(ch),
            wallet_service_pb2_grpc.WalletServiceStub(ch),
        )
