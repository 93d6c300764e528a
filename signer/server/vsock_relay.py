"""A vsock listener as a byte relay to the daemon's own Unix-socket gRPC server.

grpcio from PyPI is built without vsock ("VSOCK is not supported"), so a
``kind = "vsock"`` listener is served like this: its gRPC server listens on
a private Unix socket in the state directory (mode 0600), and this relay
listens on ``vsock:CID:PORT`` with Python's ``socket.AF_VSOCK`` and copies
bytes both ways between each vsock connection and a new connection to that
socket. gRPC framing, limits, deadlines and authorisation are all the Unix
listener's; the relay never parses a byte.

Invariants (tests in tests/unit/server/test_vsock_relay.py):

1. Bytes are copied unchanged and in order in both directions, with
   backpressure (a slow reader stalls its writer; nothing is buffered unboundedly).
2. At most ``max_connections`` connections are relayed at once; a connection
   beyond that is closed at once, before anything is read from it.
3. EOF or an error on either side closes both sides; if the Unix socket
   cannot be reached the vsock connection is closed. ``stop()`` closes every
   relayed connection; none outlives it.
4. An address that cannot be listened on fails ``bind()`` with
   ``VsockUnavailableError`` naming the address and the OS reason (no
   vsock in the kernel, a CID that is not ours, a port in use).

SECURITY: vsock has no peer credentials we can check (no file mode, no
certificate): every connection gets the role configured for the listener,
and the hypervisor decides who can connect (for a Nitro Enclave, only its
parent instance). README.md "Enclaves (vsock)" says which role to give it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 64
REFUSAL_LOG_INTERVAL_S = 60.0
_CHUNK = 64 * 1024
_BACKLOG = 128
_U32 = 2**32 - 1

ListenSocketFactory = Callable[[str], socket.socket]
"""Given the configured address, return a bound, listening stream socket."""


class VsockUnavailableError(Exception):
    """A vsock listener could not be opened; the message names the address and why."""


@dataclass(frozen=True, slots=True)
class VsockAddress:
    """``vsock:CID:PORT``; 4294967295 is VMADDR_CID_ANY / VMADDR_PORT_ANY."""

    cid: int
    port: int

    @classmethod
    def parse(cls, text: str) -> VsockAddress:
        """Raises ValueError naming the expected form."""
        parts = text.split(":")
        if (
            len(parts) != 3
            or parts[0] != "vsock"
            or not all(p.isascii() and p.isdigit() and len(p) <= 10 for p in parts[1:])
            or not all(int(p) <= _U32 for p in parts[1:])
        ):
            raise ValueError("must be vsock:CID:PORT (decimal, 0-4294967295)")
        return cls(int(parts[1]), int(parts[2]))

    def __str__(self) -> str:
        return f"vsock:{self.cid}:{self.port}"


def vsock_listen_socket(address: str) -> socket.socket:
    """A listening AF_VSOCK socket on ``address`` (invariant 4)."""
    parsed = VsockAddress.parse(address)
    family = getattr(socket, "AF_VSOCK", None)
    if family is None:
        raise VsockUnavailableError(f"cannot listen on {address}: this Python has no AF_VSOCK")
    try:
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:
        raise VsockUnavailableError(f"cannot listen on {address}: {_why(exc)}") from None
    try:
        sock.bind((parsed.cid, parsed.port))
        sock.listen(_BACKLOG)
    except OSError as exc:
        sock.close()
        raise VsockUnavailableError(f"cannot listen on {address}: {_why(exc)}") from None
    return sock


def _why(exc: OSError) -> str:
    name = errno.errorcode.get(exc.errno or 0, "error")
    return f"{name} ({exc.strerror or 'no detail'})"


def socket_target(sock: socket.socket) -> str:
    """What a client dials to reach ``sock``: vsock:CID:PORT, unix:PATH or HOST:PORT."""
    name = sock.getsockname()
    if sock.family == getattr(socket, "AF_VSOCK", None):
        return str(VsockAddress(int(name[0]), int(name[1])))
    if sock.family == socket.AF_UNIX:
        return f"unix:{name}"
    return f"{name[0]}:{name[1]}"


class VsockRelay:
    """Relays every connection accepted on a listening socket to ``upstream`` (a Unix socket)."""

    def __init__(
        self,
        address: str,
        upstream: Path,
        listen: ListenSocketFactory = vsock_listen_socket,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be positive")
        self._address = address
        self._upstream = upstream
        self._listen = listen
        self._max = max_connections
        self._sock: socket.socket | None = None
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.refused = 0  # connections closed at the bound (invariant 2)
        self._warned_at = -REFUSAL_LOG_INTERVAL_S
        self.target = ""

    @property
    def active(self) -> int:
        """Connections being relayed now."""
        return len(self._tasks)

    def bind(self) -> None:
        """Open the listening socket (before the gRPC server starts: fail fast)."""
        self._sock = self._listen(self._address)
        self.target = socket_target(self._sock)

    async def start(self) -> None:
        """Start accepting (``bind`` first)."""
        if self._sock is None:
            raise RuntimeError("bind() the relay before start()")
        self._server = await asyncio.start_server(self._accept, sock=self._sock)

    def close_listener(self) -> None:
        """Accept no new connection; relayed ones continue (graceful shutdown)."""
        if self._server is not None:
            self._server.close()
        elif self._sock is not None:
            self._sock.close()

    async def stop(self) -> None:
        """Close the listener and every relayed connection (invariant 3)."""
        self.close_listener()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._tasks) >= self._max:  # invariant 2
            self.refused += 1
            now = time.monotonic()
            # A flood must not become a flood of log lines: one warning a minute at most.
            if now - self._warned_at >= REFUSAL_LOG_INTERVAL_S:
                self._warned_at = now
                log.warning(
                    "%s: %d connections relayed; refusing more (%d refused so far)",
                    self.target, self._max, self.refused,
                )  # fmt: skip
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        log.debug("%s: connection from %s", self.target, writer.get_extra_info("peername"))
        try:
            await self._relay(reader, writer)
        finally:
            self._writers.discard(writer)
            self._tasks.discard(task)
            writer.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(str(self._upstream))
        except OSError:
            log.error("%s: the daemon's relay socket cannot be reached", self.target)
            return
        self._writers.add(up_writer)
        pumps = [
            asyncio.ensure_future(_pump(reader, up_writer)),
            asyncio.ensure_future(_pump(up_reader, writer)),
        ]
        try:
            # Invariant 3: the first side to end (EOF or error) ends both.
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            self._writers.discard(up_writer)
            up_writer.close()
            writer.close()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until EOF or an error on either end (invariant 1: drain is the backpressure)."""
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
