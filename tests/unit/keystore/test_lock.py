"""The state-directory lock (signer/keystore/lock.py invariants)."""

from __future__ import annotations

import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from signer.errors import StateError
from signer.keystore.lock import LOCK_NAME, StateLock


def test_second_holder_is_refused_at_once_even_in_the_same_process(tmp_path: Path) -> None:
    first = StateLock.acquire(tmp_path / "st")
    try:
        with pytest.raises(StateError, match=r"in use by another .*\(pid \d+\).*stop it first"):
            StateLock.acquire(tmp_path / "st")
    finally:
        first.release()
    with StateLock.acquire(tmp_path / "st") as again:  # released: free again
        assert again.held
    again.release()  # idempotent
    StateLock.acquire(tmp_path / "st").release()  # the with block released it
    assert stat.S_IMODE((tmp_path / "st").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "st" / LOCK_NAME).stat().st_mode) == 0o600


def test_lock_dies_with_its_process(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, pathlib; from signer.keystore.lock import StateLock;"
         f" lock = StateLock.acquire(pathlib.Path({str(tmp_path)!r}));"
         " print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        with pytest.raises(StateError, match=f"pid {holder.pid}"):
            StateLock.acquire(tmp_path)
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    finally:
        holder.kill()
        holder.wait(10)
        for pipe in (holder.stdin, holder.stdout):
            if pipe is not None:
                pipe.close()
    StateLock.acquire(tmp_path).release()  # no stale lock after SIGKILL
