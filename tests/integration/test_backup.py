"""``backup`` of a running daemon's store, ``restore`` on a "new machine", a daemon there."""

from __future__ import annotations

import hashlib
import hmac
import shutil
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from signer._proto.sequence.signer.v1 import (
    common_pb2,
    credential_service_pb2,
    identity_service_pb2,
    policy_service_pb2,
    signing_service_pb2,
)
from signer._proto.sequence.signer.v1 import wallet_service_pb2 as w
from signer.cli import main
from signer.client import Stubs
from signer.domain import Mode, Principal
from signer.schemes.secp256k1 import Secp256k1Key
from tests.integration.conftest import (
    LIVE,
    SANDBOX,
    Pki,
    RunningDaemon,
    binance_secret,
    kraken_secret,
    make_config,
    principal,
)

ORDER = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=20000"


def _sign(api: Stubs, venue: str, path: str, mode: int, query: str = "", body: bytes = b"") -> common_pb2.HttpRequest:  # fmt: skip
    return api.signing.SignVenueRequest(
        signing_service_pb2.SignVenueRequestRequest(
            principal=principal(mode=mode), venue=venue,
            request=common_pb2.HttpRequest(method="POST", path=path, query=query, body=body),
        )
    ).request  # fmt: skip


def _kraken_nonce(api: Stubs) -> int:
    out = _sign(api, "kraken", "/0/private/OpenPositions", LIVE, body=b"docalcs=true")
    return int(dict(parse_qsl(out.body.decode()))["nonce"])


def _state(d: RunningDaemon) -> tuple[object, ...]:
    api = d.api()
    ident = api.identity.GetIdentity(identity_service_pb2.GetIdentityRequest())
    req = w.GetTradingWalletRequest(principal=principal(mode=LIVE))
    wallet = api.wallets.GetTradingWallet(req).wallet
    venues = api.credentials.ListVenues(
        credential_service_pb2.ListVenuesRequest(principal=principal(mode=SANDBOX))
    )
    policy = api.policy.GetPolicy(policy_service_pb2.GetPolicyRequest())
    return ident.sealing_public_key, ident.audit_public_key, wallet.address, list(venues.venues), policy.version  # fmt: skip


def test_backup_while_running_then_restore_on_a_new_machine(
    state_dir: Path, pki: Pki, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:  # fmt: skip
    config = make_config(state_dir, pki)
    key = str(config.master_key_file)
    out = tmp_path_factory.mktemp("bk") / "signer.backup"
    secret = binance_secret()
    running = RunningDaemon(config)
    try:
        api = running.api()
        api.credentials.SetCredentials(
            credential_service_pb2.SetCredentialsRequest(
                principal=principal(mode=SANDBOX), venue="binance", api_key="bk", api_secret=secret
            )
        )
        api.credentials.SetCredentials(
            credential_service_pb2.SetCredentialsRequest(
                principal=principal(mode=LIVE),
                venue="kraken",
                api_key="kk",
                api_secret=kraken_secret(),
            )
        )
        api.wallets.CreateTradingWallet(w.CreateTradingWalletRequest(principal=principal(mode=LIVE)))  # fmt: skip
        before = _state(running)
        _kraken_nonce(api)
        assert main(["backup", "--state-dir", str(state_dir), "--master-key-file", key,
                     "--out", str(out)]) == 0  # fmt: skip
        assert "1 wallet" in capsys.readouterr().out
        used_after_backup = max(_kraken_nonce(api) for _ in range(3))
        # The daemon holds the state directory: offline tools are refused.
        assert main(["restore", "--state-dir", str(state_dir), "--master-key-file", key,
                     "--in", str(out), "--force"]) == 1  # fmt: skip
        assert "in use by another sequence-signer process" in capsys.readouterr().err
    finally:
        running.stop()
    new_dir = tmp_path_factory.mktemp("st")
    new_key = new_dir.parent / f"{new_dir.name}-master.key"  # where make_config looks
    shutil.copy(key, new_key)
    assert main(["restore", "--state-dir", str(new_dir), "--master-key-file", str(new_key),
                 "--in", str(out)]) == 0  # fmt: skip
    restored = RunningDaemon(make_config(new_dir, pki))
    try:
        assert _state(restored) == before  # daemon keys, wallet, venues, policy version
        signed = _sign(restored.api(), "binance", "/api/v3/order", SANDBOX, query=ORDER)
        payload = signed.query + signed.body.decode()
        unsigned, signature = payload.rsplit("&signature=", 1)
        assert signature == hmac.new(secret.encode(), unsigned.encode(), hashlib.sha256).hexdigest()
        wallet_key = restored.d.wallet_store.trading_key(Principal("alice", Mode.LIVE))
        assert wallet_key is not None
        assert Secp256k1Key.from_secret(wallet_key).address == before[2]
        assert _kraken_nonce(restored.api()) > used_after_backup  # never backwards
    finally:
        restored.stop()
