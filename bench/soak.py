"""``make soak``: a real daemon under a mixed signing load for a set time.

Starts ``sequence-signer serve`` (bench state: dev config on a Unix socket,
``soak_world.soak_policy``), stores credentials for every venue and a trading
wallet through the API, then runs ``--concurrency`` client threads for
``--seconds``, each picking an operation of ``soak_world.operations`` at
random by weight: HMAC venues, Kalshi RSA-PSS, Coinbase JWT, Hyperliquid and
Polymarket EIP-712, refusals that must be refused, wallet operations. A
sampler reads the daemon's VmRSS from /proc every ``--sample`` seconds.

Prints throughput, latency per operation, refusals as designed and
unexpected errors by code, the daemon's RSS growth (first vs last minute)
and its CPU time, and the daemon log's ERROR lines. Exit 1 if any outcome
was unexpected or the daemon logged an error; nothing about speed is judged.

Run: ``python -m bench.soak [--seconds 600] [--concurrency 8] [--sample 5]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import tempfile
import threading
import time
from pathlib import Path

import grpc

from bench import soak_world
from bench.common import cpu_seconds, machine_line, running
from bench.soak_report import OpStats, parse_vmrss, render, rss_summary
from bench.state import make_state, rsa_pem
from signer.client import Stubs, channel
from signer.server.status import error_info


def outcome_of(call: soak_world.Call, stubs: Stubs) -> str:
    try:
        call(stubs)
    except grpc.RpcError as exc:
        info = error_info(exc)
        return f"{exc.code().name}/{info.reason if info else '-'}"
    return "OK"


def worker(target: str, ops: list[soak_world.Op], until: float, seed: int,
           out: dict[str, OpStats]) -> None:  # fmt: skip
    rng = random.Random(seed)
    weights = [op.weight for op in ops]
    with channel(target) as ch:
        stubs = Stubs.on(ch)
        while (t0 := time.monotonic()) < until:
            op = rng.choices(ops, weights)[0]
            result = outcome_of(op.call, stubs)
            out.setdefault(op.name, OpStats(op.expect)).record(result, time.monotonic() - t0)


def sample_rss(pid: int, every: float, stop: threading.Event, out: list[tuple[float, int]]) -> None:
    start = time.monotonic()
    while True:
        out.append((time.monotonic() - start, parse_vmrss(Path(f"/proc/{pid}/status").read_text())))
        if stop.wait(every):
            return


def soak(seconds: float, concurrency: int, every: float, root: Path) -> int:
    began = dt.datetime.now(dt.UTC)
    state = make_state(root / "s", rsa_pem(), policy=soak_world.soak_policy())
    log = root / "daemon.log"
    target = f"unix:{state.uds}"
    with running("daemon", state.daemon_args(), state.uds, state.tcp, log) as daemon:
        creds, requests = soak_world.credentials()
        with channel(target) as ch:
            home = soak_world.setup(Stubs.on(ch), creds)
        ops = soak_world.operations(creds, requests, home)
        samples: list[tuple[float, int]] = []
        stop = threading.Event()
        sampler = threading.Thread(target=sample_rss, args=(daemon.pid, every, stop, samples))
        cpu0, started = cpu_seconds(daemon.pid), time.monotonic()
        sampler.start()
        per_thread: list[dict[str, OpStats]] = [{} for _ in range(concurrency)]
        threads = [
            threading.Thread(target=worker, args=(target, ops, started + seconds, i, per_thread[i]))
            for i in range(concurrency)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.monotonic() - started
        cpu = cpu_seconds(daemon.pid) - cpu0
        stop.set()
        sampler.join()
    stats: dict[str, OpStats] = {}
    for part in per_thread:
        for name, st in part.items():
            stats.setdefault(name, OpStats(st.expect)).merge(st)
    header = (
        f"soak started {began:%Y-%m-%d %H:%M} UTC, {seconds:.0f} s, "
        f"{concurrency} client threads, one Unix socket\nmachine: {machine_line()}\n"
        f"daemon CPU: {cpu:.0f} s over {took:.0f} s ({100 * cpu / took:.0f}% of one core)"
    )
    print(render(stats, took, rss_summary(samples), header))
    errors = [line for line in log.read_text(errors="replace").splitlines() if " ERROR " in line]
    print(f"daemon log: {len(errors)} ERROR lines" + "".join(f"\n  {e}" for e in errors[:10]))
    unexpected = sum(sum(st.unexpected().values()) for st in stats.values())
    return 1 if unexpected or errors else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=600.0, help="measured run time")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads")
    parser.add_argument("--sample", type=float, default=5.0, help="RSS sampling interval (s)")
    parser.add_argument("--keep", action="store_true", help="keep the state directory")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="soak-"))
    try:
        return soak(args.seconds, args.concurrency, args.sample, root)
    finally:
        if args.keep:
            print(f"state kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
