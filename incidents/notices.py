"""Compose incident notices (Block Kit + plain text) from an incident's state. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from checks._time import format_duration, utc
from incidents.models import Incident
from incidents.runbooks import RunbookError, load_runbook

ICONS = {"open": ":rotating_light:", "acknowledged": ":eyes:", "resolved": ":white_check_mark:"}


@dataclass(frozen=True)
class NoticeContext:
    """Settings the text needs that do not live on the incident."""

    ui_url: str = "http://127.0.0.1:4200"
    runbook_base_url: str | None = None
    owner: str = "@ml-oncall"


def _value(incident: Incident) -> str:
    def fmt(x: float | None) -> str:
        return "-" if x is None else f"{x:.4g}"
    window = format_duration(
        None if incident.window_s is None else timedelta(seconds=incident.window_s)
    )
    return f"{fmt(incident.value)} vs threshold {fmt(incident.threshold)} over {window}"


def root_message(incident: Incident, ctx: NoticeContext, remediation: str | None
                 ) -> tuple[str, list[dict[str, Any]]]:
    """The incident's one root message: text fallback and blocks."""
    icon = ICONS.get(incident.status, ":rotating_light:")
    title = (f"{icon} [{incident.severity.upper()}] {incident.model} · {incident.alert} — "
             f"incident #{incident.id} ({incident.status})")
    since = f"{utc(incident.first_breach_at or incident.opened_at):%Y-%m-%d %H:%M} UTC"
    lines = [title, incident.summary, f"Value: {_value(incident)} · since {since}"]
    if incident.flow_run_url:
        lines.append(f"Flow run: {incident.flow_run_url}")
    try:
        runbook = load_runbook(incident.alert)
        steps = runbook.first_steps()
        link = runbook.link(ctx.runbook_base_url)
    except RunbookError:
        steps, link = [], f"no runbook for {incident.alert}"
    steps = [s.replace("<id>", str(incident.id)).replace("<model>", incident.model)
             for s in steps]
    if steps:
        lines.append("First steps: " + " / ".join(f"{i}. {s}" for i, s in enumerate(steps, 1)))
    lines.append(f"Runbook: {link}")
    lines.append(f"Remediation: {remediation or 'none configured'}")
    if incident.status == "resolved" and incident.resolved_at:
        took = utc(incident.resolved_at) - utc(incident.opened_at)
        lines.append(f"Resolved by {incident.resolved_by} after {format_duration(took)}")
    elif incident.acknowledged_by:
        lines.append(f"Acknowledged by {incident.acknowledged_by}")
    text = "\n".join(lines)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines[1:])}},
    ]
    if incident.status != "resolved":
        blocks.append({"type": "actions", "block_id": f"incident:{incident.id}", "elements": [
            _button("Acknowledge", "ack", incident.id),
            _button("Resolve", "resolve", incident.id),
            _button("Roll back", "rollback", incident.id, style="danger"),
            _button("Silence 2h", "silence_2h", incident.id),
        ]})
    return text, blocks


def _button(label: str, action: str, incident_id: int, style: str | None = None
            ) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "text": {"type": "plain_text", "text": label},
                              "action_id": f"mlwatch_{action}", "value": str(incident_id)}
    if style:
        button["style"] = style
    return button


def reply_text(incident: Incident, event: str, message: str) -> str:
    """A thread reply for a lifecycle event; resolution carries the duration."""
    if event == "resolved" and incident.resolved_at:
        took = utc(incident.resolved_at) - utc(incident.opened_at)
        return f":white_check_mark: Resolved after {format_duration(took)}: {message}"
    icons = {"acknowledged": ":eyes:", "remediation": ":wrench:", "escalated": ":sos:",
             "diagnosis": ":mag:"}
    return f"{icons.get(event, ':information_source:')} {message}"


def enqueue_root(store: Any, incident: Incident, ctx: NoticeContext, remediation: str | None,
                 now: datetime, channel: str) -> int:
    """Record the intent to post the incident's root message (the outbox is the truth)."""
    text, blocks = root_message(incident, ctx, remediation)
    return store.enqueue_notice(incident.id, "root", text,
                                {"blocks": blocks, "channel": channel}, now)


def enqueue_update(store: Any, incident: Incident, ctx: NoticeContext, remediation: str | None,
                   event: str, message: str, now: datetime, channel: str) -> int:
    """Record an in-place update of the root message plus a thread reply."""
    text, blocks = root_message(incident, ctx, remediation)
    reply = reply_text(incident, event, message)
    return store.enqueue_notice(incident.id, "update", reply,
                                {"root_text": text, "blocks": blocks, "channel": channel,
                                 "event": event}, now)
