"""Batch distribution checks built on the drift engine: data drift and prediction shift."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import pandas as pd

from checks._time import format_duration, utc
from checks.drift import DriftInputError, DriftReport, ReferenceProfile
from checks.result import CheckResult, Status, error_result


def data_drift(
    profile: ReferenceProfile,
    current: pd.DataFrame,
    now: datetime,
    *,
    model: str,
    window: timedelta,
    drift_share: float = 0.5,
    threshold: float | None = None,
    methods: Mapping[str, str] | None = None,
    min_rows: int = 100,
    severity: str = "page",
) -> CheckResult:
    """Dataset drift: the share of drifted features reaches ``drift_share``."""
    alert = "data_drift"
    now = utc(now)
    if len(current) < min_rows:
        return CheckResult(alert, model, Status.INSUFFICIENT_DATA, None, drift_share, window,
                           now, f"{model}: {len(current)} rows in the last "
                           f"{format_duration(window)} (needs {min_rows})",
                           {"rows": len(current)}, severity=severity)
    try:
        method: object = dict(methods) if methods else None
        report = profile.compare(current, method=method, threshold=threshold,
                                 drift_share=drift_share)
    except DriftInputError as exc:
        return error_result(alert, model, now, str(exc))
    return drift_result(report, now, model=model, window=window, severity=severity)


def drift_result(report: DriftReport, now: datetime, *, model: str, window: timedelta,
                 severity: str = "page") -> CheckResult:
    """The data_drift result for a finished drift report (local or from Dask workers)."""
    alert = "data_drift"
    drift_share = report.drift_share
    if not report.columns:
        return error_result(alert, model, now, "no feature could be compared",
                            skipped=report.skipped)
    drifted = [c.column for c in report.top(len(report.columns)) if c.drifted]
    details = {"share_drifted": report.share_drifted, "drift_share": drift_share,
               "rows": report.n_current, "columns": report.table(), "skipped": report.skipped,
               "drifted_columns": drifted}
    top = ", ".join(f"{c.column} ({c.method} {c.score:.3g})" for c in report.top(3) if c.drifted)
    summary = (f"{model}: {report.n_drifted}/{len(report.columns)} features drifted "
               f"({report.share_drifted:.0%}, alert at {drift_share:.0%})"
               + (f"; top: {top}" if top else ""))
    status = Status.BREACH if report.dataset_drift else Status.OK
    return CheckResult(alert, model, status, report.share_drifted, drift_share, window, now,
                       summary, details, severity=severity)


def prediction_shift(
    profile: ReferenceProfile,
    current: pd.DataFrame,
    now: datetime,
    *,
    model: str,
    window: timedelta,
    threshold: float | None = None,
    min_rows: int = 100,
    severity: str = "page",
) -> CheckResult:
    """Drift of the model's output distribution (score, else prediction) against reference."""
    alert = "prediction_shift"
    now = utc(now)
    column = next(iter(profile.columns))
    if len(current) < min_rows:
        return CheckResult(alert, model, Status.INSUFFICIENT_DATA, None, threshold, window, now,
                           f"{model}: {len(current)} predictions in the window (needs {min_rows})",
                           {"rows": len(current)}, severity=severity)
    try:
        report = profile.compare(current[[column]], threshold=threshold)
    except DriftInputError as exc:
        return error_result(alert, model, now, str(exc))
    if column not in report.columns:
        return error_result(alert, model, now, report.skipped.get(column, "no predictions"))
    verdict = report.columns[column]
    summary = (f"{model}: {column} distribution {verdict.method} {verdict.score:.3g} "
               f"vs threshold {verdict.threshold:g}"
               + (" — outputs shifted" if verdict.drifted else ""))
    return CheckResult(alert, model, Status.BREACH if verdict.drifted else Status.OK,
                       verdict.score, verdict.threshold, window, now, summary,
                       {"column": column, "method": verdict.method, "rows": len(current)},
                       severity=severity)
