"""Shared fakes for the venue tests: a fixed clock and credential-handle builders.

The helpers are plain functions/classes so that tests outside this folder
(tests/security) can import them from ``tests.unit.venues.conftest``.
"""

from __future__ import annotations

import pytest

from signer.domain import Mode, Principal
from signer.keystore.handles import Secret, VenueCredentials

# Published vector credentials (VENUES.md sections 1 and 3).
KRAKEN_SECRET = (
    "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
)
BINANCE_API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
BINANCE_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"

LIVE = Principal("client-1", Mode.LIVE)
SANDBOX = Principal("client-1", Mode.SANDBOX)


class FixedClock:
    """A ``Clock`` with a fixed wall clock and nonces counting up from ``nonce``.

    Attributes:
        scopes: every scope ``next_nonce`` was asked for, in order.
    """

    def __init__(self, now_ms: int = 1499827319559, nonce: int = 1616492376594) -> None:
        self._now = now_ms
        self._next = nonce
        self.scopes: list[str] = []

    def now_ms(self) -> int:
        return self._now

    def next_nonce(self, scope: str) -> int:
        self.scopes.append(scope)
        value = self._next
        self._next += 1
        return value


def make_creds(venue: str, api_key: str, secret: str | bytes) -> VenueCredentials:
    """A credential handle as the keystore would hand it to ``Venue.sign``."""
    return VenueCredentials(venue, api_key, Secret(secret), Secret(b""), {})


def kraken_creds(api_key: str = "kraken-api-key") -> VenueCredentials:
    """Kraken handle with the published documentation secret."""
    return make_creds("kraken", api_key, KRAKEN_SECRET)


def binance_creds(secret: str | bytes = BINANCE_SECRET) -> VenueCredentials:
    """Binance handle with the published documentation key (HMAC unless ``secret`` is PEM)."""
    return make_creds("binance", BINANCE_API_KEY, secret)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()
