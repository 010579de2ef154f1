"""The pure alert policy: pending, firing, dedup, silences, inhibition, hysteresis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from checks.result import CheckResult, Status
from incidents.policy import Action, AlertCounters, FiringRule, decide, incident_key

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def result(status: Status, minute: int = 0) -> CheckResult:
    return CheckResult("data_drift", "m", status, 0.5, 0.3, None, T0 + timedelta(minutes=minute),
                       "summary")


def run(statuses: list[Status], rule: FiringRule, **kw) -> list[Action]:
    counters, open_id, actions = AlertCounters(), None, []
    for i, status in enumerate(statuses):
        decision = decide(result(status, i), counters, open_id, rule, **kw)
        counters = decision.counters
        if decision.action is Action.OPEN:
            open_id = 1
        if decision.action is Action.RESOLVE:
            open_id = None
        actions.append(decision.action)
    return actions


B, OK, N = Status.BREACH, Status.OK, Status.INSUFFICIENT_DATA


def test_breach_fires_only_after_holding_for_n_evaluations():
    assert run([B, B, B, B], FiringRule(for_evaluations=3)) == [
        Action.PENDING, Action.PENDING, Action.OPEN, Action.UPDATE]
    # An OK in between resets the count: a flapping signal never pages.
    assert Action.OPEN not in run([B, B, OK, B, B, OK], FiringRule(for_evaluations=3))


def test_auto_resolve_needs_k_healthy_evaluations_and_missing_data_does_not_count():
    actions = run([B, OK, N, OK, OK], FiringRule(for_evaluations=1, resolve_after=3))
    assert actions == [Action.OPEN, Action.RECORD, Action.RECORD, Action.RECORD, Action.RESOLVE]
    # A breach during recovery keeps the incident open and restarts the count.
    actions = run([B, OK, B, OK, OK], FiringRule(resolve_after=2))
    assert actions == [Action.OPEN, Action.RECORD, Action.UPDATE, Action.RECORD, Action.RESOLVE]


def test_a_breach_after_resolution_opens_a_new_incident():
    actions = run([B, OK, OK, B], FiringRule(resolve_after=2))
    assert actions == [Action.OPEN, Action.RECORD, Action.RESOLVE, Action.OPEN]


def test_silenced_and_inhibited_breaches_are_recorded_not_opened():
    assert run([B], FiringRule(), silence_id=4) == [Action.SILENCED]
    assert run([B], FiringRule(), inhibited_by=9) == [Action.INHIBITED]


def test_incident_key_is_stable_under_label_order():
    assert incident_key("m", "a", {"b": "2", "a": "1"}) == incident_key("m", "a", {"a": "1",
                                                                                    "b": "2"})
    assert incident_key("m", "a") == "m/a"
