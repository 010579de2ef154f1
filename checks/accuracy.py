"""Model quality against ground-truth labels that arrive late.

Only labels visible at ``now`` (``labeled_at <= now``) count, and only a window whose label
coverage has matured is judged. A breach needs statistical evidence: the upper confidence
bound of the metric is below ``min`` (or the lower bound above ``max`` for errors), so a
handful of unlucky labels never pages anyone.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from scipy import stats
from sklearn import metrics as skm

from checks._time import as_utc_series, format_duration, utc
from checks.result import CheckResult, Status, error_result

PROPORTION_METRICS = {"accuracy", "precision", "recall"}
CLASSIFICATION_METRICS = PROPORTION_METRICS | {"f1", "roc_auc"}
REGRESSION_METRICS = {"mae", "rmse"}
_BOOTSTRAP = 300


def accuracy_drop(
    predictions: pd.DataFrame,
    labels: pd.DataFrame,
    now: datetime,
    *,
    model: str,
    window: timedelta,
    label_delay: timedelta,
    metric: str = "accuracy",
    minimum: float | None = None,
    maximum: float | None = None,
    min_labels: int = 200,
    min_coverage: float = 0.8,
    confidence: float = 0.95,
    severity: str = "page",
) -> CheckResult:
    """Judge the window ``[now - label_delay - window, now - label_delay)``.

    predictions: id, timestamp, prediction, score (optional, for ROC AUC).
    labels: id, label, labeled_at.
    """
    alert = "accuracy_drop"
    now = utc(now)
    if metric not in CLASSIFICATION_METRICS | REGRESSION_METRICS:
        return error_result(alert, model, now, f"unknown metric {metric!r}")
    needed = {"id", "timestamp", "prediction"} - set(predictions.columns)
    needed |= {"id", "label", "labeled_at"} - set(labels.columns)
    if needed:
        return error_result(alert, model, now, f"missing column(s) {sorted(needed)}")
    end = now - label_delay
    start = end - window
    ts = as_utc_series(predictions["timestamp"])
    in_window = predictions[(ts >= pd.Timestamp(start)) & (ts < pd.Timestamp(end))].assign(
        _ts=ts
    )
    labeled_at = as_utc_series(labels["labeled_at"])
    visible = labels[labeled_at <= pd.Timestamp(now)].assign(_labeled_at=labeled_at)
    visible = visible.drop_duplicates("id", keep="last")
    joined = in_window.merge(visible[["id", "label", "_labeled_at"]], on="id", how="inner")
    n_predictions, n_labels = len(in_window), len(joined)
    coverage = n_labels / n_predictions if n_predictions else 0.0
    lag = (joined["_labeled_at"] - joined["_ts"]).median() if n_labels else None
    details: dict[str, object] = {
        "metric": metric, "window_start": start.isoformat(), "window_end": end.isoformat(),
        "predictions": n_predictions, "labels": n_labels, "label_coverage": coverage,
        "median_label_lag_s": lag.total_seconds() if lag is not None else None,
    }
    threshold = minimum if minimum is not None else maximum
    span = f"{start:%m-%d %H:%M}–{end:%H:%M}"
    if n_predictions == 0 or coverage < min_coverage or n_labels < min_labels:
        reason = ("no predictions" if n_predictions == 0 else
                  f"label coverage {coverage:.0%} (needs {min_coverage:.0%})"
                  if coverage < min_coverage else f"{n_labels} labels (needs {min_labels})")
        return CheckResult(alert, model, Status.INSUFFICIENT_DATA, None, threshold, window, now,
                           f"{model}: {metric} for {span} not judged yet: {reason}", details,
                           severity=severity)
    y_true = joined["label"].to_numpy()
    y_pred = joined["prediction"].to_numpy()
    score = joined["score"].to_numpy(dtype="float64") if "score" in joined.columns else None
    try:
        value, low, high = _metric_with_interval(metric, y_true, y_pred, score, confidence)
    except ValueError as exc:
        return error_result(alert, model, now, str(exc), **details)
    details.update({"value": value, "ci_low": low, "ci_high": high, "confidence": confidence})
    if minimum is not None:
        breach = high < minimum
        bound = f"upper {confidence:.0%} bound {high:.3f} < min {minimum}" if breach else (
            f"min {minimum}")
    else:
        assert maximum is not None
        breach = low > maximum
        bound = f"lower {confidence:.0%} bound {low:.3f} > max {maximum}" if breach else (
            f"max {maximum}")
    summary = (f"{model}: {metric} {value:.3f} on {n_labels} labels for {span} "
               f"({bound}; coverage {coverage:.0%}, median label lag "
               f"{format_duration(lag)})")
    return CheckResult(alert, model, Status.BREACH if breach else Status.OK, value, threshold,
                       window, now, summary, details, severity=severity)


def _metric(metric: str, y_true: np.ndarray, y_pred: np.ndarray, score: np.ndarray | None
            ) -> float:
    if metric == "accuracy":
        return float(np.mean(y_true == y_pred))
    if metric == "precision":
        return float(skm.precision_score(y_true, y_pred, zero_division=0))
    if metric == "recall":
        return float(skm.recall_score(y_true, y_pred, zero_division=0))
    if metric == "f1":
        return float(skm.f1_score(y_true, y_pred, zero_division=0))
    if metric == "roc_auc":
        if score is None:
            raise ValueError("roc_auc needs a 'score' column in the predictions")
        if len(np.unique(y_true)) < 2:
            raise ValueError("roc_auc needs both classes among the labels")
        return float(skm.roc_auc_score(y_true, score))
    errors = y_pred.astype("float64") - y_true.astype("float64")
    if metric == "mae":
        return float(np.mean(np.abs(errors)))
    return float(np.sqrt(np.mean(errors**2)))


def _metric_with_interval(metric: str, y_true: np.ndarray, y_pred: np.ndarray,
                          score: np.ndarray | None, confidence: float
                          ) -> tuple[float, float, float]:
    value = _metric(metric, y_true, y_pred, score)
    if metric in PROPORTION_METRICS:
        if metric == "accuracy":
            hits, n = int(np.sum(y_true == y_pred)), len(y_true)
        elif metric == "precision":
            mask = y_pred == 1
            hits, n = int(np.sum(y_true[mask] == 1)), int(mask.sum())
        else:
            mask = y_true == 1
            hits, n = int(np.sum(y_pred[mask] == 1)), int(mask.sum())
        low, high = wilson_interval(hits, n, confidence)
        return value, low, high
    # Other metrics: a seeded percentile bootstrap (deterministic for the same data).
    rng = np.random.default_rng(0)
    samples = rng.integers(0, len(y_true), size=(_BOOTSTRAP, len(y_true)))
    draws = []
    for idx in samples:
        try:
            draws.append(_metric(metric, y_true[idx], y_pred[idx],
                                 None if score is None else score[idx]))
        except ValueError:
            continue
    alpha = (1 - confidence) / 2
    low, high = np.quantile(draws, [alpha, 1 - alpha]) if draws else (value, value)
    return value, float(low), float(high)


def wilson_interval(hits: int, n: int, confidence: float) -> tuple[float, float]:
    """Wilson score interval for a proportion; (0, 1) when there is nothing to judge."""
    if n == 0:
        return 0.0, 1.0
    z = float(stats.norm.ppf(1 - (1 - confidence) / 2))
    p = hits / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))
