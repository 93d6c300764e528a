"""signer.limits.rate: one test per invariant of the module docstring."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policy.limits import RateLimit
from signer.errors import RateLimitedError, StorageError
from signer.keystore.store import Store
from signer.limits.rate import LEASE_NS, RateLimiter, RateScope

S = 10**9
T0 = 1_700_000_000 * S
LIMIT = RateLimit(rate_per_second=2, burst=3)
A_LIVE = RateScope("alice", "live", "binance")


class MemoryMarks:
    """The durable counters, in memory; survives a "restart" (a new RateLimiter)."""

    def __init__(self) -> None:
        self.counters: dict[str, int] = {}
        self.writes = 0
        self.fail = False

    def counter_get(self, name: str) -> int | None:
        return self.counters.get(name)

    def counters_set_max(self, values: Mapping[str, int]) -> dict[str, int]:
        if self.fail:
            raise StorageError("state database write failed")
        self.writes += 1
        for name, value in values.items():
            self.counters[name] = max(self.counters.get(name, value), value)
        return {name: self.counters[name] for name in values}


def take(
    limiter: RateLimiter, scope: RateScope, now: int, n: int = 1, limit: RateLimit = LIMIT
) -> list[bool]:
    """``n`` requests in a row at ``now``: which were granted."""

    async def go() -> list[bool]:
        out = []
        for _ in range(n):
            try:
                await limiter.consume(scope, limit, now)
                out.append(True)
            except RateLimitedError:
                out.append(False)
        return out

    return asyncio.run(go())


def test_burst_then_rate_limited_with_rule_and_retry_hint() -> None:
    limiter = RateLimiter(MemoryMarks())
    assert take(limiter, A_LIVE, T0, 3) == [True] * 3
    with pytest.raises(RateLimitedError) as err:
        asyncio.run(limiter.consume(A_LIVE, LIMIT, T0))
    assert (err.value.code, err.value.reason) == ("RESOURCE_EXHAUSTED", "RATE_LIMITED")
    assert dict(err.value.metadata) == {"rule_id": "limit.rate", "retry_after_ms": "500"}
    assert "binance" in err.value.public_message and "alice" not in err.value.public_message
    assert take(limiter, A_LIVE, T0 + S // 2, 2) == [True, False]


def test_the_clock_is_injected() -> None:
    now = [T0]
    limiter = RateLimiter(MemoryMarks(), lambda: now[0])

    async def go() -> None:
        for _ in range(3):
            await limiter.consume(A_LIVE, LIMIT)
        with pytest.raises(RateLimitedError):
            await limiter.consume(A_LIVE, LIMIT)
        now[0] += S // 2
        await limiter.consume(A_LIVE, LIMIT)

    asyncio.run(go())


@pytest.mark.parametrize(
    "other",
    [
        RateScope("bob", "live", "binance"),  # another client
        RateScope("alice", "sandbox", "binance"),  # the same client's other mode
        RateScope("alice", "live", "kraken"),  # another venue
    ],
)
def test_invariant_1_scopes_are_independent(other: RateScope) -> None:
    limiter = RateLimiter(MemoryMarks())
    assert take(limiter, A_LIVE, T0, 4) == [True] * 3 + [False]
    assert take(limiter, other, T0, 4) == [True] * 3 + [False]
    assert take(limiter, A_LIVE, T0, 1) == [False]


def test_invariant_2_no_grant_returns_before_its_mark_is_durable() -> None:
    marks = MemoryMarks()
    limiter = RateLimiter(marks)
    fast = RateLimit(rate_per_second=1000, burst=1000)

    async def go() -> None:
        for i in range(5000):  # 5 s of traffic at the full rate
            await limiter.consume(A_LIVE, fast, T0 + i * (S // 1000))
            assert limiter._buckets[A_LIVE].tat <= marks.counters[A_LIVE.counter]

    asyncio.run(go())
    assert marks.writes <= 6  # about one per lease (1 s), not one per signature


def test_invariant_2_concurrent_grants_share_one_write() -> None:
    marks = MemoryMarks()
    limiter = RateLimiter(marks)
    scopes = [RateScope(f"c{i}", "live", "binance") for i in range(200)]

    async def go() -> None:
        await asyncio.gather(*(limiter.consume(x, LIMIT, T0) for x in scopes for _ in range(2)))

    asyncio.run(go())
    assert marks.writes <= 2  # 400 grants on 200 quiet buckets: one batched transaction
    assert all(marks.counters[x.counter] >= limiter._buckets[x].tat for x in scopes)


def test_invariant_3_restart_keeps_the_bucket_empty(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    first = RateLimiter(store)
    assert take(first, A_LIVE, T0, 4) == [True] * 3 + [False]
    # A second process on the same file, the first never shut down: a crash.
    restarted = RateLimiter(Store(tmp_path / "state.db"))
    assert take(restarted, A_LIVE, T0, 1) == [False]
    # At most the lease is lost: a lease plus a full refill later the bucket is full.
    full = T0 + LEASE_NS + LIMIT.burst * LIMIT.interval_ns
    assert take(restarted, A_LIVE, full, 4) == [True] * 3 + [False]
    assert take(restarted, RateScope("bob", "live", "binance"), T0, 3) == [True] * 3


@given(
    rate=st.integers(1, 20),
    burst=st.integers(1, 10),
    events=st.lists(st.tuples(st.integers(0, 3 * S), st.booleans()), min_size=1, max_size=60),
)
def test_invariant_3_no_restart_ever_grants_beyond_burst_plus_refill(
    rate: int, burst: int, events: list[tuple[int, bool]]
) -> None:
    limit = RateLimit(rate, burst)
    marks = MemoryMarks()
    limiter = RateLimiter(marks)
    granted, now = [], T0
    for gap, restart in events:
        now += gap
        if restart:
            limiter = RateLimiter(marks)
        if take(limiter, A_LIVE, now, limit=limit) == [True]:
            granted.append(now)
    for i, start in enumerate(granted):
        for j in range(i, len(granted)):
            assert j - i + 1 <= burst + (granted[j] - start) // limit.interval_ns


def test_invariant_4_eviction_never_frees_tokens() -> None:
    limiter = RateLimiter(MemoryMarks(), max_buckets=1)
    bob = RateScope("bob", "live", "binance")
    assert take(limiter, A_LIVE, T0, 3) == [True] * 3
    assert take(limiter, bob, T0, 1) == [True]  # evicts alice's bucket
    assert len(limiter._buckets) == 1
    assert take(limiter, A_LIVE, T0, 1) == [False]


def test_invariant_4_a_bucket_whose_mark_is_in_flight_is_not_evicted() -> None:
    gate = threading.Event()

    class SlowMarks(MemoryMarks):
        def counters_set_max(self, values: Mapping[str, int]) -> dict[str, int]:
            gate.wait(10)
            return super().counters_set_max(values)

    marks = SlowMarks()
    limiter = RateLimiter(marks, max_buckets=1)
    bob = RateScope("bob", "live", "binance")

    async def go() -> None:
        first = asyncio.ensure_future(limiter.consume(A_LIVE, LIMIT, T0))
        await asyncio.sleep(0)  # alice's grant now waits on its mark
        second = asyncio.ensure_future(limiter.consume(bob, LIMIT, T0))
        await asyncio.sleep(0)
        assert set(limiter._buckets) == {A_LIVE, bob}  # over the bound, alice kept
        gate.set()
        await asyncio.gather(first, second)

    asyncio.run(go())
    assert take(limiter, A_LIVE, T0, 3) == [True, True, False]


def test_invariant_5_a_failed_mark_write_grants_nothing() -> None:
    marks = MemoryMarks()
    limiter = RateLimiter(marks)
    marks.fail = True

    async def go() -> list[object]:
        return await asyncio.gather(
            *(limiter.consume(A_LIVE, LIMIT, T0) for _ in range(2)), return_exceptions=True
        )

    assert [type(r) for r in asyncio.run(go())] == [StorageError, StorageError]
    marks.fail = False
    # The two reserved tokens stay spent (fail closed); the third is granted once written.
    assert take(limiter, A_LIVE, T0, 2) == [True, False]
    assert marks.counters[A_LIVE.counter] >= limiter._buckets[A_LIVE].tat


def test_counter_names_cannot_collide() -> None:
    assert RateScope("a", "live", "binance").counter == "rate/live/binance/a"
    # "/" is not a client id character (signer.domain), so no id forges another scope.
    from signer.domain import Mode, Principal

    with pytest.raises(Exception, match="client_id"):
        Principal("binance/a", Mode.LIVE)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        RateLimiter(MemoryMarks(), lease_ns=0)
