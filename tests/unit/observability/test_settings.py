"""``[metrics]``, ``log_format`` and ``log_level`` (signer/observability/settings.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from signer.config import ConfigError, dev_config, parse_config
from signer.observability.settings import MetricsConfig

BASE: dict[str, Any] = {
    "state_dir": "s",
    "master_key_file": "k",
    "listeners": [{"kind": "unix", "address": "/tmp/x.sock", "role": "api"}],
}


def test_defaults_json_logs_no_metrics_and_dev_is_text(tmp_path: Path) -> None:
    cfg = parse_config(dict(BASE))
    assert (cfg.log_format, cfg.log_level, cfg.metrics) == ("json", "INFO", None)
    dev = dev_config(tmp_path, None)
    assert (dev.log_format, dev.metrics) == ("text", None)


@pytest.mark.parametrize(
    ("listen", "host", "port"),
    [
        ("127.0.0.1:9464", "127.0.0.1", 9464),
        ("127.0.0.2:0", "127.0.0.2", 0),
        ("localhost:9000", "127.0.0.1", 9000),
        ("[::1]:9464", "::1", 9464),
    ],
)
def test_loopback_listen_addresses(listen: str, host: str, port: int) -> None:
    cfg = parse_config({**BASE, "metrics": {"listen": listen}})
    assert cfg.metrics == MetricsConfig(host, port, False)


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        ({"listen": "0.0.0.0:9464"}, "not a loopback address"),
        ({"listen": "10.1.2.3:9464"}, "not a loopback address"),
        ({"listen": "[::]:9464"}, "not a loopback address"),
        ({"listen": "metrics.example:9464"}, "must be an IP address or localhost"),
        ({"listen": "::1:9464"}, "IPv6 address in brackets"),
        ({"listen": "127.0.0.1"}, 'must be "host:port"'),
        ({"listen": "127.0.0.1:http"}, 'must be "host:port"'),
        ({"listen": "127.0.0.1:70000"}, "port must be 0-65535"),
        ({"listen": 9464}, "metrics.listen: required"),
        ({}, "metrics.listen: required"),
        ({"listen": "127.0.0.1:1", "port": 1}, "metrics.port: unknown key"),
        ({"listen": "127.0.0.1:1", "allow_non_loopback": "yes"}, "true or false"),
        ("127.0.0.1:9464", "metrics: must be a table"),
    ],
)
def test_bad_metrics_tables_name_the_key(metrics: Any, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({**BASE, "metrics": metrics})
    assert message in str(err.value)


def test_non_loopback_needs_the_explicit_switch() -> None:
    cfg = parse_config({**BASE, "metrics": {"listen": "0.0.0.0:9464", "allow_non_loopback": True}})
    assert cfg.metrics == MetricsConfig("0.0.0.0", 9464, True)
    with pytest.raises(ValueError, match="not a loopback"):
        MetricsConfig("192.0.2.1", 9464)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"log_format": "xml"}, "log_format: must be one of json, text"),
        ({"log_format": 1}, "log_format: must be one of"),
        ({"log_level": "verbose"}, "log_level: must be one of DEBUG"),
        ({"log_level": 20}, "log_level: must be one of DEBUG"),
    ],
)
def test_bad_log_settings(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({**BASE, **change})
    assert message in str(err.value)


def test_text_logs_and_debug_level_accepted() -> None:
    cfg = parse_config({**BASE, "log_format": "text", "log_level": "debug"})
    assert (cfg.log_format, cfg.log_level) == ("text", "DEBUG")
