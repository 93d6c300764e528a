"""The soak's report helpers: RSS parsing and windows, outcome classification, policies.

No timing is asserted (the soak prints figures; nothing judges speed).
"""

from __future__ import annotations

import math

import pytest

from bench.soak_report import OpStats, parse_vmrss, render, rss_summary, totals
from bench.soak_world import soak_policy
from bench.state import unlimited_policy
from policy.document import load_document

STATUS = "Name:\tpython\nVmPeak:\t  200000 kB\nVmRSS:\t   65432 kB\nRssAnon:\t  40000 kB\n"


def test_vmrss_is_read_from_proc_status_text() -> None:
    assert parse_vmrss(STATUS) == 65432
    with pytest.raises(ValueError, match="VmRSS"):
        parse_vmrss(STATUS.replace("VmRSS", "VmHWM"))


def test_rss_growth_compares_first_and_last_minute() -> None:
    samples = [(float(t), 1000 + t) for t in range(0, 301, 5)]  # +1 kB per second
    rss = rss_summary(samples, window_s=60)
    assert rss.samples == 61 and rss.window_s == 60
    assert rss.first_kb == sum(1000 + t for t in range(0, 61, 5)) / 13
    assert rss.last_kb == sum(1000 + t for t in range(240, 301, 5)) / 13
    assert rss.growth_kb == 240 and rss.max_kb == 1300
    assert rss.growth_pct == pytest.approx(100 * 240 / 1030)
    assert len(rss.by_minute_kb) == 6  # minutes 0-4 and the sample at 300 s
    assert rss.by_minute_kb[0] == sum(1000 + t for t in range(0, 60, 5)) / 12


def test_a_short_run_has_windows_that_do_not_overlap() -> None:
    rss = rss_summary([(0.0, 100), (10.0, 100), (20.0, 400)], window_s=60)
    assert rss.window_s == 10
    assert (rss.first_kb, rss.last_kb) == (100, 250)


def test_no_samples() -> None:
    rss = rss_summary([])
    assert rss.samples == 0 and math.isnan(rss.growth_kb)


def test_outcomes_are_classified_against_what_each_operation_must_do() -> None:
    sign, deny = OpStats("OK"), OpStats("PERMISSION_DENIED/POLICY_DENIED")
    for outcome in ("OK", "OK", "PERMISSION_DENIED/POLICY_DENIED", "INTERNAL/-"):
        sign.record(outcome, 0.001)
    for outcome in ("PERMISSION_DENIED/POLICY_DENIED", "OK"):
        deny.record(outcome, 0.001)
    ok, denied, unexpected = totals({"sign": sign, "deny": deny})
    assert ok == 2
    assert dict(denied) == {"PERMISSION_DENIED/POLICY_DENIED": 1}
    # A refusal where a signature was due, an internal error, and a signature
    # where a refusal was due are all unexpected.
    assert dict(unexpected) == {"PERMISSION_DENIED/POLICY_DENIED": 1, "INTERNAL/-": 1, "OK": 1}
    text = render({"sign": sign, "deny": deny}, 2.0, rss_summary([(0.0, 1024)]), "head")
    assert "6 in 2 s" in text and "3 unexpected" in text and "INTERNAL/-: 1" in text


def test_merged_stats_add_up() -> None:
    a, b = OpStats("OK"), OpStats("OK")
    a.record("OK", 0.1)
    b.record("OK", 0.2)
    b.record("UNAVAILABLE/-", 0.3)
    a.merge(b)
    assert a.calls == 3 and a.latencies == [0.1, 0.2, 0.3]
    assert dict(a.unexpected()) == {"UNAVAILABLE/-": 1}


def test_the_bench_and_soak_policies_are_valid_and_not_rate_limited() -> None:
    bench = load_document(unlimited_policy())
    soak = load_document(soak_policy())
    for doc in (bench, soak):
        assert doc.limits.rate_for("binance").rate_per_second == 1_000_000
    cap = soak.limits.withdraw_cap("arbitrum", "USDC")
    assert cap is not None and cap.per_24h == 10**9 * 10**6
