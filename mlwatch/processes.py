"""Background processes that ``mlwatch run`` starts: the Prefect server and the demo world.

The server is started like ``nohup`` would (own session, output to a log file, stdin
closed) and awaited with ``prefect server status --wait``; never ``--background``, whose
pipes close and take the server down. PID files under ``.mlwatch/pids`` let
``mlwatch stop`` (and a second ``make run``) find what is running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from mlwatch.errors import MlwatchError


class ProcessError(MlwatchError):
    """A background process could not be started or reached."""


@dataclass(frozen=True)
class Managed:
    name: str
    pid: int
    started: bool  # False when an already-running instance was reused


def prefect_env(state_dir: Path, api_url: str | None = None) -> dict[str, str]:
    """Environment for Prefect processes: project-local home, no analytics."""
    env = dict(os.environ)
    env["PREFECT_HOME"] = str((state_dir / "prefect").resolve())
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    env["EVIDENTLY_DISABLE_TELEMETRY"] = "1"
    env["DO_NOT_TRACK"] = "1"
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


def _pid_file(state_dir: Path, name: str) -> Path:
    return state_dir / "pids" / f"{name}.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_pid(state_dir: Path, name: str) -> int | None:
    path = _pid_file(state_dir, name)
    if not path.exists():
        return None
    try:
        pid = int(path.read_text().strip())
    except ValueError:
        return None
    return pid if _alive(pid) else None


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def server_healthy(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(api_url.rstrip("/") + "/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _bin(name: str) -> str:
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else name


def spawn(state_dir: Path, name: str, argv: list[str], env: dict[str, str]) -> int:
    """Start ``argv`` detached (own session, log file, no stdin) and record its pid."""
    log_dir = state_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / f"{name}.log").open("ab") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    pid_path = _pid_file(state_dir, name)
    pid_path.parent.mkdir(parents=True, exist_ok=True)
    pid_path.write_text(str(process.pid))
    return process.pid


def ensure_server(state_dir: Path, api_url: str, timeout: int = 120) -> Managed:
    """Reuse a healthy server at ``api_url`` or start one; fail clearly if the port is taken."""
    parsed = urlparse(api_url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 4200
    existing = running_pid(state_dir, "prefect-server")
    if server_healthy(api_url):
        return Managed("prefect-server", existing or 0, started=False)
    if _port_open(host, port):
        raise ProcessError(
            f"port {port} on {host} is taken by a program that is not a Prefect server; "
            f"stop it, or point mlwatch at another port with prefect_api_url "
            f"(or MLWATCH_PREFECT_API_URL=http://{host}:<port>/api)"
        )
    if existing:
        stop(state_dir, "prefect-server")
    env = prefect_env(state_dir)
    env.pop("PREFECT_API_URL", None)
    pid = spawn(state_dir, "prefect-server",
                [_bin("prefect"), "server", "start", "--host", host, "--port", str(port)], env)
    status_env = prefect_env(state_dir, api_url)
    waited = subprocess.run(
        [_bin("prefect"), "server", "status", "--wait", "--timeout", str(timeout)],
        env=status_env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False,
    )
    if waited.returncode != 0 or not server_healthy(api_url):
        stop(state_dir, "prefect-server")
        log = state_dir / "logs" / "prefect-server.log"
        raise ProcessError(f"the Prefect server did not become healthy within {timeout}s; "
                           f"see {log}")
    return Managed("prefect-server", pid, started=True)


def stop(state_dir: Path, name: str, grace: float = 10.0) -> bool:
    """Stop a managed process group (SIGTERM, then SIGKILL after ``grace`` seconds)."""
    pid = running_pid(state_dir, name)
    path = _pid_file(state_dir, name)
    if pid is None:
        path.unlink(missing_ok=True)
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _alive(pid):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.2)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    path.unlink(missing_ok=True)
    return True
