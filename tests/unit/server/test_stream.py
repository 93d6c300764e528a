"""One test per invariant of signer/server/stream.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import ClassVar

import pytest

from policy.document import load_document
from policy.intents import EndpointClass, VenueRequestIntent
from signer.app import default_policy_bytes
from signer.audit import AuditLog
from signer.domain import Caller, HttpRequest, Mode, Principal, Role, SignedRequest, SignRequest
from signer.keystore.handles import Secret
from signer.pipeline import Pipeline, PolicyHolder
from signer.schemes.daemon_keys import AuditSigner
from signer.server.stream import ordered
from signer.stamp_order import StampTurn
from signer.venues.base import ParsedRequest


async def _items(n: int, fail_after: int | None = None) -> AsyncIterator[int]:
    for i in range(n):
        if fail_after is not None and i == fail_after:
            raise ConnectionError("the request stream broke")
        yield i
        await asyncio.sleep(0)


async def _collect(gen: AsyncIterator[int], out: list[int] | None = None) -> list[int]:
    out = [] if out is None else out
    async for r in gen:
        out.append(r)
    return out


def test_answers_leave_in_request_order_whatever_order_items_finish() -> None:
    finished: list[int] = []

    async def handle(i: int, turn: StampTurn) -> int:
        await asyncio.sleep(0.001 * (20 - i))  # later items finish first
        finished.append(i)
        return i

    async def go() -> list[int]:
        return [r async for r in ordered(_items(20), handle)]

    assert asyncio.run(go()) == list(range(20))
    assert finished != sorted(finished)  # they really did finish out of order


def test_at_most_window_items_are_in_flight() -> None:
    in_flight, peak = 0, 0

    async def handle(i: int, turn: StampTurn) -> int:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.001)
        in_flight -= 1
        return i

    async def go() -> list[int]:
        return [r async for r in ordered(_items(50), handle, window=4)]

    assert asyncio.run(go()) == list(range(50))
    assert 1 < peak <= 4


def test_items_stamp_in_stream_order_even_when_they_arrive_at_signing_out_of_order() -> None:
    stamped: list[int] = []

    async def handle(i: int, turn: StampTurn) -> int:
        await asyncio.sleep(0.001 * (10 - i))  # e.g. waiting on a rate mark
        if i % 3 == 1:
            raise ValueError("refused before signing")  # its turn must still pass on
        await turn.wait()
        stamped.append(i)
        turn.done()
        await asyncio.sleep(0.001 * i)  # e.g. the audit fsync
        return i

    async def go() -> None:
        with pytest.raises(ValueError, match="refused before signing"):
            await _collect(ordered(_items(10), handle))

    asyncio.run(go())
    assert stamped == sorted(stamped) and stamped == [0]  # item 1 raised: stream ended

    stamped.clear()

    async def tolerant(i: int, turn: StampTurn) -> int:
        try:
            return await handle(i, turn)
        except ValueError:
            return -1

    async def go2() -> list[int]:
        return [r async for r in ordered(_items(10), tolerant)]

    answers = asyncio.run(go2())
    assert answers == [-1 if i % 3 == 1 else i for i in range(10)]
    assert stamped == [i for i in range(10) if i % 3 != 1]


def test_a_failing_request_stream_ends_after_the_answers_already_computed() -> None:
    async def handle(i: int, turn: StampTurn) -> int:
        return i

    async def go() -> list[int]:
        out: list[int] = []
        with pytest.raises(ConnectionError, match="broke"):
            await _collect(ordered(_items(10, fail_after=5), handle), out)
        return out

    assert asyncio.run(go()) == [0, 1, 2, 3, 4]


def test_closing_the_stream_early_cancels_items_in_flight() -> None:
    cancelled: list[int] = []

    async def handle(i: int, turn: StampTurn) -> int:
        try:
            await asyncio.sleep(0 if i == 0 else 30)
        except asyncio.CancelledError:
            cancelled.append(i)
            raise
        return i

    async def go() -> None:
        before = asyncio.all_tasks()
        gen = ordered(_items(8), handle)
        assert await anext(gen) == 0
        await asyncio.sleep(0.01)  # the reader has started the others
        assert (
            len(asyncio.all_tasks() - before) >= 7
        )  # items 1..7 (and the reader, if still reading)
        await gen.aclose()  # the caller went away
        for _ in range(5):
            await asyncio.sleep(0)
        assert asyncio.all_tasks() == before  # nothing of the stream is left running

    asyncio.run(asyncio.wait_for(go(), 10))
    assert sorted(cancelled) == list(range(1, 8))


def test_window_must_be_positive() -> None:
    async def handle(i: int, turn: StampTurn) -> int:
        return i

    async def go() -> None:
        with pytest.raises(ValueError, match="window"):
            await anext(ordered(_items(1), handle, window=0))

    asyncio.run(go())


def test_nonces_of_one_key_increase_in_stream_order_through_the_pipeline(tmp_path: Path) -> None:
    """A real Pipeline behind ``ordered``; the rate limiter holds earlier items
    longer than later ones, so without turns later items would stamp first."""

    class Counter:
        def __init__(self) -> None:
            self.last = 0

        def now_ms(self) -> int:
            return 0

        def next_nonce(self, scope: str) -> int:
            self.last += 1
            return self.last

    class NonceVenue:
        name = "kraken"
        hosts: ClassVar[dict[Mode, str]] = {Mode.LIVE: "h"}

        def parse(self, principal: Principal, request: HttpRequest) -> ParsedRequest:
            intent = VenueRequestIntent(
                "alice", "live", "kraken", "POST", request.path, "POST /0/private/AddOrder",
                EndpointClass.TRADE, (),
            )  # fmt: skip
            return ParsedRequest(intent, "h", None)

        def sign(self, parsed: ParsedRequest, creds: object, clock: Counter) -> SignedRequest:
            return SignedRequest(
                HttpRequest("POST", parsed.intent.path, body=b"%d" % clock.next_nonce("k")), ()
            )

    class SlowFirst:
        """Rate tokens that take longer for earlier items (e.g. a mark write)."""

        def __init__(self) -> None:
            self.calls = 0

        async def consume(self, scope: object, limit: object) -> None:
            self.calls += 1
            await asyncio.sleep(0.002 * max(0, 12 - self.calls))

    class Keys:
        def credentials(self, principal: Principal, venue: str) -> object:
            return object()

    def pipeline() -> Pipeline:
        return Pipeline(
            {"kraken": NonceVenue()},  # type: ignore[dict-item]
            ("kraken",),
            PolicyHolder(load_document(default_policy_bytes())),
            Keys(),  # type: ignore[arg-type]
            AuditLog(
                tmp_path / f"{len(list(tmp_path.iterdir()))}.log", AuditSigner(Secret(b"\x03" * 32))
            ),
            Counter(),  # type: ignore[arg-type]
            rate=SlowFirst(),  # type: ignore[arg-type]
        )

    req = SignRequest(
        Principal("alice", Mode.LIVE), "kraken", HttpRequest("POST", "/0/private/AddOrder")
    )
    caller = Caller("test", frozenset({Role.API}))

    def nonces(use_turns: bool) -> list[int]:
        p = pipeline()

        async def handle(i: int, turn: StampTurn) -> int:
            signed = await p.sign(caller, req, turn if use_turns else None)
            return int(signed.request.body)

        async def go() -> list[int]:
            return [n async for n in ordered(_items(12), handle)]

        return asyncio.run(go())

    assert nonces(use_turns=True) == list(range(1, 13))
    assert nonces(use_turns=False) != list(range(1, 13))  # the control: the test can fail
