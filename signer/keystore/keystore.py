"""The keystore: sealed credentials and daemon secrets, lazy unseal, durable nonces.

Invariants (tests in tests/unit/keystore/):

1. Start-up unseals nothing: a record is unsealed on first use, then served
   from a bounded LRU cache; a handle evicted from the cache is wiped.
2. Writes are durable (fsync'd) before they return. After a write or delete
   of a key its cached handle is evicted and wiped, and a load that raced with
   any write is served but never cached, so the cache never goes stale.
3. Every record is sealed with AAD (kind, client, mode, name, version); a row
   moved to another principal, mode, venue or version fails with UnsealError.
4. ``next_nonce`` never returns a value twice for a scope, across restarts
   too: values above the persisted high-water mark are only returned after the
   mark has been raised durably. One Keystore per state file. A scope also
   starts above the ``nonce-floor`` counter, which ``restore`` raises past the
   wall clock (an older backup must not bring back nonces already used).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from signer.domain import Principal
from signer.errors import StorageError
from signer.keystore.handles import Secret, VenueCredentials
from signer.keystore.sealing import MasterKey, RecordAad, SealedRecord, open_sealed, seal
from signer.keystore.store import Store

CREDENTIAL = "credential"
DAEMON = "daemon"
_DAEMON_NS = "-"
NONCE_FLOOR = "nonce-floor"
_FIELDS = frozenset({"api_key", "api_secret", "passphrase", "extra"})
_NONCE_MAX = 2**62

_CacheKey = tuple[str, str, str]


@dataclass(slots=True)
class _NonceScope:
    lock: threading.Lock = field(default_factory=threading.Lock)
    last: int | None = None  # last value returned; None until loaded from the store
    mark: int = 0  # persisted high-water mark


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Credential cache counters since start (exported as metrics at scrape time)."""

    hits: int
    misses: int
    size: int


class _AlreadyCreatedError(Exception):
    """A daemon secret appeared between the read and the write; abort the write."""


