"""``make bench``: the daemon against its floors (DESIGN.md section 7), side by side.

One process tree: this script, the daemon (``python -m signer serve``, dev
config: a Unix socket and plaintext TCP on 127.0.0.1), the echo floor
(``bench/echo_server.py``, same message types, canned real response) and,
for each measurement, a load process (``bench/load.py``). Floor and daemon
runs alternate within every round (the order flips each round); figures are
medians over the rounds. Scenarios:

- HMAC venue (Binance order) unary, c=1 and c=32, UDS and TCP: daemon vs echo
  floor; PASS if ops >= 0.85x and p50 <= 1.2x;
- ``SignVenueRequestStream`` (one stream, window 32) vs unary c=1: >= 4x;
- Kalshi RSA-PSS at c=8 vs a single-threaded raw ``cryptography`` loop: >= 1.6x;
- start-up to SERVING with 10,000 vs 10 stored credentials: <= 1.5x;
- EIP-712 vs eth-account (``bench/eip712_bench.py``): >= 8x, byte-identical;
- the daemon's signing path stage by stage, in process (``bench/stages.py``) and
  scheme micro-benchmarks (``bench/micro.py``): information only;
- ``--profile``: py-spy on the floor and the daemon under HMAC c=32 load.

Nothing is asserted: the script prints figures and verdicts and exits 0
(``--strict``: exit 1 if a verdict is FAIL or INVALID).

Run: ``python -m bench.run [--quick] [--profile] [--rounds N] [--duration S]``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc

from bench import eip712_bench, micro, stages
from bench import profile as prof
from bench.common import (
    SIGN_METHOD,
    Server,
    binance_order_request,
    free_port,
    kalshi_balance_request,
    machine_line,
    running,
    thread_cpu_seconds,
)
from bench.scenarios import (
    LoadSettings,
    Result,
    Row,
    load,
    overhead_floor,
    print_rows,
    ratio_at_least,
)
from bench.startup import compare, print_startup
from bench.state import State, make_state, rsa_pem


def fsync_probe(directory: Path, n: int = 200) -> str:
    """p50 / p99 of fsync after a 400-byte append in ``directory`` (the audit log's cost)."""
    path = directory / ".fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    times = []
    try:
        for _ in range(n):
            os.write(fd, b"x" * 399 + b"\n")
            t0 = time.perf_counter()
            os.fsync(fd)
            times.append(time.perf_counter() - t0)
    finally:
        os.close(fd)
        path.unlink()
    times.sort()
    return f"fsync p50 {times[n // 2] * 1e6:,.0f} us, p99 {times[int(n * 0.99)] * 1e6:,.0f} us"


def first_call(server: Server, request: bytes) -> bytes:
    """One call before any load: the response bytes (the echo floor's canned response)."""
    with grpc.insecure_channel(server.target("uds")) as ch:
        call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = ch.unary_unary(SIGN_METHOD)
        return bytes(call(request, timeout=30))


@contextlib.contextmanager
def servers(work: Path, state: State) -> Iterator[tuple[Server, Server, Path, Path]]:
    requests = work / "binance.req", work / "kalshi.req"
    requests[0].write_bytes(binance_order_request())
    requests[1].write_bytes(kalshi_balance_request())
    log = work / "servers.log"
    with running("daemon", state.daemon_args(), state.uds, state.tcp, log) as daemon:
        (work / "binance.resp").write_bytes(first_call(daemon, requests[0].read_bytes()))
        first_call(daemon, requests[1].read_bytes())  # the Kalshi key is unsealed and parsed
        echo_uds, echo_tcp = work / "echo.sock", f"127.0.0.1:{free_port()}"
        args = ["-m", "bench.echo_server", "--uds", str(echo_uds), "--tcp", echo_tcp,
                "--response", str(work / "binance.resp")]  # fmt: skip
        with running("echo", args, echo_uds, echo_tcp, log) as echo:
            yield daemon, echo, requests[0], requests[1]


def measure(daemon: Server, echo: Server, req: Path, kalshi: Path, kalshi_pem: bytes,
            rounds: int, s: LoadSettings) -> list[Row]:  # fmt: skip
    hmac_rows = {
        (tr, c): Row("HMAC unary (Binance order)", tr, str(c), "echo floor, same load", overhead_floor)
        for tr in ("uds", "tcp") for c in (1, 32)
    }  # fmt: skip
    stream = Row(
        "HMAC stream w=32 vs unary c=1", "uds", "32", "daemon unary c=1 (UDS)", ratio_at_least(4)
    )
    stream_32 = Row("HMAC stream w=32 vs unary c=32", "uds", "32", "daemon unary c=32 (UDS)", None)
    echo_stream = Row(
        "echo stream w=32 vs unary c=1",
        "uds",
        "32",
        "echo unary c=1 (UDS): what gRPC alone gives",
        None,
    )
    rsa = Row(
        "Kalshi RSA-PSS unary",
        "uds",
        "8",
        "raw RSA-PSS loop, 1 thread, no gRPC",
        ratio_at_least(1.6),
    )
    for i in range(rounds):
        flip = i % 2 == 1
        for (tr, c), row in hmac_rows.items():
            pair = [(echo, row.base), (daemon, row.subject)]
            for server, out in reversed(pair) if flip else pair:
                out.append(load(server, tr, req, c, s))
        d_stream, e_stream = (
            load(daemon, "uds", req, 32, s, stream=True),
            load(echo, "uds", req, 32, s, stream=True),
        )
        stream.subject.append(d_stream)
        stream.base.append(hmac_rows["uds", 1].subject[-1])
        stream_32.subject.append(d_stream)
        stream_32.base.append(hmac_rows["uds", 32].subject[-1])
        echo_stream.subject.append(e_stream)
        echo_stream.base.append(hmac_rows["uds", 1].base[-1])
        for side in ("subject", "base") if flip else ("base", "subject"):
            if side == "base":
                rsa.base.append(Result(micro.rsa_raw_ops(kalshi_pem, s.duration)))
            else:
                rsa.subject.append(load(daemon, "uds", kalshi, 8, s))
        print(f"  round {i + 1}/{rounds} done", file=sys.stderr, flush=True)
    return [*hmac_rows.values(), stream, stream_32, echo_stream, rsa]


def profile(daemon: Server, echo: Server, req: Path, work: Path, seconds: int) -> None:
    """py-spy each server for ``seconds`` in the middle of a c=32 HMAC load run."""
    for server in (echo, daemon):
        out = work / f"{server.name}.pyspy.raw"
        with ThreadPoolExecutor(1) as pool:
            running_load = pool.submit(load, server, "uds", req, 32, LoadSettings(seconds + 1, 2))
            time.sleep(2.2)  # the load process has started and warmed up
            cpu0 = thread_cpu_seconds(server.pid)
            prof.record(server.pid, seconds, out).wait()
            cpu1 = thread_cpu_seconds(server.pid)
            ops = running_load.result().ops
        print(
            f"\n{server.name} under HMAC unary c=32 (UDS), {ops:,.0f} ops/s while sampled; py-spy --gil:"
        )
        print(prof.summarise(out, prof.RATE, int(ops * seconds)))
        print("CPU per call by thread (/proc, while sampled):")
        calls = max(ops * seconds, 1)
        used = {k: v - cpu0.get(k, 0.0) for k, v in cpu1.items()}
        for label, sec in sorted(used.items(), key=lambda kv: -kv[1]):
            if sec > 0:
                print(f"  {sec / calls * 1e6:7.1f} us/call  {label}")
        print(f"(raw stacks: {out}, kept with --keep)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="about a minute: 1 round, short runs")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--duration", type=float, help="measured seconds per load run")
    parser.add_argument("--warmup", type=float)
    parser.add_argument("--startup-rounds", type=int)
    parser.add_argument("--profile", action="store_true", help="py-spy the daemon and the floor")
    parser.add_argument("--state-root", type=Path, help="where state dirs go (default: tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the state dirs and logs")
    parser.add_argument("--strict", action="store_true", help="exit 1 on FAIL / INVALID")
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    s = LoadSettings(
        args.duration or (1.5 if args.quick else 5.0), args.warmup or (0.5 if args.quick else 1.0)
    )
    start_rounds = args.startup_rounds or (2 if args.quick else 5)
    work = Path(tempfile.mkdtemp(prefix="ssb-", dir=args.state_root))
    print(f"sequence-signer bench, {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(f"machine: {machine_line()}")
    print(f"state in {work}: {fsync_probe(work)} (every signature waits for one audit fsync)")
    print(f"{rounds} round(s) x {s.duration:g} s measured after {s.warmup:g} s warm-up per run; "
          "TCP is dev-mode plaintext on 127.0.0.1")  # fmt: skip
    verdicts: list[str] = []
    try:
        kalshi_pem = rsa_pem()
        state = make_state(work / "main", kalshi_pem)
        with servers(work, state) as (daemon, echo, req, kalshi):
            rows = measure(daemon, echo, req, kalshi, kalshi_pem, rounds, s)
            print()
            print_rows(rows)
            verdicts += [row.judge()[0] for row in rows]
            if args.profile:
                profile(daemon, echo, req, work, 6 if args.quick else 15)
        print()
        print(f"daemon stage costs per signature, in process (bench/stages.py, state in {work}):")
        stages.print_stages(stages.run(work / "stages", *((500, 3) if args.quick else (3000, 7))))
        print()
        small = make_state(work / "s10", kalshi_pem, fillers=8)
        large = make_state(work / "s10k", kalshi_pem, fillers=9_998)
        a, b = compare(small, large, start_rounds, work / "startup.log")
        verdicts.append("PASS" if print_startup(a, b, 10, 10_000) else "FAIL")
        audit = state.dir / "audit.log"
        one = compare(small, state, 1, work / "startup.log")[1][0]
        print(f"  (info) start-up of the main state after the load, audit log "
              f"{audit.stat().st_size / 1e6:,.1f} MB: {one * 1000:,.0f} ms")  # fmt: skip
        print()
        print("EIP-712 vs eth-account (bench/eip712_bench.py):")
        n, r = (300, 3) if args.quick else (1000, 7)
        ratios = eip712_bench.run_all(n, r)
        verdicts.append("PASS" if min(ratios) >= eip712_bench.FLOOR else "FAIL")
        print()
        print("scheme micro-benchmarks (information, no floor):")
        micro.print_table(micro.run(0.05, 3) if args.quick else micro.run(0.2, 7))
    finally:
        if args.keep:
            print(f"\nkept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    bad = [v for v in verdicts if v in ("FAIL", "INVALID")]
    print(f"\nverdicts: {verdicts.count('PASS')} PASS, {len(bad)} FAIL/INVALID; load average now "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    return 1 if args.strict and bad else 0


if __name__ == "__main__":
    sys.exit(main())
