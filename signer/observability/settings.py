"""The ``[metrics]`` config table and the log settings (validated here, used by
``signer.config``).

::

    log_format = "json"               # "json" (default of a config file) or "text"
    log_level = "INFO"                # decision lines are INFO records
    [metrics]                         # absent: no metrics listener (the default)
    listen = "127.0.0.1:9464"         # an IP literal (or localhost) and a port; 0 = any free port
    allow_non_loopback = false        # true to listen beyond loopback (see README)

SECURITY: the metrics listener has no authentication and no TLS. Its series
carry no secret and no client-chosen text (``signer.observability.metrics``
invariant 2), but they do show which venues are used and how busy the signer
is, so a non-loopback address is refused unless ``allow_non_loopback`` says
so explicitly. Host names other than ``localhost`` are refused: what they
resolve to can change under the daemon.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from signer.observability.logs import FORMATS, LEVELS


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    """Where the Prometheus endpoint listens.

    Attributes:
        host: an IP address literal (``"127.0.0.1"``, ``"::1"``).
        port: TCP port, 0 for any free port (tests).
        allow_non_loopback: the operator accepted a listener beyond loopback.
    """

    host: str = "127.0.0.1"
    port: int = 9464
    allow_non_loopback: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError("metrics.listen: the port must be 0-65535")
        try:
            address = ipaddress.ip_address(self.host)
        except ValueError:
            raise ValueError(
                "metrics.listen: the host must be an IP address or localhost"
            ) from None
        if not address.is_loopback and not self.allow_non_loopback:
            raise ValueError(
                "metrics.listen: not a loopback address; the metrics endpoint is "
                "unauthenticated (set metrics.allow_non_loopback = true to accept that)"
            )

    @property
    def listen(self) -> str:
        return format_listen(self.host, self.port)


def format_listen(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_metrics(raw: Any) -> MetricsConfig | None:
    """``[metrics]``; raises ValueError naming the key."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ValueError("metrics: must be a table")
    unknown = sorted(set(raw) - {"listen", "allow_non_loopback"})
    if unknown:
        raise ValueError(f"metrics.{unknown[0]}: unknown key")
    listen, allow = raw.get("listen"), raw.get("allow_non_loopback", False)
    if not isinstance(allow, bool):
        raise ValueError("metrics.allow_non_loopback: must be true or false")
    if not isinstance(listen, str):
        raise ValueError('metrics.listen: required, "host:port" (e.g. "127.0.0.1:9464")')
    host, port = split_host_port(listen)
    return MetricsConfig(host, port, allow)


def split_host_port(listen: str) -> tuple[str, int]:
    """``"127.0.0.1:9464"``, ``"[::1]:9464"``, ``"localhost:9464"`` -> (IP, port)."""
    host, sep, port = listen.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError('metrics.listen: write an IPv6 address in brackets, "[::1]:9464"')
    if not sep or not port.isdigit() or not port.isascii():
        raise ValueError('metrics.listen: must be "host:port" (e.g. "127.0.0.1:9464")')
    return ("127.0.0.1" if host == "localhost" else host), int(port)


def check_logging(fmt: Any, level: Any) -> tuple[str, str]:
    """``log_format`` and ``log_level`` (any case); raises ValueError naming the key."""
    if fmt not in FORMATS:
        raise ValueError(f"log_format: must be one of {', '.join(FORMATS)}")
    level = level.upper() if isinstance(level, str) else level
    if level not in LEVELS:
        raise ValueError(f"log_level: must be one of {', '.join(LEVELS)}")
    return fmt, level
