"""Master-key rotation: re-wrap every data key under a new master key, offline, crash-safe.

Invariants (tests: tests/unit/keystore/test_rotate.py, tests/integration/test_rotate_crash.py):

1. Only the wrapping changes: a row's ``master_key_id``, ``wrap_nonce`` and
   ``wrapped_key`` are replaced; ``nonce``, ``ciphertext``, ``version`` (so the
   AAD) never change.
2. Every row names the key that wraps it (``master_key_id``) and rows change
   only in committed transactions, so after a crash at any point every row
   opens with exactly the key its id names: the old one or the new one.
3. Before the first row changes, ``meta[master_key_rotation]`` durably records
   ``{"from", "to"}`` key ids; it is deleted in the transaction that finds no
   row left under another key. While it exists the daemon refuses to start
   (``check_startup``) and ``rotate`` accepts only those two keys: rerunning
   resumes, rerunning after the end changes nothing.
4. Nothing is written until every row has been checked: rows under the old id
   must unwrap under the old key, rows under the new id under the new key; any
   other key id or a failing row refuses the run before it writes.
5. Offline only: the caller holds the state-directory lock (``signer.keystore.lock``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from signer.errors import StateError, UnsealError
from signer.keystore.keystore import DAEMON
from signer.keystore.sealing import MasterKey, RecordAad, SealedRecord, check_wrap, rewrap
from signer.keystore.store import Store

ROTATION_META = "master_key_rotation"
DEFAULT_BATCH = 100
_UPDATE = (
    "UPDATE sealed_records SET master_key_id = ?, wrap_nonce = ?, wrapped_key = ?"
    " WHERE kind = ? AND client_id = ? AND mode = ? AND name = ? AND version = ?"
    " AND master_key_id = ? AND wrapped_key = ?"
)

Row = tuple[str, str, str, str, int, SealedRecord]


@dataclass(frozen=True, slots=True)
class RotationPlan:
    """What a run found before writing: rows still under the old key, rows done."""

    old_key_id: str
    new_key_id: str
    pending: int
    done: int
    resumed: bool


def pending_rotation(store: Store) -> tuple[str, str] | None:
    """The ``(from, to)`` key ids of an unfinished rotation, or None."""
    raw = store.meta_get(ROTATION_META)
    if raw is None:
        return None
    try:
        doc = json.loads(raw)
        return str(doc["from"]), str(doc["to"])
    except (ValueError, KeyError, TypeError):
        raise StateError("the recorded master key rotation is malformed") from None


def check_startup(store: Store, master: MasterKey) -> None:
    """Refuse a half-rotated store, or one whose daemon keys another master key sealed.

    Reads two small rows; unseals nothing (start-up stays lazy).

    Raises:
        StateError: with the next step for the operator.
    """
    pending = pending_rotation(store)
    if pending is not None:
        raise StateError(
            f"master key rotation in progress (key id {pending[0]} -> {pending[1]});"
            " rerun `sequence-signer keys rotate` with the same two key files,"
            " then start the daemon with the new key"
        )
    rows = store._read(
        "SELECT DISTINCT master_key_id FROM sealed_records WHERE kind = ?", (DAEMON,)
    )
    others = sorted({str(r[0]) for r in rows} - {master.key_id})
    if others:
        raise StateError(
            f"the master key (key id {master.key_id}) did not seal this store (key id"
            f" {others[0]}); after `keys rotate`, point master_key_file at the new key"
        )


def check_rows(rows: Iterable[Row], keys: Mapping[str, MasterKey]) -> Counter[str]:
    """Check that every row's data key unwraps under the key its id names.

    Returns the number of rows per key id.

    Raises:
        StateError: a row under a key id not in ``keys``, or one that fails
            (named by kind/client/mode/name: public metadata).
    """
    counts: Counter[str] = Counter()
    for kind, client_id, mode, name, version, record in rows:
        where = f"{kind} {client_id}/{mode}/{name}"
        master = keys.get(record.master_key_id)
        if master is None:
            raise StateError(
                f"{where} is sealed under key id {record.master_key_id}, not a given key"
            )
        try:
            check_wrap(master, record, RecordAad(kind, client_id, mode, name, version))
        except UnsealError:
            raise StateError(f"{where} does not open with key id {master.key_id}") from None
        counts[record.master_key_id] += 1
    return counts


def rotate(
    store: Store,
    old: MasterKey,
    new: MasterKey,
    *,
    batch_size: int = DEFAULT_BATCH,
    on_start: Callable[[RotationPlan], None] | None = None,
) -> RotationPlan:
    """Re-wrap every data key under ``new``; resume an unfinished run of the same keys.

    ``on_start`` is called once the rotation is recorded and before the first
    row changes. Returns the plan of this run (``pending`` rows were re-wrapped).

    Raises:
        StateError: same key, another rotation recorded, or a row check failed.
        StorageError: the store failed (the rotation stays recorded; rerun).
    """
    if not 1 <= batch_size <= 10_000:
        raise ValueError("batch_size must be 1-10000")
    if old.key_id == new.key_id:
        raise StateError(f"the new key is the current key (key id {old.key_id})")
    recorded = pending_rotation(store)
    if recorded is not None and recorded != (old.key_id, new.key_id):
        raise StateError(
            f"an unfinished rotation from key id {recorded[0]} to {recorded[1]} is recorded;"
            " rerun with those two key files"
        )
    counts = check_rows(store.iter_records(), {old.key_id: old, new.key_id: new})
    plan = RotationPlan(
        old.key_id, new.key_id, counts[old.key_id], counts[new.key_id], recorded is not None
    )
    if recorded is None and plan.pending == 0 and plan.done > 0:
        return plan  # already rotated: nothing to record or change
    if recorded is None:
        meta = json.dumps({"from": old.key_id, "to": new.key_id}, sort_keys=True)
        store.meta_put(ROTATION_META, meta.encode())
    if on_start is not None:
        on_start(plan)
    batch: list[Row] = []
    for row in store.iter_records():
        if row[5].master_key_id == old.key_id:
            batch.append(row)
        if len(batch) >= batch_size:
            _rewrap_batch(store, old, new, batch)
            batch = []
    _rewrap_batch(store, old, new, batch)
    _finish(store, new)
    return plan


def _rewrap_batch(store: Store, old: MasterKey, new: MasterKey, batch: list[Row]) -> None:
    if not batch:
        return
    with store.transaction() as cur:
        for kind, client_id, mode, name, version, record in batch:
            aad = RecordAad(kind, client_id, mode, name, version)
            moved = rewrap(old, new, record, aad)
            cur.execute(
                _UPDATE,
                (moved.master_key_id, moved.wrap_nonce, moved.wrapped_key, kind, client_id,
                 mode, name, version, old.key_id, record.wrapped_key),
            )  # fmt: skip
            if cur.rowcount != 1:  # raising rolls the whole batch back
                raise StateError("the store changed during rotation; rerun keys rotate")


def _finish(store: Store, new: MasterKey) -> None:
    with store.transaction() as cur:
        left = cur.execute(
            "SELECT count(*) FROM sealed_records WHERE master_key_id != ?", (new.key_id,)
        ).fetchone()[0]
        if left:
            raise StateError(f"{left} records are still under the old key; rerun keys rotate")
        cur.execute("DELETE FROM meta WHERE key = ?", (ROTATION_META,))
