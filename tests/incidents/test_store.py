"""The store on SQLite and PostgreSQL: migrations, dedup, lifecycle, silences, concurrency."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, inspect, select

from checks.result import CheckResult, Status
from incidents.models import Incident
from incidents.policy import Action, FiringRule
from incidents.store import InhibitionRule, Store
from mlwatch.db import open_store

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def breach(alert: str = "data_drift", minute: int = 0, model: str = "m",
           status: Status = Status.BREACH) -> CheckResult:
    return CheckResult(alert, model, status, 0.6, 0.3, timedelta(hours=1),
                       T0 + timedelta(minutes=minute), f"{alert} {status.value}")


def test_migrations_create_every_table_and_are_idempotent(store_url):
    store = open_store(store_url)
    tables = set(inspect(store.engine).get_table_names())
    assert {"incidents", "incident_events", "check_results", "notifications", "remediations",
            "model_versions", "model_aliases", "silences", "alert_states",
            "mlwatch_alembic_version"} <= tables
    store.dispose()
    open_store(store_url).dispose()  # second start: nothing to do, no error


def test_repeats_append_to_one_incident_and_resolution_reopens_new(store: Store):
    rule = FiringRule(for_evaluations=2, resolve_after=2)
    assert store.apply(breach(minute=0), rule).action is Action.PENDING
    opened = store.apply(breach(minute=1), rule)
    assert opened.action is Action.OPEN
    for minute in (2, 3, 4):
        again = store.apply(breach(minute=minute), rule)
        assert again.action is Action.UPDATE and again.incident_id == opened.incident_id
    store.apply(breach(minute=5, status=Status.OK), rule)
    resolved = store.apply(breach(minute=6, status=Status.OK), rule)
    assert resolved.action is Action.RESOLVE
    incident = store.incident(opened.incident_id)
    assert incident.status == "resolved" and incident.breach_count == 5
    assert [e.kind for e in incident.events] == ["opened", "breach", "breach", "breach",
                                                 "resolved"]
    store.apply(breach(minute=7), rule)
    reopened = store.apply(breach(minute=8), rule)
    assert reopened.action is Action.OPEN and reopened.incident_id != opened.incident_id
    assert store.incident(reopened.incident_id).previous_id == opened.incident_id


def test_lifecycle_ack_then_resolve_by_a_person(store: Store):
    opened = store.apply(breach(), FiringRule())
    store.acknowledge(opened.incident_id, "alice", T0 + timedelta(minutes=3))
    store.resolve(opened.incident_id, "bob", T0 + timedelta(minutes=10), "fixed upstream")
    incident = store.incident(opened.incident_id)
    assert (incident.acknowledged_by, incident.resolved_by) == ("alice", "bob")
    assert [(e.kind, e.actor) for e in incident.events] == [
        ("opened", "mlwatch"), ("acknowledged", "alice"), ("resolved", "bob")]
    with pytest.raises(ValueError, match="already resolved"):
        store.acknowledge(opened.incident_id, "carol", T0 + timedelta(minutes=11))


def test_silence_records_without_opening(store: Store):
    silence = store.add_silence(model="m", alert="data_drift", starts_at=T0,
                                duration=timedelta(hours=2), reason="backfill")
    applied = store.apply(breach(minute=5), FiringRule())
    assert applied.action is Action.SILENCED and applied.incident_id is None
    assert store.results(alert="data_drift")[0].decision == "silenced"
    store.expire_silence(silence.id, T0 + timedelta(minutes=10))
    assert store.apply(breach(minute=11), FiringRule()).action is Action.OPEN
    with pytest.raises(ValueError, match="reason"):
        store.add_silence(model=None, alert=None, starts_at=T0, duration=timedelta(hours=1),
                          reason=" ")


def test_root_cause_inhibits_its_consequences(store: Store):
    rules = (InhibitionRule("pipeline_delay", ("data_drift", "accuracy_drop")),)
    root = store.apply(breach("pipeline_delay"), FiringRule(), inhibit=rules)
    grouped = store.apply(breach("data_drift", 1), FiringRule(), inhibit=rules)
    assert grouped.action is Action.INHIBITED and grouped.incident_id == root.incident_id
    other_model = store.apply(breach("data_drift", 1, model="other"), FiringRule(),
                              inhibit=rules)
    assert other_model.action is Action.OPEN
    kinds = [e.kind for e in store.incident(root.incident_id).events]
    assert kinds == ["opened", "grouped"]


def test_eight_concurrent_evaluators_open_exactly_one_incident(store_url):
    stores = [open_store(store_url) for _ in range(8)]
    barrier = threading.Barrier(8)
    outcomes: list[Action] = []
    errors: list[BaseException] = []

    def evaluate(store: Store) -> None:
        try:
            barrier.wait()
            outcomes.append(store.apply(breach("error_rate_spike"), FiringRule()).action)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=evaluate, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert sorted(outcomes) == sorted([Action.OPEN] + [Action.UPDATE] * 7)
    with stores[0].session() as session:
        count = session.scalar(select(func.count()).select_from(Incident))
    assert count == 1
    for s in stores:
        s.dispose()


def test_unreachable_store_is_one_clear_error_without_password():
    from mlwatch.errors import StoreError

    with pytest.raises(StoreError) as info:
        open_store("postgresql+psycopg://user:hunter2@127.0.0.1:1/nowhere")
    message = str(info.value)
    assert "cannot open the mlwatch store" in message and "hunter2" not in message
    with pytest.raises(StoreError, match="not a database URL"):
        open_store("definitely not a url")
