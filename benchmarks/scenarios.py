"""Seeded production histories for the alert-quality benchmark, in the data contract's shape.

Each scenario holds 30 days of two models' traffic with realistic noise — daily and weekly
seasonality, traffic swings, benign small shifts in features, label delays from 1 to 48
hours, a benign failed pipeline run now and then, weekly good deployments — and, unless it
is the healthy control, injected faults of every alert type with known start and end.
Everything is written to Parquet files plus an mlwatch config that points at them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

START = datetime(2026, 10, 1, tzinfo=UTC)
FEATURES = ["f0", "f1", "f2", "f3", "f4"]
CATEGORICAL = ["segment"]
SEGMENTS = ("retail", "smb", "enterprise")
MODELS = {"churn": 40, "fraud": 60}  # model -> mean requests per minute


@dataclass(frozen=True)
class Fault:
    """An injected fault: which model, what broke, when, and which alerts should see it."""

    model: str
    kind: str
    alert: str  # the alert that must catch it
    start: datetime
    end: datetime
    also: tuple[str, ...] = ()  # consequences that are true alerts too
    rollback_fixes: bool = False  # an automatic rollback ends it

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["start"], data["end"] = self.start.isoformat(), self.end.isoformat()
        return data


@dataclass
class Scenario:
    name: str
    root: Path
    start: datetime
    end: datetime
    faults: list[Fault] = field(default_factory=list)

    @property
    def config_path(self) -> Path:
        return self.root / "mlwatch.yaml"


def fault_plan(model: str, offset_days: float) -> list[Fault]:
    """One fault of every alert type per model, spread over the 30 days."""
    def at(day: float, hours: float) -> tuple[datetime, datetime]:
        start = START + timedelta(days=day + offset_days, hours=0.37)
        return start, start + timedelta(hours=hours)

    plan = [
        ("bad_deployment", "error_rate_spike", 2.5, 2, ("prediction_shift", "accuracy_drop",
                                                        "latency_spike", "deployment_failure"),
         True),
        ("latency_regression", "latency_spike", 5.3, 1, (), False),
        ("feature_drift", "data_drift", 8.6, 12, ("prediction_shift", "accuracy_drop"), False),
        ("output_shift", "prediction_shift", 11.2, 8, ("accuracy_drop", "data_drift"), False),
        ("concept_shift", "accuracy_drop", 14.4, 24, (), False),
        ("pipeline_stall", "pipeline_delay", 17.7, 6, ("data_drift",), False),
        ("failed_deployment", "deployment_failure", 20.1, 1, ("error_rate_spike",), False),
        ("missing_values", "data_quality", 23.5, 6, ("data_drift", "prediction_shift"), False),
    ]
    faults = []
    for kind, alert, day, hours, also, fixes in plan:
        start, end = at(day, hours)
        faults.append(Fault(model, kind, alert, start, end, also, fixes))
    return faults


def _active(minutes: pd.DatetimeIndex, faults: list[Fault], kind: str) -> np.ndarray:
    mask = np.zeros(len(minutes), dtype=bool)
    for f in faults:
        if f.kind == kind:
            mask |= (minutes >= f.start) & (minutes < f.end)
    return mask


def _model_history(model: str, rpm: float, days: int, faults: list[Fault],
                   rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    minutes = pd.date_range(START, periods=days * 1440, freq="min", tz="UTC")
    hour = minutes.hour.to_numpy() + minutes.minute.to_numpy() / 60
    daily = 1 + 0.45 * np.sin(2 * np.pi * (hour - 9) / 24)
    weekly = np.where(minutes.dayofweek.to_numpy() >= 5, 0.65, 1.0)
    swings = np.exp(np.convolve(rng.normal(0, 0.08, len(minutes)), np.ones(30) / 30, "same"))
    counts = rng.poisson(rpm * daily * weekly * swings)
    n = int(counts.sum())
    minute_idx = np.repeat(np.arange(len(minutes)), counts)
    ts = minutes.values[minute_idx] + (rng.uniform(0, 60, n) * 1e9).astype("timedelta64[ns]")
    ts = pd.DatetimeIndex(ts, tz="UTC")

    def per_request(kind: str) -> np.ndarray:
        return _active(minutes, faults, kind)[minute_idx]

    bad_deploy, latency_fault = per_request("bad_deployment"), per_request("latency_regression")
    failed_deploy = per_request("failed_deployment")
    error_p = 0.002 + 0.25 * bad_deploy + 0.10 * failed_deploy
    errors = rng.random(n) < error_p
    latency = rng.lognormal(np.log(80), 0.35, n) * np.where(latency_fault, 5.0, 1.0)
    latency *= 1 + 0.2 * (daily[minute_idx] - 1)  # busier hours are a little slower
    serving = pd.DataFrame({"timestamp": ts, "status": np.where(errors, "error", "ok"),
                            "latency_ms": latency.round(1)})

    # Predictions for the successful requests; benign slow wander of the feature means.
    ok = ~errors
    m = int(ok.sum())
    days_in = (ts[ok] - pd.Timestamp(START)).total_seconds().to_numpy() / 86400
    wander = 0.04 * np.sin(2 * np.pi * days_in / 11)
    x = rng.normal(0, 1, (m, len(FEATURES))) + wander[:, None]
    drift = per_request("feature_drift")[ok]
    x[drift, :3] += 1.0
    weights = np.array([1.2, -0.8, 0.6, 0.4, -0.3])
    logit = x @ weights + rng.normal(0, 0.6, m)
    label = (logit > 0).astype(int)
    concept = per_request("concept_shift")[ok]
    flip = concept & (rng.random(m) < 0.35)
    label = np.where(flip, 1 - label, label)
    score = 1 / (1 + np.exp(-(x @ weights) * 1.5))
    score = np.where(per_request("output_shift")[ok], np.clip(score + 0.35, 0, 1), score)
    score = np.where(bad_deploy[ok], rng.random(m), score)
    frame = pd.DataFrame(x, columns=FEATURES)
    frame["segment"] = rng.choice(SEGMENTS, m, p=(0.6, 0.3, 0.1))
    missing = per_request("missing_values")[ok] & (rng.random(m) < 0.4)
    frame.loc[missing, "f2"] = np.nan
    ids = np.char.add(f"{model}-", np.arange(m).astype(str))
    predictions = pd.DataFrame({"id": ids, "timestamp": ts[ok], "model_version": "v1"})
    predictions = pd.concat([predictions, frame], axis=1)
    predictions["score"] = score.round(6)
    predictions["prediction"] = (score >= 0.5).astype(int)
    delay_h = np.clip(rng.lognormal(np.log(6), 0.9, m), 1, 48)
    labels = pd.DataFrame({"id": ids, "label": label,
                           "labeled_at": ts[ok] + pd.to_timedelta(delay_h, unit="h")})

    # Reference: healthy data, same generator, no faults, no wander.
    xr = rng.normal(0, 1, (20_000, len(FEATURES)))
    ref_score = 1 / (1 + np.exp(-(xr @ weights) * 1.5))
    reference = pd.DataFrame(xr, columns=FEATURES)
    reference["segment"] = rng.choice(SEGMENTS, len(reference), p=(0.6, 0.3, 0.1))
    reference["score"] = ref_score
    reference["prediction"] = (ref_score >= 0.5).astype(int)
    reference["label"] = ((xr @ weights + rng.normal(0, 0.6, len(xr))) > 0).astype(int)

    # Hourly pipeline at :10; a benign failure now and then, retried 10 minutes later.
    hours = pd.date_range(START, periods=days * 24, freq="h", tz="UTC") + timedelta(minutes=10)
    stalled = _active(hours, faults, "pipeline_stall")
    runs = []
    for when in hours[~stalled]:
        if rng.random() < 0.02:
            runs.append((when, "failed"))
            runs.append((when + timedelta(minutes=10), "success"))
        else:
            runs.append((when, "success"))
    pipeline_runs = pd.DataFrame({"pipeline": "features", "finished_at": [r[0] for r in runs],
                                  "status": [r[1] for r in runs]})

    deployments = [(START + timedelta(days=d, hours=10), "v1", "succeeded", None)
                   for d in range(0, days, 7)]
    for f in faults:
        if f.kind == "bad_deployment":
            deployments += [(f.start, "v2-bad", "succeeded", None),
                            (f.end, "v1", "succeeded", None)]
        if f.kind == "failed_deployment":
            deployments += [(f.start, "v3", "failed", "model artifact failed health check"),
                            (f.end, "v1", "succeeded", None)]
    deploy_frame = pd.DataFrame(deployments, columns=["deployed_at", "model_version", "status",
                                                      "error"]).sort_values("deployed_at")
    return {"serving": serving, "predictions": predictions, "labels": labels,
            "reference": reference, "pipeline_runs": pipeline_runs,
            "deployments": deploy_frame}


def default_config(root: Path) -> dict[str, Any]:
    """mlwatch's shipped defaults; only what depends on the data is set per model."""
    models = []
    for model in MODELS:
        sources = {role: {"path": str(root / model / f"{role}.parquet")}
                   for role in ("predictions", "labels", "reference", "serving",
                                "pipeline_runs", "deployments")}
        models.append({
            "name": model, "features": FEATURES + CATEGORICAL, "categorical": CATEGORICAL,
            "sources": sources,
            "checks": {
                "error_rate_spike": {"every": "5m", "objective": 0.99},
                "latency_spike": {"every": "5m", "percentile": 95, "threshold_ms": 300},
                "deployment_failure": {"every": "5m"},
                "data_quality": {"every": "1h"},
                "data_drift": {"every": "1h"},
                "prediction_shift": {"every": "1h"},
                "accuracy_drop": {"every": "1h", "window": "3h", "label_delay": "14h",
                                  "metric": "accuracy", "min": 0.78},
                "pipeline_delay": {"every": "15m", "pipeline": "features", "cadence": "1h",
                                   "max_delay": "30m"},
            },
            "remediation": {"error_rate_spike": "rollback"},
        })
    return {"store": f"sqlite:///{root / 'store.db'}", "state_dir": str(root / "state"),
            "models": models}


def generate(root: Path, *, healthy: bool = False, days: int = 30, seed: int = 0) -> Scenario:
    """Write one scenario under ``root``; the same seed gives the same data."""
    rng = np.random.default_rng(seed + (1000 if healthy else 0))
    root.mkdir(parents=True, exist_ok=True)
    scenario = Scenario("healthy" if healthy else "faults", root, START,
                        START + timedelta(days=days))
    for i, (model, rpm) in enumerate(MODELS.items()):
        faults = [] if healthy else fault_plan(model, offset_days=i * 0.9)
        faults = [f for f in faults if f.end <= scenario.end]
        scenario.faults += faults
        frames = _model_history(model, rpm, days, faults, rng)
        (root / model).mkdir(exist_ok=True)
        for role, frame in frames.items():
            frame.to_parquet(root / model / f"{role}.parquet", index=False)
    scenario.config_path.write_text(yaml.safe_dump(default_config(root), sort_keys=False))
    (root / "faults.yaml").write_text(yaml.safe_dump([f.to_dict() for f in scenario.faults]))
    return scenario
