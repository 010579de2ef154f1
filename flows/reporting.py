"""What a monitor run leaves in the Prefect UI: artifacts and events."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.events import emit_event

from checks._time import format_duration
from incidents.lifecycle import Outcome
from incidents.policy import Action
from incidents.runbooks import RunbookError, load_runbook


def artifact_key(*parts: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")


def summary_markdown(model: str, group: str, now: datetime, outcomes: list[Outcome],
                     ui_url: str, runbook_base_url: str | None = None) -> str:
    lines = [f"# {model} · {group} · {now:%Y-%m-%d %H:%M} UTC", "",
             "| check | status | value | threshold | window | decision | incident | runbook |",
             "|---|---|---|---|---|---|---|---|"]
    for outcome in outcomes:
        r, applied = outcome.result, outcome.applied
        value = "-" if r.value is None else f"{r.value:.4g}"
        threshold = "-" if r.threshold is None else f"{r.threshold:.4g}"
        incident = f"#{applied.incident_id}" if applied.incident_id else ""
        try:
            runbook = load_runbook(r.alert).link(runbook_base_url)
        except RunbookError:
            runbook = ""
        lines.append(f"| {r.alert} | **{r.status.value}** | {value} | {threshold} | "
                     f"{format_duration(r.window)} | {applied.action.value} | {incident} | "
                     f"{runbook} |")
    lines += ["", "## Summaries", ""]
    lines += [f"- **{o.result.alert}**: {o.result.summary}" for o in outcomes]
    changes = [o for o in outcomes if o.applied.action in (Action.OPEN, Action.RESOLVE,
                                                            Action.UPDATE, Action.INHIBITED)]
    if changes:
        lines += ["", "## Incidents", ""]
        for o in changes:
            lines.append(f"- incident #{o.applied.incident_id} ({o.result.alert}): "
                         f"{o.applied.action.value} — {o.applied.decision.reason} "
                         f"(`mlwatch incidents show {o.applied.incident_id}`)")
    return "\n".join(lines)


def publish_artifacts(model: str, group: str, now: datetime, outcomes: list[Outcome],
                      ui_url: str, report_path: Path | None,
                      runbook_base_url: str | None = None) -> None:
    create_markdown_artifact(
        key=artifact_key(model, group, "summary"),
        markdown=summary_markdown(model, group, now, outcomes, ui_url, runbook_base_url),
        description=f"mlwatch {group} checks for {model}",
    )
    for outcome in outcomes:
        columns = outcome.result.details.get("columns")
        if outcome.result.alert == "data_drift" and columns:
            create_table_artifact(key=artifact_key(model, "drift", "scores"), table=columns,
                                  description=f"per-feature drift scores for {model}")
    if report_path is not None:
        create_link_artifact(key=artifact_key(model, "drift", "report"),
                             link=report_path.resolve().as_uri(),
                             link_text=f"Evidently report {report_path.name}",
                             description="Evidently data drift report (HTML)")


def emit_incident_events(outcomes: list[Outcome], flow_run_id: str | None) -> None:
    """Prefect events so users can attach their own automations."""
    names = {Action.OPEN: "mlwatch.incident.opened", Action.RESOLVE: "mlwatch.incident.resolved"}
    for outcome in outcomes:
        r = outcome.result
        resource = {"prefect.resource.id": f"mlwatch.model.{r.model}",
                    "prefect.resource.name": r.model, "mlwatch.alert": r.alert}
        related = [{"prefect.resource.id": f"mlwatch.alert.{r.alert}",
                    "prefect.resource.role": "alert"}]
        payload = {"summary": r.summary, "value": r.value, "threshold": r.threshold,
                   "incident_id": outcome.applied.incident_id, "flow_run_id": flow_run_id}
        if r.is_breach:
            emit_event("mlwatch.check.breach", resource=resource, related=related,
                       payload=payload)
        if outcome.applied.action in names:
            emit_event(names[outcome.applied.action], resource=resource, related=related,
                       payload=payload)
