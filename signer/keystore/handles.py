"""Key handles: secret material with a redacted repr.

SECURITY: ``Secret.expose()`` (a copy) and ``Secret.borrow()`` (a view, no
copy) are the only ways to reach the bytes. They are called only from
``signer/schemes/`` (to build signing keys) and ``signer/keystore/`` (to seal);
tests/unit/keystore/test_handles.py greps the tree to keep it so.

Invariants (tests in tests/unit/keystore/test_handles.py and test_wipe.py):

1. The bytes live in one bytearray per ``Secret``; ``wipe()`` zeroes it in
   place in one C-level copy, so a concurrent ``expose()`` (another thread)
   sees the whole value or all zeros, never a mix of key and zero bytes.
2. A ``Secret`` zeroes its buffer when it is freed (``__del__``), so a handle
   that was never cached (a trading-wallet handle, a daemon key seed) does
   not leave its buffer behind for the allocator.
3. ``VenueCredentials.wipe()`` zeroes every ``Secret`` it holds and drops the
   objects derived from them (on cache eviction, replacement, delete, shutdown).

Python may still hold copies we cannot reach (immutable bytes made by
``expose()``, decoded str objects, library-internal key objects), which
README.md ("What Python cannot guarantee") states honestly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NoReturn, TypeVar

T = TypeVar("T")


class Secret:
    """Secret bytes. ``repr``/``str`` are redacted; pickling and equality are refused."""

    __slots__ = ("_buf",)

    def __init__(self, data: bytes | bytearray | str) -> None:
        self._buf = bytearray(data.encode("utf-8") if isinstance(data, str) else data)

    def expose(self) -> bytes:
        """Return the raw bytes. Only schemes/ and keystore/ may call this."""
        return bytes(self._buf)

    @contextlib.contextmanager
    def borrow(self) -> Iterator[memoryview]:
        """A read-only view of the bytes, without a copy, for C functions
        (libsodium). Only schemes/ and keystore/ may call this; the view is
        released when the block ends (keep no object that holds it)."""
        view = memoryview(self._buf)
        readonly = view.toreadonly()
        try:
            yield readonly
        finally:
            readonly.release()
            view.release()

    def wipe(self) -> None:
        """Zero the buffer in place (one C-level copy under the GIL: invariant 1)."""
        # SECURITY: a bytearray given a bytearray of equal length is overwritten
        # in place by one memcpy; no intermediate copy of the secret is made.
        self._buf[:] = bytearray(len(self._buf))

    def __del__(self) -> None:
        buf = getattr(self, "_buf", None)  # None if __init__ failed
        if buf is not None:
            buf[:] = bytearray(len(buf))

    def __len__(self) -> int:
        return len(self._buf)

    def __bool__(self) -> bool:
        return bool(self._buf)

    def __repr__(self) -> str:
        return "Secret(<redacted>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        # SECURITY: no comparison helpers (they invite timing leaks and logging).
        return self is other

    __hash__ = object.__hash__

    def __reduce__(self) -> NoReturn:
        raise TypeError("Secret cannot be pickled")


class VenueCredentials:
    """Unsealed credentials for one (principal, venue), as the venues use them.

    ``api_key`` is an identifier that is sent to the venue in clear (a header),
    so it is a plain str; everything else is a ``Secret``. Signing objects
    derived from the secret (an HMAC key template, a loaded private key) are
    cached per handle with ``derived()`` so that a request does not re-parse PEM.
    """

    __slots__ = ("_derived", "api_key", "extra", "passphrase", "secret", "venue")

    def __init__(
        self,
        venue: str,
        api_key: str,
        secret: Secret,
        passphrase: Secret,
        extra: Mapping[str, Secret],
    ) -> None:
        self.venue = venue
        self.api_key = api_key
        self.secret = secret
        self.passphrase = passphrase
        self.extra = dict(extra)
        self._derived: dict[str, Any] = {}

    def derived(self, name: str, build: Callable[[], T]) -> T:
        """Return the cached object ``name``, building it once with ``build``."""
        try:
            return self._derived[name]  # type: ignore[no-any-return]
        except KeyError:
            value = build()
            self._derived[name] = value
            return value

    def wipe(self) -> None:
        """Zero every secret buffer and drop derived objects (on eviction, shutdown)."""
        self.secret.wipe()
        self.passphrase.wipe()
        for value in self.extra.values():
            value.wipe()
        # SECURITY: derived signing objects (HMAC templates, loaded private keys)
        # hold key material we cannot zero; dropping them lets it be freed.
        self._derived.clear()

    def __repr__(self) -> str:
        return f"VenueCredentials(venue={self.venue!r}, <redacted>)"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("VenueCredentials cannot be pickled")
