"""One test per invariant of signer/stamp_order.py."""

from __future__ import annotations

import asyncio

from signer.stamp_order import StampTurn


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_a_turn_waits_for_the_previous_item() -> None:
    async def go() -> None:
        first = StampTurn()
        second = StampTurn(first)
        waiting = asyncio.create_task(second.wait())
        await _settle()
        assert not waiting.done()
        first.done()
        await asyncio.wait_for(waiting, 5)

    asyncio.run(go())


def test_an_item_ending_early_does_not_let_a_later_one_overtake() -> None:
    async def go() -> None:
        first = StampTurn()
        second = StampTurn(first)
        third = StampTurn(second)
        second.done()  # refused before it ever waited
        waiting = asyncio.create_task(third.wait())
        await _settle()
        assert not waiting.done()  # the first item has not stamped yet
        first.done()
        await asyncio.wait_for(waiting, 5)

    asyncio.run(go())


def test_a_cancelled_waiter_does_not_cancel_its_predecessor() -> None:
    async def go() -> None:
        first = StampTurn()
        second = StampTurn(first)
        third = StampTurn(second)
        waiting = asyncio.create_task(second.wait())
        await _settle()
        waiting.cancel()
        second.done()  # the cancelled item ends (pipeline/stream finally)
        later = asyncio.create_task(third.wait())
        await _settle()
        assert not later.done()
        first.done()  # still possible: the first turn was not cancelled with the waiter
        await asyncio.wait_for(later, 5)

    asyncio.run(go())


def test_done_is_idempotent_and_the_first_turn_needs_no_wait() -> None:
    async def go() -> None:
        first = StampTurn()
        await asyncio.wait_for(first.wait(), 5)
        first.done()
        first.done()
        await asyncio.wait_for(StampTurn(first).wait(), 5)

    asyncio.run(go())


def test_a_passed_turn_drops_its_predecessor() -> None:
    async def go() -> None:
        first = StampTurn()
        second = StampTurn(first)
        first.done()
        await second.wait()
        assert second._previous is None
        third = StampTurn(second)
        third.done()  # ends early, predecessor pending: kept only until it finishes
        assert third._previous is None

    asyncio.run(go())
