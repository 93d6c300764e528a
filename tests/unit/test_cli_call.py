"""``sequence-signer call set-credentials`` reads secrets from files exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from signer.cli_call import read_secret


@pytest.mark.parametrize(
    ("content", "stored"),
    [
        ("s3cret\n", "s3cret"),  # echo's newline is not part of the secret
        ("s3cret\r\n", "s3cret"),
        ("s3cret", "s3cret"),
        ("  pass phrase  \n", "  pass phrase  "),  # spaces are part of a passphrase
        ("\tpass\n\n", "\tpass\n"),  # only ONE final line ending is dropped
        ("", ""),
    ],
)
def test_only_one_final_line_ending_is_dropped(tmp_path: Path, content: str, stored: str) -> None:
    path = tmp_path / "secret"
    path.write_bytes(content.encode())
    assert read_secret(path) == stored


def test_no_file_is_an_empty_secret() -> None:
    assert read_secret(None) == ""
