"""``SignVenueRequestStream``: a window of items in flight, answers in request order.

One item at a time, a stream waited for every item's own audit fsync and got
no group commit. Items are now processed concurrently, so the appends of a
window's items share fsyncs, while everything the caller sees stays in order.

Invariants (tests in tests/unit/server/test_stream.py):

1. Answers are sent in the order their requests arrived, whatever order the
   items finish in (each answer also carries its request's ``id``).
2. At most ``WINDOW`` items of one stream are in flight: the stream reads no
   further request until the oldest answer is handed to gRPC, whose flow
   control then pushes back on the caller.
3. Items are stamped and signed in stream order: each gets a ``StampTurn``
   chained to the item before it (``signer.stamp_order``), so the daemon
   nonces of one key (Kraken, Hyperliquid, Crypto.com ``id``) and the
   timestamps grow in stream order, as a venue that sees the requests in that
   order requires. Stamping is on the event loop and cheap; what overlaps is
   waiting (audit fsyncs, rate marks), so ordering it costs no throughput.
   Every item's turn is passed on when it ends, however it ends.
4. When the stream ends early (the caller cancels, the connection drops, the
   request stream fails), every item still in flight is cancelled; a failure
   of the request stream is raised after the answers already computed are sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import TypeVar

from signer.stamp_order import StampTurn

WINDOW = 64
"""Items of one stream in flight at once."""

T = TypeVar("T")
R = TypeVar("R")


async def ordered(
    items: AsyncIterator[T],
    handle: Callable[[T, StampTurn], Awaitable[R]],
    window: int = WINDOW,
) -> AsyncGenerator[R, None]:
    """``handle`` each item concurrently (at most ``window`` at once); yield in order."""
    if window < 1:
        raise ValueError("window must be positive")
    slots = asyncio.Semaphore(window)
    started: asyncio.Queue[asyncio.Task[R] | None] = asyncio.Queue()

    async def one(item: T, turn: StampTurn) -> R:
        try:
            return await handle(item, turn)
        finally:
            turn.done()  # invariant 3: an item that never reached signing passes its turn on

    async def read() -> None:
        turn: StampTurn | None = None
        try:
            async for item in items:
                await slots.acquire()
                turn = StampTurn(turn)
                started.put_nowait(asyncio.create_task(one(item, turn)))
        finally:
            started.put_nowait(None)

    reader = asyncio.create_task(read())
    try:
        while (task := await started.get()) is not None:
            result = await task
            slots.release()
            yield result
        await reader  # a failure of the request stream ends this one with it
    finally:
        reader.cancel()
        while not started.empty():
            pending = started.get_nowait()
            if pending is not None:
                pending.cancel()
