"""The drift check on a real local Dask cluster equals the single-process check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flows.dask_drift import column_chunks, drift_on_dask
from mlwatch.config import load_settings
from mlwatch.demo.world import DemoWorld, demo_url
from mlwatch.evaluate import evaluate_check, load_group_data

pytest.importorskip("prefect_dask")


def test_column_chunks_cover_every_column_once():
    columns = [f"c{i}" for i in range(9)]
    chunks = column_chunks(columns, 4)
    assert len(chunks) == 4 and sorted(sum(chunks, [])) == sorted(columns)
    assert column_chunks(columns[:2], 4) == [["c0"], ["c1"]]


def test_dask_result_equals_single_process(demo_dir):
    from prefect_dask import DaskTaskRunner

    settings = load_settings("mlwatch.yaml")
    world = DemoWorld(settings, demo_url(settings))
    epoch = world.ensure_initialised(datetime(2026, 6, 1, tzinfo=UTC))
    now = epoch + timedelta(hours=4)  # feature drift runs from +3h
    world.advance(now, epoch)
    model = settings.model("diagnosis")
    local = evaluate_check(model, "data_drift", model.checks.data_drift,
                           load_group_data(model, "batch", now), now)
    runner = DaskTaskRunner(cluster_kwargs={"n_workers": 2, "threads_per_worker": 1,
                                            "processes": True})
    distributed = drift_on_dask.with_options(task_runner=runner)(
        model="diagnosis", config_path="mlwatch.yaml", now=now)
    assert distributed.status == local.status
    assert distributed.value == local.value
    by_column = {c["column"]: c for c in local.details["columns"]}
    assert {c["column"]: c for c in distributed.details["columns"]} == by_column
    assert local.details["drifted_columns"]  # the injected drift is really there
