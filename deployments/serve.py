"""The embedded default: serve every monitor deployment from this process (``make run``).

One deployment per model and check group, on the group's cadence (converted to real time
by the demo clock), tagged with the model and its alerts, parameters editable in the UI.
Remediation flows are served too, unscheduled, so Slack buttons and people can start them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flows.monitor import monitor
from flows.remediation import REMEDIATION_FLOWS
from mlwatch.clock import clock_for
from mlwatch.config import Settings
from mlwatch.plan import group_checks, model_groups

MIN_INTERVAL_S = 10.0  # a flow run costs the server ~1 s of CPU: do not schedule faster


def build_deployments(settings: Settings, config_path: str) -> list[Any]:
    """RunnerDeployments for every model and check group, plus remediation flows."""
    clock = clock_for(settings)
    config = str(Path(config_path).resolve())
    deployments = []
    for model in settings.models:
        for group, every in model_groups(model).items():
            alerts = list(group_checks(model, group))
            interval = max(clock.real_interval(every).total_seconds(), MIN_INTERVAL_S)
            deployments.append(monitor.to_deployment(
                name=f"{model.name}-{group}",
                interval=interval,
                parameters={"model": model.name, "group": group, "config_path": config},
                tags=["mlwatch", f"model:{model.name}", f"group:{group}",
                      *[f"alert:{a}" for a in alerts]],
                description=f"{', '.join(alerts)} for {model.name}, every {every} "
                            "(simulated time in the demo)",
            ))
        for action, remediation_flow in REMEDIATION_FLOWS.items():
            deployments.append(remediation_flow.to_deployment(
                name=f"{model.name}-{action}",
                parameters={"model": model.name, "config_path": config},
                tags=["mlwatch", f"model:{model.name}", "remediation", f"action:{action}"],
                description=f"{action} for {model.name} (started by monitors, people, Slack)",
            ))
    return deployments


def serve_all(settings: Settings, config_path: str, limit: int = 4) -> None:
    """Serve until interrupted; at most ``limit`` flow runs at once."""
    from prefect import serve

    serve(*build_deployments(settings, config_path), limit=limit, print_starting_message=False)
