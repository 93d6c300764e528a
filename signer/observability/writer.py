"""The daemon's log handler: formats in the caller, writes on its own thread, never blocks.

With a decision line per request, a log stream nobody reads (a full pipe, a
paused collector) would otherwise stall the event loop in ``write`` and with it
every signature. Invariants (tests: tests/unit/observability/test_writer.py):

1. ``emit`` never waits for the stream: the record is formatted in the
   caller's thread (so the formatter's guarantees hold and the line shows the
   values at the time of the call), put in a bounded queue, and written by one
   writer thread.
2. A full queue drops the line and counts it (``dropped``; the metric
   ``signer_log_lines_dropped_total``). SECURITY/availability: a signer that
   cannot log keeps signing; the audit log, not the process log, is the durable
   record of every decision.
3. ``close`` (``logging.shutdown`` at exit) writes what is queued, waiting at
   most ``close_timeout_s`` for a stuck stream.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import queue
import threading
from typing import TextIO


class QueuedStreamHandler(logging.handlers.QueueHandler):
    """Root handler installed by ``configure_logging`` (stderr by default)."""

    def __init__(
        self, stream: TextIO | None = None, capacity: int = 10_000, close_timeout_s: float = 2.0
    ) -> None:
        self._queue: queue.Queue[logging.LogRecord | None] = queue.Queue(capacity)
        super().__init__(self._queue)
        # The writer only copies the prepared line (``%(message)s``, the default format).
        self._out = logging.StreamHandler(stream)
        self._close_timeout_s = close_timeout_s
        self.dropped = 0  # updated under the handler lock (``Handler.handle`` holds it)
        self._thread = threading.Thread(target=self._write, name="signer-log-writer", daemon=True)
        self._thread.start()

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1  # invariant 2: never wait

    def _write(self) -> None:
        while True:
            record = self._queue.get()
            if record is None:
                return
            self._out.handle(record)

    def close(self) -> None:
        """Write what is queued (invariant 3), then stop the writer thread."""
        # A full queue means a stuck stream: the daemon thread then ends with the process.
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(self._close_timeout_s)
        super().close()


def dropped_total(root: logging.Logger | None = None) -> int:
    """Lines dropped by the installed handler(s) since start."""
    root = root if root is not None else logging.getLogger()
    return sum(h.dropped for h in root.handlers if isinstance(h, QueuedStreamHandler))
