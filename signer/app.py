"""Composition root: the only place objects are wired together."""

from __future__ import annotations

import asyncio
import logging
import signal
from importlib import resources
from pathlib import Path

from policy.document import PolicyDocument, load_document
from signer.audit import AuditLog
from signer.config import Config
from signer.credentials import CredentialManager
from signer.domain import VENUES
from signer.keystore import Keystore, MasterKey, Store
from signer.keystore.wallets import WalletStore
from signer.pipeline import DaemonClock, Pipeline, PolicyHolder
from signer.schemes.daemon_keys import AuditSigner, SealingKey, new_seed
from signer.server.server import Listeners
from signer.services import Services
from signer.venues import build_venues
from signer.wallets import WalletManager
from signer.withdraw import WithdrawService

log = logging.getLogger(__name__)


def default_policy_bytes() -> bytes:
    return resources.files("policy").joinpath("default.toml").read_bytes()


def load_policy(config: Config) -> PolicyDocument:
    data = config.policy_file.read_bytes() if config.policy_file else default_policy_bytes()
    return load_document(data)


class Daemon:
    """Everything a running signer holds. ``start`` / ``stop`` / ``run``."""

    def __init__(self, config: Config) -> None:
        self.config = config
        config.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if config.master_key_file is not None:
            master = MasterKey.load(config.master_key_file)
        elif config.dev:
            log.warning("DEV MODE: using a generated master key in %s", config.state_dir)
            master = MasterKey.generate_dev(config.state_dir / "master.key")
        else:  # pragma: no cover - parse_config refuses this
            raise ValueError("master_key_file is required outside dev mode")
        self.store = Store(config.db_path)
        self.keystore = Keystore(self.store, master, config.keystore_cache_size)
        self.sealing = SealingKey(self.keystore.daemon_secret("sealing-x25519", new_seed))
        self.audit_signer = AuditSigner(self.keystore.daemon_secret("audit-ed25519", new_seed))
        self.audit = AuditLog(config.audit_path, self.audit_signer)
        self.policy = PolicyHolder(load_policy(config))
        self.wallet_store = WalletStore(self.store, master)
        self.pipeline = Pipeline(
            build_venues(config),
            VENUES,
            self.policy,
            self.keystore,
            self.audit,
            DaemonClock(self.keystore),
            self.wallet_store,
        )
        self.services = Services(
            pipeline=self.pipeline,
            credentials=CredentialManager(self.keystore, self.sealing, self.audit),
            policy=self.policy,
            audit=self.audit,
            sealing=self.sealing,
            audit_signer=self.audit_signer,
            wallets=WalletManager(
                self.wallet_store, self.audit, config.link_domain, config.link_ttl_s
            ),
            withdrawals=WithdrawService(self.wallet_store, self.policy, self.audit),
        )
        self.listeners = Listeners(config, self.services)

    async def start(self) -> None:
        await self.listeners.start()

    async def stop(self) -> None:
        """Graceful: health goes NOT_SERVING, in-flight calls get ``grace_s``."""
        await self.listeners.stop(self.config.limits.grace_s)
        self.audit.close()
        self.keystore.close()

    async def run(self, ready: asyncio.Event | None = None) -> None:
        """Start, wait for SIGTERM/SIGINT, stop."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await self.start()
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("shutting down (grace %.1fs)", self.config.limits.grace_s)
        await self.stop()


def state_files(config: Config) -> list[Path]:
    return [config.db_path, config.audit_path]
