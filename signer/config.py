"""One frozen, documented settings object, loaded from a TOML file.

Example (production)::

    state_dir = "/var/lib/sequence-signer"
    master_key_file = "/run/secrets/master.key"
    policy_file = "/etc/sequence-signer/policy.toml"   # optional; default: shipped policy
    log_format = "json"      # one JSON object per line (the default here; dev: "text")

    [[listeners]]            # the front end, over a Unix socket
    kind = "unix"
    address = "/run/sequence-signer/api.sock"
    role = "api"

    [[listeners]]            # mutual TLS; the role comes from the client certificate
    kind = "tls"
    address = "0.0.0.0:7443"
    cert_file = "/run/secrets/server.pem"
    key_file = "/run/secrets/server.key"
    client_ca_file = "/run/secrets/clients-ca.pem"

    [callers]                # client certificate common name -> role
    frontend = "api"
    ops = "admin"

    [audit]                  # optional; signed checkpoints in the audit log
    checkpoint_every = 1000
    checkpoint_interval_s = 60
    [policy_admin]           # signed policy updates (UpdatePolicy, SIGHUP reload)
    keys = ["<64 hex: Ed25519 public key>", "<...>", "<...>"]   # 1-16, distinct
    threshold = 2            # distinct admin signatures required, 1..len(keys)
    [hardening]              # optional; these are the defaults (signer/hardening.py)
    allow_root = false
    lock_memory = true
    seccomp = true
    [metrics]                # optional Prometheus endpoint (signer/observability/settings.py)
    listen = "127.0.0.1:9464"

SECURITY: a plaintext TCP listener (``kind = "tcp"``) is accepted only when
``dev = true``; production listeners are Unix sockets (file mode 0600 unless
``socket_mode`` says otherwise) or mutual TLS. Unknown keys are refused.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signer.domain import Role
from signer.observability.settings import MetricsConfig, check_logging, parse_metrics
from signer.policy_updates import MAX_ADMIN_KEYS, AdminKeys
from signer.server.vsock_relay import VsockAddress

_LISTENER_KINDS = ("unix", "tls", "tcp", "vsock")


class ConfigError(ValueError):
    """The configuration is invalid; the message names the key."""


@dataclass(frozen=True, slots=True)
class ListenerConfig:
    """One listening address. Each listener is its own gRPC server (never shared roles).

    Attributes:
        kind: "unix", "tls", "tcp" (dev only) or "vsock" ("vsock:CID:PORT", enclaves;
            served by a relay to a private Unix socket, ``signer.server.vsock_relay``).
        address: socket path, or "host:port".
        role: the role of every caller on a unix/tcp/vsock listener ("api" or "admin").
            On a tls listener the role comes from ``callers`` by certificate CN.
        socket_mode: file mode of a Unix socket.
        cert_file, key_file, client_ca_file: PEM files for a tls listener.
    """

    kind: str
    address: str
    role: Role | None = None
    socket_mode: int = 0o600
    cert_file: Path | None = None
    key_file: Path | None = None
    client_ca_file: Path | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    """Server limits (bounded defaults).

    Attributes:
        max_message_bytes: largest request or response message.
        max_concurrent_rpcs: in-flight RPCs per listener; more are refused RESOURCE_EXHAUSTED.
        max_inflight_per_client: in-flight RPCs per caller identity (a Unix socket, a
            client certificate), across listeners; more are refused RESOURCE_EXHAUSTED /
            CONCURRENCY_LIMITED (``signer/server/inflight.py``). At most max_concurrent_rpcs.
        max_deadline_s: a call with no deadline gets at most this long.
        grace_s: time in-flight calls get on SIGTERM.
        signing_threads: threads for RSA signatures (``signer.signing_pool``), at
            most 32; absent = the CPU count; 0 = no pool (RSA on the event loop).
    """

    max_message_bytes: int = 1 << 20
    max_concurrent_rpcs: int = 256
    max_inflight_per_client: int = 64
    max_deadline_s: float = 30.0
    grace_s: float = 5.0
    signing_threads: int | None = None


@dataclass(frozen=True, slots=True)
class AuditSettings:
    """Signed checkpoints in the audit log (``[audit]`` table; bounded defaults).

    Attributes:
        checkpoint_every: a checkpoint after at most this many records (1-100000).
        checkpoint_interval_s: and at most this long after the first record it
            covers (1-3600 s). Records not yet covered are checked by chain only.
    """

    checkpoint_every: int = 1000
    checkpoint_interval_s: int = 60


@dataclass(frozen=True, slots=True)
class Hardening:
    """Process hardening switches (``signer/hardening.py``; README "Hardening").

    Attributes:
        allow_root: start even when running as uid 0 (refused otherwise).
        lock_memory: ``mlockall`` where it is safe (logged when not permitted).
        seccomp: after start-up, forbid execve/execveat/ptrace (needs libseccomp.so.2).
    """

    allow_root: bool = False
    lock_memory: bool = True
    seccomp: bool = True


@dataclass(frozen=True, slots=True)
class Config:
    """Everything the daemon needs to start. Built by ``load_config`` or ``dev_config``."""

    state_dir: Path
    listeners: tuple[ListenerConfig, ...]
    master_key_file: Path | None = None
    dev: bool = False
    policy_file: Path | None = None
    callers: dict[str, Role] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    binance_recv_window_ms: int = 5000
    keystore_cache_size: int = 10_000
    log_level: str = "INFO"
    log_format: str = "json"
    metrics: MetricsConfig | None = None
    link_domain: str = "sequence.local"
    link_ttl_s: int = 600
    audit: AuditSettings = field(default_factory=AuditSettings)
    policy_admin: AdminKeys | None = None
    hardening: Hardening = field(default_factory=Hardening)

    @property
    def db_path(self) -> Path:
        return self.state_dir / "signer.db"

    @property
    def audit_path(self) -> Path:
        return self.state_dir / "audit.log"


def load_config(path: Path) -> Config:
    """Load and validate a TOML config file."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {type(exc).__name__}") from None
    return parse_config(raw, base=path.parent)


