from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from signer.config import ConfigError, dev_config, parse_config
from signer.domain import Role

K1, K2 = "ab" * 32, "cd" * 32
BASE: dict[str, Any] = {
    "state_dir": "s",
    "master_key_file": "k",
    "listeners": [{"kind": "unix", "address": "/tmp/x.sock", "role": "api"}],
}


def test_vsock_listener() -> None:
    raw = {**BASE, "listeners": [{"kind": "vsock", "address": "vsock:16:5000", "role": "api"}]}
    listener = parse_config(raw).listeners[0]
    assert (listener.kind, listener.address, listener.role) == ("vsock", "vsock:16:5000", Role.API)


def test_minimal_config() -> None:
    cfg = parse_config(dict(BASE), base=Path("/etc/ss"))
    assert cfg.state_dir == Path("/etc/ss/s")
    assert cfg.master_key_file == Path("/etc/ss/k")
    assert cfg.listeners[0].role is Role.API
    assert cfg.listeners[0].socket_mode == 0o600


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"bogus": 1}, "bogus: unknown key"),
        ({"master_key_file": None}, "master_key_file: required"),
        ({"listeners": []}, "at least one listener"),
        ({"listeners": [{"kind": "tcp", "address": "127.0.0.1:1", "role": "api"}]}, "only with dev"),
        ({"listeners": [{"kind": "unix", "address": "/x"}]}, "listeners[0].role: required"),
        ({"listeners": [{"kind": "tls", "address": "0.0.0.0:1"}]}, "cert_file: required"),
        ({"listeners": [{"kind": "udp", "address": "x", "role": "api"}]}, "listeners[0].kind"),
        ({"listeners": [{"kind": "vsock", "address": "vsock:3", "role": "api"}]}, "listeners[0].address: must be vsock:CID:PORT"),
        ({"listeners": [{"kind": "vsock", "address": "3:5000", "role": "api"}]}, "listeners[0].address: must be vsock:CID:PORT"),
        ({"listeners": [{"kind": "vsock", "address": "vsock:3:5000"}]}, "listeners[0].role: required"),
        ({"listeners": [{"kind": "unix", "address": "/x", "role": "root"}]}, "role"),
        ({"listeners": [{"kind": "unix", "address": "/x", "role": "api", "socket_mode": 0o666}]}, "world"),
        ({"callers": {"frontend": "god"}}, "callers.frontend"),
        ({"limits": {"max_message_bytes": 10}}, "max_message_bytes"),
        ({"limits": {"nope": 1}}, "limits.nope: unknown key"),
        ({"limits": {"max_message_bytes": "1MiB"}}, "limits.max_message_bytes: must be int"),
        ({"limits": {"max_concurrent_rpcs": 0}}, "limits.max_concurrent_rpcs: must be 1-100000"),
        ({"limits": {"max_inflight_per_client": 0}}, "limits.max_inflight_per_client: must be 1-256"),
        ({"limits": {"max_concurrent_rpcs": 8, "max_inflight_per_client": 9}}, "max_inflight_per_client: must be 1-8"),
        ({"limits": {"max_inflight_per_client": True}}, "limits.max_inflight_per_client: must be int"),
        ({"limits": {"max_deadline_s": float("nan")}}, "limits.max_deadline_s: must be a number"),
        ({"limits": {"max_deadline_s": "30"}}, "limits.max_deadline_s: must be a number"),
        ({"limits": {"grace_s": -1}}, "limits.grace_s: must be a number"),
        ({"limits": {"signing_threads": 33}}, "limits.signing_threads"),
        ({"limits": {"signing_threads": -1}}, "limits.signing_threads"),
        ({"limits": {"signing_threads": True}}, "limits.signing_threads"),
        ({"limits": {"signing_threads": 2.0}}, "limits.signing_threads"),
        ({"binance_recv_window_ms": 0}, "binance_recv_window_ms"),
        ({"dev": "yes"}, "dev: must be bool"),
        ({"policy_admin": 1}, "policy_admin: must be a table"),
        ({"policy_admin": {"keys": [K1], "threshold": 1, "x": 1}}, "policy_admin.x: unknown key"),
        ({"policy_admin": {"keys": [], "threshold": 1}}, "policy_admin.keys: a list of 1 to 16"),
        ({"policy_admin": {"keys": [K1] * 17, "threshold": 1}}, "policy_admin.keys: a list of 1 to 16"),
        ({"policy_admin": {"keys": [K1[:-2]], "threshold": 1}}, "policy_admin.keys[0]: an Ed25519"),
        ({"policy_admin": {"keys": ["zz" + K1[2:]], "threshold": 1}}, "policy_admin.keys[0]: an Ed25519"),
        ({"policy_admin": {"keys": [K1, K1.upper()], "threshold": 1}}, "policy_admin.keys[1]: duplicate"),
        ({"policy_admin": {"keys": [K1, K2], "threshold": 3}}, "threshold: an integer from 1 to 2"),
        ({"policy_admin": {"keys": [K1, K2], "threshold": 0}}, "threshold: an integer from 1 to 2"),
        ({"policy_admin": {"keys": [K1, K2], "threshold": True}}, "threshold: an integer from 1 to 2"),
        ({"policy_admin": {"keys": [K1, K2]}}, "threshold: an integer from 1 to 2"),
    ],
)  # fmt: skip
def test_invalid_configs_name_the_key(change: dict[str, Any], message: str) -> None:
    raw = {**BASE, **change}
    raw = {k: v for k, v in raw.items() if v is not None}
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    assert message in str(err.value)


