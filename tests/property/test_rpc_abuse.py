"""Every RPC of every service, against a real daemon, with adversarial messages.

Properties (``rpc_harness.check_typed``):

1. Well-typed messages with adversarial values (``messages``): the call
   succeeds or fails with a status other than INTERNAL/UNKNOWN that carries an
   ErrorInfo reason from DESIGN.md section 4 (UNIMPLEMENTED aside); a message
   over the server's limit is RESOURCE_EXHAUSTED.
2. Bytes that are not a valid encoding (``wire_bytes``): INVALID_ARGUMENT /
   INVALID_REQUEST (in band, for a stream item), never the parser's UNKNOWN.
3. A valid request per RPC (``rpc_harness.valid_messages``) with one or two
   fields, at any depth, made adversarial (``field_mutants``): property 1.
4. Validly signed but adversarial policy documents (UpdatePolicy reaches the
   TOML parser and the document loader): property 1.

Venue requests get their own mutations in test_sign_abuse.py. Examples are
few for CI; ``-m slow`` runs many more.
"""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import DecodeError
from google.protobuf.message_factory import GetMessageClass
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from policy.document import default_document_bytes
from signer._proto.sequence.signer.v1 import policy_service_pb2, signing_service_pb2
from signer.client import channel
from signer.policy_updates import sign_document
from tests.property.messages import field_mutants, messages, wire_bytes
from tests.property.rpc_harness import (
    METHODS,
    AbuseDaemon,
    call,
    check_stream_items,
    check_typed,
    valid_messages,
)

