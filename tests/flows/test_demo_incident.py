"""End to end on the demo world: a bad deployment is detected, rolled back and resolved.

Real parts throughout: the demo world writes SQLite, the monitor flow runs on a Prefect
test server, the policy and store are the real ones, and the rollback subflow moves the
registry's champion, which the simulated serving then reads.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flows.monitor import monitor
from mlwatch.config import load_settings
from mlwatch.db import open_store
from mlwatch.demo.world import DemoWorld, demo_url
from mlwatch.registry import CHAMPION, StoreRegistry

EPOCH = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def test_bad_deployment_is_detected_rolled_back_and_resolved(demo_dir):
    settings = load_settings("mlwatch.yaml")
    world = DemoWorld(settings, demo_url(settings))
    epoch = world.ensure_initialised(EPOCH)
    store = open_store(settings.store)
    registry = StoreRegistry(store)

    # Healthy traffic, then the fault schedule deploys a broken build at +20 minutes.
    now = epoch + timedelta(minutes=15)
    world.advance(now, epoch)
    healthy = monitor(model="diagnosis", group="serving", now=now)
    assert healthy["breaches"] == []

    opened_at = None
    for minutes in range(25, 60, 5):
        now = epoch + timedelta(minutes=minutes)
        world.advance(now, epoch)
        outcome = monitor(model="diagnosis", group="serving", now=now)
        if outcome["actions"].get("error_rate_spike") == "open":
            opened_at = now
            break
    assert opened_at is not None, "the broken deployment was never detected"
    assert registry.alias("diagnosis", CHAMPION) == "v1"  # rolled back automatically
    [incident] = store.incidents()
    assert incident.alert == "error_rate_spike" and incident.status == "open"
    [remediation] = store.remediations(incident_id=incident.id)
    assert (remediation.status, remediation.from_version, remediation.to_version) == (
        "succeeded", "v2", "v1")

    # Serving recovers on v1; the incident resolves after two healthy evaluations.
    resolved = False
    for step in range(1, 12):
        now = opened_at + timedelta(minutes=5 * step)
        world.advance(now, epoch)
        outcome = monitor(model="diagnosis", group="serving", now=now)
        if outcome["actions"].get("error_rate_spike") == "resolve":
            resolved = True
            break
    assert resolved
    incident = store.incident(incident.id)
    kinds = [e.kind for e in incident.events]
    assert kinds[0] == "opened" and kinds[-1] == "resolved" and "remediation" in kinds
    notices = (demo_dir / ".mlwatch" / "notices.log").read_text()
    assert notices.count("=== [notice") == 1  # one root message for the incident
    assert "Resolved after" in notices
    store.dispose()
