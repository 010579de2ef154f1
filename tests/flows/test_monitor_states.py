"""States that tell the truth: a monitor that cannot evaluate fails, clearly, and repeated
failures open a monitor_failure incident (who watches the watcher)."""

from __future__ import annotations

import pytest
import yaml

from flows.monitor import monitor
from mlwatch.config import load_settings
from mlwatch.db import open_store
from mlwatch.errors import SourceError


def test_unreachable_source_fails_the_run_and_opens_monitor_failure(demo_dir):
    config = yaml.safe_load((demo_dir / "mlwatch.yaml").read_text())
    config["policy"] = {"monitor_failures_before_incident": 2}
    serving = config["models"][0]["sources"]["serving"]
    serving["url"] = "sqlite:///.mlwatch/missing.db"
    (demo_dir / "mlwatch.yaml").write_text(yaml.safe_dump(config))
    settings = load_settings("mlwatch.yaml")
    for _attempt in (1, 2):
        with pytest.raises(SourceError, match="cannot read serving from serving_events"):
            monitor(model="diagnosis", group="serving", force=True)
    store = open_store(settings.store)
    [incident] = store.incidents()
    assert incident.alert == "monitor_failure" and incident.labels == {"group": "serving"}
    assert "could not evaluate" in incident.summary
    notices = (demo_dir / ".mlwatch" / "notices.log").read_text()
    assert "monitor_failure" in notices
    store.dispose()


def test_batch_run_writes_the_evidently_report_and_drift_table(demo_dir):
    from datetime import UTC, datetime, timedelta

    from prefect.client.orchestration import get_client

    from mlwatch.demo.world import DemoWorld, demo_url

    settings = load_settings("mlwatch.yaml")
    world = DemoWorld(settings, demo_url(settings))
    epoch = world.ensure_initialised(datetime(2026, 6, 1, 8, tzinfo=UTC))
    now = epoch + timedelta(hours=4)  # inside the injected feature drift
    world.advance(now, epoch)
    outcome = monitor(model="diagnosis", group="batch", now=now, force=True)
    assert "data_drift" in outcome["breaches"]
    [report] = (demo_dir / ".mlwatch" / "reports" / "diagnosis").glob("*-data-drift.html")
    html = report.read_text()
    assert "Dataset Drift" in html and "mean_radius" in html
    with get_client(sync_client=True) as client:
        keys = {a.key for a in client.read_artifacts()}
    assert {"diagnosis-drift-scores", "diagnosis-drift-report",
            "diagnosis-batch-summary"} <= keys
