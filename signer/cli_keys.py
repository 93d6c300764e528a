"""``sequence-signer keys generate|rotate|status``, ``backup`` and ``restore``.

Exit codes: 0 done, 1 refused (the message says why and what to do), 2 bad
arguments or configuration. Messages name files and public key ids, never key bytes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from signer.config import Config, ConfigError, load_config
from signer.errors import BackupError, StateError, StorageError

if TYPE_CHECKING:
    from signer.keystore import MasterKey

_DEV_KEY = "master.key"


def add_arguments(sub: Any) -> None:
    """Register ``keys``, ``backup`` and ``restore`` on the top-level subparsers."""
    keys = sub.add_parser("keys", help="master key: generate, rotate, status")
    ops = keys.add_subparsers(dest="keys_command", required=True)
    gen = ops.add_parser("generate", help="write a new random master key file (0600)")
    gen.add_argument("--out", type=Path, required=True)
    rot = ops.add_parser(
        "rotate", help="re-wrap every data key under a new master key (daemon stopped)"
    )
    _state_args(rot, "the current master key (default: the config's, or STATE_DIR/master.key)")
    rot.add_argument("--new-key", type=Path, required=True, help="the new master key file")
    rot.add_argument("--batch-size", type=int, default=100, help="records per transaction")
    status = ops.add_parser("status", help="key ids in use and any unfinished rotation")
    _state_args(status, None)
    backup = sub.add_parser("backup", help="write an authenticated backup of the store")
    _state_args(backup, "the master key (default: the config's, or STATE_DIR/master.key)")
    backup.add_argument("--out", type=Path, required=True)
    restore = sub.add_parser("restore", help="restore a backup into a state directory")
    _state_args(restore, "the master key the backup was made under")
    restore.add_argument("--in", dest="src", type=Path, required=True)
    restore.add_argument(
        "--force", action="store_true", help="replace an existing store (kept beside it)"
    )


def _state_args(parser: argparse.ArgumentParser, key_help: str | None) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--config", type=Path, help="the daemon's config file")
    where.add_argument("--state-dir", type=Path, help="the state directory")
    if key_help is not None:
        parser.add_argument("--master-key-file", type=Path, help=key_help)


def run(args: argparse.Namespace) -> int:
    """Run one of the commands; print the outcome; return the exit code."""
    try:
        if args.command == "keys" and args.keys_command == "generate":
            return _generate(args.out)
        config = _config(args)
        if args.command == "keys" and args.keys_command == "status":
            return _status(config)
        master = _master(args, config)
        if args.command == "backup":
            return _backup(config, master, args.out)
        if args.command == "restore":
            return _restore(config, master, args.src, args.force)
        return _rotate(config, master, args.new_key, args.batch_size)
    except (ConfigError, ValueError, OSError) as exc:
        print(f"sequence-signer {args.command}: {_safe(exc)}", file=sys.stderr)
        return 2
    except (StateError, BackupError, StorageError) as exc:
        print(f"sequence-signer {args.command}: refused: {exc}", file=sys.stderr)
        return 1


def _config(args: argparse.Namespace) -> Config:
    if args.config is not None:
        return load_config(args.config)
    return Config(state_dir=args.state_dir, listeners=())


def _master(args: argparse.Namespace, config: Config) -> MasterKey:
    from signer.keystore import MasterKey

    path = args.master_key_file or config.master_key_file or config.state_dir / _DEV_KEY
    if not path.is_file():
        raise ValueError(f"no master key file at {path}; pass --master-key-file")
    return MasterKey.load(path)


def _generate(out: Path) -> int:
    from signer.keystore import MasterKey

    try:
        key = MasterKey.create(out)
    except FileExistsError:
        print(f"sequence-signer keys: {out} exists; a key file is never replaced", file=sys.stderr)
        return 1
    print(f"wrote {out} (mode 0600), key id {key.key_id}")
    key.wipe()
    return 0


def _rotate(config: Config, old: MasterKey, new_path: Path, batch_size: int) -> int:
    from signer.keystore import MasterKey, Store
    from signer.keystore.lock import StateLock
    from signer.keystore.rotate import RotationPlan, rotate

    new = MasterKey.load(new_path)
    if not config.db_path.is_file():
        raise StateError(f"no store at {config.db_path}")

    def started(plan: RotationPlan) -> None:
        verb = "resuming" if plan.resumed else "rotating"
        print(
            f"{verb}: {plan.pending} records from key id {plan.old_key_id}"
            f" to key id {plan.new_key_id} ({plan.done} already done)",
            flush=True,
        )

    with StateLock.acquire(config.state_dir):
        store = Store(config.db_path)
        try:
            plan = rotate(store, old, new, batch_size=batch_size, on_start=started)
        finally:
            store.close()
    print(
        f"done: every record is under key id {plan.new_key_id}; now point master_key_file"
        f" at {new_path} (dev: replace {config.state_dir / _DEV_KEY}) and start the daemon"
    )
    return 0


def _status(config: Config) -> int:
    from signer.keystore import Store
    from signer.keystore.rotate import pending_rotation

    if not config.db_path.is_file():
        raise StateError(f"no store at {config.db_path}")
    store = Store(config.db_path)  # read-only use: safe beside a running daemon
    try:
        ids = store._read(
            "SELECT master_key_id, count(*) FROM sealed_records GROUP BY master_key_id"
        )
        pending = pending_rotation(store)
    finally:
        store.close()
    for key_id, count in ids:
        print(f"key id {key_id}: {count} records")
    if pending:
        print(f"unfinished rotation: key id {pending[0]} -> {pending[1]} (rerun keys rotate)")
        return 1
    return 0


def _backup(config: Config, master: MasterKey, out: Path) -> int:
    from signer.backup import create_backup

    info = create_backup(config.db_path, master, out)
    counts = ", ".join(f"{n} {kind}" for kind, n in sorted(info.records.items()))
    print(f"wrote {out} ({info.size} bytes, key id {info.master_key_id}): {counts or 'empty'}")
    print("the audit log is not included: copy it separately (it is append-only)")
    return 0


def _restore(config: Config, master: MasterKey, src: Path, force: bool) -> int:
    from signer.restore import restore_backup

    done = restore_backup(src, config.db_path, master, force=force)
    counts = ", ".join(f"{n} {kind}" for kind, n in sorted(done.backup.records.items()))
    print(f"restored {src} into {config.db_path}: {counts or 'empty'}")
    if done.set_aside is not None:
        print(f"the previous store is kept as {done.set_aside}")
    print(
        f"nonces restart above {done.nonce_floor} (wall clock + 10 min); rate/spend windows"
        " and the policy version are as of the backup: re-apply the latest signed policy"
    )
    return 0


def _safe(exc: BaseException) -> str:
    if isinstance(exc, OSError):  # the file name, never file content
        return f"{exc.filename or ''}: {exc.strerror or type(exc).__name__}".lstrip(": ")
    return str(exc)