def parse_config(raw: dict[str, Any], base: Path = Path()) -> Config:
    """Validate a config mapping (paths relative to ``base``)."""
    top = {
        "state_dir", "listeners", "master_key_file", "dev", "policy_file", "callers",
        "limits", "binance_recv_window_ms", "keystore_cache_size", "log_level", "link_domain",
        "link_ttl_s", "audit", "policy_admin", "hardening", "log_format", "metrics",
    }  # fmt: skip
    _no_unknown(raw, top, "")
    dev = _typed(raw, "dev", bool, False)
    if "state_dir" not in raw:
        raise ConfigError("state_dir: required")
    state_dir = base / _typed(raw, "state_dir", str, "")
    master = raw.get("master_key_file")
    if master is None and not dev:
        raise ConfigError("master_key_file: required unless dev = true")
    listeners = tuple(
        _listener(item, i, base, dev) for i, item in enumerate(raw.get("listeners", []))
    )
    if not listeners:
        raise ConfigError("listeners: at least one listener is required")
    callers = {}
    for name, role in _typed(raw, "callers", dict, {}).items():
        callers[str(name)] = _role(role, f"callers.{name}")
    limits = _limits(_typed(raw, "limits", dict, {}))
    recv = _typed(raw, "binance_recv_window_ms", int, 5000)
    if not 1 <= recv <= 60000:
        raise ConfigError("binance_recv_window_ms: must be 1-60000")
    policy_file = raw.get("policy_file")
    audit_raw = _typed(raw, "audit", dict, {})
    _no_unknown(audit_raw, set(AuditSettings.__dataclass_fields__), "audit.")
    audit = AuditSettings(
        _bounded(audit_raw, "checkpoint_every", 1000, 1, 100_000, "audit."),
        _bounded(audit_raw, "checkpoint_interval_s", 60, 1, 3600, "audit."),
    )
    hardening_raw = _typed(raw, "hardening", dict, {})
    _no_unknown(hardening_raw, set(Hardening.__dataclass_fields__), "hardening.")
    for name, value in hardening_raw.items():
        if not isinstance(value, bool):
            raise ConfigError(f"hardening.{name}: must be true or false")
    try:
        log_format, log_level = check_logging(
            raw.get("log_format", "json"), raw.get("log_level", "INFO")
        )
        metrics = parse_metrics(raw.get("metrics"))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return Config(
        state_dir=state_dir,
        listeners=listeners,
        master_key_file=base / master if isinstance(master, str) else None,
        dev=dev,
        policy_file=base / policy_file if isinstance(policy_file, str) else None,
        callers=callers,
        limits=limits,
        binance_recv_window_ms=recv,
        keystore_cache_size=_typed(raw, "keystore_cache_size", int, 10_000),
        log_level=log_level,
        log_format=log_format,
        metrics=metrics,
        link_domain=_link_domain(_typed(raw, "link_domain", str, "sequence.local")),
        link_ttl_s=_bounded(raw, "link_ttl_s", 600, 30, 3600),
        audit=audit,
        policy_admin=_policy_admin(raw.get("policy_admin")),
        hardening=Hardening(**hardening_raw),
    )


