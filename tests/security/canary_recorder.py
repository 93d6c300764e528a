"""Calls any RPC of the daemon and keeps every artefact a secret could leak into.

``Recorder.unary`` / ``stream`` / ``server_stream`` call a method by name on a
channel, assert the expected status code (and reason), and store artefacts:
for a response its wire bytes, ``str()`` and JSON; for an error its details,
``str()``/``repr()`` (which carry the debug error string), initial and
trailing metadata, and the decoded ``google.rpc.Status`` with its ErrorInfo.
Artefact names are ``<category>:<call name>:<part>``.

Assertion messages name codes and reasons only, never details: a details
string that leaked a secret would otherwise print it.
"""

from __future__ import annotations

import logging
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.json_format import MessageToJson
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from google.rpc import error_details_pb2, status_pb2

from signer._proto.sequence.signer.v1 import (
    audit_service_pb2,
    credential_service_pb2,
    identity_service_pb2,
    policy_service_pb2,
    signing_service_pb2,
    wallet_service_pb2,
)
from signer.server.status import DETAILS_KEY

PACKAGE = "sequence.signer.v1"
MODULES = (
    audit_service_pb2,
    credential_service_pb2,
    identity_service_pb2,
    policy_service_pb2,
    signing_service_pb2,
    wallet_service_pb2,
)
METHODS = {
    f"{service.name}/{method.name}": method
    for module in MODULES
    for service in module.DESCRIPTOR.services_by_name.values()
    for method in service.methods
}
OK = grpc.StatusCode.OK
REDACTED = "<sent-in-clear-by-venue-protocol>"

# (header, value): a secret the venue's protocol sends in clear in that header.
LegitHeader = tuple[str, str]


