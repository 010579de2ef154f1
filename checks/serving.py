"""Serving health: error-budget burn over multiple windows, and latency percentiles.

The error-rate rule follows the Google SRE workbook's multiwindow, multi-burn-rate alerts:
a rule (long, short, factor) fires when the error rate over *both* windows exceeds
``factor * (1 - objective)``. The long window makes it significant, the short one makes it
reset quickly once the problem is gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from checks._time import as_utc_series, format_duration, utc
from checks.result import CheckResult, Status, error_result

BurnRule = tuple[timedelta, timedelta, float]

# SRE workbook, "Multiwindow, multi-burn-rate alerts" (page and ticket rules).
WORKBOOK_PAGE_RULES: tuple[BurnRule, ...] = (
    (timedelta(hours=1), timedelta(minutes=5), 14.4),
    (timedelta(hours=6), timedelta(minutes=30), 6.0),
)
# mlwatch's default adds a fast-burn rule in front, so a bad deployment failing a quarter
# of requests pages within 15 minutes instead of the ~35 the 1h window alone needs.
DEFAULT_PAGE_RULES: tuple[BurnRule, ...] = (
    (timedelta(minutes=15), timedelta(minutes=5), 14.4),
    *WORKBOOK_PAGE_RULES,
)
WORKBOOK_TICKET_RULES: tuple[BurnRule, ...] = ((timedelta(days=3), timedelta(hours=6), 1.0),)


@dataclass(frozen=True)
class ServingSeries:
    """Serving events sorted by time with running totals, so any window is two lookups."""

    times: np.ndarray  # int64 ns, sorted
    errors_cum: np.ndarray  # errors up to and including each event
    latency_ms: np.ndarray

    @classmethod
    def from_frame(cls, events: pd.DataFrame) -> ServingSeries:
        """Columns: timestamp, status ('ok'/'error') or ok (bool), latency_ms (optional)."""
        if "timestamp" not in events.columns:
            raise ValueError("serving events need a 'timestamp' column")
        stamps = as_utc_series(events["timestamp"])
        valid = stamps.notna().to_numpy()
        if "ok" in events.columns:
            errors = ~events["ok"].astype(bool).to_numpy()
        elif "status" in events.columns:
            errors = events["status"].astype(str).str.lower().ne("ok").to_numpy()
        else:
            raise ValueError("serving events need a 'status' or an 'ok' column")
        latency = (
            pd.to_numeric(events["latency_ms"], errors="coerce").to_numpy(dtype="float64")
            if "latency_ms" in events.columns
            else np.full(len(events), np.nan)
        )
        times = stamps[valid].to_numpy(dtype="datetime64[ns]").astype("int64")
        order = np.argsort(times, kind="stable")
        errors = errors[valid][order]
        return cls(times[order], np.cumsum(errors), latency[valid][order])

    def _bounds(self, now: datetime, window: timedelta) -> tuple[int, int]:
        end_ns = pd.Timestamp(utc(now)).value
        start_ns = end_ns - int(window.total_seconds() * 1e9)
        lo = int(np.searchsorted(self.times, start_ns, side="right"))
        hi = int(np.searchsorted(self.times, end_ns, side="right"))
        return lo, hi

    def counts(self, now: datetime, window: timedelta) -> tuple[int, int]:
        """(requests, errors) in (now - window, now]."""
        lo, hi = self._bounds(now, window)
        if hi <= lo:
            return 0, 0
        errors = int(self.errors_cum[hi - 1] - (self.errors_cum[lo - 1] if lo > 0 else 0))
        return hi - lo, errors

    def latency(self, now: datetime, window: timedelta, percentile: float) -> tuple[int, float]:
        lo, hi = self._bounds(now, window)
        values = self.latency_ms[lo:hi]
        values = values[np.isfinite(values)]
        if values.size == 0:
            return 0, float("nan")
        return int(values.size), float(np.percentile(values, percentile))


def _series(events: pd.DataFrame | ServingSeries) -> ServingSeries | str:
    """The events as a ServingSeries, or the reason they cannot be read."""
    if isinstance(events, ServingSeries):
        return events
    try:
        return ServingSeries.from_frame(events)
    except (ValueError, KeyError) as exc:
        return str(exc)


def error_rate_spike(
    events: pd.DataFrame | ServingSeries,
    now: datetime,
    *,
    model: str,
    objective: float = 0.99,
    rules: tuple[BurnRule, ...] | list[BurnRule] = DEFAULT_PAGE_RULES,
    min_requests: int = 20,
    severity: str = "page",
) -> CheckResult:
    """Multiwindow, multi-burn-rate error-budget alert."""
    alert = "error_rate_spike"
    series = _series(events)
    if isinstance(series, str):
        return error_result(alert, model, now, series)
    budget = 1.0 - objective
    windows = []
    fired: list[dict[str, object]] = []
    evaluable = False
    worst_burn = 0.0
    for long_window, short_window, factor in rules:
        long_n, long_err = series.counts(now, long_window)
        short_n, short_err = series.counts(now, short_window)
        long_rate = long_err / long_n if long_n else 0.0
        short_rate = short_err / short_n if short_n else 0.0
        long_burn, short_burn = long_rate / budget, short_rate / budget
        row = {
            "long": format_duration(long_window), "short": format_duration(short_window),
            "factor": factor, "long_requests": long_n, "short_requests": short_n,
            "long_error_rate": long_rate, "short_error_rate": short_rate,
            "long_burn": long_burn, "short_burn": short_burn,
        }
        windows.append(row)
        if long_n >= min_requests and short_n > 0:
            evaluable = True
            worst_burn = max(worst_burn, min(long_burn, short_burn) / factor)
            if long_burn >= factor and short_burn >= factor:
                fired.append(row)
    details = {"objective": objective, "windows": windows}
    first = windows[0]
    window = rules[0][0] if rules else None
    if not evaluable:
        return CheckResult(alert, model, Status.INSUFFICIENT_DATA, None, None, window, now,
                           f"{model}: fewer than {min_requests} requests in the long windows",
                           details, severity=severity)
    if fired:
        rule = fired[0]
        summary = (
            f"{model}: error budget burning {rule['long_burn']:.1f}x over {rule['long']} and "
            f"{rule['short_burn']:.1f}x over {rule['short']} (page at {rule['factor']}x; "
            f"error rate {rule['short_error_rate']:.1%}, objective {objective:.2%})"
        )
        return CheckResult(alert, model, Status.BREACH, float(rule["short_error_rate"]),
                           float(rule["factor"]) * budget, window, now, summary,
                           {**details, "fired": fired}, severity=severity)
    summary = (f"{model}: error rate {first['short_error_rate']:.2%} over {first['short']}, "
               f"{first['long_error_rate']:.2%} over {first['long']} (objective {objective:.2%})")
    return CheckResult(alert, model, Status.OK, float(first["short_error_rate"]),
                       float(rules[0][2]) * budget, window, now, summary,
                       {**details, "burn_vs_page": worst_burn}, severity=severity)


def latency_spike(
    events: pd.DataFrame | ServingSeries,
    now: datetime,
    *,
    model: str,
    percentile: float = 95,
    threshold_ms: float = 500,
    long_window: timedelta = timedelta(hours=1),
    short_window: timedelta = timedelta(minutes=5),
    min_requests: int = 20,
    severity: str = "page",
) -> CheckResult:
    """Latency percentile above the threshold over a short AND a long window."""
    alert = "latency_spike"
    series = _series(events)
    if isinstance(series, str):
        return error_result(alert, model, now, series)
    long_n, long_p = series.latency(now, long_window, percentile)
    short_n, short_p = series.latency(now, short_window, percentile)
    details = {
        "percentile": percentile, "long_window": format_duration(long_window),
        "short_window": format_duration(short_window), "long_requests": long_n,
        "short_requests": short_n, "long_ms": long_p, "short_ms": short_p,
    }
    name = f"p{percentile:g}"
    if long_n < min_requests or short_n == 0:
        return CheckResult(alert, model, Status.INSUFFICIENT_DATA, None, threshold_ms,
                           long_window, now,
                           f"{model}: fewer than {min_requests} timed requests", details,
                           severity=severity)
    breach = long_p > threshold_ms and short_p > threshold_ms
    summary = (f"{model}: {name} latency {short_p:.0f} ms over {details['short_window']}, "
               f"{long_p:.0f} ms over {details['long_window']} (threshold {threshold_ms:.0f} ms)")
    return CheckResult(alert, model, Status.BREACH if breach else Status.OK, short_p,
                       threshold_ms, short_window, now, summary, details, severity=severity)