def dev_config(state_dir: Path, port: int | None = 50051) -> Config:
    """The ``sequence-signer dev`` settings: local state, a dev master key,
    an api socket, an admin socket and (optionally) a plaintext loopback port.
    Dev mode may run as root (a developer's machine or CI often is root)."""
    listeners = [
        ListenerConfig("unix", str(state_dir / "api.sock"), Role.API),
        ListenerConfig("unix", str(state_dir / "admin.sock"), Role.ADMIN),
    ]
    if port is not None:
        listeners.append(ListenerConfig("tcp", f"127.0.0.1:{port}", Role.API))
    return Config(
        state_dir=state_dir,
        listeners=tuple(listeners),
        dev=True,
        hardening=Hardening(allow_root=True),
        log_format="text",
    )


def _listener(item: Any, i: int, base: Path, dev: bool) -> ListenerConfig:
    where = f"listeners[{i}]"
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: must be a table")
    keys = {"kind", "address", "role", "socket_mode", "cert_file", "key_file", "client_ca_file"}
    _no_unknown(item, keys, where + ".")
    kind = item.get("kind")
    if kind not in _LISTENER_KINDS:
        raise ConfigError(f"{where}.kind: must be one of {', '.join(_LISTENER_KINDS)}")
    address = item.get("address")
    if not isinstance(address, str) or not address:
        raise ConfigError(f"{where}.address: required")
    if kind == "tcp" and not dev:
        raise ConfigError(f"{where}: plaintext tcp listeners are allowed only with dev = true")
    if kind == "vsock":
        try:
            VsockAddress.parse(address)
        except ValueError as exc:
            raise ConfigError(f"{where}.address: {exc}") from None
    role = _role(item["role"], f"{where}.role") if "role" in item else None
    if kind != "tls" and role is None:
        raise ConfigError(f"{where}.role: required for a {kind} listener")
    files = {}
    for name in ("cert_file", "key_file", "client_ca_file"):
        value = item.get(name)
        if kind == "tls" and not isinstance(value, str):
            raise ConfigError(f"{where}.{name}: required for a tls listener")
        files[name] = base / value if isinstance(value, str) else None
    mode = item.get("socket_mode", 0o600)
    if not isinstance(mode, int) or mode & ~0o770:
        raise ConfigError(f"{where}.socket_mode: must be an integer without world bits")
    return ListenerConfig(kind, address, role, mode, **files)