class Keystore:
    """Credentials and daemon secrets of one state file, sealed under one master key."""

    def __init__(
        self,
        store: Store,
        master: MasterKey,
        cache_size: int = 10_000,
        nonce_block: int = 60_000,
    ) -> None:
        """Wrap ``store``; nothing is read or unsealed here (lazy start-up)."""
        if cache_size < 1 or not 1 <= nonce_block <= 2**32:
            raise ValueError("cache_size and nonce_block must be positive (nonce_block <= 2**32)")
        self._store = store
        self._master = master
        self._cache_size = cache_size
        self._nonce_block = nonce_block
        self._cache: OrderedDict[_CacheKey, VenueCredentials] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._epoch = 0  # bumped by every write/delete; see credentials()
        self._hits = self._misses = 0  # guarded by _cache_lock
        self._daemon_lock = threading.Lock()
        self._nonce_lock = threading.Lock()
        self._nonces: dict[str, _NonceScope] = {}
        self._nonce_floor: int | None = None  # read once, on first use

    def put_credentials(
        self, principal: Principal, venue: str, payload: Mapping[str, object]
    ) -> int:
        """Seal and durably store credentials for (principal, venue); return the new version.

        ``payload`` is ``{"api_key": str, "api_secret": str, "passphrase": str,
        "extra": {str: str}}`` (``passphrase`` and ``extra`` may be omitted).

        Raises:
            ValueError: the payload has the wrong shape (the message names fields only).
            StorageError: the write failed; nothing was stored.
        """
        plaintext = _encode_payload(payload)
        key = (principal.client_id, principal.mode.value, venue)

        def seal_fn(version: int) -> SealedRecord:
            return seal(self._master, plaintext, RecordAad(CREDENTIAL, *key, version))

        try:
            return self._store.put_sealed(CREDENTIAL, *key, seal_fn)
        finally:
            self._invalidate(key)

    def credentials(self, principal: Principal, venue: str) -> VenueCredentials | None:
        """Unsealed credentials for (principal, venue), or None if none are stored.

        Raises:
            UnsealError: the stored row does not authenticate (tampered or swapped).
            StorageError: the store failed or the sealed payload is malformed.
        """
        key = (principal.client_id, principal.mode.value, venue)
        with self._cache_lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._hits += 1
                self._cache.move_to_end(key)
                return cached
            self._misses += 1
            epoch = self._epoch
        handle = self._load(key)
        if handle is None:
            return None
        with self._cache_lock:
            if self._epoch != epoch:
                # SECURITY: a write happened while we unsealed; this handle may
                # be the old version, so serve it once but never cache it.
                return handle
            cached = self._cache.get(key)
            if cached is not None:  # another thread loaded it meanwhile
                handle.wipe()
                self._cache.move_to_end(key)
                return cached
            self._cache[key] = handle
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)[1].wipe()
        return handle

    def cache_stats(self) -> CacheStats:
        """Hits and misses of ``credentials`` since start, and the cache's size."""
        with self._cache_lock:
            return CacheStats(self._hits, self._misses, len(self._cache))

    def delete_credentials(self, principal: Principal, venue: str) -> bool:
        """Delete credentials for (principal, venue); True if they existed."""
        key = (principal.client_id, principal.mode.value, venue)
        try:
            return self._store.delete(CREDENTIAL, *key)
        finally:
            self._invalidate(key)

    def list_venues(self, principal: Principal) -> list[str]:
        """Sorted venues with stored credentials for ``principal`` (nothing is unsealed)."""
        return self._store.list_names(CREDENTIAL, principal.client_id, principal.mode.value)

    def daemon_secret(self, name: str, generate: Callable[[], bytes]) -> Secret:
        """Get or create the daemon-level secret ``name`` (X25519 sealing key, audit key).

        A new secret from ``generate()`` is durably stored before it is
        returned. Each call returns a new ``Secret`` that the caller owns.
        """
        with self._daemon_lock:
            found = self._store.get_sealed(DAEMON, _DAEMON_NS, _DAEMON_NS, name)
            if found is None:
                value = bytearray(generate())
                try:
                    return self._create_daemon_secret(name, value)
                except _AlreadyCreatedError:
                    found = self._store.get_sealed(DAEMON, _DAEMON_NS, _DAEMON_NS, name)
                finally:
                    value[:] = bytes(len(value))
            if found is None:
                raise StorageError("daemon secret vanished during creation")
            version, record = found
            aad = RecordAad(DAEMON, _DAEMON_NS, _DAEMON_NS, name, version)
            return Secret(open_sealed(self._master, record, aad))

    def _create_daemon_secret(self, name: str, value: bytearray) -> Secret:
        if not value:
            raise ValueError("generated daemon secret is empty")

        def seal_fn(version: int) -> SealedRecord:
            if version != 1:  # created by someone else since our read: keep theirs
                raise _AlreadyCreatedError
            aad = RecordAad(DAEMON, _DAEMON_NS, _DAEMON_NS, name, version)
            return seal(self._master, value, aad)

        self._store.put_sealed(DAEMON, _DAEMON_NS, _DAEMON_NS, name, seal_fn)
        return Secret(value)

    def next_nonce(self, scope: str, floor: int) -> int:
        """Return a value > every value returned before for ``scope`` and >= ``floor``.

        Durable across restarts without an fsync per call: the store keeps a
        high-water mark per scope, raised by ``nonce_block`` ahead of use.

        Raises:
            ValueError: empty scope or floor outside [0, 2**62).
            StorageError: the mark could not be persisted (no value is returned).
        """
        if not scope or not 0 <= floor < _NONCE_MAX:
            raise ValueError("nonce scope must be non-empty and floor in [0, 2**62)")
        counter = "nonce:" + scope
        with self._nonce_lock:
            state = self._nonces.setdefault(scope, _NonceScope())
        with state.lock:
            if state.last is None:
                # SECURITY: every value returned before is <= the persisted mark,
                # so a fresh Keystore starts strictly above it.
                persisted = max(self._store.counter_get(counter) or 0, self._floor())
                state.last = state.mark = persisted
            value = max(state.last + 1, floor)
            if value > state.mark:
                # SECURITY: persist (fsync) the raised mark before returning any
                # value above the old one.
                state.mark = self._store.counter_set_max(counter, value + self._nonce_block)
            state.last = value
            return value

    def _floor(self) -> int:
        if self._nonce_floor is None:  # a benign race: every reader gets the same value
            self._nonce_floor = self._store.counter_get(NONCE_FLOOR) or 0
        return self._nonce_floor

    def close(self) -> int:
        """Wipe every cached handle, drop them, close the store; return how many were wiped."""
        with self._cache_lock:
            handles = list(self._cache.values())
            self._cache.clear()
            self._epoch += 1
        for handle in handles:
            handle.wipe()
        self._store.close()
        return len(handles)

    def _invalidate(self, key: _CacheKey) -> None:
        with self._cache_lock:
            self._epoch += 1
            handle = self._cache.pop(key, None)
        if handle is not None:
            handle.wipe()

    def _load(self, key: _CacheKey) -> VenueCredentials | None:
        found = self._store.get_sealed(CREDENTIAL, *key)
        if found is None:
            return None
        version, record = found
        plaintext = open_sealed(self._master, record, RecordAad(CREDENTIAL, *key, version))
        return _decode_credentials(key[2], plaintext)


def _encode_payload(payload: Mapping[str, object]) -> bytes:
    if not set(payload) <= _FIELDS:
        raise ValueError("credential payload has unknown fields")
    doc = {
        "api_key": payload.get("api_key"),
        "api_secret": payload.get("api_secret"),
        "passphrase": payload.get("passphrase", ""),
        "extra": payload.get("extra", {}),
    }
    for name in ("api_key", "api_secret", "passphrase"):
        if not isinstance(doc[name], str):
            raise ValueError(f"credential field {name} must be a string")
    extra = doc["extra"]
    if not isinstance(extra, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in extra.items()
    ):
        raise ValueError("credential field extra must map strings to strings")
    doc["extra"] = dict(extra)
    # SECURITY: ensure_ascii escapes lone surrogates instead of raising a
    # UnicodeEncodeError that would carry the secret string in its args.
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _decode_credentials(venue: str, plaintext: bytes) -> VenueCredentials:
    try:
        doc: object = json.loads(plaintext)
    except ValueError:
        doc = None
    # SECURITY: raised outside the except block so no JSONDecodeError (which
    # holds the whole plaintext) is attached as __context__.
    if not _is_credential_doc(doc):
        raise StorageError("sealed credential payload is malformed")
    return VenueCredentials(
        venue,
        doc["api_key"],
        Secret(doc["api_secret"]),
        Secret(doc["passphrase"]),
        {k: Secret(v) for k, v in doc["extra"].items()},
    )


def _is_credential_doc(doc: object) -> TypeGuard[dict[str, Any]]:
    if not isinstance(doc, dict) or set(doc) != _FIELDS:
        return False
    extra = doc["extra"]
    return (
        all(isinstance(doc[name], str) for name in ("api_key", "api_secret", "passphrase"))
        and isinstance(extra, dict)
        and all(isinstance(v, str) for v in extra.values())
    )
