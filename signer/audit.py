"""Hash-chained, append-only audit log (JSON lines) with signed checkpoints.

The format is in ``signer.audit_format``; verification in ``signer.audit_verify``
(``sequence-signer audit verify``); reopening in ``signer.audit_recover``.

Invariants (one test each in tests/unit/test_audit.py):

1. Every record carries ``seq``, ``prev`` and ``hash`` (the chain); editing,
   dropping or reordering a record breaks it.
2. ``append`` returns only after the record's line is fully written and
   fsync'd. Concurrent appends share one fsync (group commit); none returns early.
   One long-lived writer thread per log takes everything queued, writes it
   with one ``write`` loop and one fsync, and only then completes the batch's
   futures (one ``call_soon_threadsafe`` per batch). Records reach the file in
   ``seq`` order (one FIFO queue, filled from the event loop). The thread
   exits after ``IDLE_S`` without work and is restarted by the next append.
3. A checkpoint record signed by the audit key follows at most every
   ``checkpoint_every`` records, at most ``checkpoint_interval_s`` after the
   first record it covers, and at a clean shutdown (``aclose``).
4. Fail closed: if a write or fsync fails, or the file at ``path`` is no
   longer the file the log opened (removed, replaced), every waiting append
   and every later one raises ``AuditUnavailableError`` and no checkpoint is
   written. Appends already queued behind the failed batch, and appends
   racing with the failure, are refused too (the writer fails everything it
   takes once broken). The log stays broken until the daemon restarts, which reopens it
   (``audit_recover``). Records of a failed batch may be on disk although
   their callers got an error: the log may over-report, never under-report.
5. No secrets: events carry ids, digests, rule ids and reasons only; they
   may not set the log's own fields (``RESERVED``).
   SECURITY: callers must never put key material or request bodies in events.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from signer.audit_format import (
    GENESIS,
    RESERVED,
    AuditHead,
    canonical,
    checkpoint_fields,
    checkpoint_message,
    head_message,
    sealed_line,
)
from signer.audit_recover import offset_after, recover
from signer.audit_verify import verify
from signer.errors import AuditLogError, AuditUnavailableError
from signer.observability.hooks import AuditObserver
from signer.schemes.daemon_keys import AuditSigner

__all__ = [
    "GENESIS", "AuditEntry", "AuditHead", "AuditLog", "canonical", "head_message", "verify_lines",
]  # fmt: skip

log = logging.getLogger(__name__)

_UNAVAILABLE = "audit log unavailable; refusing to sign"
IDLE_S = 5.0
"""The writer thread exits after this long without a record (the next append restarts it)."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One stored record as read back: its chain fields and the exact line."""

    seq: int
    ts_ms: int
    prev: str
    hash: str
    line: str


class _Pending(NamedTuple):
    line: bytes
    head: AuditHead
    fut: asyncio.Future[None]