def _limits(raw: dict[str, Any]) -> Limits:
    """``[limits]``: every value typed and bounded (a string or NaN is a ConfigError)."""
    _no_unknown(raw, set(Limits.__dataclass_fields__), "limits.")
    d, p = Limits(), "limits."
    concurrent = _bounded(raw, "max_concurrent_rpcs", d.max_concurrent_rpcs, 1, 100_000, p)
    per_client = min(d.max_inflight_per_client, concurrent)
    seconds = {}
    for key, low, high in (("max_deadline_s", 0.001, 3600.0), ("grace_s", 0.0, 600.0)):
        value = raw.get(key, getattr(d, key))
        if type(value) not in (int, float) or not low <= value <= high:
            raise ConfigError(f"{p}{key}: must be a number of seconds from {low:g} to {high:g}")
        seconds[key] = float(value)
    return Limits(
        max_message_bytes=_bounded(
            raw, "max_message_bytes", d.max_message_bytes, 4096, 64 << 20, p
        ),
        max_concurrent_rpcs=concurrent,
        max_inflight_per_client=_bounded(
            raw, "max_inflight_per_client", per_client, 1, concurrent, p
        ),
        signing_threads=_signing_threads(raw.get("signing_threads")),
        **seconds,
    )


def _signing_threads(value: object) -> int | None:
    """``signing_threads``: absent is the CPU count; 0 is no pool (RSA on the event loop)."""
    if value is not None and (type(value) is not int or not 0 <= value <= 32):
        raise ConfigError("limits.signing_threads: an integer from 0 (no pool) to 32")
    return value


def _policy_admin(raw: Any) -> AdminKeys | None:
    """``[policy_admin]``: absent means signed policy updates are disabled."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError("policy_admin: must be a table")
    _no_unknown(raw, {"keys", "threshold"}, "policy_admin.")
    keys = raw.get("keys")
    if not isinstance(keys, list) or not 1 <= len(keys) <= MAX_ADMIN_KEYS:
        raise ConfigError(f"policy_admin.keys: a list of 1 to {MAX_ADMIN_KEYS} public keys")
    parsed: list[bytes] = []
    for i, key in enumerate(keys):
        where = f"policy_admin.keys[{i}]"
        if not isinstance(key, str) or len(key) != 64:
            raise ConfigError(f"{where}: an Ed25519 public key as 64 hex characters")
        try:
            value = bytes.fromhex(key)
        except ValueError:
            raise ConfigError(f"{where}: an Ed25519 public key as 64 hex characters") from None
        if value in parsed:
            raise ConfigError(f"{where}: duplicate admin key")
        parsed.append(value)
    threshold = raw.get("threshold")
    if type(threshold) is not int or not 1 <= threshold <= len(parsed):
        raise ConfigError(f"policy_admin.threshold: an integer from 1 to {len(parsed)}")
    return AdminKeys(tuple(parsed), threshold)


def _link_domain(value: str) -> str:
    # SECURITY: the domain is shown to users in their wallet's sign-in prompt.
    if not value or len(value) > 253 or not all(c.isalnum() or c in ".-:" for c in value):
        raise ConfigError("link_domain: must be a host name (letters, digits, '.', '-', ':port')")
    return value


def _bounded(
    raw: dict[str, Any], key: str, default: int, low: int, high: int, prefix: str = ""
) -> int:
    value: int = _typed(raw, key, int, default, prefix)
    if not low <= value <= high:
        raise ConfigError(f"{prefix}{key}: must be {low}-{high}")
    return value


def _role(value: Any, where: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise ConfigError(f'{where}: must be "api" or "admin"') from None


def _typed(raw: dict[str, Any], key: str, kind: type, default: Any, prefix: str = "") -> Any:
    value = raw.get(key, default)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{prefix}{key}: must be {kind.__name__}")
    return value


def _no_unknown(raw: dict[str, Any], known: set[str], prefix: str) -> None:
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}: unknown key")
