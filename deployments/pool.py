"""Deploy every monitor and remediation flow to a Prefect work pool (the scale-out path).

``mlwatch deploy --pool mlwatch`` creates the process work pool if missing (with a pool
concurrency limit), one work queue per model (with a per-model concurrency limit, so one
cycle never floods a model's sources), and one deployment per model and check group with
its schedule, plus the remediation deployments. Any number of
``prefect worker start --pool mlwatch`` processes, on any machines that see the code and
the store, then run them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from mlwatch.clock import clock_for
from mlwatch.config import Settings
from mlwatch.plan import group_checks, model_groups

REPO_ROOT = Path(__file__).resolve().parent.parent
MONITOR_ENTRYPOINT = "flows/monitor.py:monitor"
REMEDIATION_ENTRYPOINTS = {
    "rollback": "flows/remediation.py:rollback",
    "retrain": "flows/remediation.py:retrain",
}


@dataclass(frozen=True)
class PoolSettings:
    pool: str = "mlwatch"
    pool_limit: int = 8
    per_model_limit: int = 2


def ensure_pool(settings: PoolSettings, models: list[str]) -> None:
    """Create the process work pool and a queue per model, with their concurrency limits."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
    from prefect.exceptions import ObjectAlreadyExists

    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name=settings.pool, type="process",
                                                   concurrency_limit=settings.pool_limit))
        except ObjectAlreadyExists:
            client.update_work_pool(settings.pool,
                                    WorkPoolUpdate(concurrency_limit=settings.pool_limit))
        for model in models:
            name = f"model-{model}"
            with contextlib.suppress(ObjectAlreadyExists):
                client.create_work_queue(name=name, work_pool_name=settings.pool,
                                         concurrency_limit=settings.per_model_limit)
            queue = client.read_work_queue_by_name(name, work_pool_name=settings.pool)
            client.update_work_queue(queue.id, concurrency_limit=settings.per_model_limit)


def deploy_all(settings: Settings, config_path: str, pool: PoolSettings,
               source: Path = REPO_ROOT) -> list[str]:
    """Register every deployment on the pool; returns their full names."""
    from prefect import Flow

    ensure_pool(pool, [m.name for m in settings.models])
    clock = clock_for(settings)
    config = str(Path(config_path).resolve())
    names = []
    for model in settings.models:
        queue = f"model-{model.name}"
        monitor = Flow.from_source(source=str(source), entrypoint=MONITOR_ENTRYPOINT)
        for group, every in model_groups(model).items():
            alerts = list(group_checks(model, group))
            name = f"{model.name}-{group}"
            monitor.deploy(
                name=name, work_pool_name=pool.pool, work_queue_name=queue, build=False,
                push=False, interval=max(clock.real_interval(every).total_seconds(), 10.0),
                parameters={"model": model.name, "group": group, "config_path": config},
                tags=["mlwatch", f"model:{model.name}", f"group:{group}",
                      *[f"alert:{a}" for a in alerts]],
                description=f"{', '.join(alerts)} for {model.name}, every {every}",
                concurrency_limit=1, print_next_steps=False)
            names.append(f"mlwatch-monitor/{name}")
        for action, entrypoint in REMEDIATION_ENTRYPOINTS.items():
            flow = Flow.from_source(source=str(source), entrypoint=entrypoint)
            name = f"{model.name}-{action}"
            flow.deploy(name=name, work_pool_name=pool.pool, work_queue_name=queue,
                        build=False, push=False,
                        parameters={"model": model.name, "config_path": config},
                        tags=["mlwatch", f"model:{model.name}", "remediation"],
                        description=f"{action} for {model.name}", print_next_steps=False)
            names.append(f"mlwatch-{action}/{name}")
    return names
