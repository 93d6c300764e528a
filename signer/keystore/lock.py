"""One process at a time on a state directory: ``flock`` on ``<state_dir>/signer.lock``.

Invariants (tests: tests/unit/keystore/test_lock.py):

1. The daemon holds the lock from start to stop; the offline tools that
   rewrite the store (``keys rotate``, ``restore``) take the same lock, so they
   never run beside a daemon on the same store, and two daemons never share one.
2. The lock belongs to an open file description: the kernel drops it when the
   process dies (SIGKILL included), so no stale pid file ever blocks a restart.
3. Taking it never waits: a held lock is a ``StateError`` at once, naming the
   holder's pid as it wrote it (diagnostic only, never trusted).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from signer.errors import StateError

LOCK_NAME = "signer.lock"
_MAX_PID_TEXT = 32


class StateLock:
    """An exclusive, non-blocking ``flock`` on a state directory's lock file."""

    __slots__ = ("_fd", "path")

    def __init__(self, fd: int, path: Path) -> None:
        self._fd: int | None = fd
        self.path = path

    @classmethod
    def acquire(cls, state_dir: Path) -> StateLock:
        """Take the lock of ``state_dir`` (created 0700 if missing).

        Raises:
            StateError: another process holds it.
            OSError: the lock file cannot be created.
        """
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = state_dir / LOCK_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            # SECURITY: flock (not fcntl/POSIX locks) conflicts between two
            # opens in the same process too, and is never inherited over exec.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise StateError(
                f"{state_dir} is in use by another sequence-signer process{holder}"
                " (a running daemon?); stop it first"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(fd, path)

    def release(self) -> None:
        """Drop the lock (idempotent). The file stays: removing it would race a new holder."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> StateLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _read_pid(fd: int) -> str:
    try:
        text = os.pread(fd, _MAX_PID_TEXT, 0).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (pid {text})" if text.isdigit() else ""
