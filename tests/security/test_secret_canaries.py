"""Secret canaries (issue 6, item 3): no secret ever appears in plaintext anywhere.

A real daemon (Unix sockets + mutual TLS, real SQLite, real audit file) gets
distinctive, valid credentials for all eleven venues (HMAC secrets, passphrases
and memos, EC P-256 / Ed25519 / RSA PEM keys, secp256k1 keys, Polymarket L2
material), some through the sealed box, and generates trading wallets. Then
every RPC of every service is driven, successes and failures: every venue's
signing (unary and stream), denials, refused credentials whose invalid value is
itself a canary, malformed, oversized and non-UTF-8 messages, wrong roles, an
injected library exception that quotes the secret, a failing audit write, a
restart. Captured: every response (wire bytes, ``str``, JSON), every error
(details, ``str``/``repr``, debug string, metadata, ErrorInfo), every log
record at DEBUG (message, args, exception text), fd 1/2 output, CLI output and
every file of the state directory (database, -wal, -shm, audit log) while
running and after shutdown. Afterwards the trading wallet keys and the daemon's
own keys are read offline from the state directory and become canaries too.

Assertion: no form of any canary (text, raw bytes, hex, base64 at every
alignment, SHA-256, DER, PEM lines, private numbers) in any artefact; the one
exception is the passphrase header OKX, Bitget and Polymarket send in clear,
removed only from that header of that venue's successful signing response
(``canary_recorder._redact``). The test proves it can fail: probes travel every
capture channel and must be found, and every canary form planted in a scratch
artefact must be found.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
from pathlib import Path

import grpc
import pytest

from signer._proto.sequence.signer.v1 import signing_service_pb2 as s
from signer.venues import kraken
from tests.integration.conftest import Pki, RunningDaemon, make_config
from tests.security import canary_drive as drive
from tests.security.canaries import (
    Canary,
    canary,
    category,
    marked_raw,
    marked_text,
    marker_canaries,
    raw_forms,
    report,
    scan,
    text_forms,
)
from tests.security.canary_invalid import cases
from tests.security.canary_offline import deployment_canaries, generated_canaries
from tests.security.canary_recorder import METHODS, Recorder
from tests.security.canary_wallets import wallets
from tests.security.canary_world import LIVE, SANDBOX, Account_, build_accounts, http

# withhold_output (tests/security/conftest.py): a failure report must not print
# captured logs or output, which would contain any leaked secret in full.
pytestmark = [pytest.mark.timeout(600), pytest.mark.withhold_output]
INTERNAL, UNAVAILABLE = grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE


def inject_library_exception(rec: Recorder, ch: drive.Channels, acct: Account_,
                             monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """A venue library raising an exception that quotes the key: INTERNAL, nothing echoed."""

    def boom(self: object, parsed: object, creds: object, clock: object) -> object:
        secret = creds.secret.expose().decode()  # type: ignore[attr-defined]
        raise ValueError(f"library could not use key {secret!r}")

    req = acct.sign_request(acct.requests[0])
    with monkeypatch.context() as m:
        m.setattr(kraken.KrakenVenue, "sign", boom)
        rec.unary(ch.api, drive.SIGN, req, "inject.unary", INTERNAL)
        item = s.SignVenueRequestStreamRequest(id=1, request=req)
        out = rec.stream(ch.api, "SigningService/SignVenueRequestStream", [item], "inject.stream")
        assert out[0].error.code == "INTERNAL"


def fail_audit(rec: Recorder, ch: drive.Channels, d: RunningDaemon, acct: Account_) -> None:
    """The audit write fails with an OSError quoting a secret: AUDIT_UNAVAILABLE, fail closed."""

    def broken(data: bytes) -> None:
        raise OSError(f"disk full while writing {acct.api_secret}")

    d.d.audit._write = broken  # type: ignore[method-assign]
    for n in range(2):  # the failing append, then the closed state
        req = acct.sign_request(acct.requests[0])
        rec.unary(ch.api, drive.SIGN, req, f"audit-fail.{n}", UNAVAILABLE, "AUDIT_UNAVAILABLE")


def cli(rec: Recorder, target: str, tmp: Path, capfd: pytest.CaptureFixture[str]) -> list[Canary]:
    """``sequence-signer call``: set-credentials from a file, sign, a refused secret."""
    from signer.cli import main

    raw = marked_raw(48)
    good, bad = base64.b64encode(raw).decode(), marked_text("clibad")
    (tmp / "good").write_text(good)
    (tmp / "bad").write_text(bad + "!")
    call = ["call", "--target", target]
    who = ["--client", "c-cli", "--mode", "live", "--venue", "kraken", "--api-key", "cliKey"]
    before = capfd.readouterr()  # fd output so far (the daemon's too), kept apart
    rec.add("fd:stdout-before-cli", before.out)
    rec.add("fd:stderr-before-cli", before.err)
    assert main([*call, "set-credentials", *who, "--api-secret-file", str(tmp / "good")]) == 0
    assert main([*call, "sign", *who[:6], "--method", "POST", "--path", "/0/private/Balance"]) == 0
    assert main([*call, "set-credentials", *who, "--api-secret-file", str(tmp / "bad")]) == 1
    out = capfd.readouterr()
    assert "API-Sign" in out.out and "INVALID_CREDENTIALS" in out.err
    rec.add("cli:stdout", out.out)
    rec.add("cli:stderr", out.err)
    return [
        canary(
            "cli.kraken.api_secret", {**text_forms(good), **raw_forms(raw, "decoded-", chunks=True)}
        ),
        canary("cli.invalid", text_forms(bad)),
    ]


def test_no_canary_in_any_response_error_log_or_file(
    state_dir: Path, pki: Pki, caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)  # every logger, the daemon's (same process) included
    config = make_config(state_dir, pki)
    assert config.master_key_file is not None
    accounts, invalid = build_accounts(), cases()
    by_client = {a.client: a for a in accounts}
    # Overwritten by the c-okx row, and stored then deleted: neither may linger anywhere.
    superseded = Account_("c-okx", SANDBOX, "okx", "okxOld", marked_text("okxold", True),
                          marked_text("okxoldpass"))  # fmt: skip
    deleted = Account_("c-deleted", LIVE, "binance", "deletedKey", marked_text("deleted", True),
                       requests=[http("GET", "/api/v3/account")])  # fmt: skip
    canaries = [c for a in accounts for c in a.canaries] + [x.canary for x in invalid]
    canaries += [canary("okx.superseded", text_forms(superseded.api_secret)),
                 canary("okx.superseded_pass", text_forms(superseded.passphrase)),
                 canary("binance.deleted", text_forms(deleted.api_secret))]  # fmt: skip
    rec, probes, holders = Recorder(), drive.Probes(), []

    d = RunningDaemon(config)
    try:
        with drive.channels(d, pki) as ch:
            sealing = drive.identity(rec, ch)
            drive.store_credentials(rec, ch, [superseded, *accounts, deleted], sealing)
            drive.refused_credentials(rec, ch, invalid, sealing)
            drive.sign_all(rec, ch, [*accounts, deleted], "sign")
            drive.delete(rec, ch, deleted)
            drive.denied_all(rec, ch, accounts)
            drive.sign_failures(rec, ch, by_client, probes)
            drive.stream(rec, ch, accounts)
            holders = wallets(rec, ch, probes, by_client["c-hl-agent"])
            drive.policy_audit(rec, ch)
            drive.wrong_roles(rec, ch)
            inject_library_exception(rec, ch, by_client["c-kraken"], monkeypatch)
            canaries += cli(rec, f"unix:{state_dir / 'api.sock'}", tmp_path, capfd)
            logging.getLogger("signer.canary-probe").debug("probe %s", probes.log)
            os.write(2, probes.fd.encode() + b"\n")
            rec.add_tree("running", state_dir)  # with the SQLite -wal and -shm files
            fail_audit(rec, ch, d, by_client["c-binance"])
    finally:
        d.stop()
    d = RunningDaemon(config)
    try:
        with drive.channels(d, pki) as ch:
            drive.sign_all(rec, ch, accounts, "restarted")  # unsealed from disk this time
            assert drive.read_audit(rec, ch, "audit-after-restart") > 100
    finally:
        d.stop()
    rec.add_tree("stopped", state_dir)
    rec.add_logs(caplog.records, caplog.text)
    fd = capfd.readouterr()
    rec.add("fd:stdout", fd.out)
    rec.add("fd:stderr", fd.err)
    canaries += generated_canaries(state_dir, config.master_key_file, holders, accounts, [deleted])
    canaries += deployment_canaries(config.master_key_file, pki) + marker_canaries()

    _assert_every_rpc_driven(rec)
    _assert_capture_channels_work(rec, probes, caplog)
    leaks = scan(canaries, rec.artefacts)
    assert not leaks, report(leaks)
    _assert_scanner_finds_every_form(canaries)


def _assert_every_rpc_driven(rec: Recorder) -> None:
    """Every method of the six services was called and ended both ways (UpdatePolicy
    only fails here: this daemon has no admin keys)."""
    ok = {rpc for rpc, code in rec.outcomes if code == "OK"}
    failed = {rpc for rpc, code in rec.outcomes if code != "OK"}
    assert set(METHODS) - ok == {"PolicyService/UpdatePolicy"}
    assert set(METHODS) <= failed


def _assert_capture_channels_work(rec: Recorder, probes: drive.Probes,
                                  caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    """Each probe is found where it must be: the capture and the scanner see real data."""
    expected = {
        probes.label: {"response", "state-running", "state-stopped"},
        probes.venue: {"error"},
        probes.client: {"state-running", "state-stopped", "response"},
        probes.log: {"log"},
        probes.fd: {"fd"},
    }
    for probe, where in expected.items():
        leaks = scan([canary("probe", {"text": probe.encode()})], rec.artefacts)
        found = {category(leak.artefact) for leak in leaks}
        assert where <= found, f"probe {probe[:8]}: expected in {where}, found in {found}"
    names = {r.name for r in caplog.records}
    assert {"signer.server.server", "signer.server.status", "signer.audit"} <= names
    assert any("internal error" in r.getMessage() for r in caplog.records)  # the injected fault


def _assert_scanner_finds_every_form(canaries: list[Canary]) -> None:
    """Plant every form of every canary between random bytes: the scanner must find each."""
    parts, planted = [], set()
    for c in canaries:
        for name, form in c.forms.items():
            parts += [secrets.token_bytes(97), form]
            planted.add((c.label, name))
    found = {(leak.canary, leak.form) for leak in scan(canaries, {"scratch": b"".join(parts)})}
    assert planted <= found, f"scanner missed {len(planted - found)} planted forms"
    assert scan(canaries, {"clean": secrets.token_bytes(1 << 16)}) == []


def test_a_leak_is_named_by_canary_form_and_artefact_never_printed() -> None:
    """The report names where a secret leaked, showing at most its first 6 characters."""
    secret = marked_text("unit")
    c = canary("unit.secret", text_forms(secret))
    artefacts = {"error:x:details": f"bad key {secret}".encode(),
                 "response:y:json": secret.encode().hex().upper().encode(),
                 "state-z:db": b"nothing here"}  # fmt: skip
    leaks = scan([c], artefacts)
    assert {(leak.form, leak.artefact) for leak in leaks} >= {
        ("text", "error:x:details"), ("text-HEX", "response:y:json")}  # fmt: skip
    assert all(secret[:7] not in str(leak) for leak in leaks)
    assert {leak.preview for leak in leaks if leak.form == "text"} == {secret[:6]}
    marker = scan(marker_canaries(), {"truncated": secret[:14].encode()})
    assert [leak.canary for leak in marker] == ["marker.text"]  # a partial leak is caught
