"""One test per invariant of signer/signing_pool.py."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from signer.domain import HttpRequest, SignedRequest
from signer.keystore.handles import VenueCredentials
from signer.signing_pool import MAX_THREADS, SigningPool, pool_size, signs_slowly
from signer.venues.base import Clock, ParsedRequest
from signer.venues.binance import VENUE as BINANCE
from signer.venues.kalshi import VENUE as KALSHI
from tests.unit.venues.conftest import FixedClock, binance_creds, make_creds

CREDS = make_creds("x", "key", "secret")


class FastVenue:
    name = "fast"

    def __init__(self) -> None:
        self.threads: list[str] = []

    def sign(self, parsed: ParsedRequest, creds: VenueCredentials, clock: Clock) -> SignedRequest:
        self.threads.append(threading.current_thread().name)
        return SignedRequest(HttpRequest("GET", "/"), ())


class SlowVenue(FastVenue):
    name = "slow"

    def __init__(self, hold: float = 0.0) -> None:
        super().__init__()
        self.hold = hold
        self.active = self.peak = 0
        self.lock = threading.Lock()

    def slow_signer(self, creds: VenueCredentials) -> bool:
        return True

    def sign(self, parsed: ParsedRequest, creds: VenueCredentials, clock: Clock) -> SignedRequest:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(self.hold)  # stands in for RSA (which releases the GIL too)
        with self.lock:
            self.active -= 1
        return super().sign(parsed, creds, clock)


def _sign_many(pool: SigningPool, venue: FastVenue, n: int) -> None:
    async def go() -> None:
        await asyncio.gather(
            *(pool.sign(venue, None, CREDS, FixedClock()) for _ in range(n))  # type: ignore[arg-type]
        )

    asyncio.run(go())


# Invariant 1: only slow signatures leave the event loop


def test_fast_signatures_stay_on_the_event_loop_thread() -> None:
    pool, venue = SigningPool(2), FastVenue()
    try:
        _sign_many(pool, venue, 3)
    finally:
        pool.close()
    assert venue.threads == [threading.main_thread().name] * 3


def test_slow_signatures_run_on_the_pool() -> None:
    pool, venue = SigningPool(2), SlowVenue()
    try:
        _sign_many(pool, venue, 3)
    finally:
        pool.close()
    assert len(venue.threads) == 3 and all(t.startswith("signing") for t in venue.threads)


def _pem(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_which_real_venues_and_keys_are_slow() -> None:
    rsa_pem = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    assert signs_slowly(KALSHI, make_creds("kalshi", "k", rsa_pem))
    assert signs_slowly(BINANCE, binance_creds(rsa_pem))
    assert not signs_slowly(BINANCE, binance_creds())  # HMAC
    assert not signs_slowly(BINANCE, binance_creds(_pem(ed25519.Ed25519PrivateKey.generate())))
    assert not signs_slowly(BINANCE, binance_creds("-----BEGIN PRIVATE KEY-----\nbroken\n"))
    assert not signs_slowly(FastVenue(), CREDS)  # type: ignore[arg-type]


# Invariant 2: bounded


def test_the_pool_never_runs_more_than_its_threads() -> None:
    pool, venue = SigningPool(2), SlowVenue(hold=0.02)
    try:
        _sign_many(pool, venue, 8)
    finally:
        pool.close()
    assert venue.peak == 2 and len(venue.threads) == 8


def test_pool_size_bounds() -> None:
    assert pool_size(None) == min(os.cpu_count() or 2, MAX_THREADS)
    assert pool_size(3) == 3
    assert pool_size(0) == 0
    for bad in (-1, MAX_THREADS + 1):
        with pytest.raises(ValueError, match="signing_threads"):
            pool_size(bad)


def test_no_pool_signs_everything_on_the_event_loop() -> None:
    pool, venue = SigningPool(0), SlowVenue()
    try:
        _sign_many(pool, venue, 2)
    finally:
        pool.close()
    assert venue.threads == [threading.main_thread().name] * 2


def test_a_closed_pool_refuses_new_work() -> None:
    pool = SigningPool(1)
    pool.close()
    with pytest.raises(RuntimeError):
        _sign_many(pool, SlowVenue(), 1)
