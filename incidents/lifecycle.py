"""Turn check results into incident changes and outbox notices (no Prefect, no Slack I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from checks.result import CheckResult
from incidents.notices import NoticeContext, enqueue_root, enqueue_update
from incidents.policy import Action, FiringRule
from incidents.store import Applied, InhibitionRule, Store


@dataclass(frozen=True)
class Outcome:
    result: CheckResult
    applied: Applied


@dataclass(frozen=True)
class NoticeSettings:
    channel: str
    context: NoticeContext


def record_results(
    store: Store,
    results: list[CheckResult],
    *,
    rules: dict[str, FiringRule],
    inhibit: tuple[InhibitionRule, ...],
    notices: NoticeSettings,
    remediation: dict[str, str],
    flow_run_id: str | None = None,
    flow_run_url: str | None = None,
) -> list[Outcome]:
    """Apply the policy to each result; queue the root notice or the resolution update."""
    outcomes = []
    for result in results:
        applied = store.apply(result, rules.get(result.alert, FiringRule()), inhibit=inhibit,
                              flow_run_id=flow_run_id, flow_run_url=flow_run_url)
        outcomes.append(Outcome(result, applied))
        if applied.incident_id is None:
            continue
        if applied.action is Action.OPEN:
            incident = store.incident(applied.incident_id)
            enqueue_root(store, incident, notices.context, remediation.get(result.alert),
                         result.evaluated_at, notices.channel)
        elif applied.action is Action.RESOLVE:
            incident = store.incident(applied.incident_id)
            enqueue_update(store, incident, notices.context, remediation.get(result.alert),
                           "resolved", applied.decision.reason, result.evaluated_at,
                           notices.channel)
    return outcomes


def note(store: Store, incident_id: int, event: str, message: str, now: datetime,
         notices: NoticeSettings, remediation: str | None = None, actor: str = "mlwatch",
         ) -> None:
    """Add a timeline event and the matching Slack update (update in place + thread reply)."""
    store.add_event(incident_id, event, message, now, actor=actor)
    incident = store.incident(incident_id)
    enqueue_update(store, incident, notices.context,
                   remediation_status(store, incident_id, remediation), event, message, now,
                   notices.channel)


def remediation_status(store: Store, incident_id: int, label: str | None) -> str | None:
    """What the root message shows: the configured remediation and its latest outcome."""
    rows = store.remediations(incident_id=incident_id)
    if not rows:
        return label
    last = rows[-1]
    outcome = f"{last.action} {last.status.replace('_', ' ')}: {last.detail}"
    return f"{label} — {outcome}" if label else outcome
