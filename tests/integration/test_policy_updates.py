"""Signed policy updates through a real daemon: UpdatePolicy, roles, restart, SIGHUP."""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from nacl.signing import SigningKey

from signer._proto.sequence.signer.v1 import (
    common_pb2,
    policy_service_pb2,
    signing_service_pb2,
)
from signer.app import default_policy_bytes
from signer.client import Stubs, channel
from signer.policy_updates import AdminKeys, format_signature_line, sign_document
from tests.integration.conftest import (
    SANDBOX,
    Pki,
    RunningDaemon,
    binance_secret,
    make_config,
    principal,
    rpc_reason,
)
from tests.integration.test_daemon import ORDER_QUERY, audit_records, set_creds

Keys = list[SigningKey]


def version_doc(version: int, binance: bool = True) -> bytes:
    data = default_policy_bytes().replace(b"\nversion = 1\n", f"\nversion = {version}\n".encode())
    if not binance:
        data = data.replace(
            b"[venues.binance]\nenabled = true", b"[venues.binance]\nenabled = false"
        )
    assert data != default_policy_bytes() or version == 1
    return data


def signed(data: bytes, keys: Keys, *who: int) -> policy_service_pb2.UpdatePolicyRequest:
    sigs = []
    for i in who:
        s = sign_document(data, bytes(keys[i]))
        sigs.append(
            policy_service_pb2.PolicySignature(public_key=s.public_key.hex(), signature=s.signature)
        )
    return policy_service_pb2.UpdatePolicyRequest(document=data, signatures=sigs)


def sign_order(stubs: Stubs) -> signing_service_pb2.SignVenueRequestResponse:
    return stubs.signing.SignVenueRequest(
        signing_service_pb2.SignVenueRequestRequest(
            principal=principal(mode=SANDBOX),
            venue="binance",
            request=common_pb2.HttpRequest(method="POST", path="/api/v3/order", query=ORDER_QUERY),
        )
    )


def current_version(stubs: Stubs) -> int:
    return stubs.policy.GetPolicy(policy_service_pb2.GetPolicyRequest()).version


@pytest.fixture
def keys() -> Keys:
    return [SigningKey.generate() for _ in range(4)]


@pytest.fixture
def admin_config(state_dir: Path, pki: Pki, keys: Keys):  # type: ignore[no-untyped-def]
    admins = AdminKeys(tuple(bytes(k.verify_key) for k in keys[:3]), 2)
    return dataclasses.replace(make_config(state_dir, pki), policy_admin=admins)


@pytest.fixture
def signed_daemon(admin_config) -> Iterator[RunningDaemon]:  # type: ignore[no-untyped-def]
    running = RunningDaemon(admin_config)
    yield running
    running.stop()


def test_valid_update_takes_effect_for_the_next_request(
    signed_daemon: RunningDaemon, keys: Keys
) -> None:
    api, admin = signed_daemon.api(), signed_daemon.admin()
    set_creds(api, "binance", "bk", binance_secret())
    assert sign_order(api).audit_id  # allowed under version 1
    new = version_doc(2, binance=False)
    assert admin.policy.UpdatePolicy(signed(new, keys, 0, 2)).version == 2
    got = api.policy.GetPolicy(policy_service_pb2.GetPolicyRequest())
    assert got.version == 2 and got.document == new
    with pytest.raises(grpc.RpcError) as err:
        sign_order(api)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert rpc_reason(err.value) == "POLICY_DENIED"
    assert "venue.disabled" in (err.value.details() or "")
    updates = [r for r in audit_records(signed_daemon) if r.get("action") == "policy_update"]
    assert updates[-1]["decision"] == "accept" and str(updates[-1]["caller"]).endswith("unix")


