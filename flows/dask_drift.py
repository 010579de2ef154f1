"""The drift check on a Dask cluster, for batches that do not fit one process comfortably.

The features are split into ``column_chunks`` groups; each task, on a Dask worker, reads
only its columns of the batch and of the reference (column projection on Parquet and SQL
tables) and compares them. The merged report is the single-process one: every column's
test depends on that column alone. Needs the ``dask`` extra (prefect-dask).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE

from checks._time import utc
from checks.batch import drift_result
from checks.drift import DriftReport, merge_reports
from checks.result import CheckResult
from mlwatch.clock import clock_for
from mlwatch.config import DataDriftCheck, ModelConfig, load_settings
from mlwatch.errors import ConfigError
from mlwatch.evaluate import reference_profile
from mlwatch.sources import read_source


def column_chunks(columns: list[str], chunks: int) -> list[list[str]]:
    """Split columns into at most ``chunks`` non-empty groups of near-equal size."""
    chunks = max(1, min(chunks, len(columns)))
    return [columns[i::chunks] for i in range(chunks)]


@task(cache_policy=NONE, task_run_name="drift-columns-{index}")
def drift_columns(model: ModelConfig, check: DataDriftCheck, columns: list[str],
                  now: datetime, index: int) -> DriftReport:
    """One worker's share: read its columns of the window and compare them."""
    assert model.sources.predictions is not None
    batch = read_source(model.sources.predictions, "predictions", since=now - check.window,
                        until=now, columns=columns)
    profile = reference_profile(model, columns)
    method: Any = dict(check.methods) if check.methods else None
    return profile.compare(batch, method=method, threshold=check.threshold,
                           drift_share=check.drift_share, workers=1)


@flow(name="mlwatch-drift-dask", log_prints=True)
def drift_on_dask(model: str, config_path: str = "mlwatch.yaml",
                  now: datetime | None = None) -> CheckResult:
    """Run ``model``'s data_drift check with its columns spread over the Dask workers."""
    settings = load_settings(config_path)
    model_cfg = settings.model(model)
    check = model_cfg.checks.data_drift
    if check is None:
        raise ConfigError(f"models.{model}.checks.data_drift is not configured")
    now = utc(now) if now else clock_for(settings).now()
    chunks = check.dask.column_chunks if check.dask else 4
    futures = [drift_columns.submit(model_cfg, check, cols, now, i)
               for i, cols in enumerate(column_chunks(list(model_cfg.features), chunks))]
    report = merge_reports([f.result() for f in futures], check.drift_share)
    return drift_result(report, now, model=model, window=check.window, severity=check.severity)


def dask_runner(check: DataDriftCheck) -> Any:
    """The DaskTaskRunner for a check: an existing cluster, or a local one it starts."""
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError:
        raise ConfigError("data_drift.dask needs the dask extra: pip install 'mlwatch[dask]'"
                          ) from None
    settings = check.dask
    assert settings is not None
    if settings.address:
        return DaskTaskRunner(address=settings.address)
    return DaskTaskRunner(cluster_kwargs={"n_workers": settings.n_workers,
                                          "threads_per_worker": 1, "processes": True})


def drift_on_dask_for(check: DataDriftCheck) -> Any:
    """``drift_on_dask`` bound to the check's cluster."""
    return drift_on_dask.with_options(task_runner=dask_runner(check))
