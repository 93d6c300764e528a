"""Start-up time: from spawning ``python -m signer serve`` until health is SERVING.

The clock starts just before the process is spawned and stops when a health
check on the daemon's Unix socket first answers SERVING, so interpreter
start and imports are included (they are the same for every state). Each
state is started once untimed first (daemon secrets created, files cached),
then the timed starts of the states alternate.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.common import median, spawn, stop, wait_serving
from bench.state import State


def time_start(state: State, log: Path) -> float:
    """Seconds from spawn to SERVING; the daemon is stopped afterwards."""
    t0 = time.monotonic()
    proc = spawn(state.daemon_args(), log)
    try:
        return wait_serving(state.uds, proc) - t0
    finally:
        stop(proc)


def compare(small: State, large: State, rounds: int, log: Path) -> tuple[list[float], list[float]]:
    """Alternating timed starts of both states; returns (small times, large times)."""
    time_start(small, log)
    time_start(large, log)
    a: list[float] = []
    b: list[float] = []
    for i in range(rounds):
        order = [(small, a), (large, b)] if i % 2 == 0 else [(large, b), (small, a)]
        for state, times in order:
            times.append(time_start(state, log))
    return a, b


def print_startup(
    small: list[float], large: list[float], n_small: int, n_large: int, floor: float = 1.5
) -> bool:
    ms, ml = median(small), median(large)
    ratio = ml / ms
    ok = ratio <= floor
    print(
        f"start-up to SERVING: {n_small:,} credentials {ms * 1000:,.0f} ms, "
        f"{n_large:,} credentials {ml * 1000:,.0f} ms; ratio {ratio:.2f}x "
        f"(floor <= {floor:g}x) {'PASS' if ok else 'FAIL'}"
    )
    print(f"  rounds ms: {n_small:,}: {', '.join(f'{x * 1000:.0f}' for x in small)}")
    print(f"             {n_large:,}: {', '.join(f'{x * 1000:.0f}' for x in large)}")
    return ok
