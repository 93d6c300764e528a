"""No plaintext secret anywhere in the state directory (DESIGN.md section 1.5)."""

from __future__ import annotations

import base64
from pathlib import Path

from signer.domain import Mode, Principal
from signer.keystore import Keystore, MasterKey, Store

SECRET_CANARY = "CANARY-api-secret-7f3c9e2a41d8b6f0c5e1a9d3b7f2e6c4"
PASS_CANARY = "CANARY-passphrase-0b8d4f2e6a1c9e3b5d7f1a3c5e7b9d2f"
EXTRA_CANARY = "CANARY-signer-key-e4a1c7b3d9f5e2a8c6b0d4f8a2e6c1b5"
KEY_CANARY = "CANARY-api-key-9c2e6a0d4b8f1e5a3c7d9b1f5e3a7c0d"
DAEMON_CANARY = b"CANARY-daemon-seed-3d7b1f5a9e2c6d0b4f8a2e6c1d5b9f3a"


def _forms(secret: bytes) -> list[bytes]:
    """The canary and its hex and base64 encodings (at every 3-byte alignment)."""
    forms = [secret, secret.hex().encode(), secret.hex().upper().encode()]
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(bytes(offset) + secret)
            forms.append(text[4 if offset else 0 : -4])  # drop prefix/padding-affected chars
    return forms


CANARIES = [c.encode() for c in (SECRET_CANARY, PASS_CANARY, EXTRA_CANARY, KEY_CANARY)]
ALL_FORMS = [form for canary in [*CANARIES, DAEMON_CANARY] for form in _forms(canary)]


def _leaks(root: Path, exclude: Path) -> list[str]:
    found = []
    files = [p for p in root.rglob("*") if p.is_file() and p != exclude]
    assert files, "nothing was scanned"
    for path in files:
        data = path.read_bytes()
        found += [f"{path.name}: {form[:12]!r}" for form in ALL_FORMS if form in data]
    return found


def _fill(ks: Keystore) -> None:
    for i in range(40):
        principal = Principal(f"client-{i}", Mode.LIVE if i % 2 else Mode.SANDBOX)
        for venue in ("kraken", "polymarket"):
            ks.put_credentials(
                principal,
                venue,
                {
                    "api_key": KEY_CANARY,
                    "api_secret": SECRET_CANARY,
                    "passphrase": PASS_CANARY,
                    "extra": {"signer_private_key": EXTRA_CANARY},
                },
            )
        assert ks.credentials(principal, "kraken") is not None
    ks.put_credentials(
        Principal("client-0", Mode.SANDBOX), "kraken", {"api_key": "k", "api_secret": "s"}
    )
    ks.delete_credentials(Principal("client-1", Mode.LIVE), "polymarket")
    ks.daemon_secret("sealing-x25519", lambda: DAEMON_CANARY)
    ks.next_nonce("kraken:client-1:live", 1_750_000_000_000)


def test_no_canary_in_state_directory(tmp_path: Path) -> None:
    key_file = tmp_path / "state" / "master.key"
    master = MasterKey.generate_dev(key_file)
    ks = Keystore(Store(tmp_path / "state" / "state.db"), master)
    _fill(ks)
    assert (tmp_path / "state" / "state.db-wal").exists()
    assert _leaks(tmp_path, key_file) == []  # while open: db, -wal, -shm
    ks.close()
    assert _leaks(tmp_path, key_file) == []  # after close and checkpoint


def test_scanner_finds_a_planted_canary(tmp_path: Path) -> None:
    """Control: the scan above would see each form of a canary that leaked."""
    for i, form in enumerate(_forms(SECRET_CANARY.encode())):
        (tmp_path / f"leak{i}").write_bytes(b"xx" + form + b"yy")
    assert len(_leaks(tmp_path, tmp_path / "none")) >= len(_forms(SECRET_CANARY.encode()))
    (tmp_path / "b64").write_bytes(b"{" + base64.b64encode(b'"a":"' + PASS_CANARY.encode()) + b"}")
    assert any(hit.startswith("b64:") for hit in _leaks(tmp_path, tmp_path / "none"))
