"""Automated first diagnosis: what a responder would look at first, gathered when an
incident opens and posted to its timeline and Slack thread.

Which diagnostics run is read from the runbook's front matter (``diagnostics:``), so the
runbook and the automation cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pandas as pd

from checks._time import format_duration, utc
from incidents.runbooks import RunbookError, load_runbook
from incidents.store import Store
from mlwatch.config import ModelConfig, SourceConfig
from mlwatch.errors import MlwatchError
from mlwatch.sources import read_source

Diagnostic = Callable[[Store, ModelConfig, datetime], list[str]]


def _latest_details(store: Store, model: str, alert: str) -> dict | None:
    rows = store.results(model=model, alert=alert, limit=1)
    return rows[0].details if rows else None


def _latest_rows(source: SourceConfig | None, role: str, time_column: str, label: str,
                 describe: Callable[[pd.Series], str], span: timedelta, now: datetime,
                 ) -> list[str]:
    """The three newest rows of a source, newest first, as one line."""
    if source is None:
        return []
    frame = read_source(source, role, since=now - span, until=now)
    if frame.empty:
        return [f"{label}: none in the last {format_duration(span)}"]
    rows = frame.sort_values(time_column).tail(3)
    items = [f"{describe(r)} {format_duration(now - r[time_column].to_pydatetime())} ago"
             for _, r in rows.iterrows()]
    return [f"{label}: " + "; ".join(reversed(items))]


def recent_deployments(store: Store, model: ModelConfig, now: datetime) -> list[str]:
    return _latest_rows(model.sources.deployments, "deployments", "deployed_at",
                        "Recent deployments",
                        lambda r: f"{r.get('model_version', '?')} {r.get('status', '?')}",
                        timedelta(days=7), now)


def last_pipeline_runs(store: Store, model: ModelConfig, now: datetime) -> list[str]:
    return _latest_rows(model.sources.pipeline_runs, "pipeline_runs", "finished_at",
                        "Last pipeline runs",
                        lambda r: f"{r.get('pipeline', 'pipeline')} {r.get('status', '?')}",
                        timedelta(days=2), now)


def top_drifted_features(store: Store, model: ModelConfig, now: datetime) -> list[str]:
    details = _latest_details(store, model.name, "data_drift")
    if not details or not details.get("columns"):
        return []
    top = [c for c in details["columns"] if c.get("drifted")][:5]
    if not top:
        return ["Drift: no feature drifted in the latest batch"]
    return ["Top drifted features: " + ", ".join(
        f"{c['column']} ({c['method']} {c['score']:.3g} vs {c['threshold']:g})" for c in top)]


def data_quality_summary(store: Store, model: ModelConfig, now: datetime) -> list[str]:
    details = _latest_details(store, model.name, "data_quality")
    if details is None:
        return []
    problems = details.get("problems") or []
    rows = details.get("rows")
    if not problems:
        return [f"Data quality: latest batch of {rows} rows is clean"]
    return [f"Data quality ({rows} rows): " + "; ".join(problems[:4])]


def label_coverage(store: Store, model: ModelConfig, now: datetime) -> list[str]:
    details = _latest_details(store, model.name, "accuracy_drop")
    if not details or "label_coverage" not in details:
        return []
    lag = details.get("median_label_lag_s")
    lag_text = format_duration(timedelta(seconds=lag)) if lag else "-"
    return [f"Labels: coverage {details['label_coverage']:.0%} of "
            f"{details.get('predictions', 0)} predictions, median lag {lag_text}"]


def serving_error_rates(store: Store, model: ModelConfig, now: datetime) -> list[str]:
    details = _latest_details(store, model.name, "error_rate_spike")
    if not details or not details.get("windows"):
        return []
    return ["Error rate: " + ", ".join(
        f"{w['short_error_rate']:.1%} over {w['short']}, {w['long_error_rate']:.1%} over "
        f"{w['long']}" for w in details["windows"])]


def latency_percentiles(store: Store, model: ModelConfig, now: datetime) -> list[str]:
    details = _latest_details(store, model.name, "latency_spike")
    if not details or details.get("short_ms") is None:
        return []
    return [f"Latency p{details['percentile']:g}: {details['short_ms']:.0f} ms over "
            f"{details['short_window']}, {details['long_ms']:.0f} ms over "
            f"{details['long_window']}"]


def score_distribution(store: Store, model: ModelConfig, now: datetime) -> list[str]:
    details = _latest_details(store, model.name, "prediction_shift")
    if not details or "method" not in details:
        return []
    rows = store.results(model=model.name, alert="prediction_shift", limit=1)
    return [f"Output distribution: {details['column']} {details['method']} "
            f"{rows[0].value:.3g} on {details['rows']} predictions"]


def monitor_errors(store: Store, model: ModelConfig, now: datetime) -> list[str]:
    rows = [r for r in store.results(model=model.name, alert="monitor_failure", limit=5)
            if r.status == "breach"]
    return [f"Monitor errors: {r.details.get('error', r.summary)}" for r in rows[:3]]


DIAGNOSTICS: dict[str, Diagnostic] = {
    "recent_deployments": recent_deployments,
    "last_pipeline_runs": last_pipeline_runs,
    "top_drifted_features": top_drifted_features,
    "data_quality_summary": data_quality_summary,
    "label_coverage": label_coverage,
    "serving_error_rates": serving_error_rates,
    "latency_percentiles": latency_percentiles,
    "score_distribution": score_distribution,
    "monitor_errors": monitor_errors,
}


def first_diagnosis(store: Store, model: ModelConfig, alert: str, now: datetime) -> str:
    """The runbook's automated diagnostics for ``alert``, as one multi-line message."""
    try:
        names = list(load_runbook(alert).meta.get("diagnostics") or [])
    except RunbookError:
        names = ["recent_deployments"]
    lines = [f"First diagnosis at {utc(now):%Y-%m-%d %H:%M} UTC:"]
    for name in names:
        diagnostic = DIAGNOSTICS.get(name)
        if diagnostic is None:
            lines.append(f"- ({name}: no automated diagnostic of that name)")
            continue
        try:
            lines += [f"- {line}" for line in diagnostic(store, model, now)]
        except (MlwatchError, KeyError, ValueError) as exc:
            lines.append(f"- {name}: not available ({exc})")
    if len(lines) == 1:
        lines.append("- nothing to add beyond the check result")
    return "\n".join(lines)
