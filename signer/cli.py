"""``sequence-signer``: serve, dev, call, policy check."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc

from signer.config import Config, ConfigError, dev_config, load_config
from signer.observability.logs import configure_logging

if TYPE_CHECKING:
    from signer.app import Daemon

EPILOG = """examples:
  sequence-signer dev                                   # local daemon, dev key, ./.dev-state
  sequence-signer serve --config /etc/sequence-signer/config.toml
  sequence-signer call --target unix:.dev-state/api.sock set-credentials \\
      --client alice --mode sandbox --venue binance --api-key KEY --api-secret-file secret.txt
  sequence-signer call --target unix:.dev-state/api.sock sign --client alice --mode sandbox \\
      --venue binance --method POST --path /api/v3/order \\
      --query 'symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=20000'
  sequence-signer policy check policy/default.toml
  sequence-signer audit verify .dev-state/audit.log --key AUDIT_PUBLIC_KEY_BASE64
  sequence-signer policy test tests/policy_cases/ -v    # decision cases, like opa test
  sequence-signer policy keygen --out alice                 # alice.key (0600), alice.pub
  sequence-signer policy sign policy.toml --key alice.key   # adds a line to policy.toml.sig
  sequence-signer policy verify policy.toml --config /etc/sequence-signer/config.toml
  sequence-signer keys generate --out new.key                # a new master key file (0600)
  sequence-signer keys rotate --config config.toml --new-key new.key   # daemon stopped
  sequence-signer backup --config config.toml --out signer.backup     # daemon may run
  sequence-signer restore --state-dir /var/lib/sequence-signer --master-key-file master.key \\
      --in signer.backup
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="sequence-signer",
        description="Hardened signing daemon for trading keys.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the daemon from a config file")
    serve.add_argument("--config", type=Path, required=True)
    serve.add_argument(
        "--allow-root", action="store_true", help="start even as uid 0 (refused otherwise)"
    )
    dev = sub.add_parser(
        "dev", help="run a local dev daemon (generated master key, plaintext port)"
    )
    dev.add_argument("--state-dir", type=Path, default=Path(".dev-state"))
    dev.add_argument("--port", type=int, default=50051, help="loopback dev port (0: none)")
    call = sub.add_parser("call", help="call a running daemon")
    _call_args(call)
    health = sub.add_parser("health", help="exit 0 if the daemon reports SERVING")
    health.add_argument("--target", default="unix:/run/sequence-signer/api.sock")
    health.add_argument("--timeout", type=float, default=3.0)
    pol = sub.add_parser("policy", help="policy documents")
    pol_sub = pol.add_subparsers(dest="policy_command", required=True)
    check = pol_sub.add_parser("check", help="validate a policy document")
    check.add_argument("file", type=Path)
    _audit_args(sub)
    _keys_args(sub)
    _policy_test_parser(pol_sub)
    _policy_update_commands(pol_sub)
    args = parser.parse_args(argv)
    configure_logging("text", "INFO")  # serve/dev switch to the config's format and level
    if args.command == "serve":
        return _serve(args)
    if args.command == "dev":
        return _dev(args)
    if args.command == "health":
        return _health(args.target, args.timeout)
    if args.command == "call":
        from signer.cli_call import run_call

        return run_call(args)
    if args.command == "audit":
        from signer.cli_audit import run

        return run(args)
    if args.command in ("keys", "backup", "restore"):
        from signer.cli_keys import run as run_keys

        return run_keys(args)
    if args.policy_command == "test":
        from signer.policy_test_runner import run_cli

        return run_cli(args.dir, args.policy, verbose=args.verbose)
    if args.policy_command != "check":
        from signer.cli_policy import run_policy_command

        return run_policy_command(args) or 0
    return _policy_check(args.file)


def _audit_args(sub: Any) -> None:
    from signer.cli_audit import add_arguments

    add_arguments(sub.add_parser("audit", help="audit log tools: verify"))


def _keys_args(sub: Any) -> None:
    from signer.cli_keys import add_arguments

    add_arguments(sub)


def _policy_update_commands(sub: Any) -> None:
    from signer.cli_policy import add_policy_commands

    add_policy_commands(sub)


