"""The vsock relay, on loopback sockets (the relay takes any listening stream socket).

An upstream echo server on a Unix socket stands in for the daemon's gRPC
listener; the relay listens on TCP 127.0.0.1 or a Unix socket. Real gRPC
through the relay is in tests/integration/test_vsock.py.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from signer.server.vsock_relay import (
    VsockAddress,
    VsockRelay,
    VsockUnavailableError,
    socket_target,
    vsock_listen_socket,
)


def tcp_listener(_address: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


class Upstream:
    """An echo server on a Unix socket that records how its connections ended."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.eofs = 0
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_unix_server(self._echo, path=str(self.path))

    async def _echo(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        self.eofs += 1
        writer.close()

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in self.writers:
            w.close()


async def dial(target: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    if target.startswith("unix:"):
        return await asyncio.open_unix_connection(target[5:])
    host, port = target.rsplit(":", 1)
    return await asyncio.open_connection(host, int(port))


async def closed(reader: asyncio.StreamReader) -> bool:
    """The peer closed: EOF, or a reset (a close with unread bytes sends RST)."""
    try:
        return await asyncio.wait_for(reader.read(10), 5) == b""
    except ConnectionResetError:
        return True


async def eventually(cond: Callable[[], bool]) -> None:
    for _ in range(500):
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never held")


def run_with_relay(
    tmp_path: Path,
    body: Callable[[VsockRelay, Upstream], Awaitable[None]],
    listen: Callable[[str], socket.socket] = tcp_listener,
    max_connections: int = 8,
    upstream_up: bool = True,
) -> None:
    async def main() -> None:
        upstream = Upstream(tmp_path / "up.sock")
        if upstream_up:
            await upstream.start()
        relay = VsockRelay("vsock:1:5000", upstream.path, listen, max_connections)
        relay.bind()
        await relay.start()
        try:
            await body(relay, upstream)
        finally:
            await relay.stop()
            if upstream_up:
                await upstream.stop()

    asyncio.run(main())


@pytest.mark.parametrize("family", ["tcp", "unix"])
def test_bytes_are_relayed_unchanged_both_ways(tmp_path: Path, family: str) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 17)  # larger than every socket buffer

    def unix_listener(_address: str) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(tmp_path / "relay.sock"))
        sock.listen()
        return sock

    async def body(relay: VsockRelay, upstream: Upstream) -> None:
        assert relay.target.startswith("unix:" if family == "unix" else "127.0.0.1:")
        reader, writer = await dial(relay.target)

        async def send() -> None:
            for i in range(0, len(payload), 100_000):
                writer.write(payload[i : i + 100_000])
                await writer.drain()

        sender = asyncio.ensure_future(send())
        echoed = await reader.readexactly(len(payload))
        await sender
        assert echoed == payload
        writer.close()

    run_with_relay(tmp_path, body, unix_listener if family == "unix" else tcp_listener)


def test_connections_beyond_the_bound_are_closed(tmp_path: Path) -> None:
    async def body(relay: VsockRelay, upstream: Upstream) -> None:
        held = [await dial(relay.target) for _ in range(2)]
        for r, w in held:  # both relayed
            w.write(b"ping")
            assert await r.readexactly(4) == b"ping"
        assert relay.active == 2
        r3, w3 = await dial(relay.target)
        assert await closed(r3)  # closed at once
        assert len(upstream.writers) == 2  # never relayed
        held[0][1].close()
        await eventually(lambda: relay.active == 1)
        r4, w4 = await dial(relay.target)  # room again
        w4.write(b"pong")
        assert await r4.readexactly(4) == b"pong"
        for w in (held[1][1], w3, w4):
            w.close()

    run_with_relay(tmp_path, body, max_connections=2)


