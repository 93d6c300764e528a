"""Redaction of key handles, and the rule that only schemes/ and keystore/ call
expose() or borrow()."""

from __future__ import annotations

import io
import pickle
import tokenize
from pathlib import Path

import pytest

from signer.errors import UnsealError
from signer.keystore import Keystore, MasterKey, Store
from signer.keystore.handles import Secret, VenueCredentials
from signer.keystore.sealing import RecordAad, open_sealed, seal

REPO = Path(__file__).resolve().parents[3]
ALLOWED = ("signer/schemes/", "signer/keystore/")
RAW = "hunter2-very-secret-value"


def _creds() -> VenueCredentials:
    return VenueCredentials(
        "kraken", "public-key-id", Secret(RAW), Secret(RAW + "-p"), {"x": Secret(RAW + "-x")}
    )


@pytest.mark.parametrize(
    "obj",
    [
        Secret(RAW),
        Secret(RAW.encode()),
        _creds(),
        MasterKey.from_bytes(RAW.encode()[:25] + bytes(7)),
    ],
)
def test_repr_and_str_are_redacted(obj: object) -> None:
    for text in (repr(obj), str(obj), f"{obj}", f"{obj!r}", repr([obj]), repr({"k": obj})):
        assert "redacted" in text
        assert "hunter2" not in text and "68756e74657232" not in text  # raw and hex


@pytest.mark.parametrize("obj", [Secret(RAW), _creds(), MasterKey.from_bytes(bytes(32))])
def test_handles_cannot_be_pickled(obj: object) -> None:
    with pytest.raises(TypeError, match="pickled"):
        pickle.dumps(obj)


def test_unseal_error_carries_no_material(tmp_path: Path) -> None:
    master = MasterKey.from_bytes(bytes(range(32)))
    aad = RecordAad("credential", "c", "live", "kraken", 1)
    record = seal(master, RAW.encode(), aad)
    with pytest.raises(UnsealError) as info:
        open_sealed(MasterKey.from_bytes(bytes(32)), record, aad)
    assert str(info.value) == "sealed record failed authentication"
    assert info.value.__context__ is None
    ks = Keystore(Store(tmp_path / "s.db"), master)
    assert "hunter2" not in repr(ks)
    ks.close()


def expose_calls(root: Path) -> list[str]:
    """Every ``.expose(`` / ``.borrow(`` call (as code, not in strings or comments)
    under ``root/signer``."""
    hits = []
    for path in sorted((root / "signer").rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith("signer/_proto/") or rel.startswith(ALLOWED):
            continue
        tokens = [
            t
            for t in tokenize.generate_tokens(io.StringIO(path.read_text("utf-8")).readline)
            if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE)
        ]
        for prev, tok, nxt in zip(tokens, tokens[1:], tokens[2:], strict=False):
            if prev.string == "." and tok.string in ("expose", "borrow") and nxt.string == "(":
                hits.append(f"{rel}:{tok.start[0]}")
    return hits


def test_expose_is_called_only_from_schemes_and_keystore() -> None:
    assert (REPO / "signer" / "keystore" / "handles.py").is_file()
    assert expose_calls(REPO) == []


def test_expose_scan_can_fail(tmp_path: Path) -> None:
    """Control: a call outside the allowed folders is found; strings/comments and allowed folders are not."""
    for rel, text in {
        "signer/pipeline.py": "def f(h):\n    # h.expose() in a comment\n    return h.secret.expose ()\n",
        "signer/venues/x.py": 's = "h.expose()"\n',
        "signer/server/y.py": "with h.secret.borrow() as v:\n    pass\n",
        "signer/schemes/hmac.py": "k = h.expose()\n",
        "signer/keystore/k.py": "k = h.expose()\n",
        "signer/_proto/gen.py": "k = h.expose()\n",
    }.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    assert expose_calls(tmp_path) == ["signer/pipeline.py:3", "signer/server/y.py:1"]
