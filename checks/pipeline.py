"""Pipeline delay: how late the data is against the expected cadence (plus grace)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from checks._time import as_utc_series, format_duration, utc
from checks.result import CheckResult, Status, error_result

_OK_STATUSES = {"success", "succeeded", "ok", "completed"}


def pipeline_delay(
    runs: pd.DataFrame,
    now: datetime,
    *,
    model: str,
    cadence: timedelta,
    max_delay: timedelta,
    pipeline: str | None = None,
    severity: str = "page",
) -> CheckResult:
    """Delay past the expected next run, from a pipeline-runs table.

    Columns: pipeline (optional), finished_at, status. The delay is
    ``now - (last successful run + cadence)``, never negative; failed runs after the last
    success are counted and named.
    """
    alert = "pipeline_delay"
    if "finished_at" not in runs.columns:
        return error_result(alert, model, now, "pipeline runs need a 'finished_at' column")
    frame = runs
    if pipeline is not None and "pipeline" in frame.columns:
        frame = frame[frame["pipeline"] == pipeline]
    finished = as_utc_series(frame["finished_at"])
    now = utc(now)
    visible = finished.notna() & (finished <= pd.Timestamp(now))
    frame, finished = frame[visible], finished[visible]
    status = (frame["status"].astype(str).str.lower() if "status" in frame.columns
              else pd.Series("success", index=frame.index))
    ok = status.isin(_OK_STATUSES)
    name = pipeline or "pipeline"
    if not ok.any():
        if frame.empty:
            return CheckResult(alert, model, Status.INSUFFICIENT_DATA, None,
                               max_delay.total_seconds(), cadence, now,
                               f"{model}: no runs of {name} recorded yet",
                               {"pipeline": name}, severity=severity)
        # No success in view: count the lateness from the first run we can see, so a
        # failed run that is retried in time is not a page.
        first = finished.min().to_pydatetime()
        return _judge(alert, model, name, now, first, cadence, max_delay,
                      failed=int(len(frame)), severity=severity, succeeded=False)
    last_ok = finished[ok].max().to_pydatetime()
    return _judge(alert, model, name, now, last_ok, cadence, max_delay,
                  failed=int((~ok & (finished > pd.Timestamp(last_ok))).sum()), severity=severity)


def freshness_delay(
    max_timestamp: datetime | None,
    now: datetime,
    *,
    model: str,
    cadence: timedelta,
    max_delay: timedelta,
    table: str = "table",
    severity: str = "page",
) -> CheckResult:
    """Delay judged from a table's freshness (its newest timestamp)."""
    if max_timestamp is None:
        return CheckResult("pipeline_delay", model, Status.INSUFFICIENT_DATA, None,
                           max_delay.total_seconds(), cadence, utc(now),
                           f"{model}: {table} is empty", {"table": table}, severity=severity)
    return _judge("pipeline_delay", model, table, utc(now), utc(max_timestamp), cadence,
                  max_delay, failed=0, severity=severity)


def _judge(alert: str, model: str, name: str, now: datetime, last_ok: datetime,
           cadence: timedelta, max_delay: timedelta, *, failed: int, severity: str,
           succeeded: bool = True) -> CheckResult:
    expected = last_ok + cadence
    delay = max(now - expected, timedelta(0))
    details = {"pipeline": name, "last_success": last_ok.isoformat(),
               "expected_by": expected.isoformat(), "failed_since": failed,
               "delay_s": delay.total_seconds()}
    breach = delay > max_delay
    since = "last succeeded" if succeeded else "has not succeeded since its first run"
    summary = (f"{model}: {name} {since} {format_duration(now - last_ok)} ago; "
               f"{format_duration(delay)} late (allowed {format_duration(max_delay)})")
    if failed:
        summary += f"; {failed} failed run(s) since"
    return CheckResult(alert, model, Status.BREACH if breach else Status.OK,
                       delay.total_seconds(), max_delay.total_seconds(), cadence, now, summary,
                       details, severity=severity)