FAST = settings(
    max_examples=25,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SLOW = settings(FAST, max_examples=400)
WITH_FIELDS = [m for m in METHODS if m.input_type.fields]


def _ids(methods: list[MethodDescriptor]) -> list[str]:
    return [f"{m.containing_service.name}.{m.name}" for m in methods]


def _payloads(
    data: st.DataObject, method: MethodDescriptor, draw_one: st.SearchStrategy[bytes]
) -> list[bytes]:
    if not method.client_streaming:
        return [data.draw(draw_one)]
    return data.draw(st.lists(draw_one, min_size=1, max_size=4))


def _check(d: AbuseDaemon, method: MethodDescriptor, target: str, payloads: list[bytes]) -> None:
    outcome = call(channel(target), method, payloads)
    event(f"{outcome.code.name} {outcome.reason}")
    check_typed(outcome, max(map(len, payloads)), d.max_message_bytes)
    check_stream_items(method, outcome)
    undecodable = [raw for raw in payloads if not _decodes(method, raw)]
    if not undecodable:
        return
    if method.client_streaming:
        errors = [signing_service_pb2.SignVenueRequestStreamResponse.FromString(r) for r in outcome.responses]  # fmt: skip
        assert sum(e.error.reason == "INVALID_REQUEST" for e in errors) >= len(undecodable)
    elif outcome.code is not grpc.StatusCode.PERMISSION_DENIED:  # the role check comes first
        assert (outcome.code, outcome.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST")  # fmt: skip


def _decodes(method: MethodDescriptor, raw: bytes) -> bool:
    try:
        GetMessageClass(method.input_type).FromString(raw)
    except DecodeError:
        return False
    return True


def random_messages(d: AbuseDaemon, method: MethodDescriptor, data: st.DataObject) -> None:
    """Property 1, on either socket (the role check is part of what is attacked)."""
    encoded = messages(method.input_type).map(lambda m: m.SerializeToString())
    role = data.draw(st.sampled_from(["api", "admin"]))
    _check(d, method, d.target(role), _payloads(data, method, encoded))


def undecodable_bytes(d: AbuseDaemon, method: MethodDescriptor, data: st.DataObject) -> None:
    """Property 2, on the socket whose role may call the method."""
    _check(d, method, d.target_for(method), _payloads(data, method, wire_bytes(method.input_type)))


def mutated_valid(d: AbuseDaemon, method: MethodDescriptor, data: st.DataObject) -> None:
    """Property 1 for a valid request with one or two fields made adversarial."""
    if not method.input_type.fields:
        return
    mutants = field_mutants(valid_messages(d)[method.name]).map(lambda m: m.SerializeToString())
    _check(d, method, d.target_for(method), _payloads(data, method, mutants))


@pytest.mark.parametrize("method", METHODS, ids=_ids(METHODS))
@FAST
@given(data=st.data())
def test_every_rpc_answers_adversarial_messages_with_typed_statuses(
    abuse_daemon: AbuseDaemon, method: MethodDescriptor, data: st.DataObject
) -> None:
    random_messages(abuse_daemon, method, data)


@pytest.mark.parametrize("method", METHODS, ids=_ids(METHODS))
@FAST
@given(data=st.data())
def test_every_rpc_refuses_undecodable_bytes_as_invalid_request(
    abuse_daemon: AbuseDaemon, method: MethodDescriptor, data: st.DataObject
) -> None:
    undecodable_bytes(abuse_daemon, method, data)


@pytest.mark.parametrize("method", WITH_FIELDS, ids=_ids(WITH_FIELDS))
@FAST
@given(data=st.data())
def test_every_rpc_answers_mutated_valid_requests_with_typed_statuses(
    abuse_daemon: AbuseDaemon, method: MethodDescriptor, data: st.DataObject
) -> None:
    mutated_valid(abuse_daemon, method, data)


@pytest.mark.slow
@pytest.mark.parametrize("method", METHODS, ids=_ids(METHODS))
@SLOW
@given(data=st.data())
def test_every_rpc_many_examples(
    abuse_daemon: AbuseDaemon, method: MethodDescriptor, data: st.DataObject
) -> None:
    check = data.draw(st.sampled_from([random_messages, undecodable_bytes, mutated_valid]))
    check(abuse_daemon, method, data)


TOML_ABUSE = [
    "version = 99999999999999999999999", "version = -1", "version = 1e400", "version = nan",
    "version = inf", "version = 2.0", 'version = "3"', "version = true", "version = 0x10",
    "x = " + "[" * 10_000 + "]" * 10_000, "x = " + "{a=" * 5000 + "1" + "}" * 5000,
    "[venues.b\u0456nance]", "[venues.binance]", "enabled = \"true\"", "modes = [\"live\", \"live\"]",
    "classes = [\"trade\", \"withdraw\"]", "[venues.polymarket]\nexchanges = [1, 2]", 'x = "' + "a" * 5000 + '"',
    "[[venues]]", "[chains.arbitrum]\nmax_gas = -1", "[limits.rate.default]\nper_minute = 18446744073709551616",
]  # fmt: skip


@st.composite
def _documents(draw: st.DrawFn) -> bytes:
    lines = default_document_bytes().decode().splitlines()
    lines[lines.index("version = 1")] = f"version = {draw(st.integers(2, 2**40))}"
    at = draw(st.integers(0, len(lines)))
    how = draw(st.sampled_from(["insert", "replace", "delete", "bytes"]))
    if how == "delete" and at < len(lines):
        del lines[at]
    elif how in ("insert", "replace"):
        new = draw(st.one_of(st.sampled_from(TOML_ABUSE), st.text(max_size=30)))
        lines[at : at + (how == "replace")] = [new]
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    if how == "bytes":
        cut = draw(st.integers(0, len(data)))
        data = (
            data[:cut]
            + draw(st.sampled_from([b"\xff", b"\xef\xbb\xbf", b"\x00", b"\r"]))
            + data[cut:]
        )
    return data


@settings(FAST, max_examples=30)
@given(document=_documents())
def test_signed_adversarial_policy_documents_get_typed_statuses(
    abuse_daemon: AbuseDaemon, document: bytes
) -> None:
    # Validly signed, so the bytes reach the TOML parser and the document loader.
    sig = sign_document(document, bytes(abuse_daemon.admin_key))
    request = policy_service_pb2.UpdatePolicyRequest(
        document=document,
        signatures=[policy_service_pb2.PolicySignature(public_key=sig.public_key.hex(), signature=sig.signature)],
    )  # fmt: skip
    method = next(m for m in METHODS if m.name == "UpdatePolicy")
    outcome = call(channel(abuse_daemon.target("admin")), method, [request.SerializeToString()])
    event(f"{outcome.code.name} {outcome.reason}")
    check_typed(outcome, request.ByteSize(), abuse_daemon.max_message_bytes)
