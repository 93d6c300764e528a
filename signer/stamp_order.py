"""Items of one stream are stamped (nonce, timestamp, signature) in stream order.

``SignVenueRequestStream`` processes up to a window of items concurrently so
that their audit appends share fsyncs (``signer.server.stream``). Venues that
stamp a daemon nonce (Kraken, Hyperliquid, Crypto.com ``id``) need it to grow
in the order the caller sends the requests on: a venue refuses a nonce lower
than one it has already seen for the key. The caller forwards the responses
in stream order, so the nonces must increase in stream order too.

Invariants (tests in tests/unit/test_stamp_order.py and tests/unit/test_stream.py):

1. ``await turn.wait()`` returns only once every earlier item's turn is
   done; the pipeline calls it just before ``venue.sign`` and ``done()`` just
   after, so the stamping steps of one stream run one at a time, in stream
   order, and ``DaemonClock.next_nonce`` hands out values in stream order per scope.
2. A turn is done when its item stamped or ended, whatever the outcome
   (refused, denied, no credentials, signed, an unexpected error, cancelled),
   but never before the turn of the item before it: an item refused early
   does not let a later item overtake an earlier one still on its way.
3. A turn holds the previous item's future only, never the previous turn,
   and drops it once passed: a long stream keeps no chain of finished items.

Parsing, deciding, rate tokens and audit appends stay concurrent; on one event
loop the only time that overlaps is waiting (fsync, rate marks), which is the
point of the window.
"""

from __future__ import annotations

import asyncio


class StampTurn:
    """The turn of one stream item to stamp and sign (use on the event loop)."""

    __slots__ = ("_done", "_previous")

    def __init__(self, previous: StampTurn | None = None) -> None:
        self._previous = previous._done if previous is not None else None
        self._done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def wait(self) -> None:
        """Wait until every earlier item of the stream has stamped or ended."""
        previous = self._previous
        if previous is not None and not previous.done():
            # shield: cancelling this item must not cancel the previous item's turn.
            await asyncio.shield(previous)
        self._previous = None

    def done(self) -> None:
        """This item has stamped or ended (idempotent). The next item may stamp
        once every earlier one has too: an item that ends without waiting
        (refused early) passes its turn on only when its predecessor's is done."""
        previous, self._previous = self._previous, None
        if previous is None or previous.done():
            self._finish()
        else:
            previous.add_done_callback(self._finish)

    def _finish(self, _: object = None) -> None:
        if not self._done.done():
            self._done.set_result(None)
