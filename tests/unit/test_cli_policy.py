"""``sequence-signer policy keygen | sign | verify`` (signer/cli_policy.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from signer.cli import main
from signer.policy_updates import AdminKeys, count_signatures, parse_signature_file

DOC = b'version = 3\n[venues.kraken]\nenabled = true\nmodes = ["live"]\nclasses = ["read"]\n'


def keygen(tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["policy", "keygen", "--out", str(tmp_path / name)]) == 0
    return capsys.readouterr().out.strip()


def test_keygen_writes_private_0600_and_prints_public(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pub = keygen(tmp_path, "alice", capsys)
    assert len(bytes.fromhex(pub)) == 32
    assert (tmp_path / "alice.pub").read_text().strip() == pub
    assert (tmp_path / "alice.key").stat().st_mode & 0o777 == 0o600
    assert main(["policy", "keygen", "--out", str(tmp_path / "alice")]) == 1  # never overwrites
    assert "refusing to overwrite" in capsys.readouterr().err


def test_sign_adds_replaces_and_drops_stale_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pubs = [keygen(tmp_path, name, capsys) for name in ("a", "b")]
    policy = tmp_path / "policy.toml"
    policy.write_bytes(DOC)
    for name in ("a", "b", "a"):
        assert main(["policy", "sign", str(policy), "--key", str(tmp_path / f"{name}.key")]) == 0
    sigs = parse_signature_file((tmp_path / "policy.toml.sig").read_bytes())
    assert sorted(s.public_key.hex() for s in sigs) == sorted(pubs)  # "a" once
    admins = AdminKeys(tuple(bytes.fromhex(p) for p in pubs), 2)
    assert count_signatures(DOC, sigs, admins).sufficient
    policy.write_bytes(DOC.replace(b"version = 3", b"version = 4"))
    capsys.readouterr()
    assert main(["policy", "sign", str(policy), "--key", str(tmp_path / "b.key")]) == 0
    assert "1 stale signature(s) dropped" in capsys.readouterr().out
    sigs = parse_signature_file((tmp_path / "policy.toml.sig").read_bytes())
    assert [s.public_key.hex() for s in sigs] == [pubs[1]]


def test_sign_refuses_invalid_documents_and_loose_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keygen(tmp_path, "a", capsys)
    policy = tmp_path / "policy.toml"
    policy.write_bytes(DOC + b"[venues.nowhere]\nenabled = true\n")
    assert main(["policy", "sign", str(policy), "--key", str(tmp_path / "a.key")]) == 1
    assert "(line 6)" in capsys.readouterr().err
    assert not (tmp_path / "policy.toml.sig").exists()
    policy.write_bytes(DOC)
    (tmp_path / "a.key").chmod(0o644)
    assert main(["policy", "sign", str(policy), "--key", str(tmp_path / "a.key")]) == 1
    assert "chmod 600" in capsys.readouterr().err


def test_verify_counts_against_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pubs = [keygen(tmp_path, name, capsys) for name in ("a", "b")]
    config = tmp_path / "config.toml"
    config.write_text(
        'state_dir = "s"\nmaster_key_file = "k"\n'
        f'[policy_admin]\nkeys = ["{pubs[0]}", "{pubs[1]}"]\nthreshold = 2\n'
        '[[listeners]]\nkind = "unix"\naddress = "/tmp/x.sock"\nrole = "api"\n'
    )
    policy = tmp_path / "policy.toml"
    policy.write_bytes(DOC)
    main(["policy", "sign", str(policy), "--key", str(tmp_path / "a.key")])
    capsys.readouterr()
    assert main(["policy", "verify", str(policy), "--config", str(config)]) == 1
    assert "1 of 2 required" in capsys.readouterr().out
    main(["policy", "sign", str(policy), "--key", str(tmp_path / "b.key")])
    assert main(["policy", "verify", str(policy), "--config", str(config)]) == 0
