"""SIGKILL the daemon 50 times under acknowledged writes; nothing acknowledged is lost.

The harness and its invariants are in ``crash_harness.py``;
``scripts/crash_soak.py`` runs 500 kills.
"""

from __future__ import annotations

from pathlib import Path

from tests.integration.crash_harness import run
from tests.integration.crash_limits import BURST

KILLS = 50


def test_sigkill_loses_no_acknowledged_write(state_dir: Path) -> None:
    ledger = run(state_dir, kills=KILLS, seed=20261124)
    # The kills landed mid-stream: writes were acknowledged across many rounds.
    assert len(ledger.credentials) > KILLS and len(ledger.wallets) > KILLS // 2
    # The limit counters were exercised on both sides of their limits.
    limits = ledger.limits
    assert limits.grants > BURST and limits.limited > KILLS
    assert limits.withdrawn > 0 and limits.capped > 0
