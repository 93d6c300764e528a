"""`sequence-signer keys|backup|restore`: key resolution, exit codes, safe messages."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from signer.cli import main
from signer.keystore import MasterKey
from tests.unit.keystore.populate import key_ids, open_all, populate


@pytest.fixture
def dev_state(tmp_path: Path) -> tuple[Path, MasterKey]:
    """A dev-layout state directory: the key in STATE_DIR/master.key."""
    state = tmp_path / "st"
    master = MasterKey.generate_dev(state / "master.key")
    populate(state / "signer.db", master)
    return state, master


def _config(tmp_path: Path, state: Path, key: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'state_dir = "{state}"\nmaster_key_file = "{key}"\n'
        f'[[listeners]]\nkind = "unix"\naddress = "{state / "api.sock"}"\nrole = "api"\n'
    )
    return path


def test_generate_writes_0600_and_refuses_to_replace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "k"
    assert main(["keys", "generate", "--out", str(out)]) == 0
    key_id = MasterKey.load(out).key_id
    assert key_id in capsys.readouterr().out
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    content = out.read_bytes()
    assert main(["keys", "generate", "--out", str(out)]) == 1
    assert out.read_bytes() == content
    assert content.strip().decode() not in capsys.readouterr().err


def test_rotate_with_the_dev_key_then_with_a_config(
    tmp_path: Path, dev_state: tuple[Path, MasterKey], capsys: pytest.CaptureFixture[str]
) -> None:
    state, master = dev_state
    before = open_all(state / "signer.db", [master])
    new, third = tmp_path / "new.key", tmp_path / "third.key"
    for path in (new, third):
        assert main(["keys", "generate", "--out", str(path)]) == 0
    assert main(["keys", "rotate", "--state-dir", str(state), "--new-key", str(new)]) == 0
    out = capsys.readouterr().out
    assert "rotating: 6 records" in out and f"point master_key_file at {new}" in out
    # The config names the current key (the new one now).
    config = _config(tmp_path, state, new)
    assert main(["keys", "rotate", "--config", str(config), "--new-key", str(third)]) == 0
    (final,) = key_ids(state / "signer.db")
    assert final == MasterKey.load(third).key_id
    assert open_all(state / "signer.db", [MasterKey.load(third)]) == before


def test_refusals_and_bad_arguments(
    tmp_path: Path, dev_state: tuple[Path, MasterKey], capsys: pytest.CaptureFixture[str]
) -> None:
    state, _master = dev_state
    key_text = (state / "master.key").read_text().strip()
    empty = tmp_path / "empty"
    assert main(["keys", "rotate", "--state-dir", str(empty), "--new-key", "x"]) == 2
    assert "no master key file" in capsys.readouterr().err
    assert main(["keys", "rotate", "--state-dir", str(state), "--new-key",
                 str(state / "master.key")]) == 1  # fmt: skip
    assert "is the current key" in capsys.readouterr().err
    out = tmp_path / "b"
    assert main(["backup", "--state-dir", str(state), "--out", str(out)]) == 0
    assert main(["backup", "--state-dir", str(state), "--out", str(out)]) == 1
    assert "never replaces" in capsys.readouterr().err
    other = tmp_path / "other.key"
    MasterKey.create(other)
    assert main(["restore", "--state-dir", str(tmp_path / "r"), "--master-key-file", str(other),
                 "--in", str(out)]) == 1  # fmt: skip
    err = capsys.readouterr().err
    assert "backup was made under master key id" in err
    assert key_text not in err and other.read_text().strip() not in err
    assert main(["restore", "--state-dir", str(state), "--in", str(out)]) == 1
    assert "pass --force" in capsys.readouterr().err
    assert main(["restore", "--state-dir", str(state), "--in", str(tmp_path / "none")]) == 1
    assert "cannot read" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # --config and --state-dir are exclusive
        main(["backup", "--state-dir", "a", "--config", "b", "--out", "c"])
