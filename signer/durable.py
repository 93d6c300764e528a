"""Durable file writes shared by the store, the master key file, backups and restore.

Invariants (tests: tests/unit/test_durable.py):

1. ``fsync_dir`` makes a directory's entries (a new or renamed file) durable.
2. ``write_new`` never replaces a file: the bytes go to a 0600 temp file in
   the same directory, are fsync'd, then hard-linked into place (``link``
   fails on an existing name, even one created concurrently) and the
   directory is fsync'd. A crash leaves no file or a complete one; the temp
   file is always removed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def fsync_dir(directory: Path) -> None:
    """fsync a directory so the entries created or renamed in it survive a crash."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_new(path: Path, data: bytes | bytearray, prefix: str) -> None:
    """Write ``data`` to ``path`` (mode 0600) durably; never replaces a file.

    Raises:
        FileExistsError: ``path`` exists (nothing was written there).
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix)  # mode 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.link(tmp, path)
        fsync_dir(path.parent)
    finally:
        os.unlink(tmp)
