"""One Prefect test harness for the whole session (it takes ~10-15 s to start)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session", autouse=True)
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def demo_dir(tmp_path, monkeypatch) -> Path:
    """A working directory with the shipped demo config, as `make run` would use it."""
    shutil.copy(REPO / "mlwatch.yaml", tmp_path / "mlwatch.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path
