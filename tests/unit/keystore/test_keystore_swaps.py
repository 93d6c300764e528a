"""Sealed rows moved between clients, modes, venues, kinds or versions fail to unseal."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from signer.domain import Mode, Principal
from signer.errors import StorageError, UnsealError
from signer.keystore import Keystore, MasterKey, RecordAad, Store
from signer.keystore.handles import VenueCredentials
from signer.keystore.sealing import seal

MASTER = MasterKey.from_bytes(bytes(range(32)))
A_LIVE = Principal("client-a", Mode.LIVE)
A_SANDBOX = Principal("client-a", Mode.SANDBOX)
B_LIVE = Principal("client-b", Mode.LIVE)
BLOBS = ("master_key_id", "wrap_nonce", "wrapped_key", "nonce", "ciphertext")


def payload(tag: str) -> dict[str, object]:
    return {
        "api_key": f"key-{tag}",
        "api_secret": f"secret-{tag}",
        "passphrase": f"pass-{tag}",
        "extra": {"signer_private_key": f"pk-{tag}"},
    }


def assert_creds(creds: VenueCredentials | None, venue: str, tag: str) -> None:
    assert creds is not None
    assert creds.venue == venue
    assert creds.api_key == f"key-{tag}"
    assert creds.secret.expose() == f"secret-{tag}".encode()
    assert creds.passphrase.expose() == f"pass-{tag}".encode()
    assert {k: v.expose() for k, v in creds.extra.items()} == {
        "signer_private_key": f"pk-{tag}".encode()
    }


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "state.db"


@pytest.fixture
def ks(db: Path) -> Iterator[Keystore]:
    keystore = Keystore(Store(db), MASTER)
    yield keystore
    keystore.close()


def reopen(db: Path, master: MasterKey = MASTER) -> Keystore:
    return Keystore(Store(db), master)


def _row(conn: sqlite3.Connection, client: str, mode: str, venue: str) -> tuple[object, ...]:
    cols = ", ".join(BLOBS)
    row = conn.execute(
        f"SELECT {cols} FROM sealed_records WHERE client_id=? AND mode=? AND name=?",  # noqa: S608
        (client, mode, venue),
    ).fetchone()
    assert row is not None
    return tuple(row)


def _write_row(
    conn: sqlite3.Connection, key: tuple[str, str, str], values: tuple[object, ...]
) -> None:
    sets = ", ".join(f"{c} = ?" for c in BLOBS)
    conn.execute(
        f"UPDATE sealed_records SET {sets} WHERE client_id=? AND mode=? AND name=?",  # noqa: S608
        (*values, *key),
    )


def _swap(db: Path, a: tuple[str, str, str], b: tuple[str, str, str]) -> None:
    conn = sqlite3.connect(db)
    row_a, row_b = _row(conn, *a), _row(conn, *b)
    _write_row(conn, a, row_b)
    _write_row(conn, b, row_a)
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ((A_LIVE, "kraken"), (B_LIVE, "kraken")),  # between clients
        ((A_LIVE, "kraken"), (A_SANDBOX, "kraken")),  # between modes
        ((A_LIVE, "kraken"), (A_LIVE, "binance")),  # between venues
    ],
    ids=["clients", "modes", "venues"],
)
def test_swapped_rows_fail_to_unseal(
    db: Path, first: tuple[Principal, str], second: tuple[Principal, str]
) -> None:
    ks = reopen(db)
    ks.put_credentials(*first, payload("first"))
    ks.put_credentials(*second, payload("second"))
    ks.close()
    keys = [(p.client_id, p.mode.value, venue) for p, venue in (first, second)]
    _swap(db, keys[0], keys[1])
    fresh = reopen(db)
    for principal, venue in (first, second):
        with pytest.raises(UnsealError, match=r"^sealed record failed authentication$"):
            fresh.credentials(principal, venue)
    fresh.close()


def test_swap_test_can_fail(db: Path) -> None:
    """Control: writing a row back onto itself changes nothing, so the swap test measures AAD."""
    ks = reopen(db)
    ks.put_credentials(A_LIVE, "kraken", payload("1"))
    ks.close()
    _swap(db, ("client-a", "live", "kraken"), ("client-a", "live", "kraken"))
    fresh = reopen(db)
    assert_creds(fresh.credentials(A_LIVE, "kraken"), "kraken", "1")
    fresh.close()


def test_replayed_older_version_fails_to_unseal(db: Path) -> None:
    ks = reopen(db)
    ks.put_credentials(A_LIVE, "kraken", payload("old"))
    conn = sqlite3.connect(db)
    old = _row(conn, "client-a", "live", "kraken")
    assert ks.put_credentials(A_LIVE, "kraken", payload("new")) == 2
    ks.close()
    _write_row(conn, ("client-a", "live", "kraken"), old)  # version column stays 2
    conn.commit()
    conn.close()
    fresh = reopen(db)
    with pytest.raises(UnsealError):
        fresh.credentials(A_LIVE, "kraken")
    fresh.close()


def test_other_master_key_fails_to_unseal(ks: Keystore, db: Path) -> None:
    ks.put_credentials(A_LIVE, "kraken", payload("1"))
    other = reopen(db, MasterKey.from_bytes(bytes(32)))
    with pytest.raises(UnsealError):
        other.credentials(A_LIVE, "kraken")
    other.close()


def test_authentic_but_malformed_payload_is_a_storage_error(db: Path) -> None:
    store = Store(db)
    store.put_sealed(
        "credential",
        "client-a",
        "live",
        "kraken",
        lambda v: seal(
            MASTER,
            b'{"api_secret": "leak-me"',
            RecordAad("credential", "client-a", "live", "kraken", v),
        ),
    )
    ks = Keystore(store, MASTER)
    with pytest.raises(StorageError) as info:
        ks.credentials(A_LIVE, "kraken")
    assert "leak-me" not in str(info.value)
    assert info.value.__context__ is None and info.value.__cause__ is None
    ks.close()


def test_daemon_secret_swapped_with_credential_fails(ks: Keystore, db: Path) -> None:
    ks.daemon_secret("kraken", lambda: b"d" * 32)
    ks.put_credentials(A_LIVE, "kraken", payload("1"))
    conn = sqlite3.connect(db)
    cred = _row(conn, "client-a", "live", "kraken")
    _write_row(conn, ("-", "-", "kraken"), cred)
    conn.commit()
    conn.close()
    fresh = reopen(db)
    with pytest.raises(UnsealError):
        fresh.daemon_secret("kraken", lambda: b"x" * 32)
    fresh.close()
