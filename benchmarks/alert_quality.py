"""Alert quality: mlwatch's shipped defaults against naive monitoring, on replayed scenarios.

    python -m benchmarks.alert_quality --json

Generates (seeded) the 30-day fault scenario and the healthy control for two models,
backtests both with mlwatch's default configuration (multi-window serving alerts, label
maturity and confidence bounds, dedup, inhibition, auto-resolve), and evaluates a naive
baseline on the same data: single-window static thresholds checked every run, where every
breaching run is an alert, plus Evidently's default dataset-drift verdict per hourly batch
(computed by mlwatch's engine, whose verdicts equal Evidently's; see
tests/checks/test_drift_matches_evidently.py).

Per alert type it prints precision, recall, median time to detect, false alerts per day
on the healthy scenario and the simulated MTTR. Simulated MTTR: time from fault start to
recovery, where a fault lasts until its scheduled end (a person fixes it) unless
mlwatch's automatic rollback applies, in which case it ends one evaluation after
detection and the incident resolves after ``resolve_after`` healthy evaluations.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.scenarios import Fault, Scenario, generate
from checks._time import utc
from checks.accuracy import accuracy_drop
from checks.batch import data_drift, prediction_shift
from checks.deployments import deployment_failures
from checks.pipeline import pipeline_delay
from checks.quality import data_quality
from checks.result import CheckResult, Status
from checks.serving import ServingSeries, error_rate_spike, latency_spike
from mlwatch.backtest import backtest, load_history
from mlwatch.config import ModelConfig, load_settings
from mlwatch.evaluate import reference_profile

ALERTS = ("error_rate_spike", "latency_spike", "data_drift", "prediction_shift",
          "accuracy_drop", "pipeline_delay", "deployment_failure", "data_quality")
SERVING_ALERTS = {"error_rate_spike", "latency_spike", "deployment_failure"}
SERVING_TARGET = timedelta(minutes=15)


@dataclass(frozen=True)
class Alert:
    model: str
    alert: str
    at: datetime


# --------------------------------------------------------------------------- baseline
def naive_alerts(model: ModelConfig, start: datetime, end: datetime) -> list[Alert]:
    """Static single-window thresholds, every run; each breaching run pages."""
    history = load_history(model, start, end)
    serving = ServingSeries.from_frame(history["serving"].frame)
    preds = history["predictions"]
    labels = history["labels"]
    runs = history["pipeline_runs"].frame
    deploys = history["deployments"].frame
    features = reference_profile(model, model.features)
    scores = reference_profile(model, ["score"])
    schema = {f: ("categorical" if f in model.categorical else "numerical")
              for f in model.features}
    checks = model.checks
    alerts: list[Alert] = []

    def fire(result: CheckResult) -> None:
        if result.status is Status.BREACH:
            alerts.append(Alert(model.name, result.alert, result.evaluated_at))

    now = start
    five = timedelta(minutes=5)
    hour = timedelta(hours=1)
    while now < end:
        now += five
        static = [(five, five, 1.0)]  # error rate above the objective's budget over 5 min
        fire(error_rate_spike(serving, now, model=model.name,
                              objective=checks.error_rate_spike.objective, rules=static,
                              min_requests=1))
        fire(latency_spike(serving, now, model=model.name,
                           percentile=checks.latency_spike.percentile,
                           threshold_ms=checks.latency_spike.threshold_ms,
                           long_window=five, short_window=five, min_requests=1))
        fire(deployment_failures(deploys, now, model=model.name, window=hour))
        if now.minute == 0:
            fire(pipeline_delay(runs, now, model=model.name, cadence=timedelta(minutes=1),
                                max_delay=hour, pipeline="features"))
            batch = preds.between(now - hour, now)
            quality = data_quality(batch, now, model=model.name, schema=schema,
                                   max_missing_share=0.0, allow_extra=(
                                       "model_version", "score", "prediction"))
            fire(quality.result)
            fire(data_drift(features, batch, now, model=model.name, window=hour,
                            drift_share=0.5, min_rows=1))
            fire(prediction_shift(scores, batch, now, model=model.name, window=hour,
                                  min_rows=1))
            day = timedelta(hours=24)
            recent = preds.between(now - day, now)
            fire(accuracy_drop(recent, labels.between(now - day, now), now, model=model.name,
                               window=timedelta(hours=24), label_delay=timedelta(0),
                               minimum=checks.accuracy_drop.min, min_labels=1,
                               min_coverage=1e-9, confidence=0.5000001))
    return alerts


# --------------------------------------------------------------------------- scoring
def _grace(alert: str, model: ModelConfig) -> timedelta:
    """How long after a fault ends an alert still counts as caused by it."""
    if alert == "accuracy_drop":
        check = model.checks.accuracy_drop
        return check.label_delay + check.window + check.every * 2
    if alert in SERVING_ALERTS:
        return timedelta(hours=1)
    return timedelta(hours=3)


def _explains(fault: Fault, alert: Alert, models: dict[str, ModelConfig]) -> bool:
    if fault.model != alert.model or alert.alert not in (fault.alert, *fault.also):
        return False
    return fault.start <= alert.at <= fault.end + _grace(alert.alert, models[alert.model])


def score(alerts: list[Alert], faults: list[Fault], models: dict[str, ModelConfig],
          days: float, resolve_after: dict[str, timedelta] | None) -> dict[str, dict[str, Any]]:
    """Precision, recall, time to detect and simulated MTTR per alert type.

    ``resolve_after`` (None: no automatic remediation) is how long after detection a
    rollback-fixable fault is over and verified.
    """
    table: dict[str, dict[str, Any]] = {}
    for alert_type in ALERTS:
        mine = [a for a in alerts if a.alert == alert_type]
        true = [a for a in mine if any(_explains(f, a, models) for f in faults)]
        targets = [f for f in faults if f.alert == alert_type]
        detect_times, mttrs, missed, detections = [], [], [], []
        for fault in targets:
            hits = sorted(a.at for a in mine if a.model == fault.model
                          and fault.start <= a.at <= fault.end
                          + _grace(alert_type, models[fault.model]))
            if not hits:
                missed.append(f"{fault.model}/{fault.kind}")
                continue
            ttd = hits[0] - fault.start
            detect_times.append(ttd.total_seconds())
            detections.append({"model": fault.model, "kind": fault.kind,
                               "start": fault.start.isoformat(),
                               "detected_at": hits[0].isoformat()})
            auto = resolve_after is not None and fault.rollback_fixes
            recovery = (hits[0] + resolve_after[alert_type] if auto and resolve_after
                        else fault.end) - fault.start
            mttrs.append(max(recovery, ttd).total_seconds())
        table[alert_type] = {
            "alerts": len(mine),
            "alerts_per_day": round(len(mine) / days, 3),
            "precision": round(len(true) / len(mine), 3) if mine else None,
            "recall": round((len(targets) - len(missed)) / len(targets), 3) if targets else None,
            "median_time_to_detect_s": statistics.median(detect_times) if detect_times else None,
            "max_time_to_detect_s": max(detect_times) if detect_times else None,
            "simulated_mttr_s": statistics.median(mttrs) if mttrs else None,
            "missed": missed,
            "detections": detections,
        }
    return table


def batch_within_one_evaluation(table: dict[str, dict[str, Any]], model: ModelConfig,
                                start: datetime) -> dict[str, bool]:
    """Per batch alert type: was every fault detected no later than one evaluation after it
    became measurable? A windowed check can measure a fault once it fills half of the
    judged window; accuracy judges a window only after ``label_delay`` (labels mature)."""
    verdicts = {}
    for alert in ("data_drift", "prediction_shift", "data_quality", "accuracy_drop"):
        check = getattr(model.checks, alert)
        ok = True
        for hit in table[alert]["detections"]:
            began = datetime.fromisoformat(hit["start"])
            window = getattr(check, "window", timedelta(0))
            visible = began + window / 2 + (
                check.label_delay if alert == "accuracy_drop" else timedelta(0))
            steps = (visible - start) // check.every + 1
            first_evaluation = start + steps * check.every
            ok &= datetime.fromisoformat(hit["detected_at"]) <= first_evaluation + check.every
        verdicts[alert] = ok
    return verdicts


def _incident_alerts(report: dict[str, Any]) -> list[Alert]:
    return [Alert(i["model"], i["alert"], utc(datetime.fromisoformat(i["opened_at"])))
            for i in report["incidents"] if i["severity"] == "page"]


def run(root: Path, days: int = 30, seed: int = 0) -> dict[str, Any]:
    started = time.perf_counter()
    scenarios: dict[str, Scenario] = {
        "faults": generate(root / "faults", days=days, seed=seed),
        "healthy": generate(root / "healthy", healthy=True, days=days, seed=seed),
    }
    output: dict[str, Any] = {"days": days, "seed": seed, "models": [], "scenarios": {}}
    for name, scenario in scenarios.items():
        settings = load_settings(scenario.config_path)
        models = {m.name: m for m in settings.models}
        output["models"] = list(models)
        resolve_after = {}
        for alert in ALERTS:
            check = getattr(settings.models[0].checks, alert)
            resolve_after[alert] = check.every * (check.resolve_after + 1)
        t0 = time.perf_counter()
        report = backtest(settings, scenario.start, scenario.end).to_dict()
        mlwatch_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        naive = [a for m in settings.models
                 for a in naive_alerts(m, scenario.start, scenario.end)]
        naive_s = time.perf_counter() - t0
        days_f = (scenario.end - scenario.start).total_seconds() / 86400
        output["scenarios"][name] = {
            "faults": len(scenario.faults),
            "mlwatch": {"pages": report["pages_total"],
                        "pages_per_day": round(report["pages_total"] / days_f, 3),
                        "backtest_s": round(mlwatch_s, 1),
                        "by_alert": score(_incident_alerts(report), scenario.faults, models,
                                          days_f, resolve_after)},
            "baseline": {"pages": len(naive),
                         "pages_per_day": round(len(naive) / days_f, 3),
                         "evaluation_s": round(naive_s, 1),
                         "by_alert": score(naive, scenario.faults, models, days_f, None)},
        }
    faults = output["scenarios"]["faults"]["mlwatch"]["by_alert"]
    healthy = output["scenarios"]["healthy"]["mlwatch"]
    serving_ttd = [faults[a]["max_time_to_detect_s"] for a in SERVING_ALERTS
                   if faults[a]["max_time_to_detect_s"] is not None]
    fault_models = load_settings(scenarios["faults"].config_path).models
    batch = batch_within_one_evaluation(faults, fault_models[0], scenarios["faults"].start)
    output["targets"] = {
        "batch_detected_within_one_evaluation_after_measurable": batch,
        "false_pages_per_week_healthy": round(healthy["pages_per_day"] * 7, 3),
        "false_pages_per_week_ok": healthy["pages_per_day"] * 7 <= 1.0,
        "every_fault_detected": all(faults[a]["recall"] in (None, 1.0) for a in ALERTS),
        "serving_detected_within_15m": all(s <= SERVING_TARGET.total_seconds()
                                           for s in serving_ttd),
    }
    output["seconds"] = round(time.perf_counter() - started, 1)
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", type=Path, default=None, help="keep scenario data here")
    parser.add_argument("--json", action="store_true", help="compact JSON")
    args = parser.parse_args()
    if args.dir is not None:
        result = run(args.dir, args.days, args.seed)
    else:
        with tempfile.TemporaryDirectory(prefix="mlwatch-alert-quality-") as tmp:
            result = run(Path(tmp), args.days, args.seed)
    print(json.dumps(result, indent=None if args.json else 2, default=str))


if __name__ == "__main__":
    pd.options.mode.chained_assignment = None
    main()
