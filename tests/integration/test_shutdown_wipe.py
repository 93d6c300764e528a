"""Shutdown wipes every long-lived secret of a real daemon.

The daemon is driven over real gRPC (credentials stored and used, so the
keystore cache holds unsealed handles); the test keeps references to the
bytearrays that held the master key, the sealing and audit keys and every
cached credential, stops the daemon the way SIGTERM does (``Daemon.stop``),
and finds them all zero. The SIGTERM path of the real ``serve`` process is
checked by its log line in tests/integration/test_process.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from signer._proto.sequence.signer.v1 import common_pb2, credential_service_pb2
from signer._proto.sequence.signer.v1 import signing_service_pb2 as s
from signer.schemes.daemon_keys import KeyWipedError
from tests.integration.conftest import LIVE, Pki, RunningDaemon, binance_secret, make_config
from tests.integration.conftest import principal as p


def test_stop_zeroes_every_long_lived_secret(state_dir: Path, pki: Pki) -> None:
    running = RunningDaemon(make_config(state_dir, pki))
    stopped = False
    try:
        api = running.api()
        for client in ("alice", "bob"):
            api.credentials.SetCredentials(
                credential_service_pb2.SetCredentialsRequest(
                    principal=p(client, LIVE), venue="binance", api_key="k",
                    api_secret=binance_secret(),
                )
            )  # fmt: skip
            api.signing.SignVenueRequest(
                s.SignVenueRequestRequest(
                    principal=p(client, LIVE), venue="binance",
                    request=common_pb2.HttpRequest(method="GET", path="/api/v3/account"),
                )
            )  # fmt: skip
        d = running.d
        cached = list(d.keystore._cache.values())
        assert len(cached) == 2
        held = [d.master._buf, d.sealing._sk, d.audit_signer._sk]
        for creds in cached:
            held += [creds.secret._buf, creds.passphrase._buf]
            held += [v._buf for v in creds.extra.values()]
        secret_bufs = [b for b in held if len(b)]
        assert all(any(b) for b in secret_bufs[:5])  # really holding keys before
        running.stop()
        stopped = True
        assert d.secrets_wiped
        assert all(not any(b) for b in held)
        assert not d.keystore._cache
        with pytest.raises(KeyWipedError):
            d.audit_signer.sign(b"after shutdown")
    finally:
        if not stopped:
            running.stop()
