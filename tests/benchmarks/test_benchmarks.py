"""The benchmarks themselves: reproducible scenarios, honest scoring, JSON output."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import pandas as pd

from benchmarks.alert_quality import Alert, score
from benchmarks.scenarios import START, fault_plan, generate
from mlwatch.config import load_settings


def test_scenarios_are_seeded_and_in_the_contract_shape(tmp_path):
    first = generate(tmp_path / "a", days=3, seed=5)
    second = generate(tmp_path / "b", days=3, seed=5)
    assert [f.to_dict() for f in second.faults] == [f.to_dict() for f in first.faults]
    for role in ("serving", "predictions", "labels", "pipeline_runs", "deployments"):
        left = pd.read_parquet(tmp_path / "a" / "churn" / f"{role}.parquet")
        right = pd.read_parquet(tmp_path / "b" / "churn" / f"{role}.parquet")
        pd.testing.assert_frame_equal(left, right)
    labels = pd.read_parquet(tmp_path / "a" / "churn" / "labels.parquet")
    predictions = pd.read_parquet(tmp_path / "a" / "churn" / "predictions.parquet")
    lag = (labels["labeled_at"] - predictions["timestamp"]).dt.total_seconds() / 3600
    assert lag.min() >= 1 and lag.max() <= 48
    assert [f.kind for f in first.faults if f.model == "churn"] == ["bad_deployment"]
    settings = load_settings(first.config_path)
    assert [m.name for m in settings.models] == ["churn", "fraud"]
    healthy = generate(tmp_path / "h", days=3, healthy=True)
    assert healthy.faults == []


def test_every_alert_type_has_a_fault():
    kinds = {f.alert for f in fault_plan("m", 0)}
    assert kinds == {"error_rate_spike", "latency_spike", "data_drift", "prediction_shift",
                     "accuracy_drop", "pipeline_delay", "deployment_failure", "data_quality"}


def test_scoring_counts_true_and_false_alerts_and_detection_time(tmp_path):
    scenario = generate(tmp_path / "s", days=3, seed=1)
    models = {m.name: m for m in load_settings(scenario.config_path).models}
    fault = next(f for f in scenario.faults if f.model == "churn")
    alerts = [Alert("churn", "error_rate_spike", fault.start + timedelta(minutes=10)),
              Alert("churn", "error_rate_spike", START + timedelta(hours=5)),  # false
              Alert("churn", "prediction_shift", fault.start + timedelta(hours=1))]  # consequence
    table = score(alerts, [fault], models, 3.0,
                  {a: timedelta(minutes=15) for a in ("error_rate_spike", "latency_spike",
                   "data_drift", "prediction_shift", "accuracy_drop", "pipeline_delay",
                   "deployment_failure", "data_quality")})
    errors = table["error_rate_spike"]
    assert errors["precision"] == 0.5 and errors["recall"] == 1.0
    assert errors["median_time_to_detect_s"] == 600
    assert errors["simulated_mttr_s"] == 600 + 900  # rollback fixes it
    assert table["prediction_shift"]["precision"] == 1.0


def test_drift_benchmark_prints_the_promised_json():
    done = subprocess.run([sys.executable, "-m", "benchmarks.drift", "--rows", "3000",
                           "--json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    for key in ("rows", "evidently_s", "mlwatch_s", "speedup", "evidently_peak_mb",
                "mlwatch_peak_mb", "max_abs_score_diff", "decision_agreement"):
        assert key in result
    assert result["decision_agreement"] == 1.0 and result["max_abs_score_diff"] < 1e-6
