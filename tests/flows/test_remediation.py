"""Remediation subflows on a real Prefect test server: guard rails, approval, retrain."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from checks.result import CheckResult, Status
from flows.monitor import _escalate_unrecovered
from flows.remediation import RemediationContext, retrain, retrain_model, rollback
from incidents.policy import FiringRule
from mlwatch.config import load_settings
from mlwatch.db import open_store
from mlwatch.demo.world import DemoWorld, demo_url
from mlwatch.registry import CHAMPION, StoreRegistry, VersionInfo

EPOCH = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def demo(demo_dir):
    settings = load_settings("mlwatch.yaml")
    world = DemoWorld(settings, demo_url(settings))
    epoch = world.ensure_initialised(EPOCH)
    store = open_store(settings.store)
    yield settings, world, epoch, store
    store.dispose()


def open_incident(store, alert="error_rate_spike", at=EPOCH) -> int:
    result = CheckResult(alert, "diagnosis", Status.BREACH, 0.4, 0.14, timedelta(hours=1), at,
                         f"{alert} breach")
    return store.apply(result, FiringRule()).incident_id


def test_rollback_refuses_without_a_known_good_version(demo):
    settings, _, _, store = demo
    incident = open_incident(store)
    assert rollback(model="diagnosis", incident_id=incident, now=EPOCH) == "refused"
    [row] = store.remediations(incident_id=incident)
    assert row.status == "refused" and "no known-good version" in row.detail
    events = store.incident(incident).events
    assert any("rollback refused" in e.message for e in events)
    assert StoreRegistry(store).alias("diagnosis", CHAMPION) == "v1"


def test_cooldown_stops_a_second_automatic_rollback(demo):
    settings, _, _, store = demo
    registry = StoreRegistry(store)
    for version in ("v2", "v3"):
        registry.register(VersionInfo("diagnosis", version, EPOCH, EPOCH + timedelta(
            minutes=int(version[1]))))
        registry.promote("diagnosis", version, EPOCH)
    first = open_incident(store)
    assert rollback(model="diagnosis", incident_id=first, now=EPOCH) == "succeeded"
    assert registry.alias("diagnosis", CHAMPION) == "v2"
    store.resolve(first, "test", EPOCH + timedelta(minutes=5), "recovered")
    second = open_incident(store, at=EPOCH + timedelta(minutes=20))
    outcome = rollback(model="diagnosis", incident_id=second, now=EPOCH + timedelta(minutes=20))
    assert outcome == "skipped"  # within the 1h cooldown: a person decides
    assert registry.alias("diagnosis", CHAMPION) == "v2"
    # A person may still roll back during the cooldown.
    manual = rollback(model="diagnosis", incident_id=second, now=EPOCH + timedelta(minutes=21),
                      actor="alice")
    assert manual == "succeeded" and registry.alias("diagnosis", CHAMPION) == "v1"


def test_approve_mode_pauses_until_a_person_approves(demo):
    from prefect.client.orchestration import get_client
    from prefect.flow_runs import resume_flow_run

    settings, _, _, store = demo
    registry = StoreRegistry(store)
    registry.register(VersionInfo("diagnosis", "v2", EPOCH, EPOCH + timedelta(minutes=1)))
    registry.promote("diagnosis", "v2", EPOCH)
    incident = open_incident(store)
    outcome: list[str] = []
    thread = threading.Thread(target=lambda: outcome.append(rollback(
        model="diagnosis", incident_id=incident, now=EPOCH, mode="approve")))
    thread.start()
    deadline = time.monotonic() + 60
    waiting = []
    while time.monotonic() < deadline and not waiting:
        waiting = [r for r in store.remediations(incident_id=incident)
                   if r.status == "awaiting_approval"]
        time.sleep(0.2)
    assert waiting, "the rollback never asked for approval"
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            state = client.read_flow_run(waiting[0].flow_run_id).state
            if state.is_paused():
                break
            time.sleep(0.2)
    assert registry.alias("diagnosis", CHAMPION) == "v2"  # nothing done while paused
    resume_flow_run(waiting[0].flow_run_id, run_input={"approve": True, "approver": "alice"})
    thread.join(60)
    assert outcome == ["succeeded"]
    assert registry.alias("diagnosis", CHAMPION) == "v1"
    statuses = [r.status for r in store.remediations(incident_id=incident)]
    assert statuses == ["approved", "succeeded"]
    assert any("approved by alice" in e.message for e in store.incident(incident).events)


def test_retrain_promotes_only_a_clearly_better_challenger(demo):
    settings, world, epoch, store = demo
    now = epoch + timedelta(hours=6)
    world.advance(now, epoch)  # v2, a broken build, has been serving since +20 minutes
    model = settings.model("diagnosis")
    ctx = RemediationContext(store, settings, model, None, "data_drift", now, "auto", False,
                             "mlwatch")
    outcome = retrain_model(ctx)
    assert outcome.status == "succeeded", outcome
    champion, challenger = outcome.comparison
    assert challenger["accuracy"] > 0.85 > champion["accuracy"]  # random scorer vs real model
    registry = StoreRegistry(store)
    assert registry.alias("diagnosis", CHAMPION) == outcome.version
    # Against a good champion, a challenger of the same quality is not promoted.
    again = retrain(model="diagnosis", now=now + timedelta(minutes=1), actor="alice")
    assert again == "not_promoted"
    assert registry.alias("diagnosis", CHAMPION) == outcome.version


def test_retrain_refuses_on_too_little_data(demo):
    settings, world, epoch, store = demo
    world.advance(epoch, epoch)
    # 90 minutes before the epoch, no label has arrived yet (they take 1-8 hours).
    assert retrain(model="diagnosis", now=epoch - timedelta(minutes=90)) == "refused"
    [row] = store.remediations()
    assert "labeled rows" in row.detail


def test_unrecovered_incident_escalates_once_and_crash_marks_interrupted(demo):
    settings, _, _, store = demo
    registry = StoreRegistry(store)
    registry.register(VersionInfo("diagnosis", "v2", EPOCH, EPOCH + timedelta(minutes=1)))
    registry.promote("diagnosis", "v2", EPOCH)
    incident = open_incident(store)
    rollback(model="diagnosis", incident_id=incident, now=EPOCH)
    model = settings.model("diagnosis")
    _escalate_unrecovered(store, settings, model, EPOCH + timedelta(minutes=30))
    assert store.incident(incident).escalated_at is None  # still within verify_within
    _escalate_unrecovered(store, settings, model, EPOCH + timedelta(minutes=61))
    _escalate_unrecovered(store, settings, model, EPOCH + timedelta(minutes=90))
    events = [e for e in store.incident(incident).events if e.kind == "escalated"]
    assert len(events) == 1 and "@ml-oncall" in events[0].message
    # A remediation left running by a crash is marked interrupted, not rerun.
    crashed = store.start_remediation(incident_id=incident, model="diagnosis",
                                      action="rollback", mode="auto", status="running",
                                      now=EPOCH)
    assert store.mark_interrupted_remediations(EPOCH + timedelta(hours=2)) == [crashed]
    row = next(r for r in store.remediations(incident_id=incident) if r.id == crashed)
    assert row.status == "interrupted"
    assert any("interrupted by a restart" in e.message for e in store.incident(incident).events)
