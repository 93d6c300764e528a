"""Composition root: the only place objects are wired together.

Shutdown (SIGTERM/SIGINT, or a start-up that failed after the keys were
loaded) ends in ``wipe_secrets``: every long-lived secret the daemon holds is
zeroed in place and dropped: the cached credential handles (keystore), the
X25519 sealing key, the Ed25519 audit key and the master key. TLS private keys
are handed to gRPC core at start-up and are out of our reach (README.md,
"What Python cannot guarantee").
"""

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
from signer.errors import StateError
from signer.keystore import Keystore, MasterKey, Store
from signer.keystore.lock import StateLock
from signer.keystore.rotate import check_startup
from signer.keystore.wallets import WalletStore
from signer.limits import RateLimiter, SpendLedger
from signer.observability.runtime import Observability
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
        """``now_ns``: the wall clock of the limit windows (tests inject one).

        Raises:
            StateError: another process holds the state directory, a master key
                rotation is unfinished, or the master key did not seal the store.
        """
        self.config = config
        config.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        # SECURITY: one process per store; `keys rotate` and `restore` take this lock too.
        self._state_lock = StateLock.acquire(config.state_dir)
        try:
            self._wire(config, now_ns)
        except BaseException:
            self._state_lock.release()
            raise

    def _wire(self, config: Config, now_ns: Callable[[], int]) -> None:
        if config.master_key_file is not None:
            master = MasterKey.load(config.master_key_file)
        elif config.dev:
            log.warning("DEV MODE: using a generated master key in %s", config.state_dir)
            master = MasterKey.generate_dev(config.state_dir / "master.key")
        else:  # pragma: no cover - parse_config refuses this
            raise ValueError("master_key_file is required outside dev mode")
        self.observability = Observability.create(config.metrics)
        self.master = master
        self.secrets_wiped = False
        self.store = Store(config.db_path)
        try:
            check_startup(self.store, master)
        except StateError:
            self.store.close()
            raise
        self.keystore = Keystore(self.store, master, config.keystore_cache_size)
        self.sealing = SealingKey(self.keystore.daemon_secret("sealing-x25519", new_seed))
        self.audit_signer = AuditSigner(self.keystore.daemon_secret("audit-ed25519", new_seed))
        self.audit = AuditLog(
            config.audit_path,
            self.audit_signer,
            checkpoint_every=config.audit.checkpoint_every,
            checkpoint_interval_s=config.audit.checkpoint_interval_s,
            observer=self.observability.observer,
        )
        # SECURITY: never roll back across a restart (signer.policy_reload invariant 4).
        try:
            startup = startup_policy(
                self.store, config.policy_admin, config.policy_file, default_policy_bytes()
            )
        except PolicyStartupError:
            self.audit.close()
            self.wipe_secrets()
            raise
        self._startup_note = startup.note
        self.policy = PolicyHolder(startup.document)
        self.observability.watch(self.keystore, self.policy)
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
            spend=self.spend,
            observer=self.observability.observer,
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
        self.listeners = Listeners(config, self.services, self.observability.interceptors())
        self._reloads: set[asyncio.Task[bool]] = set()

    async def start(self) -> None:
        """Start metrics and every listener; if one fails, stop what started (and wipe)
        and re-raise."""
        try:
            await self.policy_updates.audit_startup(self._startup_note)
            self.observability.start()  # first: a busy metrics port fails before any listener
            await self.listeners.start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Graceful: health goes NOT_SERVING, in-flight calls get ``grace_s``, then
        a final signed checkpoint, then every long-lived secret is wiped."""
        await self.listeners.stop(self.config.limits.grace_s)
        self.signing.close()
        await self.audit.aclose()  # a final signed checkpoint
        await self.observability.stop()
        self.wipe_secrets()
        self._state_lock.release()

    def wipe_secrets(self) -> None:
        """Zero and drop every long-lived secret; the daemon cannot sign afterwards.

        Idempotent. Runs after the listeners and the audit log are closed, so no
        request can be using a key while it is zeroed.
        """
        if self.secrets_wiped:
            return
        handles = self.keystore.close()  # cached credential handles, then the store
        self.sealing.wipe()
        self.audit_signer.wipe()
        self.master.wipe()
        self.secrets_wiped = True
        log.info(
            "shutdown: wiped the master key, the daemon's sealing and audit keys and "
            "%d cached credential handle(s)",
            handles,
        )

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