ATTACKS: dict[str, Callable[[Keys], policy_service_pb2.UpdatePolicyRequest]] = {
    "forged": lambda k: policy_service_pb2.UpdatePolicyRequest(
        document=version_doc(3, False),
        signatures=[
            *signed(version_doc(3, False), k, 0).signatures,
            policy_service_pb2.PolicySignature(
                public_key=bytes(k[1].verify_key).hex(), signature=bytes(64)
            ),
        ],
    ),
    "threshold-minus-one": lambda k: signed(version_doc(3, False), k, 1),
    "outsider-key": lambda k: signed(version_doc(3, False), k, 0, 3),
    "same-key-twice": lambda k: signed(version_doc(3, False), k, 2, 2),
    "other-bytes": lambda k: policy_service_pb2.UpdatePolicyRequest(
        document=version_doc(3, False), signatures=signed(version_doc(3, True), k, 0, 1).signatures
    ),
    "truncated": lambda k: policy_service_pb2.UpdatePolicyRequest(
        document=version_doc(3, False)[:-40],
        signatures=signed(version_doc(3, False), k, 0, 1).signatures,
    ),
    "replayed-old": lambda k: signed(version_doc(2, False), k, 0, 1),
    "equal-version": lambda k: signed(version_doc(2, True) + b"# same version\n", k, 0, 1),
    "older-version": lambda k: signed(version_doc(1, False), k, 0, 1),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attacks_leave_the_running_policy(
    signed_daemon: RunningDaemon, keys: Keys, attack: str
) -> None:
    admin = signed_daemon.admin()
    assert admin.policy.UpdatePolicy(signed(version_doc(2, False), keys, 0, 1)).version == 2
    before = admin.policy.GetPolicy(policy_service_pb2.GetPolicyRequest())
    with pytest.raises(grpc.RpcError) as err:
        admin.policy.UpdatePolicy(ATTACKS[attack](keys))
    rollback = attack in ("replayed-old", "equal-version", "older-version")
    expected = (
        (grpc.StatusCode.FAILED_PRECONDITION, "POLICY_ROLLBACK")
        if rollback
        else (grpc.StatusCode.PERMISSION_DENIED, "POLICY_SIGNATURE_INVALID")
    )
    assert (err.value.code(), rpc_reason(err.value)) == expected
    after = admin.policy.GetPolicy(policy_service_pb2.GetPolicyRequest())
    assert (after.version, after.sha256) == (before.version, before.sha256)
    last = audit_records(signed_daemon)[-1]
    assert last["action"] == "policy_update" and last["decision"] == "reject"


def test_highest_version_survives_a_restart(admin_config, keys: Keys) -> None:  # type: ignore[no-untyped-def]
    first = RunningDaemon(admin_config)
    try:
        set_creds(first.api(), "binance", "bk", binance_secret())
        v4 = version_doc(4, binance=False)
        assert first.admin().policy.UpdatePolicy(signed(v4, keys, 1, 2)).version == 4
    finally:
        first.stop()
    second = RunningDaemon(admin_config)  # same state dir; no policy file: shipped default is v1
    try:
        assert current_version(second.api()) == 4
        with pytest.raises(grpc.RpcError) as err:
            sign_order(second.api())
        assert rpc_reason(err.value) == "POLICY_DENIED"  # the update is still in force
        with pytest.raises(grpc.RpcError) as err:
            second.admin().policy.UpdatePolicy(signed(v4, keys, 1, 2))  # replay after restart
        assert rpc_reason(err.value) == "POLICY_ROLLBACK"
        sources = [
            r.get("source") for r in audit_records(second) if r.get("action") == "policy_update"
        ]
        assert "startup" in sources  # the daemon said it ignored the older default
    finally:
        second.stop()


def test_update_refused_without_admin_keys(daemon: RunningDaemon, keys: Keys) -> None:
    with pytest.raises(grpc.RpcError) as err:
        daemon.admin().policy.UpdatePolicy(signed(version_doc(2), keys, 0, 1, 2))
    assert rpc_reason(err.value) == "POLICY_SIGNATURE_INVALID"
    assert "no policy admin keys are configured" in (err.value.details() or "")
    assert current_version(daemon.api()) == 1


# --- roles: only admin callers reach PolicyService writes -----------------------


def test_api_socket_cannot_update_even_with_valid_signatures(
    signed_daemon: RunningDaemon, keys: Keys
) -> None:
    before = len(audit_records(signed_daemon))
    with pytest.raises(grpc.RpcError) as err:
        signed_daemon.api().policy.UpdatePolicy(signed(version_doc(2, False), keys, 0, 1))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert rpc_reason(err.value) == "UNAUTHENTICATED_CALLER"
    assert current_version(signed_daemon.api()) == 1
    assert signed_daemon.d.store.counter_get("policy.version") == 1
    assert len(audit_records(signed_daemon)) == before  # refused before anything ran


def test_mtls_roles_for_update_policy(signed_daemon: RunningDaemon, pki: Pki, keys: Keys) -> None:
    request = signed(version_doc(2, False), keys, 0, 1)
    with pytest.raises(grpc.RpcError) as err:
        signed_daemon.tls(pki, "frontend").policy.UpdatePolicy(request, timeout=10)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert rpc_reason(err.value) == "UNAUTHENTICATED_CALLER"
    with pytest.raises(grpc.RpcError) as err:
        signed_daemon.tls(pki, "stranger").policy.UpdatePolicy(request, timeout=10)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert rpc_reason(err.value) == "UNAUTHENTICATED_CALLER"
    assert current_version(signed_daemon.api()) == 1
    ops = signed_daemon.tls(pki, "ops")
    assert ops.policy.UpdatePolicy(request, timeout=10).version == 2
    assert audit_records(signed_daemon)[-1]["caller"] == "cert:ops"


def test_policy_reads_stay_open_to_api(signed_daemon: RunningDaemon) -> None:
    # GetPolicy / EvaluatePolicy are reads (DESIGN.md: "role admin for writes").
    assert current_version(signed_daemon.api()) == 1


# --- SIGHUP and the operator commands, through the real process ----------------


def _cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "signer", *args],
        capture_output=True, text=True, timeout=60, check=check,
    )  # fmt: skip


