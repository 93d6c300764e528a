"""The daemon's own cost per signature, stage by stage, in process (no gRPC, no client).

A ``Daemon`` is built on a bench state directory (listeners not started) and
each stage of the signing path is timed alone in a tight loop, through public
APIs only: the protobuf parse + serialize that the echo floor pays too,
``convert.sign_request``, ``venue.parse``, ``policy.engine.decide``,
``keystore.credentials`` (cached), ``venue.sign``, ``audit.append`` (the hop
to its writer thread, the write and the fsync included, so it depends on the
state directory's file system), ``convert.signed_response``, the per-RPC ``asyncio.timeout``
of ``signer/server/servicers.py`` and, for reference, the whole
``Pipeline.sign``. Each figure is the minimum over rounds of the mean per
call (CPU cost is best estimated by the least disturbed round on a shared
machine). Stage costs are printed, never asserted.

Run: ``python -m bench.stages [--state-root DIR] [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench.common import CLIENT_ID, binance_order_request, kalshi_balance_request
from bench.state import make_state, rsa_pem
from policy.engine import decide
from signer._proto.sequence.signer.v1 import signing_service_pb2 as pb
from signer.app import Daemon
from signer.config import load_config
from signer.domain import Caller, Mode, Principal, Role
from signer.pipeline import DaemonClock
from signer.server import convert
from signer.venues import build_venues

AUDIT_EVENT = {
    "action": "sign_venue_request", "caller": "listener0:unix", "client_id": CLIENT_ID,
    "mode": "sandbox", "venue": "binance", "endpoint": "POST /api/v3/order", "class": "trade",
    "decision": "allow", "rule": "endpoint.allowed", "reasons": [],
    "request_sha256": "ab" * 32, "policy_sha256": "cd" * 32,
}  # fmt: skip


def sync_us(fn: Callable[[], object], n: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        gc.collect()
        t0 = time.perf_counter_ns()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter_ns() - t0) / n / 1000)
    return best


def async_us(
    loop: asyncio.AbstractEventLoop, fn: Callable[[], Awaitable[object]], n: int, rounds: int
) -> float:
    async def body() -> float:
        t0 = time.perf_counter_ns()
        for _ in range(n):
            await fn()
        return (time.perf_counter_ns() - t0) / n / 1000

    return min(loop.run_until_complete(body()) for _ in range(rounds))


async def _noop() -> None:
    return None


async def _timed_noop() -> None:
    async with asyncio.timeout(30.0):
        await _noop()


def run(directory: Path, n: int, rounds: int) -> list[tuple[str, float]]:
    state = make_state(directory, rsa_pem())
    daemon = Daemon(load_config(state.config))
    loop = asyncio.new_event_loop()
    try:
        return _measure(daemon, loop, n, rounds)
    finally:
        daemon.audit.close()
        daemon.signing.close()
        daemon.keystore.close()
        loop.close()


def _measure(
    daemon: Daemon, loop: asyncio.AbstractEventLoop, n: int, rounds: int
) -> list[tuple[str, float]]:
    raw = binance_order_request()
    msg = pb.SignVenueRequestRequest.FromString(raw)
    req = convert.sign_request(msg)
    venues = build_venues(daemon.config)
    venue, kalshi = venues["binance"], venues["kalshi"]
    principal = Principal(CLIENT_ID, Mode.SANDBOX)
    document = daemon.policy.document
    parsed = venue.parse(principal, req.request)
    creds = daemon.keystore.credentials(principal, "binance")
    assert creds is not None and decide(document, parsed.intent).allowed
    clock = DaemonClock(daemon.keystore)
    signed = venue.sign(parsed, creds, clock)
    response = convert.signed_response(signed)
    caller = Caller("listener0:unix", frozenset({Role.API}))
    k_req = convert.sign_request(pb.SignVenueRequestRequest.FromString(kalshi_balance_request()))
    k_parsed = kalshi.parse(principal, k_req.request)
    k_creds = daemon.keystore.credentials(principal, "kalshi")
    assert k_creds is not None

    def proto() -> None:
        pb.SignVenueRequestRequest.FromString(raw)
        response.SerializeToString()

    slow = max(n // 10, 20)
    return [
        ("protobuf parse request + serialize response (floor pays it too)", sync_us(proto, n, rounds)),
        ("signer/server/convert.py:sign_request", sync_us(lambda: convert.sign_request(msg), n, rounds)),
        ("signer/venues/binance.py:BinanceVenue.parse", sync_us(lambda: venue.parse(principal, req.request), n, rounds)),
        ("policy/engine.py:decide (allow)", sync_us(lambda: decide(document, parsed.intent), n, rounds)),
        ("signer/keystore/keystore.py:Keystore.credentials (cached)", sync_us(lambda: daemon.keystore.credentials(principal, "binance"), n, rounds)),
        ("signer/venues/binance.py:BinanceVenue.sign (encode + HMAC)", sync_us(lambda: venue.sign(parsed, creds, clock), n, rounds)),
        ("signer/audit.py:AuditLog.append (JSON, hash, writer thread, write, fsync)", async_us(loop, lambda: daemon.audit.append(AUDIT_EVENT), slow, rounds)),
        ("  (reference) asyncio.to_thread round trip alone (no work; the audit used it before)",
         async_us(loop, lambda: asyncio.to_thread(int), slow, rounds)),
        ("signer/server/convert.py:signed_response", sync_us(lambda: convert.signed_response(signed), n, rounds)),
        ("asyncio.timeout around the handler (servicers.py:_rpc), minus a plain await",
         async_us(loop, _timed_noop, n, rounds) - async_us(loop, _noop, n, rounds)),
        ("= Pipeline.sign, Binance order, whole (sequential calls)", async_us(loop, lambda: daemon.pipeline.sign(caller, req), slow, rounds)),
        ("signer/venues/kalshi.py:KalshiVenue.sign (RSA-PSS-2048, called directly)", sync_us(lambda: kalshi.sign(k_parsed, k_creds, clock), slow, rounds)),
        ("= Pipeline.sign, Kalshi read, whole (sequential calls; RSA on the signing pool)", async_us(loop, lambda: daemon.pipeline.sign(caller, k_req), slow, rounds)),
    ]  # fmt: skip


def print_stages(rows: list[tuple[str, float]]) -> None:
    for name, us in rows:
        print(f"  {us:8.1f} us  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--state-root", type=Path, help="where the state dir goes (default: tmp)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ssb-stages-", dir=args.state_root))
    try:
        print(f"stage costs per Binance signature, state in {work}:")
        print_stages(run(work / "state", 500 if args.quick else 3000, 3 if args.quick else 7))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
