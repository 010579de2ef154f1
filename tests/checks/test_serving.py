"""Serving health: the SRE workbook's multiwindow burn-rate alert and latency percentiles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from checks.result import Status
from checks.serving import ServingSeries, error_rate_spike, latency_spike

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def events(seconds: int, error_from: int | None = None, *, step: int = 1,
           latency: float = 50.0, slow_from: int | None = None) -> pd.DataFrame:
    times = [T0 + timedelta(seconds=s) for s in range(0, seconds, step)]
    status = ["error" if error_from is not None and s >= error_from else "ok"
              for s in range(0, seconds, step)]
    lat = [latency * (10 if slow_from is not None and s >= slow_from else 1)
           for s in range(0, seconds, step)]
    return pd.DataFrame({"timestamp": times, "status": status, "latency_ms": lat})


def test_workbook_detection_time_for_total_outage_at_14_4x_over_1h():
    # Workbook: a 100% error rate with a 99.9% objective trips the 1h/14.4x rule after
    # 0.864 minutes (1h * 14.4 * 0.001 = 51.84 s), with the 5m short window long since over.
    healthy = 3 * 3600
    frame = events(healthy + 300, error_from=healthy)
    series = ServingSeries.from_frame(frame)
    rules = [(timedelta(hours=1), timedelta(minutes=5), 14.4)]
    detected = None
    for second in range(0, 120):
        now = T0 + timedelta(seconds=healthy + second)
        result = error_rate_spike(series, now, model="m", objective=0.999, rules=rules)
        if result.status is Status.BREACH:
            detected = second
            break
    assert detected is not None
    # Errors at healthy+0..healthy+d-1 are d errors in the last 3600 requests.
    assert detected == pytest.approx(0.864 * 60, abs=1.5)


def test_short_window_resets_quickly_after_recovery():
    frame = events(7200, error_from=3600)
    frame.loc[frame["timestamp"] >= T0 + timedelta(seconds=3600 + 1200), "status"] = "ok"
    series = ServingSeries.from_frame(frame)
    during = error_rate_spike(series, T0 + timedelta(seconds=3600 + 1100), model="m",
                              objective=0.99)
    fast_rule = [(timedelta(hours=1), timedelta(minutes=5), 14.4)]
    after = error_rate_spike(series, T0 + timedelta(seconds=3600 + 1200 + 301), model="m",
                             objective=0.99, rules=fast_rule)
    assert during.status is Status.BREACH
    # The 1h window still holds 20 minutes of errors, but the 5m window is clean: no page.
    assert after.status is Status.OK
    assert after.details["windows"][0]["long_error_rate"] > 0.14
    # With both workbook page rules, the 6h/30m rule keeps firing until 30m are clean.
    still = error_rate_spike(series, T0 + timedelta(seconds=3600 + 1200 + 301), model="m",
                             objective=0.99)
    clean = error_rate_spike(series, T0 + timedelta(seconds=3600 + 1200 + 1801), model="m",
                             objective=0.99)
    assert still.status is Status.BREACH and clean.status is Status.OK


def test_slow_burn_fires_only_on_the_6h_rule():
    rng = np.random.default_rng(1)
    n = 6 * 3600
    frame = events(n)
    frame["status"] = np.where(rng.random(n) < 0.08, "error", "ok")  # 8x budget of 99%
    result = error_rate_spike(frame, T0 + timedelta(seconds=n), model="m", objective=0.99)
    assert result.status is Status.BREACH
    assert [rule["long"] for rule in result.details["fired"]] == ["6h"]


def test_not_enough_requests_is_insufficient_data_and_bad_columns_an_error():
    few = events(600, step=60)
    result = error_rate_spike(few, T0 + timedelta(seconds=600), model="m", min_requests=20)
    assert result.status is Status.INSUFFICIENT_DATA
    broken = error_rate_spike(pd.DataFrame({"when": [T0]}), T0, model="m")
    assert broken.status is Status.ERROR and "timestamp" in broken.summary


def test_latency_needs_both_windows_over_threshold():
    frame = events(7200, slow_from=7200 - 120)
    now = T0 + timedelta(seconds=7200)
    brief = latency_spike(frame, now, model="m", threshold_ms=300)
    assert brief.status is Status.OK  # only the short window is slow
    sustained = events(7200, slow_from=3600)
    assert latency_spike(sustained, now, model="m", threshold_ms=300).status is Status.BREACH


def test_slow_steady_burn_is_a_ticket_not_a_page():
    from checks.serving import WORKBOOK_TICKET_RULES

    rng = np.random.default_rng(3)
    n = 3 * 24 * 3600 // 10  # one request every 10 s for three days
    frame = events(3 * 24 * 3600, step=10)
    frame["status"] = np.where(rng.random(n) < 0.015, "error", "ok")  # 1.5x budget of 99%
    now = T0 + timedelta(days=3)
    page = error_rate_spike(frame, now, model="m", objective=0.99)
    ticket = error_rate_spike(frame, now, model="m", objective=0.99,
                              rules=WORKBOOK_TICKET_RULES, severity="ticket")
    assert page.status is Status.OK
    assert ticket.status is Status.BREACH and ticket.severity == "ticket"
