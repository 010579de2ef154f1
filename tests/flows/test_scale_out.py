"""Scale-out on Prefect's own distribution, for real: a Prefect server on PostgreSQL, a
process work pool, `mlwatch deploy`, a flow run triggered through the API, a worker that
runs it, and the results read back from Prefect (state, name, artifacts) and the store."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import POSTGRES_ENV, postgres_url

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
EPOCH = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_prefect(tmp_path_factory):
    """A Prefect server whose database is PostgreSQL, plus a PostgreSQL mlwatch store."""
    base = postgres_url()
    if not base:
        pytest.skip(f"scale-out test needs {POSTGRES_ENV}")
    root = tmp_path_factory.mktemp("scale")
    database = f"mlwatch_prefect_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"'))
        conn.execute(text(f'CREATE DATABASE "{database}_store"'))
    host_part = base.split("://", 1)[1].rsplit("/", 1)[0]
    port = _free_port()
    env = {**os.environ, "PREFECT_HOME": str(root / "prefect"),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_API_DATABASE_CONNECTION_URL": f"postgresql+asyncpg://{host_part}/{database}",
           "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
           "MLWATCH_STORE_URL": f"postgresql+psycopg://{host_part}/{database}_store",
           "MLWATCH_SECRET_BLOCKS": "0"}
    log = (root / "server.log").open("wb")
    server = subprocess.Popen([BIN / "prefect", "server", "start", "--host", "127.0.0.1",
                               "--port", str(port), "--no-services"], env=env, stdout=log,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        subprocess.run([BIN / "prefect", "server", "status", "--wait", "--timeout", "120"],
                       env=env, check=True, capture_output=True)
        yield root, env
    finally:
        server.terminate()
        server.wait(30)
        admin.dispose()
        with create_engine(base, isolation_level="AUTOCOMMIT").connect() as conn:
            for name in (database, f"{database}_store"):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_monitor_cycle_runs_through_a_worker_on_postgres(postgres_prefect):
    root, env = postgres_prefect
    work = root / "demo"
    work.mkdir()
    (work / "mlwatch.yaml").write_text((REPO / "mlwatch.yaml").read_text())
    world = (
        "from datetime import datetime, timedelta, UTC\n"
        "from mlwatch.config import load_settings\n"
        "from mlwatch.demo.world import DemoWorld, demo_url\n"
        "s = load_settings('mlwatch.yaml'); w = DemoWorld(s, demo_url(s))\n"
        "e = w.ensure_initialised(datetime(2026, 6, 1, 8, tzinfo=UTC))\n"
        "w.advance(e + timedelta(minutes=50), e)\n"
    )
    made = subprocess.run([sys.executable, "-c", world], cwd=work, env=env,
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stderr[-2000:]
    deployed = subprocess.run([BIN / "mlwatch", "deploy", "--pool", "scale-test"], cwd=work,
                              env=env, capture_output=True, text=True)
    assert deployed.returncode == 0, deployed.stderr
    assert "mlwatch-monitor/diagnosis-serving" in deployed.stdout

    api = env["PREFECT_API_URL"]
    with httpx.Client(base_url=api + "/", timeout=30) as client:
        deployment = client.get("deployments/name/mlwatch-monitor/diagnosis-serving").json()
        assert deployment["work_pool_name"] == "scale-test"
        now = (EPOCH + timedelta(minutes=50)).isoformat()
        run = client.post(f"deployments/{deployment['id']}/create_flow_run",
                          json={"parameters": {"now": now, "force": True}}).json()
        worker = subprocess.run([BIN / "prefect", "worker", "start", "--pool", "scale-test",
                                 "--type", "process", "--run-once"], cwd=root, env=env,
                                capture_output=True, text=True, timeout=300)
        assert worker.returncode == 0, worker.stderr[-2000:]
        deadline = time.monotonic() + 120
        state = None
        while time.monotonic() < deadline:
            flow_run = client.get(f"flow_runs/{run['id']}").json()
            state = flow_run["state"]["type"]
            if state in ("COMPLETED", "FAILED", "CRASHED"):
                break
            time.sleep(1)
        assert state == "COMPLETED", flow_run["state"]
        assert flow_run["name"] == "diagnosis · serving · 2026-06-01T08:50Z"
        artifacts = client.post("artifacts/filter", json={
            "artifacts": {"flow_run_id": {"any_": [run["id"]]}}}).json()
        keys = {a["key"] for a in artifacts}
        assert "diagnosis-serving-summary" in keys
        summary = next(a for a in artifacts if a["key"] == "diagnosis-serving-summary")
        assert "error_rate_spike" in summary["data"]

    store = create_engine(env["MLWATCH_STORE_URL"])
    with store.connect() as conn:
        results = conn.execute(text("SELECT alert, status FROM check_results")).all()
        incidents = conn.execute(text("SELECT alert, status FROM incidents")).all()
        champion = conn.execute(text(
            "SELECT version FROM model_aliases WHERE alias = 'champion'")).scalar()
    store.dispose()
    assert ("error_rate_spike", "breach") in results
    assert ("error_rate_spike", "open") in incidents
    assert champion == "v1"  # the broken v2 was rolled back by the remediation subflow
