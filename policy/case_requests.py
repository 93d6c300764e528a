"""Decision cases stated as requests: what a caller sends, not what a parser made of it.

A request case replaces ``[case.intent]`` with ``[case.request]``, the fields
of a SignVenueRequest::

    [[case]]
    name = "sandbox binance order naming the live host"
    expect = "error"                   # "allow", "deny", or "error" (a refusal)
    error = "MODE_MISMATCH"            # with expect = "error": the reason code
    [case.request]
    mode = "sandbox"
    venue = "binance"
    method = "POST"
    path = "/api/v3/order"
    host = "api.binance.com"           # optional, like query, body, wallet_id, client_id
    query = "symbol=BTCUSDT&side=BUY"
    headers = { "Content-Type" = "application/json" }

The policy library only reads and validates these cases: turning a request
into an intent needs the venue parsers, which live in ``signer`` (this package
imports nothing from it). ``sequence-signer policy test`` runs them through
the same path as EvaluatePolicy (``signer/policy_test_runner.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from policy._toml_lines import PathPart
from policy.document import MODES, display

DEFAULT_CLIENT_ID = "policy-case"
EXPECT_REQUEST = ("allow", "deny", "error")
_REQUIRED = ("mode", "venue", "method", "path")
_OPTIONAL = ("client_id", "host", "query", "body", "wallet_id")
REQUEST_KEYS = (*_REQUIRED, *_OPTIONAL, "headers")


class _Reader(Protocol):
    def fail(self, path: Sequence[PathPart], problem: str) -> Exception: ...

    def table(
        self, value: object, path: tuple[PathPart, ...], keys: Iterable[str]
    ) -> dict[str, Any]: ...

    def string(self, table: dict[str, Any], path: tuple[PathPart, ...], key: str) -> str: ...


@dataclass(frozen=True, slots=True)
class CaseRequest:
    """The SignVenueRequest a request case states (``mode`` is "live" or "sandbox")."""

    client_id: str
    mode: str
    venue: str
    method: str
    path: str
    host: str = ""
    query: str = ""
    body: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    wallet_id: str = ""


@dataclass(frozen=True, slots=True)
class RequestCase:
    """One expected outcome for a request.

    Attributes:
        name: unique within its file.
        source: the file the case came from.
        expect: "allow", "deny" or "error".
        rule_id: the rule that must decide ("" when ``expect`` is "error").
        error: the reason code of the expected refusal ("" unless "error").
        request: the request to evaluate.
        line: where the case starts in its file, for messages.
    """

    name: str
    source: str
    expect: str
    rule_id: str
    error: str
    request: CaseRequest
    line: int | None = None


def read_request(reader: _Reader, raw: object, path: tuple[PathPart, ...]) -> CaseRequest:
    """Validate a ``[case.request]`` table; every problem names its key path."""
    table = reader.table(raw, path, REQUEST_KEYS)
    fields = {key: reader.string(table, path, key) for key in _REQUIRED}
    if fields["mode"] not in MODES:
        raise reader.fail((*path, "mode"), 'must be "live" or "sandbox"')
    optional: dict[str, str] = {}
    for key in _OPTIONAL:
        value = table.get(key, "")
        if not isinstance(value, str):
            raise reader.fail((*path, key), "must be a string")
        optional[key] = value
    headers = table.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise reader.fail((*path, "headers"), "must be a table of strings")
    return CaseRequest(
        client_id=optional.pop("client_id") or DEFAULT_CLIENT_ID,
        headers=tuple(headers.items()),
        **fields,
        **optional,
    )


def read_outcome(
    reader: _Reader,
    table: dict[str, Any],
    path: tuple[PathPart, ...],
    error_reasons: frozenset[str],
    check_rule: Callable[[str, str], str],
) -> tuple[str, str, str]:
    """(expect, rule id, error reason) of a request case."""
    expect = reader.string(table, path, "expect")
    if expect not in EXPECT_REQUEST:
        raise reader.fail((*path, "expect"), 'must be "allow", "deny" or "error"')
    if expect != "error":
        if "error" in table:
            raise reader.fail((*path, "error"), 'only with expect = "error"')
        return expect, check_rule(reader.string(table, path, "rule"), expect), ""
    if "rule" in table:
        raise reader.fail((*path, "rule"), 'a refusal has no rule; use error = "<REASON>"')
    error = reader.string(table, path, "error")
    if error not in error_reasons:
        known = ", ".join(sorted(error_reasons)) or "none (run with sequence-signer policy test)"
        raise reader.fail(
            (*path, "error"), f"unknown error reason {display(error)}; known: {known}"
        )
    return expect, "", error
