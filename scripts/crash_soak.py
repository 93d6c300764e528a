"""Crash soak: 500 SIGKILLs of a real daemon under writes (``make crash-soak``).

Same rounds and checks as tests/integration/test_crash.py (see
tests/integration/crash_harness.py and crash_limits.py), ten times longer. Usage:

    .venv/bin/python scripts/crash_soak.py [--kills 500] [--seed N] [--state DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.integration.crash_harness import run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=500)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--state", type=Path, default=None)
    args = parser.parse_args()
    root = Path(args.state or tempfile.mkdtemp(prefix="crash-"))
    state = root / "st"
    started = time.monotonic()
    ledger = run(state, kills=args.kills, seed=args.seed)
    took = time.monotonic() - started
    limits = ledger.limits
    print(
        f"{args.kills} kills (seed {args.seed}) in {took:.0f} s: "
        f"{len(ledger.credentials)} credentials and {len(ledger.wallets)} wallets "
        "acknowledged, all present and intact; limit counters: "
        f"{limits.grants} rate-limited signatures granted ({limits.limited} refused), "
        f"{limits.withdrawn / 10**6:g} USDC withdrawn ({limits.capped} refused at the cap), "
        "marks, nonces and ledger rows all durable"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