def test_refusals_are_counted_and_logged_at_most_once_a_minute(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def body(relay: VsockRelay, upstream: Upstream) -> None:
        r1, w1 = await dial(relay.target)
        w1.write(b"ping")
        assert await r1.readexactly(4) == b"ping"
        for _ in range(5):  # a flood at the bound
            r, w = await dial(relay.target)
            assert await closed(r)
            w.close()
        assert relay.refused == 5
        w1.close()

    with caplog.at_level(logging.WARNING, logger="signer.server.vsock_relay"):
        run_with_relay(tmp_path, body, max_connections=1)
    refusals = [r for r in caplog.records if "refusing more" in r.getMessage()]
    assert len(refusals) == 1


def test_client_eof_closes_the_upstream_side(tmp_path: Path) -> None:
    async def body(relay: VsockRelay, upstream: Upstream) -> None:
        reader, writer = await dial(relay.target)
        writer.write(b"x")
        assert await reader.readexactly(1) == b"x"
        writer.close()
        await eventually(lambda: upstream.eofs == 1 and relay.active == 0)

    run_with_relay(tmp_path, body)


def test_upstream_close_closes_the_client_side(tmp_path: Path) -> None:
    async def body(relay: VsockRelay, upstream: Upstream) -> None:
        reader, writer = await dial(relay.target)
        writer.write(b"x")
        assert await reader.readexactly(1) == b"x"
        upstream.writers[0].close()
        assert await closed(reader)
        await eventually(lambda: relay.active == 0)
        writer.close()

    run_with_relay(tmp_path, body)


def test_unreachable_upstream_closes_the_client(tmp_path: Path) -> None:
    async def body(relay: VsockRelay, upstream: Upstream) -> None:
        reader, writer = await dial(relay.target)
        writer.write(b"hello")
        assert await closed(reader)
        await eventually(lambda: relay.active == 0)
        writer.close()

    run_with_relay(tmp_path, body, upstream_up=False)


def test_stop_closes_every_relayed_connection(tmp_path: Path) -> None:
    async def main() -> None:
        upstream = Upstream(tmp_path / "up.sock")
        await upstream.start()
        relay = VsockRelay("vsock:1:5000", upstream.path, tcp_listener)
        relay.bind()
        await relay.start()
        conns = [await dial(relay.target) for _ in range(3)]
        for r, w in conns:
            w.write(b"a")
            assert await r.readexactly(1) == b"a"
        await relay.stop()
        assert relay.active == 0
        for r, w in conns:
            assert await closed(r)
            w.close()
        with pytest.raises(ConnectionRefusedError):  # the listener is gone too
            await dial(relay.target)
        await upstream.stop()

    asyncio.run(main())


@pytest.mark.parametrize(
    ("text", "cid", "port"),
    [("vsock:3:5000", 3, 5000), ("vsock:4294967295:4294967295", 2**32 - 1, 2**32 - 1)],
)
def test_vsock_address(text: str, cid: int, port: int) -> None:
    address = VsockAddress.parse(text)
    assert (address.cid, address.port, str(address)) == (cid, port, text)


@pytest.mark.parametrize(
    "text",
    [
        "vsock:3", "vsock:3:5000:1", "VSOCK:3:5000", " vsock:3:5000", "vsock:-1:5000",
        "vsock:+3:5000", "vsock:3:", "vsock::5000", "vsock:4294967296:1", "vsock:3:0x10",
        "vsock:\uff13:5000", "unix:3:5000", "vsock:3:5000 ", "vsock:00000000003:1",
    ],
)  # fmt: skip
def test_expfail_vsock_address(text: str) -> None:
    with pytest.raises(ValueError, match=r"vsock:CID:PORT"):
        VsockAddress.parse(text)


def test_a_vsock_address_that_cannot_be_had_is_a_typed_error() -> None:
    """CID 12345 is not this machine's: EADDRNOTAVAIL where the kernel has vsock,
    EAFNOSUPPORT (or no AF_VSOCK at all) where it has not; both are the typed error."""
    with pytest.raises(VsockUnavailableError, match=r"^cannot listen on vsock:12345:5000: ") as err:
        vsock_listen_socket("vsock:12345:5000")
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert any(name in str(err.value) for name in ("EADDRNOTAVAIL", "EAFNOSUPPORT", "AF_VSOCK"))


def test_socket_target_names_each_family(tmp_path: Path) -> None:
    tcp = tcp_listener("")
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(str(tmp_path / "t.sock"))
    try:
        assert socket_target(tcp) == f"127.0.0.1:{tcp.getsockname()[1]}"
        assert socket_target(unix) == f"unix:{tmp_path / 't.sock'}"
    finally:
        tcp.close()
        unix.close()
