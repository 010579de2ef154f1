"""Slack's interactivity endpoint: signatures verified, answered at once, work done after."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn

from checks.result import CheckResult, Status
from incidents.lifecycle import NoticeSettings, record_results
from incidents.notices import NoticeContext
from incidents.policy import FiringRule
from incidents.slack import SlackSender, deliver_pending
from mlwatch.config import parse_settings
from mlwatch.db import open_store
from mlwatch.slack_actions import ActionHandler, create_app
from tests.slack_api import SlackServer

SECRET = "test-signing-secret"
TOKEN = "xoxb-actions-token"


def signed(body: str, secret: str = SECRET, age: int = 0) -> dict[str, str]:
    ts = str(int(time.time()) - age)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}",
            "Content-Type": "application/x-www-form-urlencoded"}


def press(action: str, incident_id: int, user: str = "alice") -> str:
    payload = {"type": "block_actions", "user": {"username": user},
               "actions": [{"action_id": f"mlwatch_{action}", "value": str(incident_id)}]}
    return urlencode({"payload": json.dumps(payload)})


@pytest.fixture
def world(tmp_path, monkeypatch):
    with SlackServer() as slack:
        monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
        settings = parse_settings({
            "store": f"sqlite:///{tmp_path / 'store.db'}", "state_dir": str(tmp_path),
            "slack": {"base_url": slack.base_url, "channel": "C0MLWATCH"},
            "models": [{"name": "churn", "remediation": {"error_rate_spike": "rollback"}}],
        })
        store = open_store(settings.store)
        result = CheckResult("error_rate_spike", "churn", Status.BREACH, 0.3, 0.14,
                             timedelta(hours=1), datetime.now(UTC), "errors")
        [outcome] = record_results(store, [result], rules={"error_rate_spike": FiringRule()},
                                   inhibit=(), notices=NoticeSettings("C0MLWATCH",
                                                                      NoticeContext()),
                                   remediation={})
        deliver_pending(store, SlackSender(TOKEN, base_url=slack.base_url), datetime.now(UTC))
        started: list[tuple[str, dict]] = []
        gate = threading.Event()
        gate.set()

        def start_deployment(name: str, parameters: dict) -> str:
            gate.wait(10)
            started.append((name, parameters))
            return "run-1"

        handler = ActionHandler(settings, store, "mlwatch.yaml", start_deployment)
        yield {"app": create_app(handler, SECRET), "store": store, "slack": slack,
               "incident": outcome.applied.incident_id, "started": started, "gate": gate}
        store.dispose()


def test_bad_or_stale_signatures_are_rejected_and_nothing_happens(world):
    from starlette.testclient import TestClient

    client = TestClient(world["app"])
    body = press("ack", world["incident"])
    for headers in (signed(body, secret="wrong"), signed(body, age=301),
                    {"Content-Type": "application/x-www-form-urlencoded"}):
        response = client.post("/slack/actions", content=body, headers=headers)
        assert response.status_code == 401
    assert world["store"].incident(world["incident"]).status == "open"


def test_acknowledge_and_silence_update_the_incident_and_the_thread(world):
    from starlette.testclient import TestClient

    client = TestClient(world["app"])
    body = press("ack", world["incident"])
    assert client.post("/slack/actions", content=body, headers=signed(body)).status_code == 200
    incident = world["store"].incident(world["incident"])
    assert incident.status == "acknowledged" and incident.acknowledged_by == "slack:alice"
    replies = [m for m in world["slack"].api.messages if m["thread_ts"]]
    assert replies and "acknowledged by alice" in replies[-1]["text"]
    body = press("silence_2h", world["incident"], user="bob")
    assert client.post("/slack/actions", content=body, headers=signed(body)).status_code == 200
    [silence] = world["store"].silences(datetime.now(UTC))
    assert (silence.model, silence.alert) == ("churn", "error_rate_spike")
    assert "bob" in silence.reason


def test_answer_comes_before_the_work_and_rollback_starts_the_deployment(world):
    config = uvicorn.Config(world["app"], host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    world["gate"].clear()  # Prefect is slow today: the deployment call blocks
    body = press("rollback", world["incident"])
    started = time.monotonic()
    response = httpx.post(f"http://127.0.0.1:{port}/slack/actions", content=body,
                          headers=signed(body), timeout=5)
    assert response.status_code == 200 and time.monotonic() - started < 3
    assert world["started"] == []  # answered before the work was done
    world["gate"].set()
    deadline = time.monotonic() + 10
    while not world["started"] and time.monotonic() < deadline:
        time.sleep(0.05)
    server.should_exit = True
    thread.join(5)
    [(name, parameters)] = world["started"]
    assert name == "mlwatch-rollback/churn-rollback"
    assert parameters["incident_id"] == world["incident"]
    assert parameters["actor"] == "slack:alice"
