"""Master key files: formats, refusals, dev generation, redaction."""

from __future__ import annotations

import base64
import os
import pickle
import stat
from pathlib import Path

import pytest

from signer.keystore.sealing import MasterKey

KEY = bytes(range(100, 132))


def _write(path: Path, content: bytes, mode: int = 0o600) -> Path:
    path.write_bytes(content)
    os.chmod(path, mode)
    return path


@pytest.mark.parametrize(
    "content",
    [
        KEY.hex().encode(),
        KEY.hex().upper().encode(),
        KEY.hex().encode() + b"\n",
        KEY.hex().encode() + b" \t\r\n\n",
        base64.b64encode(KEY),
        base64.b64encode(KEY) + b"\n",
    ],
)
def test_load_accepts_hex_and_base64(tmp_path: Path, content: bytes) -> None:
    loaded = MasterKey.load(_write(tmp_path / "master.key", content))
    assert loaded.key_id == MasterKey.from_bytes(KEY).key_id


_BAD = [
    b"",
    b"\n",
    KEY.hex().encode()[:-2],  # 31 bytes of hex
    KEY.hex().encode() + b"00",  # 33 bytes of hex
    b"zz" + KEY.hex().encode()[2:],  # 64 chars, not hex
    b" " + KEY.hex().encode(),  # leading whitespace
    KEY.hex().encode()[:32] + b"\n" + KEY.hex().encode()[32:],  # split line
    base64.b64encode(KEY[:31]),
    base64.b64encode(KEY + b"\x00"),
    base64.urlsafe_b64encode(b"\xfb\xff" * 16),  # url-safe alphabet is not standard base64
    base64.b64encode(KEY).rstrip(b"="),  # missing padding
    b"master_key = " + KEY.hex().encode(),
    b"A" * 10_000,
]


@pytest.mark.parametrize("content", _BAD)
def test_bad_content_is_refused_without_echoing_it(tmp_path: Path, content: bytes) -> None:
    path = _write(tmp_path / "master.key", content)
    with pytest.raises(ValueError, match="master key file") as info:
        MasterKey.load(path)
    message = str(info.value)
    assert str(path) in message
    stripped = content.strip()
    if len(stripped) >= 4:
        assert stripped.decode(errors="replace") not in message
        for chunk in (stripped[:8], stripped[-8:]):
            assert chunk.decode(errors="replace") not in message
    assert info.value.__cause__ is None and info.value.__context__ is None


@pytest.mark.parametrize("mode", [0o620, 0o602, 0o666, 0o622])
def test_file_writable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = _write(tmp_path / "master.key", KEY.hex().encode(), mode)
    with pytest.raises(ValueError, match="writable") as info:
        MasterKey.load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("mode", [0o400, 0o600, 0o640, 0o644])
def test_file_not_writable_by_others_is_accepted(tmp_path: Path, mode: int) -> None:
    assert MasterKey.load(_write(tmp_path / "master.key", KEY.hex().encode(), mode))


def test_missing_file_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        MasterKey.load(tmp_path / "absent.key")


def test_generate_dev_creates_0600_hex_file_and_reloads_same_key(tmp_path: Path) -> None:
    path = tmp_path / "state" / "dev" / "master.key"
    created = MasterKey.generate_dev(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_bytes()
    assert len(text.strip()) == 64 and bytes.fromhex(text.strip().decode())
    assert MasterKey.load(path).key_id == created.key_id
    assert MasterKey.generate_dev(path).key_id == created.key_id
    assert sorted(p.name for p in path.parent.iterdir()) == ["master.key"]  # no temp left


def test_generate_dev_keys_are_random(tmp_path: Path) -> None:
    a = MasterKey.generate_dev(tmp_path / "a.key")
    b = MasterKey.generate_dev(tmp_path / "b.key")
    assert a.key_id != b.key_id


def test_generate_dev_never_replaces_an_existing_key(tmp_path: Path) -> None:
    path = _write(tmp_path / "master.key", KEY.hex().encode())
    assert MasterKey.generate_dev(path).key_id == MasterKey.from_bytes(KEY).key_id
    assert path.read_bytes() == KEY.hex().encode()


def test_generate_dev_refuses_an_existing_bad_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "master.key", b"not a key")
    with pytest.raises(ValueError, match="master key file"):
        MasterKey.generate_dev(path)


def test_repr_str_and_pickle_never_reveal_the_key() -> None:
    master = MasterKey.from_bytes(KEY)
    for text in (repr(master), str(master), f"{master}", f"{master!r}"):
        assert "redacted" in text
        assert KEY.hex() not in text.lower()
        assert base64.b64encode(KEY).decode() not in text
        assert str(list(KEY)) not in text
        assert repr(KEY) not in text
    assert master.key_id in repr(master)
    with pytest.raises(TypeError, match="pickled"):
        pickle.dumps(master)


def test_master_keys_compare_by_identity_only() -> None:
    a, b = MasterKey.from_bytes(KEY), MasterKey.from_bytes(KEY)
    assert a != b
    assert a == a


def test_create_writes_a_new_0600_key_and_never_replaces_one(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "new.key"
    created = MasterKey.create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert MasterKey.load(path).key_id == created.key_id
    text = path.read_bytes()
    with pytest.raises(FileExistsError):
        MasterKey.create(path)
    assert path.read_bytes() == text
    assert sorted(p.name for p in path.parent.iterdir()) == ["new.key"]  # no temp left
    assert MasterKey.create(tmp_path / "other.key").key_id != created.key_id
