"""Listeners: one grpc.aio server per configured listener.

SECURITY: a listener never mixes roles it was not configured for (Clef's
"trusted and untrusted APIs never share a listener"); the plaintext TCP
listener exists only in dev mode and says so loudly at start. Every listener
bounds message size and concurrent calls, and every call passes the per-caller
in-flight cap of ``signer.server.inflight`` (one budget across listeners). A
vsock listener is a gRPC server on a private Unix socket in the state directory
plus a byte relay from vsock to it (``signer.server.vsock_relay``); its
callers get the listener's configured role.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from policy.document import MAX_DOCUMENT_BYTES
from signer.config import Config, ListenerConfig
from signer.server.auth import CallerResolver
from signer.server.inflight import InflightLimiter, PerClientInflight
from signer.server.servicers import register
from signer.server.vsock_relay import ListenSocketFactory, VsockRelay, vsock_listen_socket
from signer.services import Services

log = logging.getLogger(__name__)

MAX_REPLY_BYTES = MAX_DOCUMENT_BYTES + (64 << 10)
"""Send limit floor: GetPolicy returns a whole policy document (at most
``MAX_DOCUMENT_BYTES``) and a signed request carries what was asked plus headers."""


@dataclass
class BoundListener:
    config: ListenerConfig
    server: grpc.aio.Server
    target: str  # what a client dials, e.g. "unix:/path" or "127.0.0.1:50051"
    relay: VsockRelay | None = None  # vsock: the relay in front of ``server``'s Unix socket
    inner: Path | None = None  # vsock: that Unix socket


class Listeners:
    """Starts, reports and stops every listener of a config.

    ``interceptors`` are installed on every listener (observability, when on).
    ``vsock_socket`` makes the listening socket of a vsock listener from its
    address (tests inject loopback sockets where the kernel has no vsock loopback).
    """

    def __init__(
        self,
        config: Config,
        services: Services,
        interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
        vsock_socket: ListenSocketFactory = vsock_listen_socket,
    ) -> None:
        self._config = config
        self._services = services
        self._interceptors = tuple(interceptors)
        self._health = health.aio.HealthServicer()
        # One limiter for all listeners: a caller identity has one budget (inflight.py).
        self.inflight = InflightLimiter(config.limits.max_inflight_per_client)
        self.vsock_socket = vsock_socket
        self.bound: list[BoundListener] = []

    async def start(self) -> None:
        for i, listener in enumerate(self._config.listeners):
            self.bound.append(await self._start_one(f"listener{i}", listener))
        for bound in self.bound:
            log.info("listening on %s (%s)", bound.target, bound.config.kind)

    async def stop(self, grace: float) -> None:
        await self._health.enter_graceful_shutdown()
        for bound in self.bound:
            if bound.relay is not None:
                bound.relay.close_listener()  # no new vsock connections during the grace
        for bound in self.bound:
            await bound.server.stop(grace)
        for bound in self.bound:
            if bound.relay is not None:
                await bound.relay.stop()
            paths = [bound.config.address] if bound.config.kind == "unix" else []
            paths += [str(bound.inner)] if bound.inner is not None else []
            for path in paths:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)

    async def _start_one(self, name: str, listener: ListenerConfig) -> BoundListener:
        if listener.kind != "vsock":
            return await self._start_grpc(name, listener)
        relay = VsockRelay(listener.address, self._inner_path(name), self.vsock_socket)
        relay.bind()  # fails (VsockUnavailableError) before anything is served
        try:
            bound = await self._start_grpc(name, listener)
        except BaseException:
            await relay.stop()
            raise
        bound.relay, bound.inner, bound.target = relay, self._inner_path(name), relay.target
        try:
            await relay.start()
        except BaseException:
            await bound.server.stop(None)
            await relay.stop()
            raise
        return bound

    def _inner_path(self, name: str) -> Path:
        return self._config.state_dir / f"{name}.vsock-relay.sock"

    async def _start_grpc(self, name: str, listener: ListenerConfig) -> BoundListener:
        limits = self._config.limits
        resolver = CallerResolver(
            f"{name}:{listener.kind}", listener.role if listener.kind != "tls" else None,
            self._config.callers,
        )  # fmt: skip
        server = grpc.aio.server(
            # SECURITY: a message over max_message_bytes is refused RESOURCE_EXHAUSTED by
            # the transport before it is parsed (tests/integration/test_server_limits.py).
            # Replies are the daemon's own and may be larger than the caller's message
            # (a signed request, the policy document): the send limit only has to be finite.
            options=[
                ("grpc.max_receive_message_length", limits.max_message_bytes),
                ("grpc.max_send_message_length", max(limits.max_message_bytes, MAX_REPLY_BYTES)),
                ("grpc.so_reuseport", 0),
            ],
            maximum_concurrent_rpcs=limits.max_concurrent_rpcs,
            # Observability outermost (it counts the calls the in-flight cap refuses).
            interceptors=[*self._interceptors, PerClientInflight(self.inflight, resolver, name)],
        )
        names = register(server, self._services, resolver, limits.max_deadline_s)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            [*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
        )
        target = self._bind(server, listener, name)
        await server.start()
        if listener.kind == "unix":
            os.chmod(listener.address, listener.socket_mode)
        elif listener.kind == "vsock":
            os.chmod(self._inner_path(name), 0o600)  # only the daemon's user; the relay connects
        for service in ("", *names):
            await self._health.set(service, health_pb2.HealthCheckResponse.SERVING)
        return BoundListener(listener, server, target)

    def _bind(self, server: grpc.aio.Server, listener: ListenerConfig, name: str) -> str:
        if listener.kind in ("unix", "vsock"):
            path = Path(listener.address) if listener.kind == "unix" else self._inner_path(name)
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            server.add_insecure_port(f"unix:{path}")
            return f"unix:{path}"
        if listener.kind == "tcp":
            log.warning(
                "DEV MODE: plaintext TCP listener on %s: no authentication, no encryption. "
                "Never use this in production.",
                listener.address,
            )
            port = server.add_insecure_port(listener.address)
            return f"{listener.address.rsplit(':', 1)[0]}:{port}"
        assert listener.cert_file and listener.key_file and listener.client_ca_file
        credentials = grpc.ssl_server_credentials(
            [(listener.key_file.read_bytes(), listener.cert_file.read_bytes())],
            root_certificates=listener.client_ca_file.read_bytes(),
            require_client_auth=True,
        )
        port = server.add_secure_port(listener.address, credentials)
        return f"{listener.address.rsplit(':', 1)[0]}:{port}"
