"""Observability of one daemon: built from the config, started and stopped with it.

``Observability.create`` decides once, at start, what is on:

- metrics: ``[metrics]`` is configured. Then a ``Metrics`` registry and, from
  ``start`` to ``stop``, its HTTP endpoint (prometheus-client's WSGI server on
  a daemon thread; every path answers with the exposition text).
- decision log lines: the ``signer.decisions`` logger is enabled for INFO at
  start (``log_level`` INFO or DEBUG).

When neither is on, ``observer`` is None: the audit log, the pipeline and the
server get no hook and no interceptor, and the hot path pays nothing.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING

from prometheus_client import disable_created_metrics, start_http_server

from signer.observability.logs import DECISIONS
from signer.observability.metrics import Metrics
from signer.observability.observer import Observer
from signer.observability.settings import MetricsConfig, format_listen

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    import grpc

    from signer.keystore import Keystore
    from signer.pipeline import PolicyHolder

log = logging.getLogger(__name__)


class MetricsListenError(RuntimeError):
    """The metrics endpoint could not listen; the message names the address."""


class Observability:
    """The observer (or None), the metrics registry (or None) and its endpoint."""

    def __init__(self, observer: Observer | None, metrics_config: MetricsConfig | None) -> None:
        self.observer = observer
        self.metrics = observer.metrics if observer is not None else None
        self._config = metrics_config
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def create(cls, metrics_config: MetricsConfig | None) -> Observability:
        if metrics_config is not None:
            # Process-wide switch (prometheus-client has no per-registry one): the
            # ``*_created`` timestamp series would double the exposition for no use.
            disable_created_metrics()  # type: ignore[no-untyped-call]
        metrics = Metrics() if metrics_config is not None else None
        logging_on = DECISIONS.isEnabledFor(logging.INFO)
        observer = Observer(metrics) if metrics is not None or logging_on else None
        return cls(observer, metrics_config)

    def watch(self, keystore: Keystore, policy: PolicyHolder) -> None:
        if self.metrics is not None:
            self.metrics.watch(keystore, policy)

    def interceptors(self) -> tuple[grpc.aio.ServerInterceptor, ...]:
        if self.observer is None:
            return ()
        from signer.observability.interceptor import ObservingInterceptor

        return (ObservingInterceptor(self.observer),)

    @property
    def address(self) -> tuple[str, int] | None:
        """(host, port) the metrics endpoint listens on, while it runs."""
        if self._server is None:
            return None
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        """Start the metrics endpoint, if configured."""
        if self._config is None or self.metrics is None or self._server is not None:
            return
        try:
            self._server, self._thread = start_http_server(
                self._config.port, self._config.host, self.metrics.registry
            )
        except OSError as exc:
            raise MetricsListenError(
                f"metrics: cannot listen on {self._config.listen} "
                f"({type(exc).__name__}, errno {exc.errno})"
            ) from None
        host, port = self.address or ("?", 0)
        log.info("metrics on http://%s/metrics", format_listen(host, port))

    async def stop(self) -> None:
        """Stop the endpoint and wait for its thread (shutdown polls every 0.5 s)."""
        server, thread, self._server, self._thread = self._server, self._thread, None, None
        if server is None:
            return
        await asyncio.to_thread(server.shutdown)
        server.server_close()
        if thread is not None:
            await asyncio.to_thread(thread.join, 5)
