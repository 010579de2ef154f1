"""Model load and deployment failures, read from the deployments log."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from checks._time import as_utc_series, format_duration, utc
from checks.result import CheckResult, Status, error_result

FAILURE_STATUSES = {
    "deployment_failure": {"failed", "deployment_failed", "error"},
    "model_load_failure": {"load_failed", "model_load_failed"},
}


def deployment_failures(
    deployments: pd.DataFrame,
    now: datetime,
    *,
    model: str,
    window: timedelta,
    alert: str = "deployment_failure",
    severity: str = "page",
) -> CheckResult:
    """A breach while the newest deployment in ``window`` failed (or failed to load).

    Columns: model_version, deployed_at, status, error (optional). A later successful
    deployment clears it: what matters is whether what is serving now came up.
    """
    if alert not in FAILURE_STATUSES:
        raise ValueError(f"alert must be one of {sorted(FAILURE_STATUSES)}")
    missing = {"deployed_at", "status"} - set(deployments.columns)
    if missing:
        return error_result(alert, model, now, f"deployments log lacks column(s) {sorted(missing)}")
    now = utc(now)
    stamps = as_utc_series(deployments["deployed_at"])
    start = pd.Timestamp(now - window)
    recent = deployments[(stamps > start) & (stamps <= pd.Timestamp(now))].assign(_at=stamps)
    if recent.empty:
        return CheckResult(alert, model, Status.OK, 0.0, 0.0, window, now,
                           f"{model}: no deployments in the last {format_duration(window)}",
                           {"deployments": 0}, severity=severity)
    recent = recent.sort_values("_at")
    statuses = recent["status"].astype(str).str.lower()
    failing = statuses.isin(FAILURE_STATUSES[alert])
    latest = recent.iloc[-1]
    details = {
        "deployments": int(len(recent)), "failures": int(failing.sum()),
        "latest_version": str(latest.get("model_version", "?")),
        "latest_status": str(latest["status"]),
        "latest_error": str(latest.get("error") or ""),
    }
    if bool(failing.iloc[-1]):
        error = f": {details['latest_error']}" if details["latest_error"] else ""
        summary = (f"{model}: deployment of {details['latest_version']} "
                   f"{details['latest_status']}{error}")
        return CheckResult(alert, model, Status.BREACH, float(failing.sum()), 0.0, window, now,
                           summary, details, severity=severity)
    return CheckResult(alert, model, Status.OK, float(failing.sum()), 0.0, window, now,
                       f"{model}: latest deployment {details['latest_version']} is "
                       f"{details['latest_status']}", details, severity=severity)
