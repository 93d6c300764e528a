"""The signing rate per (principal, venue): a token bucket whose grants never
run ahead of a durable mark, so no restart, clean or a crash, hands out a
token that an uninterrupted daemon would have refused.

Each bucket is one integer, its GCRA theoretical arrival time (TAT, ns of wall
clock; ``policy.limits.rate_step`` decides). Invariants (one test each in
``tests/unit/limits/test_rate.py``):

1. Scopes are independent: (client_id, mode, venue). Live and sandbox of one
   client are two principals; one venue's bucket never drains another's.
2. ``consume`` returns (grants) only once the bucket's persisted mark (the
   counter ``rate/<mode>/<venue>/<client_id>``) is at least the TAT after the
   grant. A grant that needs a higher mark raises it to ``TAT + lease_ns``;
   marks wanted at the same time are written together in one transaction
   (one fsync, off the event loop), so a busy bucket writes about once per
   ``lease_ns`` and many quiet buckets share each write.
3. A bucket (re)loaded from the store starts at its mark: after a restart a
   principal has at most ``lease_ns`` worth of tokens fewer than the truth,
   never more. Marks only grow.
4. Evicting a bucket from memory is safe once its mark is written (it reloads
   at its mark, invariant 3); the cache is bounded.
5. If the mark cannot be written, the requests waiting on it are refused
   (``StorageError`` leaves as INTERNAL) and their tokens stay spent: fail closed.

SECURITY: the clock is wall time (a restart must compare with times written
by an earlier process). A clock set backwards refills nothing (the TAT stays
ahead); only a clock set forwards refills early, and the API cannot move it.
Use from one event loop (the daemon's); nothing here is thread-safe.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from policy.limits import RULE_RATE, RateLimit, rate_step
from signer.errors import RateLimitedError, StorageError

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

    def counters_set_max(self, values: Mapping[str, int]) -> dict[str, int]: ...


class _Bucket:
    __slots__ = ("durable", "promised", "round", "tat")

    def __init__(self, mark: int) -> None:
        self.tat = mark  # tokens handed out (or reserved by a request still waiting)
        self.durable = mark  # the mark known to be on disk
        self.promised = mark  # the highest mark queued or being written
        self.round: asyncio.Future[None] | None = None  # the write carrying ``promised``


class RateLimiter:
    """Token buckets per ``RateScope``; ``await consume(...)`` takes one token or refuses."""

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
        self._queue: dict[str, tuple[_Bucket, int]] = {}
        self._round: asyncio.Future[None] | None = None
        self._flushing = False
        self._task: asyncio.Task[None] | None = None

    async def consume(self, scope: RateScope, limit: RateLimit, now_ns: int | None = None) -> None:
        """Take one token from ``scope``'s bucket.

        Raises:
            RateLimitedError: no token (metadata: ``rule_id``, ``retry_after_ms``).
            StorageError: the mark could not be persisted; nothing was granted.
        """
        now = self._now() if now_ns is None else now_ns
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
        bucket.tat = step.tat_ns  # reserved now: a concurrent request sees it spent
        if bucket.tat <= bucket.durable:
            return
        if bucket.tat > bucket.promised:
            bucket.promised = bucket.tat + self._lease
            bucket.round = self._enqueue(scope.counter, bucket)
        waiting = bucket.round
        assert waiting is not None  # promised > durable always has a round
        # SECURITY: durable before granted (invariant 2); a failed write raises here.
        await asyncio.shield(waiting)

    def _enqueue(self, counter: str, bucket: _Bucket) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        if self._round is None or not self._queue:
            self._round = loop.create_future()
        self._queue[counter] = (bucket, bucket.promised)
        if not self._flushing:
            self._flushing = True
            self._task = loop.create_task(self._flush())  # held: a task is weakly referenced
        return self._round

    async def _flush(self) -> None:
        try:
            while self._queue:
                batch, done = self._queue, self._round
                self._queue, self._round = {}, None
                assert done is not None
                values = {counter: mark for counter, (_, mark) in batch.items()}
                try:
                    stored = await asyncio.to_thread(self._marks.counters_set_max, values)
                except Exception:  # noqa: BLE001 - every waiter of this round is refused
                    for bucket, mark in batch.values():
                        if bucket.promised == mark:
                            bucket.promised = bucket.durable  # the next grant re-queues
                    done.set_exception(StorageError("cannot persist the rate mark"))
                    done.exception()  # retrieved: no "never retrieved" warning without waiters
                    continue
                for counter, (bucket, _) in batch.items():
                    bucket.durable = max(bucket.durable, stored[counter])
                done.set_result(None)
        finally:
            self._flushing = False

    def _bucket(self, scope: RateScope) -> _Bucket:
        bucket = self._buckets.get(scope)
        if bucket is not None:
            self._buckets.move_to_end(scope)
            return bucket
        bucket = _Bucket(self._marks.counter_get(scope.counter) or 0)
        if len(self._buckets) >= self._max:
            self._evict()
        self._buckets[scope] = bucket
        return bucket

    def _evict(self) -> None:
        # Only a bucket with no mark in flight may go: it reloads at its mark. If
        # every bucket waits on a write, the cache grows past the bound until one lands.
        for scope, bucket in self._buckets.items():
            if bucket.promised <= bucket.durable:
                del self._buckets[scope]
                return
