"""The signing rate per (principal, venue): a token bucket whose state never
runs ahead of a durable mark, so no restart, clean or a crash, hands out a
token that an uninterrupted daemon would have refused.

Each bucket is one integer, its GCRA theoretical arrival time (TAT, ns of wall
clock; ``policy.limits.rate_step`` decides). Invariants (one test each in
``tests/unit/limits/test_rate.py``):

1. Scopes are independent: (client_id, mode, venue). Live and sandbox of one
   client are two principals; one venue's bucket never drains another's.
2. The in-memory TAT of a bucket is never above its persisted mark (the
   counter ``rate/<mode>/<venue>/<client_id>``). Before a request would move
   the TAT above the mark, the mark is raised to ``TAT + lease_ns`` and
   fsync'd (``Store.counter_set_max``, synchronous=FULL). So a bucket writes
   at most once per ``lease_ns`` of TAT advance (about once a second while
   busy), not once per signature.
3. A bucket (re)loaded from the store starts at its mark: after a restart a
   principal has at most ``lease_ns`` worth of tokens fewer than the truth,
   never more. Marks only grow.
4. Evicting a bucket from memory is therefore always safe; the cache is bounded.
5. If the mark cannot be written the request is refused (``StorageError``
   leaves as INTERNAL): fail closed.

SECURITY: the clock is wall time (a restart must compare with times written
by an earlier process). A clock set backwards refills nothing (the TAT stays
ahead); only a clock set forwards refills early, and the API cannot move it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from policy.limits import RULE_RATE, RateLimit, rate_step
from signer.errors import RateLimitedError

LEASE_NS = 10**9
"""How far ahead of use a mark is written: the most a restart can cost a principal."""

MAX_BUCKETS = 100_000


@dataclass(frozen=True, slots=True)
class RateScope:
    """Whose bucket: one principal (client and mode) on one venue."""

    client_id: str
    mode: str
    venue: str

    @property
    def counter(self) -> str:
        # client ids are [A-Za-z0-9._:@-] (signer.domain), so "/" cannot be forged.
        return f"rate/{self.mode}/{self.venue}/{self.client_id}"


class MarkStore(Protocol):
    """The durable counters ``signer.keystore.Store`` provides."""

    def counter_get(self, name: str) -> int | None: ...

    def counter_set_max(self, name: str, value: int) -> int: ...


class _Bucket:
    __slots__ = ("mark", "tat")

    def __init__(self, mark: int) -> None:
        self.tat = mark
        self.mark = mark


class RateLimiter:
    """Token buckets per ``RateScope``; ``consume`` takes one token or refuses."""

    def __init__(
        self,
        marks: MarkStore,
        now_ns: Callable[[], int] = time.time_ns,
        *,
        lease_ns: int = LEASE_NS,
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        if lease_ns < 1 or max_buckets < 1:
            raise ValueError("lease_ns and max_buckets must be positive")
        self._marks = marks
        self._now = now_ns
        self._lease = lease_ns
        self._max = max_buckets
        self._buckets: OrderedDict[RateScope, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def consume(self, scope: RateScope, limit: RateLimit, now_ns: int | None = None) -> None:
        """Take one token from ``scope``'s bucket.

        Raises:
            RateLimitedError: no token (metadata: ``rule_id``, ``retry_after_ms``).
            StorageError: the mark could not be persisted; nothing was granted.
        """
        now = self._now() if now_ns is None else now_ns
        with self._lock:
            bucket = self._bucket(scope)
            step = rate_step(limit, bucket.tat, now)
            if not step.allowed:
                retry_ms = -(-step.retry_after_ns // 1_000_000)
                raise RateLimitedError(
                    f"signing rate for {scope.venue} exhausted ({limit.rate_per_second}/s, "
                    f"burst {limit.burst}); retry in {retry_ms} ms",
                    rule_id=RULE_RATE,
                    retry_after_ms=str(retry_ms),
                )
            if step.tat_ns > bucket.mark:
                # SECURITY: durable before granted (invariant 2).
                bucket.mark = self._marks.counter_set_max(scope.counter, step.tat_ns + self._lease)
            bucket.tat = step.tat_ns

    def _bucket(self, scope: RateScope) -> _Bucket:
        bucket = self._buckets.get(scope)
        if bucket is None:
            bucket = _Bucket(self._marks.counter_get(scope.counter) or 0)
            self._buckets[scope] = bucket
            if len(self._buckets) > self._max:
                self._buckets.popitem(last=False)  # safe: it reloads at its mark
        else:
            self._buckets.move_to_end(scope)
        return bucket
