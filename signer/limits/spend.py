"""Withdraw amounts per (principal, chain, token) over a rolling 24 hours, durable.

Every granted amount is a row ``(client_id, mode, asset, at_ns, amount)`` in
the state database. ``consume`` reads the window, decides with the pure
``policy.limits.decide_spend`` and inserts the row inside ONE ``BEGIN
IMMEDIATE`` transaction. Invariants (one test each in
``tests/unit/limits/test_spend.py``):

1. Check-and-add is atomic: two consumers, threads or processes on the same
   file, can never both pass a cap only one of them fits under.
2. Durable: when ``consume`` returns, the row is committed (WAL,
   synchronous=FULL); a restart or a crash keeps the window.
3. Rolling: a row counts while ``now - at_ns < WINDOW_NS`` (23h59m ago counts,
   24h01m ago does not). Rows are never deleted by age, so a clock that jumps
   forwards and back cannot forget a spend; rows "in the future" (a clock set
   backwards) keep counting.
4. Exact: amounts are integer base units stored as decimal text (a uint256
   does not fit SQLite's INTEGER) and summed as Python ints; never a float.
5. Scoped: (client_id, mode, asset). Live and sandbox, two clients, two
   chains or two tokens never share a window.
6. Only ``refund`` removes a row: the caller's withdrawal failed after the
   reservation and before anything was revealed.

SECURITY: the generic entry point is ``consume(principal, cap, amount)``;
``cap.asset`` (``"arbitrum/USDC"``) names the window, so a later hook (e.g.
Hyperliquid ``withdraw3`` as ``"hyperliquid/USDC"``) gets its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from policy.decision import Decision
from policy.limits import WINDOW_NS, AmountCap, decide_spend
from signer.domain import Principal
from signer.errors import RateLimitedError, StorageError
from signer.keystore.store import Store

log = logging.getLogger(__name__)

_DDL = (
    "CREATE TABLE IF NOT EXISTS limit_spend (id INTEGER PRIMARY KEY, client_id TEXT NOT NULL,"
    " mode TEXT NOT NULL, asset TEXT NOT NULL, at_ns INTEGER NOT NULL, amount TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS limit_spend_scope ON limit_spend (client_id, mode, asset, at_ns)",
)
_SQL_WINDOW = (
    "SELECT amount FROM limit_spend WHERE client_id = ? AND mode = ? AND asset = ? AND at_ns > ?"
)


@dataclass(frozen=True, slots=True)
class Spend:
    """A granted reservation: its row (None for a zero amount) and the decision."""

    row_id: int | None
    decision: Decision


class SpendLedger:
    """Durable rolling-window counters over the daemon's ``Store``."""

    def __init__(self, store: Store, now_ns: Callable[[], int] = time.time_ns) -> None:
        self._store = store
        self._now = now_ns
        with store.transaction() as cur:
            for ddl in _DDL:
                cur.execute(ddl)

    def consume(
        self, principal: Principal, cap: AmountCap, amount: int, now_ns: int | None = None
    ) -> Spend:
        """Reserve ``amount`` base units of ``cap.asset`` for ``principal`` or refuse.

        Raises:
            RateLimitedError: over ``per_tx`` or the rolling ``per_24h`` (``rule_id``).
            StorageError: the ledger could not be read or written; nothing reserved.
        """
        now = self._now() if now_ns is None else now_ns
        scope = (principal.client_id, principal.mode.value, cap.asset)
        with self._store.transaction() as cur:
            rows = cur.execute(_SQL_WINDOW, (*scope, now - WINDOW_NS)).fetchall()
            decision = decide_spend(cap, sum(_units(row[0]) for row in rows), amount)
            if not decision.allowed:
                reason = decision.reasons[0] if decision.reasons else "over the limit"
                raise RateLimitedError(reason, rule_id=decision.rule_id)
            row_id = None
            if amount:
                cur.execute(
                    "INSERT INTO limit_spend (client_id, mode, asset, at_ns, amount)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (*scope, now, str(amount)),
                )
                row_id = cur.lastrowid
        return Spend(row_id, decision)

    def refund(self, spend: Spend | None) -> None:
        """Give a reservation back (invariant 6). Best effort: a failure keeps it counted."""
        if spend is None or spend.row_id is None:
            return
        try:
            with self._store.transaction() as cur:
                cur.execute("DELETE FROM limit_spend WHERE id = ?", (spend.row_id,))
        except StorageError:
            log.error("withdraw ledger: refund failed; the reservation stays counted")

    def spent(self, principal: Principal, asset: str, now_ns: int | None = None) -> int:
        """Base units of ``asset`` counted in ``principal``'s window at ``now_ns``."""
        now = self._now() if now_ns is None else now_ns
        scope = (principal.client_id, principal.mode.value, asset)
        with self._store.transaction() as cur:
            rows = cur.execute(_SQL_WINDOW, (*scope, now - WINDOW_NS)).fetchall()
        return sum(_units(row[0]) for row in rows)


def _units(text: object) -> int:
    if not isinstance(text, str) or not text.isascii() or not text.isdigit():
        raise StorageError("malformed withdraw ledger row")
    return int(text)
