"""The daemon's import chain must not change process-wide interpreter state.

py_ecc (imported by eth_account) raises the recursion limit to 100000, after
which json's C decoder can overflow the C stack on deeply nested input and
crash the process instead of raising. The daemon must never import it.
"""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
before = sys.getrecursionlimit()
import signer.app, signer.cli, signer.cli_call
from signer.venues import build_venues
import signer.venues.kraken, signer.venues.binance, signer.venues.credentials
build_venues.__call__  # the registry imports every venue module
import signer.venues.coinbase, signer.venues.okx, signer.venues.bitget, signer.venues.bybit
import signer.venues.bitmart, signer.venues.kalshi, signer.venues.cryptocom
import signer.venues.hyperliquid, signer.venues.polymarket, signer.withdraw, signer.wallets
assert sys.getrecursionlimit() == before, sys.getrecursionlimit()
bad = sorted(m for m in sys.modules if m.split(".")[0] in {"eth_account", "py_ecc", "ccxt"})
assert not bad, bad
"""


def test_daemon_does_not_import_eth_account_or_raise_recursion_limit() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