def _wait(predicate: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.1)


def _sighup_records(state: Path) -> list[dict[str, object]]:
    path = state / "audit.log"
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_bytes().splitlines()]
    return [r for r in records if r.get("source") == "sighup"]


def test_sighup_broken_file_then_signed_file(tmp_path_factory: pytest.TempPathFactory) -> None:
    d = tmp_path_factory.mktemp("hup")
    pubs = [
        _cli("policy", "keygen", "--out", str(d / f"admin{i}")).stdout.strip() for i in range(3)
    ]
    assert oct((d / "admin0.key").stat().st_mode & 0o777) == oct(0o600)
    policy = d / "policy.toml"
    policy.write_bytes(version_doc(1))
    for i in (0, 1):
        _cli("policy", "sign", str(policy), "--key", str(d / f"admin{i}.key"))
    (d / "master.key").write_text(secrets.token_hex(32))
    (d / "master.key").chmod(0o600)
    (d / "config.toml").write_text(
        f'state_dir = "state"\nmaster_key_file = "master.key"\npolicy_file = "policy.toml"\n'
        f"[policy_admin]\nkeys = {json.dumps(pubs)}\nthreshold = 2\n"
        f'[[listeners]]\nkind = "unix"\naddress = "{d}/api.sock"\nrole = "api"\n'
    )
    assert _cli("policy", "verify", str(policy), "--config", str(d / "config.toml")).returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "signer", "serve", "--config", str(d / "config.toml"), *(["--allow-root"] if os.geteuid() == 0 else [])],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        stubs = Stubs.on(channel(f"unix:{d}/api.sock"))
        _wait(lambda: (d / "api.sock").exists(), "socket")
        _wait(lambda: _version_or_none(stubs) == 1, "serving v1")
        v2 = version_doc(2, binance=False)
        policy.write_bytes(v2[:-30])  # truncated; the .sig is for version 1
        proc.send_signal(signal.SIGHUP)
        _wait(lambda: len(_sighup_records(d / "state")) == 1, "first reload audited")
        # Broken TOML, signed by two admins (`policy sign` itself refuses to sign it).
        broken = b"version = 2\n[venues.binance\n"
        policy.write_bytes(broken)
        seeds = [bytes.fromhex((d / f"admin{i}.key").read_text()) for i in (0, 2)]
        lines = [format_signature_line(sign_document(broken, seed)) for seed in seeds]
        (d / "policy.toml.sig").write_text("\n".join(lines) + "\n")
        refused = _cli("policy", "sign", str(policy), "--key", str(d / "admin1.key"), check=False)
        assert refused.returncode == 1 and "line 2" in refused.stderr
        proc.send_signal(signal.SIGHUP)
        _wait(lambda: len(_sighup_records(d / "state")) == 2, "second reload audited")
        assert current_version(stubs) == 1
        policy.write_bytes(v2)
        _cli("policy", "sign", str(policy), "--key", str(d / "admin2.key"))
        assert (
            _cli(
                "policy", "verify", str(policy), "--config", str(d / "config.toml"), check=False
            ).returncode
            == 1
        )
        _cli("policy", "sign", str(policy), "--key", str(d / "admin1.key"))
        proc.send_signal(signal.SIGHUP)
        _wait(lambda: _version_or_none(stubs) == 2, "reload to v2")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    decisions = [(r["decision"], r["rule"]) for r in _sighup_records(d / "state")]
    assert decisions == [
        ("reject", "POLICY_SIGNATURE_INVALID"),
        ("reject", "INVALID_REQUEST"),
        ("accept", ""),
    ]
    assert "policy reload refused; the running policy stays" in out


