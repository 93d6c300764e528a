"""signer.durable: new files are written whole, 0600, and never replace a file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from signer.durable import fsync_dir, write_new


def test_write_new_writes_0600_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "out"
    write_new(target, bytearray(b"data"), prefix=".t-")
    assert target.read_bytes() == b"data"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_write_new_never_replaces_a_file(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.write_bytes(b"first")
    with pytest.raises(FileExistsError):
        write_new(target, b"second", prefix=".t-")
    assert target.read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # the temp file is gone too


def test_fsync_dir_refuses_a_file(tmp_path: Path) -> None:
    fsync_dir(tmp_path)
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        fsync_dir(tmp_path / "f")