def test_signing_threads_default_and_setting() -> None:
    assert parse_config(dict(BASE)).limits.signing_threads is None  # the CPU count
    assert parse_config({**BASE, "limits": {"signing_threads": 3}}).limits.signing_threads == 3
    assert parse_config({**BASE, "limits": {"signing_threads": 0}}).limits.signing_threads == 0


def test_dev_config_has_separate_admin_socket(tmp_path: Path) -> None:
    cfg = dev_config(tmp_path, 0)
    roles = [(lc.kind, lc.role) for lc in cfg.listeners]
    assert ("unix", Role.API) in roles and ("unix", Role.ADMIN) in roles
    assert cfg.dev and cfg.master_key_file is None


def test_audit_checkpoint_settings_are_bounded() -> None:
    assert parse_config(dict(BASE)).audit.checkpoint_every == 1000
    cfg = parse_config({**BASE, "audit": {"checkpoint_every": 10, "checkpoint_interval_s": 5}})
    assert (cfg.audit.checkpoint_every, cfg.audit.checkpoint_interval_s) == (10, 5)
    for bad, message in [
        ({"checkpoint_every": 0}, "audit.checkpoint_every: must be 1-100000"),
        ({"checkpoint_interval_s": 86400}, "audit.checkpoint_interval_s: must be 1-3600"),
        ({"checkpoint_interval_s": 1.5}, "audit.checkpoint_interval_s: must be int"),
        ({"sign_every": 1}, "audit.sign_every: unknown key"),
    ]:
        with pytest.raises(ConfigError) as err:
            parse_config({**BASE, "audit": bad})
        assert message in str(err.value)


def test_policy_admin_keys_and_threshold() -> None:
    cfg = parse_config({**BASE, "policy_admin": {"keys": [K1, K2.upper()], "threshold": 2}})
    assert cfg.policy_admin is not None
    assert cfg.policy_admin.keys == (bytes.fromhex(K1), bytes.fromhex(K2))
    assert cfg.policy_admin.threshold == 2
    assert parse_config(dict(BASE)).policy_admin is None  # updates disabled unless configured


def test_limits_defaults_and_the_per_client_cap() -> None:
    assert parse_config(BASE).limits.max_inflight_per_client == 64
    # A small listener lowers the default per-client cap with it (never above the listener).
    small = parse_config({**BASE, "limits": {"max_concurrent_rpcs": 10}}).limits
    assert (small.max_concurrent_rpcs, small.max_inflight_per_client) == (10, 10)
    set_ = parse_config({**BASE, "limits": {"max_inflight_per_client": 3, "max_deadline_s": 2}})
    assert (set_.limits.max_inflight_per_client, set_.limits.max_deadline_s) == (3, 2.0)
