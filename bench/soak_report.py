"""The soak's bookkeeping and report: outcomes by operation, RSS samples, the text.

Pure functions and plain data (tests/unit/bench/test_soak_report.py); nothing
here times or asserts anything about speed.

Invariants:

1. An outcome is ``OK`` or ``CODE/REASON``; it is *expected* when it equals
   the operation's expected outcome (a success, or a designed refusal), and
   *unexpected* otherwise (a refusal where a success was due, a success where
   a refusal was due, any other code).
2. RSS growth compares the mean of the samples in the first window with the
   mean of the samples in the last window (``window_s`` each, at most half the
   run so the two never overlap).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.common import percentile

_VMRSS = re.compile(r"^VmRSS:\s+(\d+)\s+kB\s*$", re.MULTILINE)


def parse_vmrss(status: str) -> int:
    """VmRSS in kB from the text of /proc/PID/status (ValueError if absent)."""
    found = _VMRSS.search(status)
    if found is None:
        raise ValueError("no VmRSS line in /proc status text")
    return int(found.group(1))


@dataclass
class OpStats:
    """Everything recorded for one operation name."""

    expect: str
    latencies: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)

    def record(self, outcome: str, seconds: float) -> None:
        self.outcomes[outcome] += 1
        self.latencies.append(seconds)

    def merge(self, other: OpStats) -> None:
        self.latencies += other.latencies
        self.outcomes.update(other.outcomes)

    @property
    def calls(self) -> int:
        return sum(self.outcomes.values())

    def unexpected(self) -> Counter[str]:
        return Counter({k: n for k, n in self.outcomes.items() if k != self.expect})


@dataclass(frozen=True)
class RssSummary:
    samples: int
    first_kb: float
    last_kb: float
    max_kb: int
    window_s: float
    by_minute_kb: tuple[float, ...] = ()  # mean of each whole or partial minute

    @property
    def growth_kb(self) -> float:
        return self.last_kb - self.first_kb

    @property
    def growth_pct(self) -> float:
        return 100.0 * self.growth_kb / self.first_kb if self.first_kb else math.nan


def rss_summary(samples: Sequence[tuple[float, int]], window_s: float = 60.0) -> RssSummary:
    """``samples`` are (seconds since start, VmRSS kB), in time order (invariant 2)."""
    if not samples:
        return RssSummary(0, math.nan, math.nan, 0, window_s)
    t0, t_end = samples[0][0], samples[-1][0]
    window = min(window_s, (t_end - t0) / 2) if t_end > t0 else 0.0
    first = [kb for t, kb in samples if t <= t0 + window]
    last = [kb for t, kb in samples if t >= t_end - window]
    minutes: dict[int, list[int]] = {}
    for t, kb in samples:
        minutes.setdefault(int((t - t0) // 60), []).append(kb)
    return RssSummary(
        len(samples), sum(first) / len(first), sum(last) / len(last),
        max(kb for _, kb in samples), window,
        tuple(sum(v) / len(v) for _, v in sorted(minutes.items())),
    )  # fmt: skip


def totals(stats: dict[str, OpStats]) -> tuple[int, Counter[str], Counter[str]]:
    """(successes as expected, expected refusals by outcome, unexpected by outcome)."""
    ok, denied, unexpected = 0, Counter[str](), Counter[str]()
    for st in stats.values():
        for outcome, n in st.outcomes.items():
            if outcome != st.expect:
                unexpected[outcome] += n
            elif outcome == "OK":
                ok += n
            else:
                denied[outcome] += n
    return ok, denied, unexpected


def _mib(kb: float) -> str:
    return f"{kb / 1024:.1f} MiB"


def render(stats: dict[str, OpStats], seconds: float, rss: RssSummary, header: str) -> str:
    """The printed report (README quotes it)."""
    ok, denied, unexpected = totals(stats)
    calls = sum(st.calls for st in stats.values())
    lines = [
        header,
        f"calls: {calls} in {seconds:.0f} s = {calls / seconds:,.0f}/s "
        f"({ok} succeeded, {sum(denied.values())} refused as designed, "
        f"{sum(unexpected.values())} unexpected)",
        "",
        f"{'operation':<30} {'calls':>8} {'per s':>7} {'p50 ms':>7} {'p99 ms':>7} {'unexp':>6}"
        "  expected",
    ]
    for name, st in sorted(stats.items()):
        lat = sorted(st.latencies)
        lines.append(
            f"{name:<30} {st.calls:>8} {st.calls / seconds:>7.1f} "
            f"{percentile(lat, 50) * 1e3:>7.2f} {percentile(lat, 99) * 1e3:>7.2f} "
            f"{sum(st.unexpected().values()):>6}  {st.expect}"
        )
    lines += ["", "refused as designed (by code/reason):"]
    lines += [f"  {k}: {n}" for k, n in sorted(denied.items())] or ["  none"]
    lines += ["unexpected errors (by code/reason):"]
    lines += [f"  {k}: {n}" for k, n in sorted(unexpected.items())] or ["  none"]
    lines += [
        "",
        f"daemon RSS: {rss.samples} samples; mean of the first {rss.window_s:.0f} s "
        f"{_mib(rss.first_kb)}, of the last {rss.window_s:.0f} s {_mib(rss.last_kb)}: "
        f"growth {rss.growth_kb / 1024:+.1f} MiB ({rss.growth_pct:+.1f}%), max {_mib(rss.max_kb)}",
        "daemon RSS by minute (MiB): " + " ".join(f"{kb / 1024:.1f}" for kb in rss.by_minute_kb),
    ]
    return "\n".join(lines)