class AuditLog:
    """The audit log of one daemon. Use ``await append(event)`` from the event loop."""

    def __init__(
        self,
        path: Path,
        signer: AuditSigner,
        *,
        checkpoint_every: int = 1000,
        checkpoint_interval_s: float = 60.0,
        observer: AuditObserver | None = None,  # told of each append once durable or failed
    ) -> None:
        if checkpoint_every < 1 or checkpoint_interval_s <= 0:
            raise ValueError("checkpoint_every and checkpoint_interval_s must be positive")
        self._path = path
        self._signer = signer
        self._observer = observer
        self._every = checkpoint_every
        self._interval = checkpoint_interval_s
        state = recover(path, signer.public_key)
        self._head = self._durable = state.head
        self._uncovered, self._end = state.uncovered, state.end
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise AuditLogError(f"cannot open the audit log: {type(exc).__name__}") from None
        self._file = os.fdopen(fd, "ab", buffering=0)
        st = os.fstat(fd)
        self._identity = (st.st_dev, st.st_ino)
        # Filled on the event loop, drained by the writer thread (FIFO: seq order).
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._lock = threading.Lock()  # guards _writing (thread start / idle exit)
        self._writing = False
        self._last: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        # _broken is set by the writer thread only, read anywhere; it never goes back.
        self._broken = self._closed = False

    @property
    def head(self) -> AuditHead:
        return self._head

    def signed_head(self) -> tuple[AuditHead, bytes]:
        """The last durable record's (seq, hash) and the audit key's signature over it."""
        head = self._durable
        return head, self._signer.sign(head_message(head))

    def check_available(self) -> None:
        """Raise ``AuditUnavailableError`` if an append would be refused."""
        if self._broken or self._closed:
            raise AuditUnavailableError(_UNAVAILABLE)

    async def append(self, event: Mapping[str, Any]) -> AuditHead:
        """Append one record; returns its (seq, hash) once it is durable."""
        if RESERVED.intersection(event):
            raise ValueError("audit events may not set the log's own fields")
        if self._observer is None:
            return await self._append(event)
        start = time.perf_counter()
        try:
            head = await self._append(event)
        except AuditUnavailableError:
            self._observer.append_failed(event)
            raise
        self._observer.appended(event, head.seq, time.perf_counter() - start)
        return head

    async def _append(self, event: Mapping[str, Any]) -> AuditHead:
        self.check_available()
        head, fut = self._enqueue(event, time.time_ns() // 1_000_000)
        self._uncovered += 1
        if self._uncovered >= self._every:
            self._checkpoint()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._interval, self._on_timer)
        await fut
        return head

    async def aclose(self) -> None:
        """Clean shutdown: checkpoint what is not yet covered, wait for it, close."""
        if not (self._broken or self._closed) and self._uncovered:
            self._checkpoint()
        self._closed = True
        if self._last is not None:
            with contextlib.suppress(AuditUnavailableError):
                await asyncio.shield(self._last)
        self.close()

    def close(self) -> None:
        self._closed = True
        self._cancel_timer()
        self._queue.put(None)  # wakes an idle writer so it exits now
        with contextlib.suppress(OSError):
            self._file.close()

    def _enqueue(
        self, fields: Mapping[str, Any], ts_ms: int
    ) -> tuple[AuditHead, asyncio.Future[None]]:
        seq = self._head.seq + 1
        digest, line = sealed_line({"seq": seq, "ts": ts_ms, "prev": self._head.hash, **fields})
        self._head = AuditHead(seq, digest)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put(_Pending(line, self._head, fut))
        self._last = fut
        with self._lock:
            if not self._writing:
                self._writing = True
                try:
                    threading.Thread(target=self._run, name="audit-writer", daemon=True).start()
                except RuntimeError:  # no thread can be started: nothing will be written
                    self._writing = False
                    self._broken = True
                    log.error("audit writer thread cannot start; refusing to sign until restart")
                    fut.set_exception(AuditUnavailableError(_UNAVAILABLE))
        return self._head, fut

    def _checkpoint(self) -> None:
        """Queue a checkpoint signing the current head (durable with the batch it joins)."""
        self._cancel_timer()
        self._uncovered = 0
        covers, ts_ms = self._head, time.time_ns() // 1_000_000
        sig = self._signer.sign(checkpoint_message(covers, ts_ms))
        _, fut = self._enqueue(checkpoint_fields(covers, self._signer.public_key, sig), ts_ms)
        # Nobody awaits a checkpoint; a failure is already logged by the writer.
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())

    def _on_timer(self) -> None:
        self._timer = None
        if not (self._broken or self._closed) and self._uncovered:
            self._checkpoint()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _run(self) -> None:
        """The writer thread: take every queued record, write, fsync, complete."""
        q = self._queue
        while True:
            try:
                first = q.get(timeout=IDLE_S)
            except queue.Empty:
                first = None
            batch = [] if first is None else [first]
            for _ in range(q.qsize()):
                item = q.get_nowait()
                if item is not None:
                    batch.append(item)
            if batch:
                self._write_batch(batch)
                continue
            with self._lock:  # an append that queued after this check starts a new thread
                if q.empty():
                    self._writing = False
                    return

    def _write_batch(self, batch: list[_Pending]) -> None:
        """Write thread: one write and fsync for ``batch``, then hand it to the loop(s)."""
        ok = False
        if not self._broken:
            try:
                self._write(b"".join(p.line for p in batch))
                ok = True
            except Exception as exc:  # noqa: BLE001 - any failure (OSError, closed file) fails closed
                # SECURITY: fail closed. Nothing in this batch (or later) is acknowledged.
                self._broken = True
                log.error(
                    "audit append failed (%s, errno %s); refusing to sign until restart",
                    type(exc).__name__,
                    getattr(exc, "errno", None),
                )
        if ok:
            self._end += sum(len(item.line) for item in batch)
            self._durable = batch[-1].head
        futures: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for item in batch:
            futures.setdefault(item.fut.get_loop(), []).append(item.fut)
        for loop, futs in futures.items():
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
                loop.call_soon_threadsafe(self._settle, futs, ok)

    def _write(self, data: bytes) -> None:
        """Write all of ``data`` and fsync (writer thread)."""
        # SECURITY: a removed or replaced file would swallow records unseen; refuse.
        st = os.stat(self._path)
        if (st.st_dev, st.st_ino) != self._identity:
            raise OSError(errno.ESTALE, "the audit file was replaced")
        view = memoryview(data)
        while view:
            written = self._file.write(view)
            if not written:  # a regular file never returns 0 or None for a non-empty write
                raise OSError(errno.EIO, "audit write made no progress")
            view = view[written:]  # a short write (disk full, file size limit): go on
        os.fsync(self._file.fileno())

    def _settle(self, futs: list[asyncio.Future[None]], ok: bool) -> None:
        """Event loop: complete a written batch, or refuse it (the log is broken)."""
        if not ok:
            self._cancel_timer()
        for fut in futs:
            if fut.done():
                continue
            if ok:
                fut.set_result(None)
            else:
                fut.set_exception(AuditUnavailableError(_UNAVAILABLE))

    def read(self, after_seq: int, limit: int) -> list[AuditEntry]:
        """Up to ``limit`` durable records with seq > after_seq (found by bisection)."""
        # The writer sets _end before _durable: an end read after a durable head covers it.
        durable, end = self._durable.seq, self._end
        if after_seq >= durable or limit <= 0:
            return []
        out: list[AuditEntry] = []
        with self._path.open("rb") as f:
            f.seek(offset_after(f, after_seq, end))
            for raw in f:
                entry = _entry(raw)
                if entry is None or entry.seq > durable:
                    break
                if entry.seq > after_seq:
                    out.append(entry)
                    if len(out) >= limit:
                        break
        return out


def _entry(raw: bytes) -> AuditEntry | None:
    if not raw.endswith(b"\n"):
        return None
    try:
        record = json.loads(raw)
        return AuditEntry(
            int(record["seq"]), int(record["ts"]), str(record["prev"]), str(record["hash"]),
            raw[:-1].decode("ascii"),
        )  # fmt: skip
    except (ValueError, KeyError, TypeError):
        raise AuditUnavailableError("the audit log is unreadable; run audit verify") from None


def verify_lines(lines: Iterable[bytes]) -> list[str]:
    """Chain-only check of lines without their newlines (no key): the problem, if any."""
    report = verify((line + b"\n" for line in lines), None)
    return [] if report.problem is None else [str(report.problem)]