def _serve(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    return _run(config, allow_root=args.allow_root)


def _dev(args: argparse.Namespace) -> int:
    config = dev_config(args.state_dir.resolve(), args.port or None)
    api = config.listeners[0].address
    print(
        f"sequence-signer dev: state in {config.state_dir}\n"
        f"  api socket:   unix:{api}\n"
        f"  admin socket: unix:{config.listeners[1].address}\n"
        + (f"  dev TCP port: 127.0.0.1:{args.port} (plaintext, api role)\n" if args.port else "")
        + f"  try: sequence-signer call --target unix:{api} identity\n"
        "  stop with Ctrl-C",
        flush=True,
    )
    return _run(config)


def _run(config: Config, allow_root: bool = False) -> int:
    from signer import hardening
    from signer.app import Daemon
    from signer.errors import StateError
    from signer.observability.runtime import MetricsListenError
    from signer.policy_reload import PolicyStartupError
    from signer.server.vsock_relay import VsockUnavailableError

    configure_logging(config.log_format, config.log_level)
    try:
        hardening.refuse_root(allow_root or config.hardening.allow_root).log()
    except hardening.RootRefusedError as exc:
        print(f"sequence-signer: {exc}", file=sys.stderr)
        return 2
    hardening.apply(lock_memory=config.hardening.lock_memory)
    try:
        daemon = Daemon(config)
    except PolicyStartupError as exc:
        print(f"policy error: {exc}", file=sys.stderr)
        return 2
    except StateError as exc:
        print(f"sequence-signer: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_run_then_seccomp(daemon, config.hardening.seccomp))
    except MetricsListenError as exc:  # the daemon stopped and wiped its keys
        print(f"sequence-signer: {exc}", file=sys.stderr)
        return 2
    except VsockUnavailableError as exc:  # the daemon stopped and wiped its keys
        print(f"listener error: {exc}", file=sys.stderr)
        return 2
    return 0


async def _run_then_seccomp(daemon: Daemon, seccomp: bool) -> None:
    """Run the daemon; once its listeners are up, apply the seccomp filter."""
    from signer import hardening

    ready = asyncio.Event()
    running = asyncio.create_task(daemon.run(ready))
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait({running, waiter}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if ready.is_set():
        if seccomp:
            hardening.apply_seccomp()
        else:
            hardening.Outcome("seccomp", False, "disabled").log()
    await running


def _health(target: str, timeout: float) -> int:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from signer.client import channel

    try:
        with channel(target) as ch:
            resp = health_pb2_grpc.HealthStub(ch).Check(
                health_pb2.HealthCheckRequest(), timeout=timeout
            )
    except grpc.RpcError as exc:
        print(f"unhealthy: {rpc_error_text(exc)}", file=sys.stderr)
        return 1
    serving = resp.status == health_pb2.HealthCheckResponse.SERVING
    print("serving" if serving else "not serving")
    return 0 if serving else 1


def _policy_test_parser(pol_sub: Any) -> None:
    test = pol_sub.add_parser(
        "test", help="run decision cases (*.toml under DIR) against a policy, like opa test"
    )
    test.add_argument("dir", type=Path)
    test.add_argument("--policy", type=Path, help="policy document (default: the shipped one)")
    test.add_argument("-v", "--verbose", action="store_true", help="list every case")


def _policy_check(path: Path) -> int:
    from policy.document import PolicyDocumentError, load_document

    try:
        doc = load_document(path.read_bytes())
    except OSError as exc:
        print(f"{path}: cannot read: {type(exc).__name__}", file=sys.stderr)
        return 2
    except PolicyDocumentError as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 1
    print(f"{path}: ok (version {doc.version}, sha256 {doc.sha256})")
    return 0


def _call_args(call: argparse.ArgumentParser) -> None:
    call.add_argument("--target", default="unix:.dev-state/api.sock")
    call.add_argument("--ca-file", type=Path, help="server CA (enables mutual TLS)")
    call.add_argument("--cert-file", type=Path)
    call.add_argument("--key-file", type=Path)
    call.add_argument("--server-name")
    ops = call.add_subparsers(dest="op", required=True)
    ops.add_parser("identity")
    ops.add_parser("audit-head")
    ops.add_parser("policy")
    for name in ("set-credentials", "delete-credentials", "list-venues", "sign", "evaluate"):
        op = ops.add_parser(name)
        op.add_argument("--client", required=True)
        op.add_argument("--mode", choices=["live", "sandbox"], required=True)
        if name != "list-venues":
            op.add_argument("--venue", required=True)
        if name == "set-credentials":
            op.add_argument("--api-key", default="")
            op.add_argument(
                "--api-secret-file",
                type=Path,
                help="file with the secret ('-': stdin); one final newline is dropped",
            )
            op.add_argument(
                "--passphrase-file",
                type=Path,
                help="file with the passphrase; one final newline is dropped, spaces are kept",
            )
            op.add_argument("--extra-json-file", type=Path)
        if name in ("sign", "evaluate"):
            op.add_argument("--method", required=True)
            op.add_argument("--path", required=True)
            op.add_argument("--query", default="")
            op.add_argument("--body", default="")
            op.add_argument("--wallet-id", default="")


def print_json(obj: object) -> None:
    json.dump(obj, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


def rpc_error_text(exc: grpc.RpcError) -> str:
    from signer.server.status import error_info

    info = error_info(exc)
    reason = f" [{info.reason}]" if info else ""
    call: Any = exc
    return f"{call.code().name}{reason}: {call.details()}"
