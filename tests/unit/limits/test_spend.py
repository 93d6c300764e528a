"""signer.limits.spend: one test per invariant of the module docstring."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from policy.limits import AmountCap
from signer.domain import Mode, Principal
from signer.errors import RateLimitedError, StorageError
from signer.keystore.store import Store
from signer.limits.spend import SpendLedger

H = 3600 * 10**9
M = 60 * 10**9
T0 = 1_700_000_000 * 10**9
ALICE = Principal("alice", Mode.LIVE)
USDC = AmountCap("arbitrum", "USDC", 6, 100 * 10**6, 150 * 10**6)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[SpendLedger]:
    store = Store(tmp_path / "state.db")
    yield SpendLedger(store)
    store.close()


def refused(ledger: SpendLedger, amount: int, now: int, who: Principal = ALICE) -> str:
    with pytest.raises(RateLimitedError) as err:
        ledger.consume(who, USDC, amount, now)
    assert (err.value.code, err.value.reason) == ("RESOURCE_EXHAUSTED", "RATE_LIMITED")
    return err.value.metadata["rule_id"]


def test_per_tx_and_per_24h(ledger: SpendLedger) -> None:
    assert refused(ledger, 100 * 10**6 + 1, T0) == "limit.per-tx"
    ledger.consume(ALICE, USDC, 100 * 10**6, T0)
    assert refused(ledger, 50 * 10**6 + 1, T0) == "limit.per-24h"
    ledger.consume(ALICE, USDC, 50 * 10**6, T0)
    assert ledger.spent(ALICE, "arbitrum/USDC", T0) == 150 * 10**6
    assert refused(ledger, 1, T0) == "limit.per-24h"


def test_refusals_say_what_is_left_without_naming_the_client(ledger: SpendLedger) -> None:
    ledger.consume(ALICE, USDC, 100 * 10**6, T0)
    ledger.consume(ALICE, USDC, 49_999_999, T0)
    with pytest.raises(RateLimitedError) as err:
        ledger.consume(ALICE, USDC, 2, T0)
    assert "0.000001 USDC is left" in err.value.public_message
    assert "alice" not in err.value.public_message


def _race(ledgers: list[SpendLedger], now: int) -> list[str]:
    barrier = threading.Barrier(len(ledgers))
    outcomes: list[str] = []

    def one(ledger: SpendLedger) -> None:
        barrier.wait()
        try:
            ledger.consume(ALICE, USDC, 100 * 10**6, now)
            outcomes.append("ok")
        except RateLimitedError:
            outcomes.append("limited")

    threads = [threading.Thread(target=one, args=(x,)) for x in ledgers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


def test_invariant_1_racing_consumers_on_two_connections_cannot_both_pass(
    tmp_path: Path,
) -> None:
    ledgers = [SpendLedger(Store(tmp_path / "state.db")) for _ in range(4)]  # four "processes"
    for round_ in range(10):
        now = T0 + round_ * 25 * H  # a fresh window each round
        assert _race(ledgers, now) == ["limited"] * 3 + ["ok"]
        assert ledgers[0].spent(ALICE, "arbitrum/USDC", now) == 100 * 10**6


def test_invariant_2_the_window_survives_a_crash(tmp_path: Path) -> None:
    first = SpendLedger(Store(tmp_path / "state.db"))
    first.consume(ALICE, USDC, 100 * 10**6, T0)
    first.consume(ALICE, USDC, 20 * 10**6, T0)
    # Never closed: a second process opens the same file, as after a kill -9.
    restarted = SpendLedger(Store(tmp_path / "state.db"))
    assert restarted.spent(ALICE, "arbitrum/USDC", T0 + H) == 120 * 10**6
    with pytest.raises(RateLimitedError):
        restarted.consume(ALICE, USDC, 31 * 10**6, T0 + H)


def test_invariant_3_the_window_rolls_at_exactly_24_hours(ledger: SpendLedger) -> None:
    ledger.consume(ALICE, USDC, 100 * 10**6, T0)
    assert refused(ledger, 51 * 10**6, T0 + 23 * H + 59 * M) == "limit.per-24h"
    assert ledger.spent(ALICE, "arbitrum/USDC", T0 + 24 * H - 1) == 100 * 10**6
    assert ledger.spent(ALICE, "arbitrum/USDC", T0 + 24 * H) == 0
    ledger.consume(ALICE, USDC, 100 * 10**6, T0 + 24 * H + M)


def test_invariant_3_a_clock_set_back_still_counts_and_nothing_is_forgotten(
    ledger: SpendLedger,
) -> None:
    ledger.consume(ALICE, USDC, 100 * 10**6, T0)
    assert refused(ledger, 51 * 10**6, T0 - 5 * H) == "limit.per-24h"  # row "in the future"
    ledger.consume(ALICE, USDC, 100 * 10**6, T0 + 48 * H)  # clock jumps forward
    assert ledger.spent(ALICE, "arbitrum/USDC", T0 + 1) == 200 * 10**6  # and back


def test_invariant_4_amounts_beyond_64_bits_are_exact(ledger: SpendLedger) -> None:
    huge = AmountCap("ethereum", "USDC", 6, 2**255, 2**256 - 1)
    ledger.consume(ALICE, huge, 2**255, T0)
    ledger.consume(ALICE, huge, 2**255 - 1, T0)
    assert ledger.spent(ALICE, "ethereum/USDC", T0) == 2**256 - 1
    with pytest.raises(RateLimitedError):
        ledger.consume(ALICE, huge, 1, T0)


@pytest.mark.parametrize(
    "other",
    [Principal("bob", Mode.LIVE), Principal("alice", Mode.SANDBOX)],
)
def test_invariant_5_principals_are_separate(ledger: SpendLedger, other: Principal) -> None:
    ledger.consume(ALICE, USDC, 150 * 10**6 - 100 * 10**6, T0)
    ledger.consume(ALICE, USDC, 100 * 10**6, T0)
    ledger.consume(other, USDC, 100 * 10**6, T0)
    assert refused(ledger, 1, T0) == "limit.per-24h"


def test_invariant_5_assets_are_separate(ledger: SpendLedger) -> None:
    ledger.consume(ALICE, USDC, 100 * 10**6, T0)
    ledger.consume(ALICE, USDC, 50 * 10**6, T0)
    for cap in (
        AmountCap("ethereum", "USDC", 6, 10**8, 10**8),
        AmountCap("arbitrum", "ETH", 18, 10**18, 10**18),
    ):
        ledger.consume(ALICE, cap, cap.per_tx, T0)


def test_invariant_6_refund_gives_the_reservation_back(ledger: SpendLedger) -> None:
    spend = ledger.consume(ALICE, USDC, 100 * 10**6, T0)
    assert spend.decision.rule_id == "limit.within" and spend.row_id is not None
    ledger.refund(spend)
    ledger.refund(None)
    assert ledger.spent(ALICE, "arbitrum/USDC", T0) == 0
    zero = ledger.consume(ALICE, USDC, 0, T0)  # a zero-value call reserves no row
    assert zero.row_id is None
    ledger.refund(zero)


def test_a_failed_refund_keeps_the_reservation(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    ledger = SpendLedger(store)
    spend = ledger.consume(ALICE, USDC, 100 * 10**6, T0)
    store._conn.execute("PRAGMA query_only = ON")
    ledger.refund(spend)  # logged, not raised
    store._conn.execute("PRAGMA query_only = OFF")
    assert ledger.spent(ALICE, "arbitrum/USDC", T0) == 100 * 10**6


def test_a_corrupt_row_fails_closed(tmp_path: Path) -> None:
    ledger = SpendLedger(Store(tmp_path / "state.db"))
    ledger.consume(ALICE, USDC, 1, T0)
    raw = sqlite3.connect(tmp_path / "state.db")
    raw.execute("UPDATE limit_spend SET amount = '1e3'")
    raw.commit()
    raw.close()
    with pytest.raises(StorageError):
        ledger.consume(ALICE, USDC, 1, T0)


def test_the_clock_is_injected(tmp_path: Path) -> None:
    now = [T0]
    ledger = SpendLedger(Store(tmp_path / "state.db"), lambda: now[0])
    ledger.consume(ALICE, USDC, 100 * 10**6)
    ledger.consume(ALICE, USDC, 50 * 10**6)
    now[0] += 24 * H
    ledger.consume(ALICE, USDC, 100 * 10**6)
    assert ledger.spent(ALICE, "arbitrum/USDC") == 100 * 10**6
