"""Load generator: N in-flight unary calls, or one stream with a window of N, for a fixed time.

The client runs in its own process (``bench/run.py`` starts it), so it shares
no GIL with the server it drives. It sends pre-serialized request bytes and
does not parse responses (unary: a response is a success, an error raises;
stream: only the ``id`` and the oneof tag of each response are read), so the
client's own cost is as small as grpc.aio allows and equal for every target.

Throughput is the number of calls that finish inside the measured window over
its length; latencies (p50 / p99) are those of the calls that also started in it.
Prints one JSON object: ``ops``, ``p50_us``, ``p99_us``, ``calls`` (all,
warm-up included, for server CPU per call), ``client_cpu_us`` (this process's
CPU per call after its imports), ``errors``, ``first_error``.

Run: ``python -m bench.load --target unix:/path --request FILE [--stream] -c 32 -d 5``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from bench.common import SIGN_METHOD, STREAM_METHOD, percentile

now = time.perf_counter


@dataclass
class Sample:
    start: float
    end: float
    latencies: list[float] = field(default_factory=list)
    completed: int = 0
    calls: int = 0
    errors: int = 0
    first_error: str = ""

    def record(self, t0: float, t1: float) -> None:
        self.calls += 1
        if self.start <= t1 <= self.end:
            self.completed += 1
            if t0 >= self.start:
                self.latencies.append(t1 - t0)

    def error(self, text: str) -> None:
        self.errors += 1
        self.first_error = self.first_error or text


async def unary(target: str, request: bytes, concurrency: int, s: Sample) -> None:
    async with grpc.aio.insecure_channel(target) as ch:
        call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = ch.unary_unary(SIGN_METHOD)
        await call(request, wait_for_ready=True)  # connect before the clock matters

        async def worker() -> None:
            while True:
                t0 = now()
                if t0 >= s.end:
                    return
                try:
                    await call(request)
                except grpc.aio.AioRpcError as exc:
                    s.error(f"{exc.code().name}: {exc.details()}")
                    continue
                s.record(t0, now())

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _id_and_tag(msg: bytes) -> tuple[int, int]:
    """``id`` (field 1) and the tag byte after it of a SignVenueRequestStreamResponse."""
    if not msg or msg[0] != 0x08:
        return 0, msg[0] if msg else 0
    n, shift, i = 0, 0, 1
    while True:
        b = msg[i]
        n |= (b & 0x7F) << shift
        i += 1
        if b < 0x80:
            return n, msg[i] if i < len(msg) else 0
        shift += 7


async def stream(target: str, request: bytes, window: int, s: Sample) -> None:
    tail = b"\x12" + _varint(len(request)) + request  # field 2: the SignVenueRequestRequest
    sent: dict[int, float] = {}
    slots = asyncio.Semaphore(window)
    async with grpc.aio.insecure_channel(target) as ch:
        await ch.channel_ready()
        method: grpc.aio.StreamStreamMultiCallable[bytes, bytes] = ch.stream_stream(STREAM_METHOD)
        call = method()

        async def writer() -> None:
            i = 0
            while True:
                await slots.acquire()
                t0 = now()
                if t0 >= s.end:
                    break
                i += 1
                sent[i] = t0
                await call.write(b"\x08" + _varint(i) + tail)
            await call.done_writing()

        async def reader() -> None:
            while True:
                msg = await call.read()
                if not isinstance(msg, bytes):  # grpc.aio.EOF
                    return
                item, tag = _id_and_tag(msg)
                t0 = sent.pop(item, None)
                slots.release()
                if tag != 0x12 or t0 is None:
                    s.error(f"stream item {item}: in-band error or unknown id (tag {tag:#x})")
                    continue
                s.record(t0, now())

        await asyncio.gather(writer(), reader())


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    request = args.request.read_bytes()
    cpu0 = time.process_time()
    start = now() + args.warmup
    s = Sample(start, start + args.duration)
    run = stream if args.stream else unary
    await run(args.target, request, args.concurrency, s)
    lat = sorted(s.latencies)
    return {
        "client_cpu_us": (time.process_time() - cpu0) * 1e6 / max(s.calls, 1),
        "ops": s.completed / args.duration,
        "p50_us": percentile(lat, 50) * 1e6,
        "p99_us": percentile(lat, 99) * 1e6,
        "calls": s.calls,
        "errors": s.errors,
        "first_error": s.first_error,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--target", required=True, help="unix:/path or 127.0.0.1:PORT")
    parser.add_argument("--request", type=Path, required=True, help="serialized request")
    parser.add_argument("--stream", action="store_true", help="one bidi stream, window -c")
    parser.add_argument("-c", "--concurrency", type=int, default=1)
    parser.add_argument("-d", "--duration", type=float, default=5.0, help="measured seconds")
    parser.add_argument("-w", "--warmup", type=float, default=1.0, help="seconds not measured")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args))))


if __name__ == "__main__":
    main()