@dataclass
class Recorder:
    """Every artefact of every call, and which RPCs ended with which code."""

    # repr=False: a failing assertion must not print artefacts (they may hold a leak).
    artefacts: dict[str, bytes] = field(default_factory=dict, repr=False)
    outcomes: list[tuple[str, str]] = field(default_factory=list, repr=False)
    _names: Counter[str] = field(default_factory=Counter, repr=False)

    def _name(self, name: str) -> str:
        self._names[name] += 1
        return name if self._names[name] == 1 else f"{name}#{self._names[name]}"

    def add(self, name: str, data: bytes | str) -> None:
        assert name not in self.artefacts, name
        self.artefacts[name] = data.encode() if isinstance(data, str) else data

    # --- calls -------------------------------------------------------------------------------

    def unary(
        self,
        ch: grpc.Channel,
        rpc: str,
        request: Message | bytes,
        name: str,
        expect: grpc.StatusCode = OK,
        reason: str | None = None,
        legit: LegitHeader | None = None,
    ) -> Any:
        """Call ``rpc`` ("Service/Method"); ``request`` may be raw bytes (malformed on purpose)."""
        __tracebackhide__ = True
        method = METHODS[rpc]
        call = ch.unary_unary(
            f"/{PACKAGE}.{rpc}",
            request_serializer=_serializer,
            response_deserializer=GetMessageClass(method.output_type).FromString,
        )
        name = self._name(name)
        try:
            response = call(request, timeout=30)
        except grpc.RpcError as exc:
            self._error(rpc, name, exc, expect, reason)
            return None
        self._ok(rpc, name, expect)
        self._response(name, _redact(response, legit) if legit else response)
        return response

    def denied(self, ch: grpc.Channel, rpc: str, request: Message, name: str) -> None:
        """A call the policy must refuse: PERMISSION_DENIED / POLICY_DENIED."""
        __tracebackhide__ = True
        self.unary(ch, rpc, request, name, grpc.StatusCode.PERMISSION_DENIED, "POLICY_DENIED")

    def invalid(self, ch: grpc.Channel, rpc: str, request: Message | bytes, name: str,
                reason: str = "INVALID_REQUEST") -> None:  # fmt: skip
        """A malformed call: INVALID_ARGUMENT with ``reason``."""
        __tracebackhide__ = True
        self.unary(ch, rpc, request, name, grpc.StatusCode.INVALID_ARGUMENT, reason)

    def stream(
        self,
        ch: grpc.Channel,
        rpc: str,
        requests: Sequence[Message | bytes],
        name: str,
        legit: dict[int, LegitHeader] | None = None,
    ) -> list[Any]:
        """A bidirectional stream (errors in band); ``legit`` by request id."""
        method = METHODS[rpc]
        call = ch.stream_stream(
            f"/{PACKAGE}.{rpc}",
            request_serializer=_serializer,
            response_deserializer=GetMessageClass(method.output_type).FromString,
        )
        name = self._name(name)
        out: list[Any] = list(call(iter(requests), timeout=60))
        self._ok(rpc, name, OK)
        for i, item in enumerate(out):
            header = (legit or {}).get(item.id)
            if header and item.WhichOneof("result") == "response":
                item.response.CopyFrom(_redact(item.response, header))
            self._response(f"{name}[{i}]", item)
        return out

    def stream_refused(
        self,
        ch: grpc.Channel,
        rpc: str,
        request: Message,
        name: str,
        expect: grpc.StatusCode,
        server_streaming_only: bool,
    ) -> None:
        """A streaming RPC that must fail as a whole (wrong role, bad request)."""
        method = METHODS[rpc]
        kwargs: dict[str, Callable[..., Any]] = {
            "request_serializer": _serializer,
            "response_deserializer": GetMessageClass(method.output_type).FromString,
        }
        name = self._name(name)
        try:
            if server_streaming_only:
                list(ch.unary_stream(f"/{PACKAGE}.{rpc}", **kwargs)(request, timeout=30))
            else:
                list(ch.stream_stream(f"/{PACKAGE}.{rpc}", **kwargs)(iter([request]), timeout=30))
        except grpc.RpcError as exc:
            self._error(rpc, name, exc, expect, None)
            return
        raise AssertionError(f"{name}: expected {expect.name}, the stream succeeded")

    def server_stream(self, ch: grpc.Channel, rpc: str, request: Message, name: str) -> list[Any]:
        method = METHODS[rpc]
        call = ch.unary_stream(
            f"/{PACKAGE}.{rpc}",
            request_serializer=_serializer,
            response_deserializer=GetMessageClass(method.output_type).FromString,
        )
        name = self._name(name)
        out = list(call(request, timeout=60))
        self._ok(rpc, name, OK)
        for i, item in enumerate(out):
            self._response(f"{name}[{i}]", item)
        return out

    # --- artefacts ---------------------------------------------------------------------------

    def _ok(self, rpc: str, name: str, expect: grpc.StatusCode) -> None:
        self.outcomes.append((rpc, "OK"))
        assert expect == OK, f"{name}: expected {expect.name}, got OK"

    def _response(self, name: str, msg: Message) -> None:
        self.add(f"response:{name}:bin", msg.SerializeToString())
        self.add(f"response:{name}:str", str(msg))
        self.add(f"response:{name}:json", MessageToJson(msg))

    def _error(
        self, rpc: str, name: str, exc: grpc.RpcError, expect: grpc.StatusCode, reason: str | None
    ) -> None:
        __tracebackhide__ = True  # pytest would print ``exc`` (its details may hold a leak)
        call: Any = exc
        code: grpc.StatusCode = call.code()
        self.outcomes.append((rpc, code.name))
        self.add(f"error:{name}:details", call.details() or "")
        self.add(f"error:{name}:str", str(exc) + "\n" + repr(exc))
        self.add(f"error:{name}:debug", call.debug_error_string() or "")
        self.add(f"error:{name}:initial-metadata", repr(call.initial_metadata()))
        trailers = call.trailing_metadata() or ()
        self.add(f"error:{name}:trailers", repr(trailers))
        got_reason = ""
        for key, value in trailers:
            if key == DETAILS_KEY:
                status = status_pb2.Status.FromString(value)
                self.add(f"error:{name}:status", str(status))
                for detail in status.details:
                    info = error_details_pb2.ErrorInfo()
                    if detail.Unpack(info):
                        got_reason = info.reason
                        self.add(f"error:{name}:error-info", str(info))
        assert code == expect, f"{name}: expected {expect.name}, got {code.name} [{got_reason}]"
        if reason is not None:
            assert got_reason == reason, f"{name}: expected reason {reason}, got {got_reason}"

    def add_tree(self, label: str, root: Path) -> None:
        """Every regular file under ``root`` as bytes (sockets are skipped)."""
        files = sorted(p for p in root.rglob("*") if p.is_file())
        assert files, f"{root}: nothing to scan"
        for path in files:
            self.add(f"state-{label}:{path.relative_to(root)}", path.read_bytes())

    def add_logs(self, records: Iterable[logging.LogRecord], text: str) -> None:
        """Captured log records: the formatted text, each message, its args and exception."""
        self.add("log:caplog-text", text)
        for i, record in enumerate(records):
            parts = [record.name, record.getMessage(), repr(record.args), str(record.msg)]
            if record.exc_info and record.exc_info[1] is not None:
                parts.append("".join(traceback.format_exception(record.exc_info[1])))
            if record.stack_info:
                parts.append(record.stack_info)
            self.add(f"log:record{i}:{record.name}", "\n".join(parts))


def _serializer(msg: Message | bytes) -> bytes:
    return msg if isinstance(msg, bytes) else msg.SerializeToString()


def _redact(response: Any, legit: LegitHeader) -> Any:
    """A copy of a signing response without the one header value the venue protocol
    sends in clear (OKX/Bitget/Polymarket send the API passphrase itself).

    SECURITY (of the test): the value must be exactly the expected secret, in
    exactly that header of the request to send and of the auth-header map;
    every other byte of the response is still scanned, so the passphrase
    anywhere else (body, query, another header) is still a leak.
    """
    header, value = legit
    copy = type(response)()
    copy.CopyFrom(response)
    assert copy.request.headers.get(header) == value, f"{header}: not the stored passphrase"
    assert copy.headers.get(header) == value, f"{header}: not in the auth headers"
    copy.request.headers[header] = REDACTED
    copy.headers[header] = REDACTED
    return copy
