"""The alert policy: a pure decision from a check result and the current state.

Prometheus-style ``for`` (consecutive breaches before firing) and hysteresis
(``resolve_after`` healthy evaluations before auto-resolve), PagerDuty-style dedup
(one open incident per key), Alertmanager-style silences and inhibition. No I/O here:
the store applies the Decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from checks.result import CheckResult, Status


class Action(StrEnum):
    """What the store should do with a result."""

    RECORD = "record"  # keep the result, nothing else changes
    PENDING = "pending"  # breach held, but not yet for long enough
    OPEN = "open"  # open a new incident and notify
    UPDATE = "update"  # append to the open incident's timeline; no new notice
    RESOLVE = "resolve"  # the check recovered: resolve the open incident
    SILENCED = "silenced"  # would open, but a silence matches: record only
    INHIBITED = "inhibited"  # would open, but a root-cause incident is open: group under it


@dataclass(frozen=True)
class AlertCounters:
    """Running counters per key, persisted between evaluations."""

    consecutive_breaches: int = 0
    consecutive_ok: int = 0
    pending_since: datetime | None = None


@dataclass(frozen=True)
class FiringRule:
    """How long a breach must hold, and how long recovery must hold, per alert."""

    for_evaluations: int = 1
    resolve_after: int = 2


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    counters: AlertCounters
    incident_id: int | None = None
    inhibited_by: int | None = None
    silence_id: int | None = None


def next_counters(result: CheckResult, counters: AlertCounters) -> AlertCounters:
    """Breaches and recoveries count up; errors and missing data leave both untouched."""
    if result.status is Status.BREACH:
        return AlertCounters(
            consecutive_breaches=counters.consecutive_breaches + 1,
            consecutive_ok=0,
            pending_since=counters.pending_since or result.evaluated_at,
        )
    if result.status is Status.OK:
        return AlertCounters(consecutive_breaches=0, consecutive_ok=counters.consecutive_ok + 1)
    return counters


def decide(
    result: CheckResult,
    counters: AlertCounters,
    open_incident_id: int | None,
    rule: FiringRule,
    *,
    silence_id: int | None = None,
    inhibited_by: int | None = None,
) -> Decision:
    """Decide what one check result means for its key."""
    new = next_counters(result, counters)
    if result.status is Status.BREACH:
        if open_incident_id is not None:
            return Decision(Action.UPDATE, "breach continues", new, incident_id=open_incident_id)
        if new.consecutive_breaches < rule.for_evaluations:
            return Decision(
                Action.PENDING,
                f"breach {new.consecutive_breaches}/{rule.for_evaluations} before firing",
                new,
            )
        if silence_id is not None:
            return Decision(Action.SILENCED, f"silenced by silence #{silence_id}", new,
                            silence_id=silence_id)
        if inhibited_by is not None:
            return Decision(Action.INHIBITED, f"grouped under incident #{inhibited_by}", new,
                            inhibited_by=inhibited_by)
        return Decision(Action.OPEN, "breach held long enough", new)
    if result.status is Status.OK and open_incident_id is not None:
        if new.consecutive_ok >= rule.resolve_after:
            return Decision(
                Action.RESOLVE,
                f"check recovered ({new.consecutive_ok} healthy evaluations)",
                new,
                incident_id=open_incident_id,
            )
        return Decision(
            Action.RECORD,
            f"healthy {new.consecutive_ok}/{rule.resolve_after} before resolving",
            new,
            incident_id=open_incident_id,
        )
    reason = {
        Status.OK: "healthy",
        Status.INSUFFICIENT_DATA: "not enough data to judge",
        Status.ERROR: "check could not evaluate",
    }.get(result.status, "recorded")
    return Decision(Action.RECORD, reason, new, incident_id=open_incident_id)


def incident_key(model: str, alert: str, labels: dict[str, str] | None = None) -> str:
    """The dedup key: model, alert and any extra labels, in a stable order."""
    extra = ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items()))
    return f"{model}/{alert}" + (f"/{extra}" if extra else "")
