"""The non-blocking log handler: one test per invariant of signer/observability/writer.py."""

from __future__ import annotations

import io
import logging
import threading

from signer.observability.logs import JsonFormatter
from signer.observability.writer import QueuedStreamHandler, dropped_total


class StuckStream(io.StringIO):
    """A stream whose writes wait until ``release`` (a pipe nobody reads)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def write(self, text: str) -> int:
        self.release.wait()
        return super().write(text)


def _logger(handler: logging.Handler) -> logging.Logger:
    logger = logging.Logger("writer-test", logging.INFO)
    logger.addHandler(handler)
    return logger


def test_a_stuck_stream_never_blocks_the_caller_and_drops_are_counted() -> None:
    """Invariants 1 and 2: with the stream stuck, 20 records into a queue of 3 return
    at once (were emit to wait, this test would hang until pytest-timeout)."""
    stream = StuckStream()
    handler = QueuedStreamHandler(stream, capacity=3)
    logger = _logger(handler)
    for i in range(20):
        logger.info("line %d", i)
    # The writer thread holds at most one record (stuck in write), the queue 3.
    assert 16 <= handler.dropped <= 17
    assert dropped_total(logger) == handler.dropped
    stream.release.set()
    handler.close()
    written = stream.getvalue().splitlines()
    assert len(written) == 20 - handler.dropped
    assert written == [f"line {i}" for i in range(len(written))]  # the first ones, in order


def test_lines_are_formatted_when_logged_not_when_written() -> None:
    """Invariant 1: the formatter runs in the caller's thread, on the values of then."""
    stream = StuckStream()
    handler = QueuedStreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = _logger(handler)
    state = ["before"]
    logger.info("state %s", state)
    state[0] = "after"
    stream.release.set()
    handler.close()
    (line,) = stream.getvalue().splitlines()
    assert '"msg":"state [\'before\']"' in line and line.startswith("{")


def test_close_writes_what_is_queued_and_gives_up_on_a_stuck_stream() -> None:
    """Invariant 3."""
    stream = io.StringIO()
    handler = QueuedStreamHandler(stream)
    logger = _logger(handler)
    for i in range(50):
        logger.info("n%d", i)
    handler.close()
    assert stream.getvalue().splitlines() == [f"n{i}" for i in range(50)]
    stuck = StuckStream()
    blocked = QueuedStreamHandler(stuck, capacity=1, close_timeout_s=0.05)
    logger = _logger(blocked)
    logger.info("a")
    logger.info("b")
    blocked.close()  # returns although the stream never accepts a byte
    stuck.release.set()
