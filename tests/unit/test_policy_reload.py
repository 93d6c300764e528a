"""signer.policy_reload: one test per invariant, attacking the way an admin-less caller would."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

from signer.audit import AuditLog
from signer.errors import (
    InvalidRequestError,
    PolicyRollbackError,
    PolicySignatureInvalidError,
    SignerError,
)
from signer.keystore.handles import Secret
from signer.keystore.store import Store
from signer.pipeline import PolicyHolder
from signer.policy_reload import (
    DOCUMENT_META,
    VERSION_COUNTER,
    PolicyStartupError,
    PolicyUpdater,
    signature_path,
    startup_policy,
)
from signer.policy_updates import AdminKeys, format_signature_line, sign_document
from signer.schemes.daemon_keys import AuditSigner

DEFAULT = b'version = 1\n[venues.kraken]\nenabled = true\nmodes = ["live"]\nclasses = ["read"]\n'


def doc(version: int, binance: bool = True) -> bytes:
    enabled = "true" if binance else "false"
    return (
        f'version = {version}\n[venues.binance]\nenabled = {enabled}\nmodes = ["live"]\n'
        f'classes = ["trade", "read"]\n'
    ).encode()


Entries = list[tuple[str, bytes]]


@dataclass
class Env:
    dir: Path
    keys: list[SigningKey]
    admins: AdminKeys
    store: Store
    audit: AuditLog
    policy_file: Path

    def sigs(self, data: bytes, *who: int) -> Entries:
        out = []
        for i in who:
            s = sign_document(data, bytes(self.keys[i]))
            out.append((s.public_key.hex(), s.signature))
        return out

    def write(self, data: bytes, *who: int) -> None:
        self.policy_file.write_bytes(data)
        lines = [format_signature_line(sign_document(data, bytes(self.keys[i]))) for i in who]
        signature_path(self.policy_file).write_text("\n".join(lines) + "\n")

    def start(self, admins: AdminKeys | None = None, file: bool = True) -> PolicyUpdater:
        chosen = admins if admins is not None else self.admins
        startup = startup_policy(self.store, chosen, self.policy_file if file else None, DEFAULT)
        holder = PolicyHolder(startup.document)
        return PolicyUpdater(
            self.store, holder, self.audit, chosen, self.policy_file if file else None
        )

    def reopen(self) -> None:
        self.store.close()
        self.store = Store(self.dir / "state.db")

    def records(self) -> list[dict[str, Any]]:
        path = self.dir / "audit.log"
        return [json.loads(line) for line in path.read_bytes().splitlines()]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    keys = [SigningKey.generate() for _ in range(4)]
    admins = AdminKeys(tuple(bytes(k.verify_key) for k in keys[:3]), 2)
    store = Store(tmp_path / "state.db")
    audit = AuditLog(tmp_path / "audit.log", AuditSigner(Secret(b"\x02" * 32)))
    e = Env(tmp_path, keys, admins, store, audit, tmp_path / "policy.toml")
    e.write(doc(1), 0, 1)
    yield e
    audit.close()
    e.store.close()


def version_of(updater: PolicyUpdater) -> int:
    return updater._holder.document.version


def refuse(updater: PolicyUpdater, data: bytes, entries: Entries) -> SignerError:
    async def go() -> SignerError:
        try:
            await updater.update("admin-test", data, entries)
        except SignerError as exc:
            return exc
        raise AssertionError("update was accepted")

    return asyncio.run(go())


def test_valid_update_takes_effect_durably_and_is_audited(env: Env) -> None:
    updater = env.start()
    new = doc(2, binance=False)
    assert asyncio.run(updater.update("admin-test", new, env.sigs(new, 0, 2))) == 2
    holder = updater._holder
    assert holder.document.raw == new and not holder.document.venue("binance").enabled  # type: ignore[union-attr]
    assert env.store.counter_get(VERSION_COUNTER) == 2
    assert env.store.meta_get(DOCUMENT_META) == new
    last = env.records()[-1]
    assert last["action"] == "policy_update" and last["decision"] == "accept"
    assert last["version"] == 2 and last["document_sha256"] == holder.document.sha256
    assert len(last["signers"]) == 2 and last["threshold"] == 2
    # SECURITY: the audit log holds the digest, never the body.
    assert b"venues.binance" not in (env.dir / "audit.log").read_bytes()


@pytest.mark.parametrize(
    ("case", "error", "reason"),
    [
        ("forged", PolicySignatureInvalidError, "POLICY_SIGNATURE_INVALID"),
        ("threshold-minus-one", PolicySignatureInvalidError, "POLICY_SIGNATURE_INVALID"),
        ("outsider-key", PolicySignatureInvalidError, "POLICY_SIGNATURE_INVALID"),
        ("same-key-twice", PolicySignatureInvalidError, "POLICY_SIGNATURE_INVALID"),
        ("other-bytes", PolicySignatureInvalidError, "POLICY_SIGNATURE_INVALID"),
        ("truncated", PolicySignatureInvalidError, "POLICY_SIGNATURE_INVALID"),
        ("no-signatures", PolicySignatureInvalidError, "POLICY_SIGNATURE_INVALID"),
        ("malformed-key", PolicySignatureInvalidError, "POLICY_SIGNATURE_INVALID"),
        ("equal-version", PolicyRollbackError, "POLICY_ROLLBACK"),
        ("older-version", PolicyRollbackError, "POLICY_ROLLBACK"),
        ("signed-but-invalid", InvalidRequestError, "INVALID_REQUEST"),
        ("empty", InvalidRequestError, "INVALID_REQUEST"),
    ],
)
def test_refusals_leave_the_running_policy_and_are_audited(
    env: Env, case: str, error: type[SignerError], reason: str
) -> None:
    updater = env.start()
    new = doc(5, binance=False)
    good = asyncio.run(updater.update("admin-test", doc(3), env.sigs(doc(3), 0, 1)))
    assert good == 3
    before = updater._holder.document
    forged = [(env.sigs(new, 0)[0][0], bytes(64)), *env.sigs(new, 1)]
    attempts: dict[str, tuple[bytes, Entries]] = {
        "forged": (new, forged),
        "threshold-minus-one": (new, env.sigs(new, 2)),
        "outsider-key": (new, env.sigs(new, 0, 3)),
        "same-key-twice": (new, env.sigs(new, 1, 1)),
        "other-bytes": (new, env.sigs(doc(5, binance=True), 0, 1)),
        "truncated": (new[:-9], env.sigs(new, 0, 1)),
        "no-signatures": (new, []),
        "malformed-key": (new, [("00" * 31, bytes(64)), *env.sigs(new, 0, 1)]),
        "equal-version": (doc(3, False), env.sigs(doc(3, False), 0, 1)),
        "older-version": (doc(2, False), env.sigs(doc(2, False), 0, 1)),
        "signed-but-invalid": (
            b"version = 9\nbogus = 1\n",
            env.sigs(b"version = 9\nbogus = 1\n", 0, 1),
        ),
        "empty": (b"", []),
    }
    data, entries = attempts[case]
    exc = refuse(updater, data, entries)
    assert type(exc) is error and exc.reason is not None and exc.reason.value == reason
    assert updater._holder.document is before
    assert env.store.counter_get(VERSION_COUNTER) == 3
    assert env.store.meta_get(DOCUMENT_META) == doc(3)
    last = env.records()[-1]
    assert last["decision"] == "reject" and last["rule"] == reason
    assert last["policy_sha256"] == before.sha256


def test_invalid_document_error_names_the_line(env: Env) -> None:
    updater = env.start()
    bad = doc(4) + b"[venues.nowhere]\nenabled = true\n"
    exc = refuse(updater, bad, env.sigs(bad, 0, 1))
    assert "venues.nowhere" in exc.public_message and "(line 6)" in exc.public_message


def test_signatures_are_checked_before_parsing(env: Env) -> None:
    # Unsigned garbage never reaches the TOML parser: the refusal is about signatures.
    exc = refuse(env.start(), b"[[[[ not toml", [])
    assert isinstance(exc, PolicySignatureInvalidError)


def test_without_admin_keys_updates_are_refused(env: Env) -> None:
    env.policy_file.unlink()
    startup = startup_policy(env.store, None, None, DEFAULT)
    updater = PolicyUpdater(env.store, PolicyHolder(startup.document), env.audit, None, None)
    new = doc(2)
    exc = refuse(updater, new, env.sigs(new, 0, 1, 2))
    assert isinstance(exc, PolicySignatureInvalidError)
    assert "no policy admin keys are configured" in exc.public_message
    assert version_of(updater) == 1


def test_replay_after_restart_is_refused(env: Env) -> None:
    updater = env.start()
    v4 = doc(4, binance=False)
    assert asyncio.run(updater.update("admin-test", v4, env.sigs(v4, 0, 1))) == 4
    env.reopen()  # the daemon restarts; the file on disk is still version 1
    restarted = env.start()
    assert version_of(restarted) == 4 and restarted._holder.document.raw == v4
    exc = refuse(restarted, v4, env.sigs(v4, 0, 1))
    assert isinstance(exc, PolicyRollbackError)
    v3 = doc(3)
    assert isinstance(refuse(restarted, v3, env.sigs(v3, 0, 1)), PolicyRollbackError)


def test_startup_with_an_older_file_keeps_the_stored_version(env: Env) -> None:
    env.write(doc(6), 0, 1)
    assert version_of(env.start()) == 6
    env.write(doc(2, binance=False), 0, 1)  # swapped for an older signed file while down
    env.reopen()
    startup = startup_policy(env.store, env.admins, env.policy_file, DEFAULT)
    assert startup.document.version == 6 and startup.document.raw == doc(6)
    assert startup.note is not None and "older than the accepted version 6" in startup.note
    updater = PolicyUpdater(env.store, PolicyHolder(startup.document), env.audit, env.admins, None)
    asyncio.run(updater.audit_startup(startup.note))
    assert env.records()[-1]["source"] == "startup"


def test_startup_with_a_newer_signed_file_advances(env: Env) -> None:
    env.start()
    env.write(doc(8), 0, 2)
    assert version_of(env.start()) == 8
    assert env.store.counter_get(VERSION_COUNTER) == 8


@pytest.mark.parametrize("who", [(), (0,), (0, 3)])
def test_startup_refuses_an_unsigned_file_when_keys_are_configured(
    env: Env, who: tuple[int, ...]
) -> None:
    env.write(doc(2), *who)
    with pytest.raises(PolicyStartupError, match="valid admin signature"):
        env.start()
    assert env.store.counter_get(VERSION_COUNTER) is None


def test_startup_refuses_a_missing_signature_file(env: Env) -> None:
    signature_path(env.policy_file).unlink()
    with pytest.raises(PolicyStartupError, match=r"policy\.toml\.sig: FileNotFoundError"):
        env.start()


def test_startup_refuses_an_invalid_file_naming_the_line(env: Env) -> None:
    env.policy_file.write_bytes(b"version = 1\nvenues = 3\n")
    with pytest.raises(PolicyStartupError, match=r"line 2"):
        env.start()


def test_startup_without_keys_trusts_the_file_but_never_rolls_back(env: Env) -> None:
    env.policy_file.write_bytes(doc(5))
    signature_path(env.policy_file).unlink()
    assert startup_policy(env.store, None, env.policy_file, DEFAULT).document.version == 5
    env.policy_file.write_bytes(doc(4, binance=False))
    assert startup_policy(env.store, None, env.policy_file, DEFAULT).document.raw == doc(5)


def test_startup_refuses_a_version_without_its_document(env: Env) -> None:
    env.store.counter_set_max(VERSION_COUNTER, 9)
    with pytest.raises(PolicyStartupError, match="recorded but not stored"):
        env.start()


def test_shipped_default_is_used_without_a_file(env: Env) -> None:
    updater = env.start(file=False)
    assert updater._holder.document.raw == DEFAULT
    assert asyncio.run(updater.reload_file()) is False  # nothing to reload


def test_sighup_reload_broken_then_good(env: Env) -> None:
    updater = env.start()

    async def go() -> list[bool]:
        results = []
        env.policy_file.write_bytes(doc(2)[:-5])  # truncated, old signature file
        results.append(await updater.reload_file())
        broken = b"version = 2\n[venues.binance\n"
        env.write(broken, 0, 1)  # signed, but not TOML
        results.append(await updater.reload_file())
        signature_path(env.policy_file).unlink()
        results.append(await updater.reload_file())
        env.write(doc(2, binance=False), 1, 2)
        results.append(await updater.reload_file())
        return results

    assert asyncio.run(go()) == [False, False, False, True]
    assert version_of(updater) == 2
    sighup = [r for r in env.records() if r.get("source") == "sighup"]
    assert [r["decision"] for r in sighup] == ["reject", "reject", "reject", "accept"]
    assert sighup[1]["rule"] == "INVALID_REQUEST" and "invalid TOML" in sighup[1]["reasons"][0]
    assert "cannot read the signature file" in sighup[2]["reasons"][0]


def test_concurrent_updates_of_one_version_accept_exactly_one(env: Env) -> None:
    updater = env.start()
    a, b = doc(2, binance=False), doc(2, binance=True)

    async def go() -> list[object]:
        return list(
            await asyncio.gather(
                updater.update("x", a, env.sigs(a, 0, 1)),
                updater.update("y", b, env.sigs(b, 1, 2)),
                return_exceptions=True,
            )
        )

    results = asyncio.run(go())
    assert sorted(type(r).__name__ for r in results) == ["PolicyRollbackError", "int"]
    assert env.store.meta_get(DOCUMENT_META) == updater._holder.document.raw


def test_a_cancelled_caller_cannot_split_the_durable_write_from_the_swap(env: Env) -> None:
    updater = env.start()
    new = doc(2, binance=False)
    advance = updater._advance

    async def go() -> None:
        loop = asyncio.get_running_loop()
        task = loop.create_task(updater.update("admin-test", new, env.sigs(new, 0, 1)))

        def cancel_mid_write(document: Any) -> None:
            loop.call_soon_threadsafe(task.cancel)  # the RPC deadline fires mid-update
            advance(document)

        updater._advance = cancel_mid_write  # type: ignore[method-assign]
        with pytest.raises(asyncio.CancelledError):
            await task
        async with updater._lock:  # the shielded update runs to its end
            pass

    asyncio.run(go())
    assert env.store.counter_get(VERSION_COUNTER) == 2
    assert updater._holder.document.raw == new  # what is stored is what is in force
    assert env.records()[-1]["decision"] == "accept"
