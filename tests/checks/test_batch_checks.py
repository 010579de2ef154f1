"""Known answers for accuracy with delayed labels, pipeline delay, deployments, data quality."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from checks.accuracy import accuracy_drop, wilson_interval
from checks.batch import data_drift, prediction_shift
from checks.deployments import deployment_failures
from checks.drift import ReferenceProfile
from checks.pipeline import freshness_delay, pipeline_delay
from checks.quality import data_quality
from checks.result import Status

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def predictions_and_labels(n: int, accuracy: float, *, label_lag_h: float = 2, seed: int = 0):
    rng = np.random.default_rng(seed)
    ts = [NOW - timedelta(hours=10) + timedelta(seconds=int(s))
          for s in np.sort(rng.uniform(0, 4 * 3600, n))]
    truth = rng.integers(0, 2, n)
    correct = rng.random(n) < accuracy
    prediction = np.where(correct, truth, 1 - truth)
    preds = pd.DataFrame({"id": range(n), "timestamp": ts, "prediction": prediction,
                          "score": np.clip(prediction * 0.6 + rng.random(n) * 0.4, 0, 1)})
    labels = pd.DataFrame({"id": range(n), "label": truth,
                           "labeled_at": [t + timedelta(hours=label_lag_h) for t in ts]})
    return preds, labels


def judge(preds, labels, now=NOW, **kw):
    params = {"model": "m", "window": timedelta(hours=4), "label_delay": timedelta(hours=6),
              "metric": "accuracy", "minimum": 0.85, "min_labels": 100}
    params.update(kw)
    return accuracy_drop(preds, labels, now, **params)


def test_accuracy_breach_needs_evidence_not_bad_luck():
    bad_preds, bad_labels = predictions_and_labels(2000, 0.70)
    assert judge(bad_preds, bad_labels).status is Status.BREACH
    # Slightly under the minimum on few labels: the interval straddles it, so no page.
    preds, labels = predictions_and_labels(150, 0.82, seed=3)
    result = judge(preds, labels)
    assert result.status is Status.OK
    assert result.details["ci_high"] >= 0.85 > result.value


def test_labels_not_yet_arrived_are_invisible_and_window_not_judged():
    preds, labels = predictions_and_labels(2000, 0.70, label_lag_h=20)
    result = judge(preds, labels)
    assert result.status is Status.INSUFFICIENT_DATA
    assert result.details["label_coverage"] == 0.0
    # The same window, judged once the labels have arrived: the drop is now visible.
    later = judge(preds, labels, now=NOW + timedelta(hours=16), label_delay=timedelta(hours=22))
    assert later.details["window_start"] == result.details["window_start"]
    assert later.status is Status.BREACH and later.details["label_coverage"] == 1.0


def test_accuracy_reports_coverage_and_median_lag():
    preds, labels = predictions_and_labels(1000, 0.95, label_lag_h=3)
    result = judge(preds, labels)
    assert result.status is Status.OK
    assert result.details["label_coverage"] == 1.0
    assert result.details["median_label_lag_s"] == 3 * 3600


def test_other_metrics_and_regression():
    preds, labels = predictions_and_labels(1000, 0.6)
    for metric in ("f1", "precision", "recall", "roc_auc"):
        result = judge(preds, labels, metric=metric, minimum=0.9)
        assert result.status is Status.BREACH, metric
    reg = preds.assign(prediction=preds["prediction"] + 3.0)
    mae = judge(reg, labels, metric="mae", minimum=None, maximum=1.0)
    assert mae.status is Status.BREACH and mae.value > 2.5


def test_wilson_interval_known_answer():
    low, high = wilson_interval(81, 100, 0.95)
    assert round(low, 4) == 0.7222 and round(high, 4) == 0.8749


def test_pipeline_delay_known_answers():
    runs = pd.DataFrame({
        "pipeline": ["p"] * 3,
        "finished_at": [NOW - timedelta(hours=h) for h in (3, 2, 1)],
        "status": ["success", "success", "failed"],
    })
    result = pipeline_delay(runs, NOW, model="m", cadence=timedelta(minutes=30),
                            max_delay=timedelta(minutes=30), pipeline="p")
    assert result.status is Status.BREACH
    assert result.value == 90 * 60  # last success 2h ago + 30m cadence -> 90 minutes late
    assert result.details["failed_since"] == 1
    fresh = freshness_delay(NOW - timedelta(minutes=20), NOW, model="m",
                            cadence=timedelta(minutes=15), max_delay=timedelta(minutes=10))
    assert fresh.status is Status.OK and fresh.value == 5 * 60
    empty = pipeline_delay(runs.iloc[0:0], NOW, model="m", cadence=timedelta(hours=1),
                           max_delay=timedelta(hours=1))
    assert empty.status is Status.INSUFFICIENT_DATA


def test_deployment_failure_clears_after_a_good_deploy():
    log = pd.DataFrame({"model_version": ["v2", "v3"],
                        "deployed_at": [NOW - timedelta(minutes=30), NOW - timedelta(minutes=5)],
                        "status": ["failed", "succeeded"], "error": ["OOM", None]})
    ok = deployment_failures(log, NOW, model="m", window=timedelta(hours=1))
    assert ok.status is Status.OK
    failing = deployment_failures(log.iloc[:1], NOW, model="m", window=timedelta(hours=1))
    assert failing.status is Status.BREACH and "OOM" in failing.summary
    load = deployment_failures(log.assign(status=["succeeded", "load_failed"]), NOW, model="m",
                               window=timedelta(hours=1), alert="model_load_failure")
    assert load.status is Status.BREACH


def test_data_quality_names_every_problem_and_keeps_valid_rows():
    batch = pd.DataFrame({
        "id": [1, 2, 2, 3, 4],
        "timestamp": [NOW, NOW, NOW, NOW + timedelta(days=1), "not a time"],
        "x": [1.0, "oops", 3.0, np.inf, 5.0],
        "surprise": [0, 0, 0, 0, 0],
    })
    outcome = data_quality(batch, NOW, model="m",
                           schema={"x": "numerical", "y": "categorical"},
                           max_missing_share=0.1)
    text = " | ".join(outcome.problems)
    assert outcome.result.status is Status.BREACH
    for expected in ("missing column(s): y", "unexpected column(s): surprise",
                     "column x: 1 non-numeric value(s)", "column x: 1 infinite value(s)",
                     "1 duplicate id", "in the future", "1 unparseable timestamp"):
        assert expected in text, expected
    assert list(outcome.valid["id"]) == [1, 2]
    empty = data_quality(batch.iloc[0:0], NOW, model="m", schema={"x": "numerical"})
    assert empty.result.status is Status.BREACH and "empty batch" in empty.result.summary


def test_data_drift_and_prediction_shift_results():
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"a": rng.normal(size=3000), "b": rng.normal(size=3000),
                              "score": rng.beta(2, 5, 3000)})
    profile = ReferenceProfile.build(reference, ["a", "b"])
    shifted = pd.DataFrame({"a": rng.normal(1, 1, 2000), "b": rng.normal(size=2000)})
    result = data_drift(profile, shifted, NOW, model="m", window=timedelta(hours=1),
                        drift_share=0.5)
    assert result.status is Status.BREACH and result.details["drifted_columns"] == ["a"]
    tiny = data_drift(profile, shifted.head(10), NOW, model="m", window=timedelta(hours=1))
    assert tiny.status is Status.INSUFFICIENT_DATA
    score_profile = ReferenceProfile.build(reference, ["score"])
    random_scores = pd.DataFrame({"score": rng.random(2000)})
    shift = prediction_shift(score_profile, random_scores, NOW, model="m",
                             window=timedelta(hours=1))
    assert shift.status is Status.BREACH
    same = prediction_shift(score_profile, pd.DataFrame({"score": rng.beta(2, 5, 2000)}), NOW,
                            model="m", window=timedelta(hours=1))
    assert same.status is Status.OK


def test_a_failed_run_retried_in_time_is_not_a_page():
    first_ever = pd.DataFrame({"pipeline": ["p"], "finished_at": [NOW - timedelta(minutes=5)],
                               "status": ["failed"]})
    result = pipeline_delay(first_ever, NOW, model="m", cadence=timedelta(hours=1),
                            max_delay=timedelta(minutes=30), pipeline="p")
    assert result.status is Status.OK and result.details["failed_since"] == 1
    stuck = pipeline_delay(first_ever, NOW + timedelta(hours=2), model="m",
                           cadence=timedelta(hours=1), max_delay=timedelta(minutes=30),
                           pipeline="p")
    assert stuck.status is Status.BREACH and "has not succeeded" in stuck.summary
