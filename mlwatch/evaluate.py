"""Load a check group's data and evaluate its checks: shared by monitor flows and backtests.

Loading is I/O (and may raise SourceError, which is retried by the flow); evaluation calls
the pure functions in ``checks`` and never raises on bad data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from checks.accuracy import accuracy_drop
from checks.batch import data_drift, prediction_shift
from checks.deployments import deployment_failures
from checks.drift import DriftInputError, ReferenceProfile
from checks.pipeline import pipeline_delay
from checks.quality import QualityOutcome, data_quality
from checks.result import CheckResult, error_result
from checks.serving import ServingSeries, error_rate_spike, latency_spike
from mlwatch.config import (
    AccuracyDropCheck,
    DataDriftCheck,
    DataQualityCheck,
    DeploymentFailureCheck,
    ErrorRateCheck,
    LatencyCheck,
    ModelConfig,
    PipelineDelayCheck,
    PredictionShiftCheck,
    SourceConfig,
)
from mlwatch.errors import ConfigError
from mlwatch.plan import group_checks
from mlwatch.sources import read_source


@dataclass
class GroupData:
    """Everything one group's checks read, loaded once per run."""

    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    quality: QualityOutcome | None = None
    serving_series: ServingSeries | None = None

    def serving(self) -> ServingSeries:
        """Serving events indexed for window counts, built once and shared by the checks.
        (Windows end at ``now``, so a series spanning later data never leaks the future.)"""
        if self.serving_series is None:
            self.serving_series = ServingSeries.from_frame(self.frames["serving"])
        return self.serving_series


def _source(model: ModelConfig, role: str) -> SourceConfig:
    source = getattr(model.sources, role)
    if source is None:
        raise ConfigError(
            f"models.{model.name}.sources.{role} is not set, but an enabled check needs it"
        )
    return source


def lookback(model: ModelConfig, group: str) -> dict[str, timedelta]:
    """How far back each role must be read for the group's checks."""
    checks = group_checks(model, group)
    spans: dict[str, timedelta] = {}

    def need(role: str, span: timedelta) -> None:
        spans[role] = max(spans.get(role, timedelta(0)), span)

    for check in checks.values():
        if isinstance(check, ErrorRateCheck):
            need("serving", max(long for long, _, _ in check.windows))
        elif isinstance(check, LatencyCheck):
            need("serving", max(check.long_window, check.short_window))
        elif isinstance(check, DeploymentFailureCheck):
            need("deployments", check.window)
        elif isinstance(check, DataQualityCheck | DataDriftCheck | PredictionShiftCheck):
            need("predictions", check.window)
        elif isinstance(check, AccuracyDropCheck):
            need("predictions", check.label_delay + check.window)
            need("labels", check.label_delay + check.window)
        elif isinstance(check, PipelineDelayCheck):
            need("pipeline_runs", max(check.cadence * 24, timedelta(days=1)))
    return spans


def load_group_data(model: ModelConfig, group: str, now: datetime) -> GroupData:
    """Read each role once for the longest window any check in the group needs."""
    data = GroupData()
    for role, span in lookback(model, group).items():
        data.frames[role] = read_source(_source(model, role), role, since=now - span, until=now)
    return data


def read_reference_file(path: str, columns: list[str] | None = None) -> pd.DataFrame:
    """A reference file (Parquet or CSV), only the columns asked for."""
    if path.endswith((".parquet", ".pq")):
        return pd.read_parquet(path, columns=columns)
    return pd.read_csv(path, usecols=columns)


@lru_cache(maxsize=16)
def _profile(path: str, mtime: float, columns: tuple[str, ...], categorical: tuple[str, ...]
             ) -> ReferenceProfile:
    return ReferenceProfile.build(read_reference_file(path, list(columns)), columns,
                                  categorical)


def reference_profile(model: ModelConfig, columns: list[str]) -> ReferenceProfile:
    """The reference profile, built once per process and reused for every batch."""
    source = _source(model, "reference")
    if source.path:
        path = Path(source.path)
        if not path.exists():
            raise ConfigError(f"models.{model.name}.sources.reference.path: {path} does not exist")
        categorical = tuple(c for c in model.categorical if c in columns)
        return _profile(str(path.resolve()), path.stat().st_mtime, tuple(columns), categorical)
    frame = read_source(source, "reference")
    return ReferenceProfile.build(frame, columns, [c for c in model.categorical if c in columns])


