"""Key handles: secret material with a redacted repr.

SECURITY: ``Secret.expose()`` is the only way to reach the bytes. It is called
only from ``signer/schemes/`` (to build signing keys) and ``signer/keystore/``
(to seal); tests/unit/keystore/test_handles.py greps the tree to keep it so.
The buffer is a bytearray so that ``wipe()`` can zero it when a handle is
evicted; Python may still hold copies (immutable bytes made by ``expose()``,
decoded str objects), which README.md states honestly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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

    def wipe(self) -> None:
        """Zero the buffer in place."""
        for i in range(len(self._buf)):
            self._buf[i] = 0

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
        """Zero every secret buffer and drop derived objects (on eviction)."""
        self.secret.wipe()
        self.passphrase.wipe()
        for value in self.extra.values():
            value.wipe()
        self._derived.clear()

    def __repr__(self) -> str:
        return f"VenueCredentials(venue={self.venue!r}, <redacted>)"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("VenueCredentials cannot be pickled")
