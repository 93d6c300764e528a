"""SIGKILL a real ``sequence-signer keys rotate`` at random points; nothing is ever lost.

Each round runs the command as a child process on one state directory and
kills it with SIGKILL after a random delay: most rounds once it has announced
the rotation (so the kill lands among the re-wrap transactions or the final
one), some at any moment from its start (argument parsing, row checks, the
rotation record). After every kill, offline:

1. every record opens with the key its ``master_key_id`` names, and its
   plaintext, nonce and ciphertext equal the originals;
2. records under two keys exist only while a rotation is recorded, and then
   the daemon's start-up check refuses both keys;

the next round reruns with the recorded pair (resume) or, when the last one
finished, rotates back to the other key. A final uninterrupted run must
finish with every record under one key, which alone opens them.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from signer.errors import StateError
from signer.keystore import MasterKey, Store
from signer.keystore.rotate import check_rows, check_startup, pending_rotation
from tests.unit.keystore.populate import key_ids, open_all, populate

KILLS = 30
BULK = 300
BATCH = 6


def _command(state: Path, old: Path, new: Path) -> list[str]:
    return [
        sys.executable, "-m", "signer", "keys", "rotate", "--state-dir", str(state),
        "--master-key-file", str(old), "--new-key", str(new), "--batch-size", str(BATCH),
    ]  # fmt: skip


class Keys:
    def __init__(self, tmp: Path) -> None:
        self.files = [tmp / "a.key", tmp / "b.key"]
        self.keys = [MasterKey.create(path) for path in self.files]

    def next_run(self, db: Path) -> tuple[Path, Path]:
        """Resume the recorded rotation, or rotate from the current key to the other."""
        store = Store(db)
        try:
            pending = pending_rotation(store)
        finally:
            store.close()
        if pending is not None:
            ids = [key.key_id for key in self.keys]
            return self.files[ids.index(pending[0])], self.files[ids.index(pending[1])]
        (current,) = key_ids(db)
        i = [key.key_id for key in self.keys].index(current)
        return self.files[i], self.files[1 - i]


def _check(db: Path, keys: Keys, originals: object) -> bool:
    """Invariants 1 and 2; return True when records were under two keys."""
    assert open_all(db, keys.keys) == originals
    store = Store(db)
    try:
        pending = pending_rotation(store)
        if len(key_ids(db)) > 1:
            assert pending is not None, "records under two keys without a recorded rotation"
        if pending is not None:
            for key in keys.keys:
                with pytest.raises(StateError, match="rotation in progress"):
                    check_startup(store, key)
    finally:
        store.close()
    return len(key_ids(db)) > 1


def _kill_at_random(proc: subprocess.Popen[bytes], rng: random.Random, window: float) -> None:
    if rng.random() < 0.25:
        time.sleep(rng.uniform(0.0, 0.25 + window))  # anywhere, start-up included
    else:
        assert proc.stdout is not None
        proc.stdout.readline()  # "rotating: ..." (or EOF if it already ended)
        time.sleep(rng.uniform(0.0, window))
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def test_sigkill_mid_rotation_loses_nothing(tmp_path: Path) -> None:
    state = tmp_path / "st"
    db = state / "signer.db"
    keys = Keys(tmp_path)
    populate(db, keys.keys[0], bulk=BULK)
    originals = open_all(db, keys.keys)
    # Calibrate: one uninterrupted rotation, timed from its announcement to its exit.
    proc = subprocess.Popen(_command(state, *keys.next_run(db)), stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().startswith(b"rotating: ")
    started = time.monotonic()
    assert proc.wait(30) == 0
    proc.stdout.close()
    window = (time.monotonic() - started) * 1.2
    rng = random.Random(20261124)
    mixed = 0
    for _ in range(KILLS):
        proc = subprocess.Popen(
            _command(state, *keys.next_run(db)), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            _kill_at_random(proc, rng, window)
        finally:
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
        mixed += _check(db, keys, originals)
    done = subprocess.run(_command(state, *keys.next_run(db)), capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    assert b"done: every record is under key id" in done.stdout
    (final,) = key_ids(db)
    new = next(key for key in keys.keys if key.key_id == final)
    old = next(key for key in keys.keys if key.key_id != final)
    assert open_all(db, [new]) == originals
    store = Store(db)
    try:
        assert pending_rotation(store) is None
        check_startup(store, new)
        with pytest.raises(StateError, match="not a given key"):
            check_rows(store.iter_records(), {old.key_id: old})
    finally:
        store.close()
    assert mixed >= 3, f"only {mixed} kills landed mid-rotation"
