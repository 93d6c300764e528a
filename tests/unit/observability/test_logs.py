"""Log formats: one invariant of signer/observability/logs.py per test."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator

import pytest

from signer.observability import logs
from signer.observability.events import DecisionLine
from signer.observability.logs import JsonFormatter, TextFormatter, configure_logging

SECRET = "sk_live_CnRyQ7zXw4Kp_do_not_log"


def _record(msg: str = "signing decision", *args: object, fields: object = None,
            exc: bool = False) -> logging.LogRecord:  # fmt: skip
    exc_info = None
    if exc:
        try:
            raise ValueError(f"library could not parse key {SECRET}")
        except ValueError:
            exc_info = sys.exc_info()
    record = logging.LogRecord("signer.decisions", logging.INFO, __file__, 1, msg, args, exc_info)
    if fields is not None:
        record.fields = fields
    return record


def _line() -> DecisionLine:
    return DecisionLine(
        action="sign_venue_request", decision="deny", reason="POLICY_DENIED",
        rule="endpoint.not-allowlisted", venue="binance", endpoint_class="trade",
        client_id="alice", mode="sandbox", caller="frontend", rpc="SignVenueRequest",
        latency_ms=1.25, audit_seq=7,
    )  # fmt: skip


def test_json_line_has_the_envelope_and_every_decision_field() -> None:
    out = JsonFormatter().format(_record(fields=_line().fields()))
    assert "\n" not in out
    line = json.loads(out)
    assert line["level"] == "INFO" and line["logger"] == "signer.decisions"
    assert line["msg"] == "signing decision" and line["ts"].endswith("Z")
    assert {k: line[k] for k in ("event", "action", "decision", "reason", "rule")} == {
        "event": "signing_decision", "action": "sign_venue_request", "decision": "deny",
        "reason": "POLICY_DENIED", "rule": "endpoint.not-allowlisted",
    }  # fmt: skip
    assert (line["venue"], line["endpoint_class"], line["client_id"], line["mode"]) == (
        "binance", "trade", "alice", "sandbox")  # fmt: skip
    assert (line["rpc"], line["latency_ms"], line["audit_seq"]) == ("SignVenueRequest", 1.25, 7)
    assert set(line) == {"ts", "level", "logger", "msg", *_line().fields()}


@pytest.mark.parametrize("hostile", ["a\nb", 'a\r\n{"level":"ERROR"}', "x\u2028y", "\x1b[31m"])
def test_one_record_is_one_ascii_line_whatever_the_values(hostile: str) -> None:
    """Invariant 1: a value cannot start a forged line in either format."""
    json_out = JsonFormatter().format(_record("msg %s", hostile, fields={"client_id": hostile}))
    assert json_out.isascii() and len(json_out.splitlines()) == 1
    parsed = json.loads(json_out)
    assert parsed["client_id"] == hostile and parsed["msg"] == f"msg {hostile}"
    text_out = TextFormatter().format(_record(fields={"client_id": hostile}))
    assert len(text_out.splitlines()) == 1 and text_out.isascii()
    assert f"client_id={json.dumps(hostile)}" in text_out


def test_fields_are_scalars_and_cannot_replace_the_envelope() -> None:
    """Invariant 2: an object is written as its type name, never its str()."""

    class Leaky:
        def __str__(self) -> str:
            return SECRET

    fields = {"obj": Leaky(), "level": "DEBUG", "n": 3, "x": None, "nan": float("nan")}
    line = json.loads(JsonFormatter().format(_record(fields=fields)))
    assert line["obj"] == "<Leaky>" and line["level"] == "INFO"
    assert (line["n"], line["x"], line["nan"]) == (3, None, "nan")
    text = TextFormatter().format(_record(fields=fields))
    assert SECRET not in text and "obj=<Leaky>" in text and "x=-" in text


def test_json_exception_carries_the_type_never_the_message() -> None:
    """Invariant 3."""
    out = JsonFormatter().format(_record("internal error", exc=True))
    assert SECRET not in out and json.loads(out)["exc_type"] == "ValueError"


def test_text_line_reads_as_key_value_pairs() -> None:
    out = TextFormatter().format(_record(fields=_line().fields()))
    assert "INFO signer.decisions: signing decision event=signing_decision" in out
    assert "decision=deny reason=POLICY_DENIED rule=endpoint.not-allowlisted" in out
    assert "latency_ms=1.25 audit_seq=7" in out
    assert TextFormatter().format(_record("plain")).endswith("signer.decisions: plain")


@pytest.fixture
def bare_root() -> Iterator[logging.Logger]:
    root = logging.Logger("stand-in-root", logging.WARNING)
    yield root
    for handler in root.handlers:
        handler.close()  # stops the writer thread


def test_configure_logging_installs_one_handler_then_reformats_it(
    bare_root: logging.Logger,
) -> None:
    """Invariant 4: like basicConfig, and a second call changes format and level."""
    configure_logging("text", "INFO", bare_root)
    (handler,) = bare_root.handlers
    assert isinstance(handler.formatter, TextFormatter) and bare_root.level == logging.INFO
    configure_logging("json", "WARNING", bare_root)
    assert bare_root.handlers == [handler] and isinstance(handler.formatter, JsonFormatter)
    assert bare_root.level == logging.WARNING


def test_configure_logging_leaves_someone_elses_handlers(bare_root: logging.Logger) -> None:
    other = logging.NullHandler()
    bare_root.addHandler(other)
    configure_logging("json", "DEBUG", bare_root)
    assert bare_root.handlers == [other] and other.formatter is None
    assert bare_root.level == logging.WARNING


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="json, text"):
        logs.formatter("xml")
