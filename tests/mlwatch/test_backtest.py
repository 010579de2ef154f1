"""Backtest: replays the demo world's history through the real policy, visibility-correct."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mlwatch.backtest import backtest
from mlwatch.config import load_settings

REPO = Path(__file__).resolve().parents[2]
EPOCH = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo_history(tmp_path_factory) -> Path:
    """Twelve simulated hours of the demo world: one full fault cycle, no remediation."""
    root = tmp_path_factory.mktemp("history")
    shutil.copy(REPO / "mlwatch.yaml", root / "mlwatch.yaml")
    script = (
        "from datetime import datetime, timedelta, UTC\n"
        "from mlwatch.config import load_settings\n"
        "from mlwatch.demo.world import DemoWorld, demo_url\n"
        "s = load_settings('mlwatch.yaml'); w = DemoWorld(s, demo_url(s))\n"
        "e = w.ensure_initialised(datetime(2026, 6, 1, tzinfo=UTC))\n"
        "w.advance(e + timedelta(hours=12), e)\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=root, check=True, capture_output=True)
    return root


def test_backtest_finds_each_injected_fault_once(demo_history, monkeypatch):
    monkeypatch.chdir(demo_history)
    settings = load_settings("mlwatch.yaml")
    report = backtest(settings, EPOCH, EPOCH + timedelta(hours=12)).to_dict()
    opened = {i["alert"]: datetime.fromisoformat(i["opened_at"]) for i in report["incidents"]}
    # Each fault opens one incident (dedup), shortly after it starts.
    assert report["incidents_by_alert"]["error_rate_spike"] == 1
    assert EPOCH + timedelta(minutes=20) < opened["error_rate_spike"] < EPOCH + timedelta(hours=1)
    assert EPOCH + timedelta(hours=3) < opened["data_drift"] <= EPOCH + timedelta(hours=5)
    assert EPOCH + timedelta(hours=7) <= opened["pipeline_delay"] <= EPOCH + timedelta(hours=8)
    assert EPOCH + timedelta(hours=9) <= opened["latency_spike"] <= EPOCH + timedelta(hours=10)
    drift = next(i for i in report["incidents"] if i["alert"] == "data_drift")
    assert drift["resolved_at"] is not None  # drift ends at +5h and auto-resolves
    assert report["evaluations"] > 400
    assert not (demo_history / ".mlwatch" / "notices.log").exists()  # nothing notified


def test_labels_are_used_only_once_visible(demo_history, monkeypatch):
    """The random-prediction deployment starts at +20m; labels arrive 1-8h later, so the
    accuracy drop can only be judged hours after the fault, never before its labels exist."""
    monkeypatch.chdir(demo_history)
    settings = load_settings("mlwatch.yaml")
    early = backtest(settings, EPOCH, EPOCH + timedelta(hours=6)).to_dict()
    assert early["incidents_by_alert"].get("accuracy_drop", 0) == 0
    full = backtest(settings, EPOCH, EPOCH + timedelta(hours=12)).to_dict()
    accuracy = [i for i in full["incidents"] if i["alert"] == "accuracy_drop"]
    assert accuracy and datetime.fromisoformat(accuracy[0]["opened_at"]) >= (
        EPOCH + timedelta(hours=8, minutes=20))


def test_backtest_cli_writes_json(demo_history, tmp_path):
    out = tmp_path / "report.json"
    mlwatch = Path(sys.executable).with_name("mlwatch")
    done = subprocess.run([mlwatch, "backtest", "--start", "2026-06-01T00:00Z", "--end",
                           "2026-06-01T06:00Z", "--json", str(out)], cwd=demo_history,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text())
    assert {"alerts_per_day", "incidents", "incidents_by_day"} <= set(data)
    assert all({"model", "alert", "severity", "opened_at", "resolved_at"} <= set(i)
               for i in data["incidents"])
    bad = subprocess.run([mlwatch, "backtest", "--start", "yesterday", "--end", "now"],
                         cwd=demo_history, capture_output=True, text=True)
    assert bad.returncode != 0 and "not an ISO time" in bad.stderr
