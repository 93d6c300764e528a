"""The README's rotation procedure on a real daemon: refused while it runs, interrupted,
refused at start while unfinished, resumed, then the daemon runs on the new key only."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from pathlib import Path

import pytest

from signer._proto.sequence.signer.v1 import (
    common_pb2,
    credential_service_pb2,
    identity_service_pb2,
    signing_service_pb2,
)
from signer._proto.sequence.signer.v1 import wallet_service_pb2 as w
from signer.cli import main
from signer.errors import StateError
from signer.keystore import rotate as rotate_mod
from tests.integration.conftest import (
    LIVE,
    SANDBOX,
    Pki,
    RunningDaemon,
    binance_secret,
    make_config,
    principal,
)

ORDER = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=20000"


class _Crash(Exception):
    pass


def _identity_and_wallet(d: RunningDaemon) -> tuple[bytes, bytes, str]:
    api = d.api()
    ident = api.identity.GetIdentity(identity_service_pb2.GetIdentityRequest())
    req = w.GetTradingWalletRequest(principal=principal(mode=LIVE))
    return ident.sealing_public_key, ident.audit_public_key, api.wallets.GetTradingWallet(req).wallet.address  # fmt: skip


def _binance_signature_ok(d: RunningDaemon, secret: str) -> bool:
    out = d.api().signing.SignVenueRequest(
        signing_service_pb2.SignVenueRequestRequest(
            principal=principal(mode=SANDBOX), venue="binance",
            request=common_pb2.HttpRequest(method="POST", path="/api/v3/order", query=ORDER),
        )
    ).request  # fmt: skip
    unsigned, signature = (out.query + out.body.decode()).rsplit("&signature=", 1)
    return signature == hmac.new(secret.encode(), unsigned.encode(), hashlib.sha256).hexdigest()


def test_rotation_procedure(
    state_dir: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:  # fmt: skip
    config = make_config(state_dir, pki)
    assert config.master_key_file is not None
    new_key = state_dir.parent / f"{state_dir.name}-new.key"
    rotate = ["keys", "rotate", "--state-dir", str(state_dir), "--master-key-file",
              str(config.master_key_file), "--new-key", str(new_key), "--batch-size", "1"]  # fmt: skip
    secret = binance_secret()
    running = RunningDaemon(config)
    try:
        api = running.api()
        api.credentials.SetCredentials(
            credential_service_pb2.SetCredentialsRequest(
                principal=principal(mode=SANDBOX), venue="binance", api_key="bk", api_secret=secret
            )
        )
        api.wallets.CreateTradingWallet(w.CreateTradingWalletRequest(principal=principal(mode=LIVE)))  # fmt: skip
        before = _identity_and_wallet(running)
        assert main(["keys", "generate", "--out", str(new_key)]) == 0
        assert main(rotate) == 1  # 1. refused while the daemon runs
        assert "in use by another sequence-signer process" in capsys.readouterr().err
    finally:
        running.stop()
    real = rotate_mod._rewrap_batch
    calls = []

    def crash_on_second(*args: object) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise _Crash
        real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(rotate_mod, "_rewrap_batch", crash_on_second)
    with pytest.raises(_Crash):  # 2. interrupted after one record
        main(rotate)
    monkeypatch.undo()
    rotated = dataclasses.replace(config, master_key_file=new_key)
    for cfg in (config, rotated):  # 3. neither key starts a half-rotated store
        with pytest.raises(StateError, match=r"rotation in progress.*rerun `sequence-signer keys rotate`"):  # fmt: skip
            RunningDaemon(cfg)
    assert main(["keys", "status", "--state-dir", str(state_dir)]) == 1
    assert "unfinished rotation" in capsys.readouterr().out
    assert main(rotate) == 0  # 4. resumed
    assert "resuming: 3 records" in capsys.readouterr().out
    with pytest.raises(StateError, match="did not seal this store"):  # 5. old key refused
        RunningDaemon(config)
    again = RunningDaemon(rotated)  # 6. the new key: everything is there
    try:
        assert _identity_and_wallet(again) == before
        assert _binance_signature_ok(again, secret)
    finally:
        again.stop()
    assert main(["keys", "status", "--state-dir", str(state_dir)]) == 0
