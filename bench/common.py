"""Shared pieces of the benchmark harness: processes, health, statistics, requests.

Invariants:

1. Every server a benchmark starts listens on a Unix socket or on 127.0.0.1,
   runs in its own process, and is stopped (SIGTERM, then SIGKILL) by the
   ``Server`` context manager that started it.
2. The request bytes of a scenario are built once here and sent unchanged to
   the floor (echo server) and to the daemon, so both parse the same bytes.
3. Nothing here asserts a timing; callers print figures and verdicts.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from signer._proto.sequence.signer.v1 import common_pb2, signing_service_pb2

REPO = Path(__file__).resolve().parents[1]
SANDBOX = common_pb2.MODE_SANDBOX
CLIENT_ID = "bench"
BINANCE_ORDER = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=20000"
SIGN_METHOD = "/sequence.signer.v1.SigningService/SignVenueRequest"
STREAM_METHOD = "/sequence.signer.v1.SigningService/SignVenueRequestStream"
_CLK_TCK = os.sysconf("SC_CLK_TCK")


def sign_request(venue: str, method: str, path: str, query: str = "", body: bytes = b"") -> bytes:
    """A serialized ``SignVenueRequestRequest`` for the bench principal (sandbox)."""
    msg = signing_service_pb2.SignVenueRequestRequest(
        principal=common_pb2.Principal(client_id=CLIENT_ID, mode=SANDBOX),
        venue=venue,
        request=common_pb2.HttpRequest(method=method, path=path, query=query, body=body),
    )
    return msg.SerializeToString()


def binance_order_request() -> bytes:
    return sign_request("binance", "POST", "/api/v3/order", query=BINANCE_ORDER)


def kalshi_balance_request() -> bytes:
    return sign_request("kalshi", "GET", "/trade-api/v2/portfolio/balance")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def health_serving(target: str, timeout: float = 0.5) -> bool:
    """One health check; False on any transport error."""
    with grpc.insecure_channel(target) as ch:
        try:
            resp = health_pb2_grpc.HealthStub(ch).Check(
                health_pb2.HealthCheckRequest(), timeout=timeout, wait_for_ready=False
            )
        except grpc.RpcError:
            return False
    return bool(resp.status == health_pb2.HealthCheckResponse.SERVING)


def wait_serving(uds: Path, proc: subprocess.Popen[bytes], limit_s: float = 60.0) -> float:
    """Poll until health on ``unix:uds`` is SERVING; returns the monotonic time it was."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before serving")
        if uds.exists() and health_serving(f"unix:{uds}"):
            return time.monotonic()
        time.sleep(0.002)
    raise RuntimeError("server did not report SERVING in time")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU seconds by thread group: the event loop (main thread), the other threads
    named "python" (grpc.aio's completion-queue poller, the daemon's audit writer,
    RSA signing pool and asyncio.to_thread workers) and gRPC's named threads."""
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
            comm = (task / "comm").read_text().strip()
        except OSError:
            continue  # the thread ended
        fields = stat.rsplit(")", 1)[1].split()
        label = "event loop (main thread)" if task.name == str(pid) else comm
        label = (
            "other Python threads (gRPC poller, audit writer, signing pool)"
            if label == "python"
            else label
        )
        out[label] = out.get(label, 0.0) + (int(fields[11]) + int(fields[12])) / _CLK_TCK
    return out


@dataclass
class Server:
    """A server process listening on ``uds`` (and ``tcp``, host:port)."""

    name: str
    proc: subprocess.Popen[bytes]
    uds: Path
    tcp: str

    @property
    def pid(self) -> int:
        return self.proc.pid

    def target(self, transport: str) -> str:
        return f"unix:{self.uds}" if transport == "uds" else self.tcp


def spawn(args: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, *args], cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextlib.contextmanager
def running(name: str, args: Sequence[str], uds: Path, tcp: str, log: Path) -> Iterator[Server]:
    proc = spawn(args, log)
    try:
        wait_serving(uds, proc)
        yield Server(name, proc, uds, tcp)
    finally:
        stop(proc)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(q / 100 * len(sorted_values))))
    return sorted_values[rank - 1]


def machine_line() -> str:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} x {cpu}, python {sys.version.split()[0]}, grpcio {grpc.__version__}, "
        f"load average {load}"
    )