def _schema(model: ModelConfig, frame: pd.DataFrame) -> dict[str, Any]:
    schema: dict[str, Any] = {
        f: ("categorical" if f in model.categorical else "numerical") for f in model.features
    }
    schema["prediction"] = "numerical"
    if "score" in frame.columns:
        schema["score"] = "numerical"
    return schema


def _window(frame: pd.DataFrame, now: datetime, window: timedelta) -> pd.DataFrame:
    stamps = frame["timestamp"]
    return frame[(stamps > pd.Timestamp(now - window)) & (stamps <= pd.Timestamp(now))]


def evaluate_group(model: ModelConfig, group: str, data: GroupData, now: datetime,
                   alerts: list[str] | None = None) -> list[CheckResult]:
    """Run the (due) checks of a group over data already loaded."""
    return [
        safe_evaluate(model, alert, check, data, now)
        for alert, check in group_checks(model, group).items()
        if alerts is None or alert in alerts
    ]


def safe_evaluate(model: ModelConfig, alert: str, check: object, data: GroupData,
                  now: datetime) -> CheckResult:
    """Evaluate one check; bad data becomes an ``error`` result, never an exception."""
    try:
        return evaluate_check(model, alert, check, data, now)
    except (DriftInputError, KeyError, ValueError, TypeError) as exc:
        return error_result(alert, model.name, now, f"{type(exc).__name__}: {exc}")


def evaluate_check(model: ModelConfig, alert: str, check: object, data: GroupData,
                   now: datetime) -> CheckResult:
    name, frames = model.name, data.frames
    severity = getattr(check, "severity", "page")
    if isinstance(check, ErrorRateCheck):
        return error_rate_spike(data.serving(), now, model=name, objective=check.objective,
                                rules=[tuple(w) for w in check.windows],
                                min_requests=check.min_requests, severity=severity)
    if isinstance(check, LatencyCheck):
        return latency_spike(data.serving(), now, model=name, percentile=check.percentile,
                             threshold_ms=check.threshold_ms, long_window=check.long_window,
                             short_window=check.short_window, min_requests=check.min_requests,
                             severity=severity)
    if isinstance(check, DeploymentFailureCheck):
        return deployment_failures(frames["deployments"], now, model=name, window=check.window,
                                   alert=alert, severity=severity)
    if isinstance(check, PipelineDelayCheck):
        return pipeline_delay(frames["pipeline_runs"], now, model=name, cadence=check.cadence,
                              max_delay=check.max_delay, pipeline=check.pipeline,
                              severity=severity)
    if isinstance(check, AccuracyDropCheck):
        return accuracy_drop(frames["predictions"], frames["labels"], now, model=name,
                             window=check.window, label_delay=check.label_delay,
                             metric=check.metric, minimum=check.min, maximum=check.max,
                             min_labels=check.min_labels, min_coverage=check.min_coverage,
                             confidence=check.confidence, severity=severity)
    quality = _quality(model, data, now)
    if isinstance(check, DataQualityCheck):
        return quality.result
    if isinstance(check, DataDriftCheck):
        batch = _window(quality.valid, now, check.window)
        profile = reference_profile(model, model.features)
        return data_drift(profile, batch, now, model=name, window=check.window,
                          drift_share=check.drift_share, threshold=check.threshold,
                          methods=check.methods, min_rows=check.min_rows, severity=severity)
    if isinstance(check, PredictionShiftCheck):
        column = "score" if "score" in quality.valid.columns else "prediction"
        batch = _window(quality.valid, now, check.window)
        profile = reference_profile(model, [column])
        return prediction_shift(profile, batch, now, model=name, window=check.window,
                                threshold=check.threshold, min_rows=check.min_rows,
                                severity=severity)
    raise ValueError(f"no evaluator for {alert}")


def _quality(model: ModelConfig, data: GroupData, now: datetime) -> QualityOutcome:
    if data.quality is None:
        check = model.checks.data_quality
        batch_checks = (check, model.checks.data_drift, model.checks.prediction_shift)
        window = max((c.window for c in batch_checks if c is not None),
                     default=timedelta(hours=1))
        predictions = data.frames["predictions"]
        batch = (_window(predictions, now, window) if "timestamp" in predictions.columns
                 else predictions)
        data.quality = data_quality(
            batch, now, model=model.name, schema=_schema(model, batch),
            max_missing_share=check.max_missing_share if check else 0.05,
            max_future_skew=check.max_future_skew if check else timedelta(minutes=5),
            allow_extra=("model_version",), severity=check.severity if check else "page",
        )
    return data.quality
