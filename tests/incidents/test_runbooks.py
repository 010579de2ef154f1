"""Runbooks: one per alert, valid front matter, every section, and commands that run."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from checks.result import CheckResult, Status
from incidents.policy import FiringRule
from incidents.runbooks import FRONT_MATTER_KEYS, RUNBOOK_DIR, SECTIONS, load_runbook
from mlwatch.config import ALERTS
from mlwatch.diagnosis import DIAGNOSTICS

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("alert", ALERTS)
def test_every_alert_has_a_complete_runbook(alert):
    book = load_runbook(alert)
    assert book.alert == alert
    assert set(FRONT_MATTER_KEYS) <= set(book.meta)
    assert book.meta["severity"] in ("page", "ticket")
    assert all(book.sections[s].strip() for s in SECTIONS)
    assert len(book.first_steps()) >= 3
    assert set(book.meta["diagnostics"]) <= set(DIAGNOSTICS), "diagnostic without code"
    # Diagnose steps are concrete: each names a command, a query or a Prefect page.
    for step in book.first_steps(10):
        assert re.search(r"`[^`]+`|Prefect UI", step), step


def quoted_commands() -> list[str]:
    commands = set()
    for path in RUNBOOK_DIR.glob("*.md"):
        commands |= set(re.findall(r"`(mlwatch [^`]+)`", path.read_text()))
    return sorted(commands)


def test_runbooks_quote_mlwatch_commands():
    assert len(quoted_commands()) >= 5


def test_every_quoted_command_runs_against_the_demo_store(tmp_path):
    shutil.copy(REPO / "mlwatch.yaml", tmp_path / "mlwatch.yaml")
    setup = (
        "from datetime import datetime, UTC, timedelta\n"
        "from mlwatch.config import load_settings\n"
        "from mlwatch.demo.world import DemoWorld, demo_url\n"
        "s = load_settings('mlwatch.yaml'); w = DemoWorld(s, demo_url(s))\n"
        "e = w.ensure_initialised(datetime(2026, 6, 1, tzinfo=UTC))\n"
        "w.advance(e + timedelta(minutes=40), e)\n"
    )
    subprocess.run([sys.executable, "-c", setup], cwd=tmp_path, check=True,
                   capture_output=True)
    from mlwatch.db import open_store

    store = open_store(f"sqlite:///{tmp_path / '.mlwatch' / 'mlwatch.db'}")
    opened = store.apply(CheckResult("error_rate_spike", "diagnosis", Status.BREACH, 0.4, 0.14,
                                     timedelta(hours=1), datetime(2026, 6, 1, 0, 40, tzinfo=UTC),
                                     "errors"), FiringRule())
    store.dispose()
    mlwatch = str(Path(sys.executable).with_name("mlwatch"))
    for command in quoted_commands():
        filled = (command.replace("<id>", str(opened.incident_id))
                  .replace("<model>", "diagnosis"))
        argv = [mlwatch, *shlex.split(filled)[1:]]
        done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{filled}: {done.stderr}"


def test_runbook_command_renders_and_unknown_alert_is_clear():
    mlwatch = str(Path(sys.executable).with_name("mlwatch"))
    shown = subprocess.run([mlwatch, "runbook", "data_drift"], capture_output=True, text=True)
    assert shown.returncode == 0 and "## Diagnose" in shown.stdout
    unknown = subprocess.run([mlwatch, "runbook", "nope"], capture_output=True, text=True)
    assert unknown.returncode != 0 and "no runbook for alert 'nope'" in unknown.stderr


def test_first_diagnosis_gathers_what_the_runbook_asks(tmp_path, monkeypatch):
    shutil.copy(REPO / "mlwatch.yaml", tmp_path / "mlwatch.yaml")
    monkeypatch.chdir(tmp_path)
    from mlwatch.config import load_settings
    from mlwatch.db import open_store
    from mlwatch.demo.world import DemoWorld, demo_url
    from mlwatch.diagnosis import first_diagnosis

    settings = load_settings("mlwatch.yaml")
    world = DemoWorld(settings, demo_url(settings))
    epoch = world.ensure_initialised(datetime(2026, 6, 1, tzinfo=UTC))
    now = epoch + timedelta(minutes=40)
    world.advance(now, epoch)
    store = open_store(settings.store)
    text = first_diagnosis(store, settings.model("diagnosis"), "error_rate_spike", now)
    assert "Recent deployments: v2 succeeded 20m ago; v1 succeeded" in text
    pipeline = first_diagnosis(store, settings.model("diagnosis"), "pipeline_delay", now)
    assert "Last pipeline runs: feature_refresh success" in pipeline
    store.dispose()
