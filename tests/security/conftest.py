"""Fixtures of the real-daemon integration tests, shared with the security tests."""

from collections.abc import Iterator

import pytest

from tests.integration.conftest import pki, state_dir

__all__ = ["pki", "state_dir"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "withhold_output: do not print captured output/logs on failure (they may hold secrets)",
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Replace the captured stdout/stderr/log sections of ``withhold_output`` tests.

    SECURITY: the secret canary test deliberately pushes secrets at the daemon; if
    one leaked into a log line, pytest would print it in the failure report. The
    test's own message names the canary, form and artefact instead.
    """
    outcome = yield
    if item.get_closest_marker("withhold_output") is not None:
        report = outcome.get_result()  # type: ignore[attr-defined]
        report.sections = [
            (name, "<withheld: may contain canary secrets>") for name, _ in report.sections
        ]
