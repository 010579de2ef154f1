"""Scale: wall time and Prefect server load of one full monitoring cycle for N models.

    python -m benchmarks.scale --models 50 --json

Starts a real local Prefect server (SQLite, its own PREFECT_HOME), generates a day of
serving and prediction data, configures N models with 4 checks each (error rate, latency,
data drift, pipeline delay: 3 flow runs per model, one per check group), and runs every
monitor flow once through Prefect with a small thread pool, as a worker would. Prints
wall time, flow runs, and the CPU seconds spent by the server and by this process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from benchmarks.scenarios import START

TARGET_S = 300.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _group_cpu_seconds(pgid: int) -> float:
    """utime + stime of every process in a process group (the server and its children)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 (pgrp) counted after the command name
            total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return total / ticks


def write_data(root: Path, seed: int = 0) -> dict[str, str]:
    """One day of data in the contract's shape, shared by every configured model."""
    rng = np.random.default_rng(seed)
    minutes = pd.date_range(START, periods=1440, freq="min", tz="UTC")
    counts = rng.poisson(40, len(minutes))
    ts = np.repeat(minutes.values, counts)
    n = len(ts)
    pd.DataFrame({"timestamp": pd.DatetimeIndex(ts, tz="UTC"),
                  "status": np.where(rng.random(n) < 0.002, "error", "ok"),
                  "latency_ms": rng.lognormal(np.log(80), 0.3, n)}).to_parquet(
        root / "serving.parquet")
    features = {f"f{i}": rng.normal(size=n) for i in range(8)}
    pd.DataFrame({"id": np.arange(n), "timestamp": pd.DatetimeIndex(ts, tz="UTC"), **features,
                  "prediction": rng.integers(0, 2, n), "score": rng.random(n)}).to_parquet(
        root / "predictions.parquet")
    pd.DataFrame({f"f{i}": rng.normal(size=20_000) for i in range(8)}).to_parquet(
        root / "reference.parquet")
    hours = pd.date_range(START, periods=24, freq="h", tz="UTC")
    pd.DataFrame({"pipeline": "features", "finished_at": hours, "status": "success"}).to_parquet(
        root / "pipeline_runs.parquet")
    return {role: str(root / f"{role}.parquet")
            for role in ("serving", "predictions", "reference", "pipeline_runs")}


def write_config(root: Path, models: int, paths: dict[str, str]) -> Path:
    config = {
        "store": f"sqlite:///{root / 'store.db'}", "state_dir": str(root / "state"),
        "models": [{
            "name": f"model{i:03d}", "features": [f"f{j}" for j in range(8)],
            "sources": {role: {"path": path} for role, path in paths.items()},
            "checks": {
                "error_rate_spike": {"every": "1m"},
                "latency_spike": {"every": "1m", "threshold_ms": 500},
                "data_drift": {"every": "1h", "window": "1h"},
                "pipeline_delay": {"every": "5m", "pipeline": "features", "cadence": "1h",
                                   "max_delay": "30m"},
            },
        } for i in range(models)],
    }
    path = root / "mlwatch.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def run(models: int, workers: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mlwatch-scale-") as tmp:
        root = Path(tmp)
        config = write_config(root, models, write_data(root))
        port = _free_port()
        api = f"http://127.0.0.1:{port}/api"
        env = {**os.environ, "PREFECT_HOME": str(root / "prefect"),
               "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_API_URL": api}
        prefect = str(Path(sys.executable).with_name("prefect"))
        server = subprocess.Popen([prefect, "server", "start", "--host", "127.0.0.1", "--port",
                                   str(port), "--no-services"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            subprocess.run([prefect, "server", "status", "--wait", "--timeout", "120"],
                           env=env, check=True, capture_output=True)
            os.environ.update({"PREFECT_API_URL": api, "PREFECT_HOME": env["PREFECT_HOME"],
                               "MLWATCH_SECRET_BLOCKS": "0"})
            from flows.monitor import monitor
            from mlwatch.config import load_settings
            from mlwatch.db import open_store
            from mlwatch.plan import model_groups

            settings = load_settings(config)
            open_store(settings.store).dispose()
            now = START + timedelta(hours=23)
            jobs = [(m.name, group) for m in settings.models for group in model_groups(m)]
            server_cpu0 = _group_cpu_seconds(server.pid)
            self0 = resource.getrusage(resource.RUSAGE_SELF)
            started = time.perf_counter()

            def one(job: tuple[str, str]) -> dict[str, Any]:
                return monitor(model=job[0], group=job[1], config_path=str(config), now=now,
                               force=True)

            with ThreadPoolExecutor(workers) as pool:
                outcomes = list(pool.map(one, jobs))
            wall = time.perf_counter() - started
            self1 = resource.getrusage(resource.RUSAGE_SELF)
            server_cpu = _group_cpu_seconds(server.pid) - server_cpu0
        finally:
            server.terminate()
            server.wait(30)
        evaluated = sum(len(o["evaluated"]) for o in outcomes)
        return {
            "models": models, "checks_per_model": 4, "checks_evaluated": evaluated,
            "flow_runs": len(jobs), "workers": workers, "wall_s": round(wall, 1),
            "server_cpu_s": round(server_cpu, 1),
            "client_cpu_s": round(self1.ru_utime + self1.ru_stime - self0.ru_utime
                                  - self0.ru_stime, 1),
            "seconds_per_flow_run": round(wall / len(jobs), 3),
            "target_s": TARGET_S, "target_met": wall < TARGET_S,
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--json", action="store_true", help="compact JSON")
    args = parser.parse_args()
    print(json.dumps(run(args.models, args.workers), indent=None if args.json else 2))


if __name__ == "__main__":
    main()
