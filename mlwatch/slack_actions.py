"""Slack's interactivity endpoint: Acknowledge, Resolve, Roll back and Silence 2h buttons.

Every request's ``X-Slack-Signature`` is verified with slack-sdk's SignatureVerifier
(bad, missing or older than 5 minutes: 401 and nothing is done). Slack wants an answer
within 3 seconds, so the endpoint answers at once and does the work afterwards (Starlette
background task); a rollback starts the model's remediation deployment in Prefect.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from incidents.lifecycle import NoticeSettings, note
from incidents.slack import deliver_pending
from incidents.store import Store
from mlwatch.clock import clock_for
from mlwatch.config import Settings
from mlwatch.wiring import make_sender, notice_context, remediation_labels

log = logging.getLogger("mlwatch.slack_actions")
ACTIONS = ("ack", "resolve", "rollback", "silence_2h")
DeploymentStarter = Callable[[str, dict[str, Any]], str]


def start_prefect_deployment(name: str, parameters: dict[str, Any]) -> str:
    """Create a flow run of a deployment and return at once (the worker/serve runs it)."""
    from prefect.deployments import run_deployment

    flow_run = run_deployment(name=name, parameters=parameters, timeout=0)
    return str(flow_run.id)


class ActionHandler:
    """Applies one button press to the store, the Slack thread and Prefect."""

    def __init__(self, settings: Settings, store: Store, config_path: str,
                 start_deployment: DeploymentStarter = start_prefect_deployment) -> None:
        self.settings = settings
        self.store = store
        self.config_path = config_path
        self.start_deployment = start_deployment

    @staticmethod
    def resume(flow_run_id: str, approver: str) -> None:
        """Resume a remediation paused for approval, answering its Approval input."""
        from prefect.flow_runs import resume_flow_run

        resume_flow_run(flow_run_id, run_input={"approve": True, "approver": approver})

    def handle(self, action: str, incident_id: int, user: str) -> None:
        now = clock_for(self.settings).now()
        incident = self.store.incident(incident_id)
        model = self.settings.model(incident.model)
        notices = NoticeSettings(self.settings.slack.channel,
                                 notice_context(self.settings, model))
        label = remediation_labels(model).get(incident.alert)
        actor = f"slack:{user}"
        if action == "ack":
            if incident.status == "open":
                self.store.acknowledge(incident_id, actor, now)
                note(self.store, incident_id, "acknowledged", f"acknowledged by {user}", now,
                     notices, label, actor=actor)
        elif action == "resolve":
            if incident.status != "resolved":
                self.store.resolve(incident_id, actor, now, "resolved from Slack")
                note(self.store, incident_id, "resolved", f"resolved by {user}", now, notices,
                     label, actor=actor)
        elif action == "rollback":
            name = f"mlwatch-rollback/{model.name}-rollback"
            waiting = [r for r in self.store.remediations(incident_id=incident_id)
                       if r.status == "awaiting_approval" and r.flow_run_id]
            try:
                if waiting:  # a paused remediation asks for approval: this press gives it
                    self.resume(waiting[-1].flow_run_id, actor)
                    message = f"{user} approved the paused {waiting[-1].action}"
                else:
                    run_id = self.start_deployment(name, {
                        "model": model.name, "incident_id": incident_id,
                        "alert": incident.alert, "config_path": self.config_path,
                        "mode": "manual", "actor": actor})
                    message = f"{user} started a rollback (Prefect flow run {run_id})"
            except Exception as exc:  # noqa: BLE001 - the thread must say why it did not start
                message = f"{user} asked for a rollback, but it could not start: {exc}"
            note(self.store, incident_id, "remediation", message, now, notices, label,
                 actor=actor)
        elif action == "silence_2h":
            silence = self.store.add_silence(model=model.name, alert=incident.alert,
                                             starts_at=now, duration=timedelta(hours=2),
                                             reason=f"silenced from Slack by {user}",
                                             created_by=actor)
            note(self.store, incident_id, "silenced",
                 f"{user} silenced {model.name}/{incident.alert} for 2h (silence "
                 f"#{silence.id})", now, notices, label, actor=actor)
        deliver_pending(self.store, make_sender(self.settings, console=False), now)


def _parse(body: bytes) -> tuple[str, int, str] | None:
    """(action, incident id, user) from a block_actions payload, or None."""
    form = parse_qs(body.decode("utf-8", errors="replace"))
    try:
        payload = json.loads(form["payload"][0])
        pressed = payload["actions"][0]
        action = str(pressed["action_id"]).removeprefix("mlwatch_")
        user = payload.get("user", {})
        name = user.get("username") or user.get("name") or user.get("id") or "someone"
        return (action, int(pressed["value"]), str(name)) if action in ACTIONS else None
    except (KeyError, IndexError, ValueError, TypeError):
        return None


def create_app(handler: ActionHandler, signing_secret: str) -> Starlette:
    """The ASGI app (served by uvicorn, which Prefect already ships)."""
    verifier = SignatureVerifier(signing_secret)

    async def actions(request: Request) -> PlainTextResponse | JSONResponse:
        body = await request.body()
        if not _verified(verifier, body, request.headers.get("X-Slack-Request-Timestamp", ""),
                         request.headers.get("X-Slack-Signature", "")):
            return PlainTextResponse("invalid signature", status_code=401)
        parsed = _parse(body)
        if parsed is None:
            return PlainTextResponse("unsupported action", status_code=400)
        action, incident_id, user = parsed
        task = BackgroundTask(_run_safely, handler, action, incident_id, user)
        return JSONResponse({"text": f"mlwatch: {action} for incident #{incident_id} received"},
                            background=task)

    async def health(_: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/slack/actions", actions, methods=["POST"]),
                             Route("/health", health)])


def _verified(verifier: SignatureVerifier, body: bytes, timestamp: str, signature: str) -> bool:
    """Signature valid and no older than 5 minutes; missing or malformed headers fail."""
    if not timestamp.isdigit() or not signature:
        return False
    try:
        return verifier.is_valid(body=body, timestamp=timestamp, signature=signature)
    except ValueError:
        return False


def _run_safely(handler: ActionHandler, action: str, incident_id: int, user: str) -> None:
    try:
        handler.handle(action, incident_id, user)
    except Exception:  # noqa: BLE001 - a background failure is logged, never raised at Slack
        log.exception("Slack action %s on incident #%s failed", action, incident_id)
