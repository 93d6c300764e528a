"""Fixtures of the property tests.

They run at the interpreter's default recursion limit: some test oracles
(eth-account, through py_ecc) raise the process-wide limit to 100,000 when
imported; the daemon never imports them and runs at 1,000. A parser that
recurses too deep must fail here as it would in production.

``abuse_daemon`` is a real daemon per test module (``rpc_harness.start``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from tests.property.rpc_harness import AbuseDaemon, start

PRODUCTION_RECURSION_LIMIT = 1000


@pytest.fixture(autouse=True)
def production_recursion_limit() -> Iterator[None]:
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(PRODUCTION_RECURSION_LIMIT)
    try:
        yield
    finally:
        sys.setrecursionlimit(before)


@pytest.fixture(scope="module")
def abuse_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AbuseDaemon]:
    """A real daemon with credentials, wallets and a policy admin key (rpc_harness)."""
    running = start(tmp_path_factory.mktemp("ab"))
    yield running
    running.running.stop()