def _version_or_none(stubs: Stubs) -> int | None:
    try:
        return current_version(stubs)
    except grpc.RpcError:
        return None


def test_serve_refuses_an_unsigned_policy_file(tmp_path: Path) -> None:
    key = SigningKey.generate()
    (tmp_path / "policy.toml").write_bytes(version_doc(1))
    (tmp_path / "config.toml").write_text(
        'state_dir = "s"\nmaster_key_file = "k"\npolicy_file = "policy.toml"\n'
        f'[policy_admin]\nkeys = ["{bytes(key.verify_key).hex()}"]\nthreshold = 1\n'
        f'[[listeners]]\nkind = "unix"\naddress = "{tmp_path}/a.sock"\nrole = "api"\n'
    )
    (tmp_path / "k").write_text(secrets.token_hex(32))
    proc = _cli("serve", "--config", str(tmp_path / "config.toml"), "--allow-root", check=False)
    assert proc.returncode == 2
    assert "policy error:" in proc.stderr and "policy.toml.sig: FileNotFoundError" in proc.stderr


def test_signed_update_allowlists_an_approve_spender(
    signed_daemon: RunningDaemon, keys: Keys
) -> None:
    from eth_account import Account

    from signer.evm.calldata import encode_approve
    from tests.integration.test_withdraw import USDC_ARBITRUM, call, decode, setup

    spender = "0xE111180000d2663C0091e4f400237545B87B996B"
    trading, _ = setup(signed_daemon)
    approve = encode_approve(spender, 2**256 - 1)
    with pytest.raises(grpc.RpcError) as err:
        call(signed_daemon, USDC_ARBITRUM, approve)
    assert rpc_reason(err.value) == "POLICY_DENIED"
    new = version_doc(2).replace(
        b"[chains.arbitrum]\nenabled = true\n",
        b'[chains.arbitrum]\nenabled = true\napprove_spenders = ["' + spender.encode() + b'"]\n',
    )
    assert signed_daemon.admin().policy.UpdatePolicy(signed(new, keys, 0, 1)).version == 2
    tx = call(signed_daemon, USDC_ARBITRUM, approve)
    assert Account.recover_transaction(tx.raw_transaction) == trading
    assert decode(tx)["data"] == approve
    last = audit_records(signed_daemon)[-1]
    assert (last["rule"], last["spender"]) == ("call.approve-allowlisted", spender)
    other = encode_approve(Account.create().address, 1)
    with pytest.raises(grpc.RpcError) as err:
        call(signed_daemon, USDC_ARBITRUM, other)
    assert rpc_reason(err.value) == "POLICY_DENIED" and "call.not-allowlisted" in (
        err.value.details() or ""
    )
