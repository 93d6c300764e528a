"""``sequence-signer call``: a small client so a newcomer can sign in a minute."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from signer._proto.sequence.signer.v1 import (
    audit_service_pb2,
    common_pb2,
    credential_service_pb2,
    identity_service_pb2,
    policy_service_pb2,
    signing_service_pb2,
)
from signer.cli import print_json, rpc_error_text
from signer.client import Stubs, channel

MODES = {"live": common_pb2.MODE_LIVE, "sandbox": common_pb2.MODE_SANDBOX}


def run_call(args: argparse.Namespace) -> int:
    ch = channel(
        args.target,
        ca_file=args.ca_file,
        cert_file=args.cert_file,
        key_file=args.key_file,
        server_name=args.server_name,
    )
    stubs = Stubs.on(ch)
    try:
        result = _dispatch(stubs, args)
    except grpc.RpcError as exc:
        print(rpc_error_text(exc), file=sys.stderr)
        return 1
    finally:
        ch.close()
    out = MessageToDict(result, preserving_proto_field_name=True)
    if isinstance(result, signing_service_pb2.SignVenueRequestResponse):
        _body_as_text(out, result.request.body)
    print_json(out)
    return 0


def _body_as_text(out: dict[str, Any], body: bytes) -> None:
    """Show the body to send as text (protobuf's JSON mapping would show base64)."""
    request = out.get("request", {})
    if "body" in request:
        try:
            request["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            request["body_base64"] = request.pop("body")


def _read(path: Path | None) -> str:
    if path is None:
        return ""
    return sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")


def read_secret(path: Path | None) -> str:
    """A secret file's text without its one final line ending (``echo`` adds one).

    SECURITY: only a single trailing ``\n`` / ``\r\n`` is removed, never other
    whitespace: a passphrase may begin or end with a space, and silently
    storing a different one would make every signature the venue checks fail.
    """
    text = _read(path)
    for ending in ("\r\n", "\n"):
        if text.endswith(ending):
            return text[: -len(ending)]
    return text


def _dispatch(stubs: Stubs, args: argparse.Namespace) -> Message:
    if args.op == "identity":
        return stubs.identity.GetIdentity(identity_service_pb2.GetIdentityRequest())
    if args.op == "audit-head":
        return stubs.audit.GetAuditHead(audit_service_pb2.GetAuditHeadRequest())
    if args.op == "policy":
        return stubs.policy.GetPolicy(policy_service_pb2.GetPolicyRequest())
    principal = common_pb2.Principal(client_id=args.client, mode=MODES[args.mode])
    if args.op == "list-venues":
        return stubs.credentials.ListVenues(
            credential_service_pb2.ListVenuesRequest(principal=principal)
        )
    if args.op == "delete-credentials":
        return stubs.credentials.DeleteCredentials(
            credential_service_pb2.DeleteCredentialsRequest(principal=principal, venue=args.venue)
        )
    if args.op == "set-credentials":
        return stubs.credentials.SetCredentials(
            credential_service_pb2.SetCredentialsRequest(
                principal=principal,
                venue=args.venue,
                api_key=args.api_key,
                api_secret=read_secret(args.api_secret_file),
                passphrase=read_secret(args.passphrase_file),
                extra_json=_read(args.extra_json_file),
            )
        )
    request = signing_service_pb2.SignVenueRequestRequest(
        principal=principal,
        venue=args.venue,
        wallet_id=args.wallet_id,
        request=common_pb2.HttpRequest(
            method=args.method, path=args.path, query=args.query, body=args.body.encode()
        ),
    )
    if args.op == "evaluate":
        return stubs.policy.EvaluatePolicy(
            policy_service_pb2.EvaluatePolicyRequest(request=request)
        )
    return stubs.signing.SignVenueRequest(request)
