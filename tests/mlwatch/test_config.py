"""Configuration: the shipped example is valid; every bad value names its key path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlwatch.config import load_settings, parse_settings
from mlwatch.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
MINIMAL = {"models": [{"name": "churn"}]}


def test_shipped_demo_config_is_valid():
    settings = load_settings(REPO / "mlwatch.yaml")
    model = settings.model("diagnosis")
    assert model.checks.error_rate_spike.objective == 0.99
    assert model.remediation["error_rate_spike"].action == "rollback"
    assert settings.demo.enabled


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({}, "models: required key is missing"),
        ({"models": [{"name": "a", "checks": {"data_drift": {"every": "soon"}}}]},
         "models[0].checks.data_drift.every: Value error, invalid duration 'soon'"),
        ({"models": [{"name": "a", "checks": {"data_drfit": {}}}]},
         "models[0].checks.data_drfit: unknown key"),
        ({"models": [{"name": "a", "checks": {"error_rate_spike": {"objective": 1.5}}}]},
         "models[0].checks.error_rate_spike.objective: Input should be less than 1 (got 1.5)"),
        ({"models": [{"name": "a", "remediation": {"oops": "rollback"}}]},
         "unknown alert(s) ['oops']"),
        ({"models": [{"name": "a", "sources": {"labels": {"url": "sqlite://"}}}]},
         "'url' needs 'table' or 'query'"),
        ({"models": [{"name": "a"}, {"name": "a"}]}, "model names must be unique"),
        ({"models": [{"name": "a", "checks": {"accuracy_drop": {"metric": "accuracy"}}}]},
         "set 'min'"),
    ],
)
def test_bad_config_names_key_path_value_and_what_is_allowed(raw, expected):
    with pytest.raises(ConfigError) as info:
        parse_settings(raw)
    assert expected in str(info.value)


def test_environment_overrides_store_and_slack(monkeypatch):
    monkeypatch.setenv("MLWATCH_STORE_URL", "postgresql+psycopg://u@db/mlwatch")
    monkeypatch.setenv("MLWATCH_SLACK_CHANNEL", "#other")
    monkeypatch.setenv("MLWATCH_SLACK_BASE_URL", "http://127.0.0.1:9/api/")
    settings = parse_settings(MINIMAL)
    assert settings.store == "postgresql+psycopg://u@db/mlwatch"
    assert settings.slack.channel == "#other"
    assert settings.slack.base_url == "http://127.0.0.1:9/api/"


def test_malformed_yaml_names_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("models:\n  - name: [unclosed\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+"):
        load_settings(path)


def test_config_check_cli_exit_codes(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  - name: x\n    checks: {data_drift: {drift_share: 3}}\n")
    mlwatch = Path(sys.executable).with_name("mlwatch")
    ok = subprocess.run([mlwatch, "config", "check", str(REPO / "mlwatch.yaml")],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and "OK" in ok.stdout
    failed = subprocess.run([mlwatch, "config", "check", str(bad)], capture_output=True,
                            text=True)
    assert failed.returncode != 0
    assert "models[0].checks.data_drift.drift_share" in failed.stderr
    assert "Traceback" not in failed.stderr
    missing = subprocess.run([mlwatch, "config", "check", str(tmp_path / "nope.yaml")],
                             capture_output=True, text=True)
    assert missing.returncode != 0 and "does not exist" in missing.stderr
