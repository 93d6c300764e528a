"""Composition root: the only place objects are wired together."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from signer.audit import AuditLog
from signer.config import Config
from signer.credentials import CredentialManager
from signer.domain import VENUES
from signer.keystore import Keystore, MasterKey, Store
from signer.keystore.wallets import WalletStore
from signer.limits import RateLimiter, SpendLedger
from signer.pipeline import DaemonClock, Pipeline, PolicyHolder
from signer.policy_reload import PolicyStartupError, PolicyUpdater, startup_policy
from signer.schemes.daemon_keys import AuditSigner, SealingKey, new_seed
from signer.server.server import Listeners
from signer.services import Services
from signer.signing_pool import SigningPool
from signer.venues import build_venues
from signer.wallets import WalletManager
from signer.withdraw import WithdrawService

log = logging.getLogger(__name__)


def default_policy_bytes() -> bytes:
    return resources.files("policy").joinpath("default.toml").read_bytes()


class Daemon:
    """Everything a running signer holds. ``start`` / ``stop`` / ``run``."""

    def __init__(self, config: Config, now_ns: Callable[[], int] = time.time_ns) -> None:
        """``now_ns``: the wall clock of the limit windows (tests inject one)."""
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
        self.audit = AuditLog(
            config.audit_path,
            self.audit_signer,
            checkpoint_every=config.audit.checkpoint_every,
            checkpoint_interval_s=config.audit.checkpoint_interval_s,
        )
        # SECURITY: never roll back across a restart (signer.policy_reload invariant 4).
        try:
            startup = startup_policy(
                self.store, config.policy_admin, config.policy_file, default_policy_bytes()
            )
        except PolicyStartupError:
            self.audit.close()
            self.keystore.close()
            raise
        self._startup_note = startup.note
        self.policy = PolicyHolder(startup.document)
        self.policy_updates = PolicyUpdater(
            self.store, self.policy, self.audit, config.policy_admin, config.policy_file
        )
        self.wallet_store = WalletStore(self.store, master)
        self.rate = RateLimiter(self.store, now_ns)
        self.spend = SpendLedger(self.store, now_ns)
        self.signing = SigningPool(config.limits.signing_threads)
        self.pipeline = Pipeline(
            build_venues(config),
            VENUES,
            self.policy,
            self.keystore,
            self.audit,
            DaemonClock(self.keystore),
            self.wallet_store,
            rate=self.rate,
            signing=self.signing,
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
            withdrawals=WithdrawService(self.wallet_store, self.policy, self.audit, self.spend),
            policy_updates=self.policy_updates,
        )
        self.listeners = Listeners(config, self.services)
        self._reloads: set[asyncio.Task[bool]] = set()

    async def start(self) -> None:
        await self.policy_updates.audit_startup(self._startup_note)
        await self.listeners.start()

    async def stop(self) -> None:
        """Graceful: health goes NOT_SERVING, in-flight calls get ``grace_s``."""
        await self.listeners.stop(self.config.limits.grace_s)
        self.signing.close()
        await self.audit.aclose()  # a final signed checkpoint
        self.keystore.close()

    async def run(self, ready: asyncio.Event | None = None) -> None:
        """Start, wait for SIGTERM/SIGINT, stop. SIGHUP reloads the signed policy file."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
        await self.start()
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("shutting down (grace %.1fs)", self.config.limits.grace_s)
        await self.stop()

    def _on_sighup(self) -> None:
        # Keep a reference: the loop holds tasks only weakly.
        task = asyncio.get_running_loop().create_task(self.policy_updates.reload_file())
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)


def state_files(config: Config) -> list[Path]:
    return [config.db_path, config.audit_path]
