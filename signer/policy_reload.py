"""Putting a policy document in force: at start-up, by ``UpdatePolicy``, on SIGHUP.

Invariants (tests: tests/unit/test_policy_reload.py, tests/integration/test_policy_updates.py):

1. An update (RPC or SIGHUP) is accepted only when, checked in this order:
   admin keys are configured; at least ``threshold`` distinct admin keys signed
   the exact bytes (``signer.policy_updates``); the bytes are a valid policy
   document; its version is strictly higher than the highest version ever put
   in force, which the store keeps durably (``policy.version`` counter).
2. Durable before in force: the version and the document bytes are written in
   one transaction (``Store.counter_advance``), then the running policy is
   swapped, then the acceptance is audited. The sequence is shielded from the
   caller's cancellation (deadline), so a stored version is always in force. If
   that audit append fails, the update stays in force and the caller gets
   AUDIT_UNAVAILABLE (the broken log then refuses every signature anyway).
3. A refusal (bad or missing signatures, rollback, invalid document) leaves
   the running policy and the stored version untouched and is audited with
   the document's SHA-256, never its body.
4. Start-up never rolls back: the configured file (or the shipped default
   when none is configured) is put in force if its version is at least the
   stored highest; otherwise the stored document of that version is used
   (an update accepted over gRPC survives a restart; a file swapped for an
   older one while the daemon was down is ignored, loudly). With admin keys
   configured, a configured policy file must carry threshold signatures or
   the daemon does not start.
5. Updates are serialised; a reader sees the old or the new document, never a mix.

SECURITY: without admin keys (``[policy_admin]`` absent from the config,
always the case for ``sequence-signer dev``) the policy is fixed at start-up:
``UpdatePolicy`` and SIGHUP are refused with POLICY_SIGNATURE_INVALID and a
warning is logged at start.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from policy.document import MAX_DOCUMENT_BYTES, PolicyDocument, PolicyDocumentError, load_document
from signer.audit import AuditLog
from signer.errors import (
    InvalidRequestError,
    PolicyRollbackError,
    PolicySignatureInvalidError,
    SignerError,
    StorageError,
)
from signer.keystore.store import CounterNotAdvancedError, Store
from signer.pipeline import PolicyHolder
from signer.policy_updates import (
    MAX_SIGNATURE_FILE_BYTES,
    AdminKeys,
    Signature,
    Tally,
    entry,
    parse_signature_file,
    require_threshold,
)

log = logging.getLogger(__name__)

VERSION_COUNTER = "policy.version"
DOCUMENT_META = "policy.document"
_NO_KEYS = "signed policy updates are disabled: no policy admin keys are configured"


class PolicyStartupError(Exception):
    """The daemon cannot choose a policy to start with; the message says why."""


def signature_path(policy_file: Path) -> Path:
    """The detached signature file of ``policy_file`` (``policy.toml`` -> ``policy.toml.sig``)."""
    return policy_file.with_name(policy_file.name + ".sig")


def read_bounded(path: Path, limit: int) -> bytes:
    """I/O: read at most ``limit + 1`` bytes (callers refuse the oversize)."""
    with path.open("rb") as handle:
        return handle.read(limit + 1)


@dataclass(frozen=True, slots=True)
class StartupPolicy:
    """The document chosen at start-up and, when it was not the file, why."""

    document: PolicyDocument
    note: str | None = None


def startup_policy(
    store: Store, admins: AdminKeys | None, policy_file: Path | None, default: bytes
) -> StartupPolicy:
    """Choose the document to start with (invariant 4) and record its version durably.

    Raises:
        PolicyStartupError: unreadable, invalid or unsigned file; stored state unusable.
    """
    where = str(policy_file) if policy_file else "the shipped default policy"
    try:
        data = read_bounded(policy_file, MAX_DOCUMENT_BYTES) if policy_file else default
        candidate = load_document(data)
        highest = store.counter_get(VERSION_COUNTER)
        if highest is not None and candidate.version < highest:
            stored = store.meta_get(DOCUMENT_META)
            if stored is None:
                raise PolicyStartupError(f"policy version {highest} is recorded but not stored")
            document = load_document(stored)
            if document.version != highest:
                raise PolicyStartupError("the stored policy does not match the stored version")
            note = (
                f"{where} has version {candidate.version}, older than the accepted version "
                f"{highest}; starting with the stored document of version {highest}"
            )
            log.warning("policy: %s", note)
            return StartupPolicy(document, note)
        if admins is not None and policy_file is not None:
            sigs = parse_signature_file(
                read_bounded(signature_path(policy_file), MAX_SIGNATURE_FILE_BYTES)
            )
            require_threshold(data, sigs, admins)
        store.counter_advance(
            VERSION_COUNTER, candidate.version, (DOCUMENT_META, data), allow_equal=True
        )
    except OSError as exc:
        raise PolicyStartupError(f"cannot read {exc.filename}: {type(exc).__name__}") from None
    except (PolicyDocumentError, SignerError) as exc:
        message = exc.public_message if isinstance(exc, SignerError) else str(exc)
        raise PolicyStartupError(f"{where}: {message}") from None
    except StorageError as exc:
        raise PolicyStartupError(f"policy version store: {exc}") from None
    if admins is None:
        log.warning("policy: %s (add [policy_admin] to the config to enable them)", _NO_KEYS)
    return StartupPolicy(candidate)


class PolicyUpdater:
    """Applies signed updates to the running ``PolicyHolder`` (invariants 1-3, 5)."""

    def __init__(
        self,
        store: Store,
        holder: PolicyHolder,
        audit: AuditLog,
        admins: AdminKeys | None,
        policy_file: Path | None,
    ) -> None:
        self._store = store
        self._holder = holder
        self._audit = audit
        self._admins = admins
        self._policy_file = policy_file
        self._lock = asyncio.Lock()

    async def update(
        self, caller: str, document: bytes, entries: Sequence[tuple[str, bytes]]
    ) -> int:
        """``UpdatePolicy``: returns the new version or raises a ``SignerError``."""

        def signatures() -> list[Signature]:
            return [entry(key, sig, f"signatures[{i}]") for i, (key, sig) in enumerate(entries)]

        # SECURITY: shielded, so a deadline cannot stop it between the durable
        # write and the swap (invariant 2).
        return await asyncio.shield(self._apply("rpc", caller, lambda: document, signatures))

    async def reload_file(self) -> bool:
        """SIGHUP: re-read the policy file and its ``.sig``; True if a new version took effect.

        Never raises: a refusal is logged and audited, and the running policy stays.
        """
        path = self._policy_file
        if path is None:
            log.warning("policy reload: no policy_file is configured; nothing to reload")
            return False

        def document() -> bytes:
            return read_bounded(path, MAX_DOCUMENT_BYTES)

        def signatures() -> list[Signature]:
            sig_path = signature_path(path)
            try:
                data = read_bounded(sig_path, MAX_SIGNATURE_FILE_BYTES)
            except OSError as exc:
                raise PolicySignatureInvalidError(
                    f"cannot read the signature file {sig_path.name}: {type(exc).__name__}"
                ) from None
            return parse_signature_file(data)

        try:
            version = await self._apply("sighup", "signal:SIGHUP", document, signatures)
        except Exception as exc:  # noqa: BLE001 - a reload failure never ends the daemon
            detail = exc.public_message if isinstance(exc, SignerError) else type(exc).__name__
            log.warning("policy reload refused; the running policy stays: %s", detail)
            return False
        log.info("policy reload: version %d is in force", version)
        return True

    async def audit_startup(self, note: str | None) -> None:
        """Record the start-up choice when the file was not used (invariant 4)."""
        if note is not None:
            doc = self._holder.document
            await self._record("startup", "daemon", "stored", doc.sha256, doc.version, "", note)

    async def _apply(
        self,
        source: str,
        caller: str,
        read: Callable[[], bytes],
        signatures: Callable[[], list[Signature]],
    ) -> int:
        async with self._lock:
            sha, version = "", 0
            try:
                data = await asyncio.to_thread(_read, read)
                sha = hashlib.sha256(data).hexdigest()
                tally = await asyncio.to_thread(self._verify, data, signatures)
                document = _validate(data)
                version = document.version
                await asyncio.to_thread(self._advance, document)
            except (SignerError, StorageError) as exc:
                reason = exc.reason.value if isinstance(exc, SignerError) and exc.reason else ""
                detail = exc.public_message if isinstance(exc, SignerError) else "storage failed"
                await self._record(source, caller, "reject", sha, version, reason, detail)
                raise
            self._holder.document = document
            self._holder.loaded_at = time.time()
            await self._record(source, caller, "accept", sha, version, "", "", tally)
            return version

    def _verify(self, data: bytes, signatures: Callable[[], list[Signature]]) -> Tally:
        if self._admins is None:
            raise PolicySignatureInvalidError(_NO_KEYS)
        return require_threshold(data, signatures(), self._admins)

    def _advance(self, document: PolicyDocument) -> None:
        try:
            self._store.counter_advance(
                VERSION_COUNTER, document.version, (DOCUMENT_META, document.raw)
            )
        except CounterNotAdvancedError as exc:
            raise PolicyRollbackError(
                f"policy version {document.version} is not higher than the accepted "
                f"version {exc.current}"
            ) from None

    async def _record(
        self,
        source: str,
        caller: str,
        decision: str,
        sha: str,
        version: int,
        reason: str,
        detail: str,
        tally: Tally | None = None,
    ) -> None:
        await self._audit.append(
            {
                "action": "policy_update", "caller": caller, "source": source,
                "decision": decision, "rule": reason, "reasons": [detail] if detail else [],
                "version": version, "document_sha256": sha,
                "signers": list(tally.signers) if tally else [],
                "threshold": self._admins.threshold if self._admins else 0,
                "policy_sha256": self._holder.document.sha256,
            }
        )  # fmt: skip


def _read(read: Callable[[], bytes]) -> bytes:
    try:
        data = read()
    except OSError as exc:
        raise InvalidRequestError(f"cannot read the policy file: {type(exc).__name__}") from None
    if not data:
        raise InvalidRequestError("document is required", field="document")
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InvalidRequestError(f"document exceeds {MAX_DOCUMENT_BYTES} bytes", field="document")
    return data


def _validate(data: bytes) -> PolicyDocument:
    try:
        return load_document(data)
    except PolicyDocumentError as exc:
        raise InvalidRequestError(f"policy document: {exc.message}", field="document") from None
