"""Background processes: a taken port is one clear error, never a traceback wall."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mlwatch.processes import ProcessError, ensure_server, spawn, stop


def test_port_taken_by_something_else_is_a_clear_error(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(ProcessError, match=f"port {port} .* is taken"):
            ensure_server(tmp_path, f"http://127.0.0.1:{port}/api")


def test_mlwatch_run_reports_taken_port_and_exits_non_zero(tmp_path):
    repo = Path(__file__).resolve().parents[2]
    config = (repo / "mlwatch.yaml").read_text()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        (tmp_path / "mlwatch.yaml").write_text(
            config.replace("http://127.0.0.1:4200/api", f"http://127.0.0.1:{port}/api"))
        mlwatch = Path(sys.executable).with_name("mlwatch")
        done = subprocess.run([mlwatch, "run"], cwd=tmp_path, capture_output=True, text=True,
                              timeout=120)
    assert done.returncode != 0
    assert f"port {port}" in done.stderr and "Traceback" not in done.stderr


def test_spawned_process_group_is_stopped(tmp_path):
    pid = spawn(tmp_path, "sleeper", [sys.executable, "-c", "import time; time.sleep(60)"],
                env={})
    assert (tmp_path / "pids" / "sleeper.pid").read_text() == str(pid)
    assert stop(tmp_path, "sleeper", grace=5)
    assert subprocess.run(["kill", "-0", str(pid)], capture_output=True).returncode != 0
    assert not stop(tmp_path, "sleeper")
