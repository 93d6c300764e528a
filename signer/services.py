"""The daemon's services as the servicers see them (built in ``signer.app``)."""

from __future__ import annotations

from dataclasses import dataclass

from signer.audit import AuditLog
from signer.credentials import CredentialManager
from signer.pipeline import Pipeline, PolicyHolder
from signer.policy_reload import PolicyUpdater
from signer.schemes.daemon_keys import AuditSigner, SealingKey
from signer.wallets import WalletManager
from signer.withdraw import WithdrawService


@dataclass(frozen=True, slots=True)
class Services:
    pipeline: Pipeline
    credentials: CredentialManager
    policy: PolicyHolder
    audit: AuditLog
    sealing: SealingKey
    audit_signer: AuditSigner
    wallets: WalletManager
    withdrawals: WithdrawService
    policy_updates: PolicyUpdater
