"""Drift speed and memory: Evidently's DataDriftPreset against mlwatch's engine, same data.

    python -m benchmarks.drift --rows 1000000 --json

Prints JSON with rows, evidently_s, mlwatch_s (one batch with the reference profile
already built, as a monitor reuses it), mlwatch_cold_s (profile build + batch),
speedup (evidently_s / mlwatch_s), speedup_cold, evidently_peak_mb, mlwatch_peak_mb
(peak traced allocations of each run), max_abs_score_diff and decision_agreement.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

os.environ.setdefault("EVIDENTLY_DISABLE_TELEMETRY", "1")

N_NUMERIC, N_CATEGORICAL = 20, 5


def make_data(rows: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, list[str], list[str]]:
    """Reference and current batches; a quarter of the columns drift, by various amounts."""
    rng = np.random.default_rng(seed)
    numeric = [f"num_{i:02d}" for i in range(N_NUMERIC)]
    categorical = [f"cat_{i}" for i in range(N_CATEGORICAL)]

    def frame(shift: bool) -> pd.DataFrame:
        data: dict[str, Any] = {}
        for i, name in enumerate(numeric):
            delta = 0.05 * (i % 5) if shift and i % 4 == 0 else 0.0
            if i % 3 == 0:
                data[name] = rng.lognormal(delta, 0.7, rows)
            elif i % 3 == 1:
                data[name] = rng.normal(delta, 1.0, rows)
            else:
                data[name] = np.round(rng.gamma(2.0 + delta * 4, 10.0, rows), 1)
        for i, name in enumerate(categorical):
            k = 4 + 4 * i
            p = np.linspace(1, 2, k)
            if shift and i % 2 == 0:
                p = p[::-1]
            data[name] = rng.choice([f"c{j}" for j in range(k)], rows, p=p / p.sum())
        df = pd.DataFrame(data)
        df.loc[rng.random(rows) < 0.01, numeric[1]] = np.nan  # some missing values
        return df

    return frame(False), frame(True), numeric, categorical


def measure(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """(result, seconds, peak traced MiB) of ``fn``.

    Timed without tracing (tracemalloc slows allocation-heavy Python code several-fold),
    then run again under tracemalloc for the peak of what it allocates.
    """
    gc.collect()
    started = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - started
    gc.collect()
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, seconds, peak / 2**20


def run_evidently(reference: pd.DataFrame, current: pd.DataFrame, numeric: list[str],
                  categorical: list[str]) -> dict[str, tuple[float, bool]]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    snapshot = Report([DataDriftPreset()], include_tests=True).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    ).dict()
    by_id = {}
    for metric in snapshot["metrics"]:
        if metric["config"]["type"].endswith("ValueDrift"):
            by_id[metric["id"]] = (metric["config"]["column"], float(metric["value"]))
    verdicts = {}
    for test in snapshot["tests"]:
        metric_id = test["metric_config"]["metric_id"]
        if metric_id in by_id:
            column, score = by_id[metric_id]
            verdicts[column] = (score, test["status"] == "FAIL")
    return verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()

    from checks.drift import ReferenceProfile

    reference, current, numeric, categorical = make_data(args.rows, args.seed)
    columns = numeric + categorical
    profile, build_s, build_mb = measure(
        lambda: ReferenceProfile.build(reference, columns, categorical))
    report, mlwatch_s, mlwatch_mb = measure(lambda: profile.compare(current))
    expected, evidently_s, evidently_mb = measure(
        lambda: run_evidently(reference, current, numeric, categorical))

    diffs = [abs(report.columns[c].score - expected[c][0]) for c in columns]
    agree = [report.columns[c].drifted == expected[c][1] for c in columns]
    result = {
        "rows": args.rows,
        "columns": {"numeric": len(numeric), "categorical": len(categorical)},
        "evidently_s": round(evidently_s, 3),
        "mlwatch_s": round(mlwatch_s, 3),
        "mlwatch_profile_s": round(build_s, 3),
        "mlwatch_cold_s": round(build_s + mlwatch_s, 3),
        "speedup": round(evidently_s / mlwatch_s, 1),
        "speedup_cold": round(evidently_s / (build_s + mlwatch_s), 1),
        "evidently_peak_mb": round(evidently_mb, 1),
        "mlwatch_peak_mb": round(max(mlwatch_mb, build_mb), 1),
        "max_abs_score_diff": float(max(diffs)),
        "decision_agreement": sum(agree) / len(agree),
        "drifted_columns": report.n_drifted,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
    }
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
