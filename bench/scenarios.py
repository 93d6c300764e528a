"""Scenario rows: each compares a subject with its base, measured in alternating rounds.

A ``Row`` holds every round's result of both sides; the printed figures are
medians over the rounds, the ratio is the ratio of the medians, and the
verdict compares it with the floor of DESIGN.md section 7.

Invariants:

1. A load run that saw any error (an RPC error, an in-band stream error) makes
   its row INVALID: a benchmark of refusals measures nothing.
2. The server's CPU time per call (``cpu us/call`` base / subject) comes from /proc (all its threads) around
   the whole load run, warm-up included, divided by every call of that run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import REPO, Server, cpu_seconds, median


@dataclass(frozen=True)
class LoadSettings:
    duration: float
    warmup: float


@dataclass
class Result:
    ops: float
    p50_us: float = float("nan")
    p99_us: float = float("nan")
    cpu_us: float = float("nan")  # server CPU per call
    client_cpu_us: float = float("nan")  # load process CPU per call
    errors: int = 0
    first_error: str = ""


def load(
    server: Server, transport: str, request: Path, concurrency: int, s: LoadSettings,
    stream: bool = False,
) -> Result:  # fmt: skip
    """One run of ``bench.load`` against ``server`` in a separate process."""
    args = [
        sys.executable, "-m", "bench.load", "--target", server.target(transport),
        "--request", str(request), "-c", str(concurrency), "-d", str(s.duration),
        "-w", str(s.warmup),
    ]  # fmt: skip
    if stream:
        args.append("--stream")
    cpu0 = cpu_seconds(server.pid)
    out = subprocess.run(args, cwd=REPO, capture_output=True, text=True, check=False)
    cpu1 = cpu_seconds(server.pid)
    if out.returncode != 0:
        return Result(0.0, errors=1, first_error=out.stderr.strip().splitlines()[-1:][0][:200])
    data = json.loads(out.stdout)
    calls = max(int(data["calls"]), 1)
    return Result(
        data["ops"], data["p50_us"], data["p99_us"], (cpu1 - cpu0) / calls * 1e6,
        data["client_cpu_us"], int(data["errors"]), str(data["first_error"]),
    )  # fmt: skip


Verdict = Callable[["Row"], tuple[bool, str]]


@dataclass
class Row:
    scenario: str
    transport: str
    concurrency: str
    base_label: str
    verdict: Verdict | None
    base: list[Result] = field(default_factory=list)
    subject: list[Result] = field(default_factory=list)

    def med(self, side: str, attr: str) -> float:
        results = self.base if side == "base" else self.subject
        return median([getattr(r, attr) for r in results])

    @property
    def ratio(self) -> float:
        base = self.med("base", "ops")
        return self.med("subject", "ops") / base if base else float("nan")

    @property
    def p50_ratio(self) -> float:
        return self.med("subject", "p50_us") / self.med("base", "p50_us")

    @property
    def errors(self) -> str:
        for r in self.base + self.subject:
            if r.errors:
                return r.first_error or "error"
        return ""

    def judge(self) -> tuple[str, str]:
        """("PASS" | "FAIL" | "INVALID" | "info", why)."""
        if self.errors:
            return "INVALID", self.errors
        if self.verdict is None:
            return "info", ""
        ok, why = self.verdict(self)
        return ("PASS" if ok else "FAIL"), why


def overhead_floor(row: Row) -> tuple[bool, str]:
    """Throughput >= 0.85x the echo floor and p50 <= 1.2x."""
    ok = row.ratio >= 0.85 and row.p50_ratio <= 1.2
    return ok, f"ops >= 0.85x: {row.ratio:.2f}x; p50 <= 1.2x: {row.p50_ratio:.2f}x"


def ratio_at_least(floor: float) -> Verdict:
    def check(row: Row) -> tuple[bool, str]:
        return row.ratio >= floor, f"ops >= {floor:g}x: {row.ratio:.2f}x"

    return check


def fmt_lat(row: Row, side: str) -> str:
    p50, p99 = row.med(side, "p50_us"), row.med(side, "p99_us")
    if p50 != p50:  # nan: no latency for this side (a raw loop)
        return "-"
    return f"{p50:,.0f} / {p99:,.0f}"


def fmt_cpu(row: Row, side: str, attr: str = "cpu_us") -> str:
    value = row.med(side, attr)
    return "-" if value != value else f"{value:,.0f}"


def print_rows(rows: list[Row]) -> None:
    head = (
        f"{'scenario':<34} {'tr':<4} {'c':>3} {'base ops/s':>10} {'ops/s':>9} {'ratio':>6}"
        f" {'base p50/p99 us':>17} {'p50/p99 us':>17} {'p50 x':>6} {'cpu us/call':>13}  verdict"
    )
    print(head)
    print("-" * len(head))
    for row in rows:
        verdict, why = row.judge()
        p50x = row.p50_ratio
        print(
            f"{row.scenario:<34} {row.transport:<4} {row.concurrency:>3}"
            f" {row.med('base', 'ops'):10,.0f} {row.med('subject', 'ops'):9,.0f}"
            f" {row.ratio:5.2f}x {fmt_lat(row, 'base'):>17} {fmt_lat(row, 'subject'):>17}"
            f" {'-' if p50x != p50x else f'{p50x:.2f}x':>6}"
            f" {fmt_cpu(row, 'base') + ' / ' + fmt_cpu(row, 'subject'):>13}  {verdict}"
            + (f" ({why})" if why else "")
        )
        client = (
            f"{fmt_cpu(row, 'base', 'client_cpu_us')} / {fmt_cpu(row, 'subject', 'client_cpu_us')}"
        )
        print(f"{'':<34} base: {row.base_label}; client cpu us/call {client}")
