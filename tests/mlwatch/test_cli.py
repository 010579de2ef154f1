"""The incident, silence and stats commands, end to end through the real CLI and store."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from checks.result import CheckResult, Status
from incidents.policy import FiringRule
from mlwatch.db import open_store

MLWATCH = str(Path(sys.executable).with_name("mlwatch"))
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def workdir(tmp_path):
    (tmp_path / "mlwatch.yaml").write_text("store: sqlite:///.mlwatch/mlwatch.db\n"
                                           "models:\n  - name: churn\n")
    store = open_store(f"sqlite:///{tmp_path / '.mlwatch' / 'mlwatch.db'}")
    result = CheckResult("data_drift", "churn", Status.BREACH, 0.6, 0.3, timedelta(hours=6),
                         T0, "4/6 features drifted")
    store.apply(result, FiringRule())
    store.dispose()
    return tmp_path


def cli(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MLWATCH, *args], cwd=workdir, capture_output=True, text=True,
                          timeout=120)


def test_lifecycle_commands_with_json(workdir):
    listed = json.loads(cli(workdir, "incidents", "list", "--json").stdout)
    assert [(i["id"], i["status"]) for i in listed] == [(1, "open")]
    acked = json.loads(cli(workdir, "incidents", "ack", "1", "--by", "alice", "--json").stdout)
    assert acked["status"] == "acknowledged" and acked["acknowledged_by"] == "alice"
    started = cli(workdir, "incidents", "fault-start", "1", "2026-03-01T11:40Z", "--json")
    assert json.loads(started.stdout)["fault_started_at"].startswith("2026-03-01 11:40")
    resolved = json.loads(cli(workdir, "incidents", "resolve", "1", "--by", "bob", "--reason",
                              "reference refreshed", "--json").stdout)
    assert resolved["status"] == "resolved" and resolved["resolved_by"] == "bob"
    shown = json.loads(cli(workdir, "incidents", "show", "1", "--json").stdout)
    kinds = [e["kind"] for e in shown["timeline"]]
    assert kinds[0] == "opened" and "acknowledged" in kinds and kinds[-1] == "resolved"
    [stats] = json.loads(cli(workdir, "incidents", "stats", "--json").stdout)
    assert stats["incidents"] == 1 and stats["mtta_s"] is not None
    assert stats["mttr_s"] is not None and stats["mttd_s"] == 20 * 60
    text = cli(workdir, "incidents", "stats").stdout
    assert "MTTA" in text and "20m" in text


def test_silence_commands(workdir):
    added = cli(workdir, "silence", "add", "--model", "churn", "--alert", "data_drift",
                "--for", "2h", "--reason", "reference refresh", "--json")
    assert added.returncode == 0, added.stderr
    silence_id = json.loads(added.stdout)["id"]
    listed = json.loads(cli(workdir, "silence", "list", "--json").stdout)
    assert [s["id"] for s in listed] == [silence_id]
    assert cli(workdir, "silence", "expire", str(silence_id)).returncode == 0
    assert json.loads(cli(workdir, "silence", "list", "--json").stdout) == []
    missing = cli(workdir, "silence", "add", "--reason", "x", "--for", "soon")
    assert missing.returncode != 0 and "invalid duration" in missing.stderr


def test_unknown_incident_and_bad_store_are_one_clear_line(workdir, tmp_path):
    unknown = cli(workdir, "incidents", "show", "99")
    assert unknown.returncode != 0 and "no incident #99" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    (workdir / "bad.yaml").write_text(
        "store: postgresql+psycopg://u:secret@127.0.0.1:1/x\nmodels:\n  - name: a\n")
    bad = cli(workdir, "incidents", "list", "--config", "bad.yaml")
    assert bad.returncode != 0 and "cannot open the mlwatch store" in bad.stderr
    assert "secret" not in bad.stderr and "Traceback" not in bad.stderr
