"""The embedded default's deployments, served by a Prefect Runner (what `serve` runs) against
the test server: scheduled from config, triggered through the Prefect client, read back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.runner import Runner

from deployments.serve import build_deployments
from mlwatch.config import load_settings
from mlwatch.demo.world import DemoWorld, demo_url

EPOCH = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def test_served_monitor_deployment_runs_and_leaves_artifacts(demo_dir):
    settings = load_settings("mlwatch.yaml")
    world = DemoWorld(settings, demo_url(settings))
    epoch = world.ensure_initialised(EPOCH)
    now = epoch + timedelta(minutes=50)
    world.advance(now, epoch)
    deployments = {d.name: d for d in build_deployments(settings, "mlwatch.yaml")}
    serving = deployments["diagnosis-serving"]
    assert serving.schedules and "model:diagnosis" in serving.tags
    assert "alert:error_rate_spike" in serving.tags

    async def scenario() -> tuple:
        runner = Runner(query_seconds=1, limit=2)
        await runner.aadd_deployment(serving)
        async with get_client() as client:
            deployment = await client.read_deployment_by_name(
                "mlwatch-monitor/diagnosis-serving")
            # Pause the schedule so only the run we trigger executes.
            await client.pause_deployment(deployment.id)
            flow_run = await client.create_flow_run_from_deployment(
                deployment.id, parameters={"now": now.isoformat(), "force": True})
            await runner.start(run_once=True)
            finished = await client.read_flow_run(flow_run.id)
            artifacts = await client.read_artifacts(artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run.id])))
            return deployment, finished, artifacts

    deployment, finished, artifacts = asyncio.run(scenario())
    assert deployment.parameters["group"] == "serving"
    assert finished.state.is_completed(), finished.state
    assert finished.name == "diagnosis · serving · 2026-06-01T08:50Z"
    summary = next(a for a in artifacts if a.key == "diagnosis-serving-summary")
    assert "error_rate_spike" in summary.data and "**breach**" in summary.data
