"""A bounded thread pool for the slow private-key operations (RSA), off the event loop.

Invariants (tests in tests/unit/test_signing_pool.py):

1. Only a signature the venue calls slow runs on the pool: the venue's
   optional ``slow_signer(creds)`` returns True (Kalshi RSA-PSS-2048, Binance
   RSA API keys: about 250-300 us per signature). Everything faster stays on
   the event loop, where a thread hop (50-100 us) would cost more than it
   saves: HMAC (1-3 us), EIP-712 (about 37 us), secp256k1 (about 41 us),
   Ed25519 and the Coinbase ES256 / EdDSA JWTs (45-50 us), measured by
   ``bench/micro.py`` on the bench machine.
2. The pool is bounded (``[limits] signing_threads``, at most ``MAX_THREADS``;
   absent: the CPU count; 0: no pool, every signature on the event loop, which
   measured faster on the 2-vCPU bench machine, see bench/README.md); its
   threads start on first use and end at ``close``.
3. cryptography releases the GIL inside the private-key operation, so pool
   threads sign in parallel with each other and with the event loop.
4. The whole ``venue.sign`` runs on the pool (its timestamp included), and
   the pipeline awaits it: the decision, rate token and key lookup before it
   and the audit record after it are unchanged. A slow venue stamps no daemon
   nonce (Kalshi and Binance put a timestamp only), and a stream item still
   signs only on its turn (``signer.stamp_order``), so one stream's RSA items
   sign one at a time while separate calls use the whole pool.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from signer.domain import SignedRequest
from signer.keystore.handles import VenueCredentials
from signer.venues.base import Clock, ParsedRequest, Venue

MAX_THREADS = 32


def pool_size(configured: int | None) -> int:
    """``configured`` threads (0: no pool), or (None) the CPU count; at most ``MAX_THREADS``."""
    if configured is None:
        return min(os.cpu_count() or 2, MAX_THREADS)
    if not 0 <= configured <= MAX_THREADS:
        raise ValueError(f"signing_threads must be between 0 and {MAX_THREADS}")
    return configured


def signs_slowly(venue: Venue, creds: VenueCredentials) -> bool:
    """Whether ``venue.sign`` with ``creds`` belongs on the pool (invariant 1)."""
    slow = getattr(venue, "slow_signer", None)
    return bool(slow(creds)) if slow is not None else False


class SigningPool:
    """Runs slow ``venue.sign`` calls on a bounded pool; fast ones inline."""

    def __init__(self, threads: int | None = None) -> None:
        self.threads = pool_size(threads)
        self._pool = (
            ThreadPoolExecutor(self.threads, thread_name_prefix="signing") if self.threads else None
        )

    async def sign(
        self, venue: Venue, parsed: ParsedRequest, creds: VenueCredentials, clock: Clock
    ) -> SignedRequest:
        """``venue.sign(parsed, creds, clock)``, on the pool if it is slow."""
        if self._pool is None or not signs_slowly(venue, creds):
            return venue.sign(parsed, creds, clock)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, venue.sign, parsed, creds, clock)

    def close(self) -> None:
        """Stop the threads once their current signature is done; queued ones are dropped."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
