"""Slack delivery with the real slack-sdk WebClient against a local Slack-compatible API."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from checks.result import CheckResult, Status
from incidents.lifecycle import NoticeSettings, note, record_results
from incidents.notices import NoticeContext
from incidents.policy import FiringRule
from incidents.slack import ConsoleSender, SlackSender, deliver_pending
from incidents.store import Store
from tests.slack_api import SlackServer

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TOKEN = "xoxb-test-secret-token"
NOTICES = NoticeSettings("#ml-incidents", NoticeContext())


@pytest.fixture
def slack():
    with SlackServer() as server:
        yield server


@pytest.fixture
def sqlite_store(tmp_path):
    from mlwatch.db import open_store

    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield store
    store.dispose()


def sender(slack: SlackServer, **kw) -> SlackSender:
    return SlackSender(TOKEN, base_url=slack.base_url, **kw)


def open_incident(store: Store, alert: str = "error_rate_spike", minute: int = 0,
                  status: Status = Status.BREACH) -> int | None:
    result = CheckResult(alert, "churn", status, 0.3, 0.0144, timedelta(hours=1),
                         T0 + timedelta(minutes=minute), f"{alert} is {status.value}")
    [outcome] = record_results(store, [result], rules={alert: FiringRule(1, 1)}, inhibit=(),
                               notices=NOTICES, remediation={alert: "rollback (auto)"})
    return outcome.applied.incident_id


def test_one_root_per_incident_updates_in_place_and_thread_replies(sqlite_store, slack):
    incident_id = open_incident(sqlite_store)
    for minute in (1, 2, 3):  # repeats of an open incident never post a new root
        open_incident(sqlite_store, minute=minute)
    note(sqlite_store, incident_id, "remediation", "rollback started v2 -> v1", T0, NOTICES)
    deliver_pending(sqlite_store, sender(slack), T0)
    open_incident(sqlite_store, minute=9, status=Status.OK)  # recovers: resolves
    deliver_pending(sqlite_store, sender(slack), T0)

    roots = [m for m in slack.api.messages if not m["thread_ts"]]
    replies = [m for m in slack.api.messages if m["thread_ts"]]
    assert len(roots) == 1
    root = roots[0]
    assert "error_rate_spike" in root["text"] and "Runbook" in root["text"]
    assert all(r["thread_ts"] == root["ts"] for r in replies)
    assert [r["text"].split(" ")[0] for r in replies] == [":wrench:", ":white_check_mark:"]
    assert "Resolved after 9m" in replies[-1]["text"]
    assert len(slack.api.calls_to("chat.update")) == 2
    assert "(resolved)" in root["text"]  # the root message was updated in place
    assert sqlite_store.incident(incident_id).slack_ts == root["ts"]
    # The token travels only in the Authorization header.
    call = slack.api.calls_to("chat.postMessage")[0]
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"
    assert all(TOKEN not in str(m) for m in slack.api.messages)


def test_rate_limit_is_retried_honouring_retry_after(sqlite_store, slack):
    open_incident(sqlite_store)
    slack.api.script.append(("429", 1))
    started = time.monotonic()
    report = deliver_pending(sqlite_store, sender(slack), T0)
    assert report.sent and not report.failed
    assert time.monotonic() - started >= 1.0
    assert len(slack.api.calls_to("chat.postMessage")) == 2


def test_outage_keeps_notices_in_the_outbox_and_delivers_them_in_order(sqlite_store, slack):
    first = open_incident(sqlite_store)
    note(sqlite_store, first, "acknowledged", "acknowledged by alice", T0, NOTICES)
    second = open_incident(sqlite_store, alert="latency_spike")
    slack.api.script.append(("500", None))
    report = deliver_pending(sqlite_store, sender(slack), T0)
    assert report.failed and not report.sent and len(report.waiting) == 2
    assert len(sqlite_store.pending_notices()) == 3
    report = deliver_pending(sqlite_store, sender(slack), T0)  # Slack is back
    assert len(report.sent) == 3 and not sqlite_store.pending_notices()
    texts = [m["text"] for m in slack.api.messages]
    assert "incident #" + str(first) in texts[0]
    assert texts[1].startswith(":eyes:")
    assert "incident #" + str(second) in texts[2]


def test_hanging_slack_times_out_and_is_retried_later(sqlite_store, slack):
    open_incident(sqlite_store)
    slack.api.script.append(("hang", 3))
    report = deliver_pending(sqlite_store, sender(slack, timeout=1), T0)
    assert report.failed
    time.sleep(2.5)  # let the hung request finish on the server side
    report = deliver_pending(sqlite_store, sender(slack), T0)
    assert report.sent or report.recovered
    assert len([m for m in slack.api.messages if not m["thread_ts"]]) <= 1


def test_crash_between_post_and_record_does_not_post_twice(sqlite_store, slack):
    open_incident(sqlite_store)
    [notice] = sqlite_store.pending_notices()
    # Simulate the crash: the intent was recorded and Slack got the post, but the process
    # died before marking the notice sent.
    sqlite_store.mark_notice_attempt(notice.id)
    sender(slack).post_root(sqlite_store.pending_notices()[0])
    report = deliver_pending(sqlite_store, sender(slack), T0)
    assert report.recovered == [notice.id] and not report.sent
    assert len(slack.api.calls_to("chat.postMessage")) == 1
    assert sqlite_store.incident(notice.incident_id).slack_ts == slack.api.messages[0]["ts"]


def test_console_sender_writes_the_same_text_to_a_file(sqlite_store, tmp_path):
    incident_id = open_incident(sqlite_store)
    path = tmp_path / "notices.log"
    deliver_pending(sqlite_store, ConsoleSender(path, stream=None), T0)
    text = path.read_text()
    assert f"incident #{incident_id}" in text and "Runbook" in text
    notice = sqlite_store.incident(incident_id)
    assert notice.slack_ts == "console-1"


def test_secrets_stay_out_of_errors_outbox_and_logs(sqlite_store, slack, caplog):
    open_incident(sqlite_store)
    slack.api.script.extend([("500", None)])
    with caplog.at_level("DEBUG"):
        report = deliver_pending(sqlite_store, sender(slack), T0)
    [error] = report.failed.values()
    [notice] = sqlite_store.pending_notices()
    assert TOKEN not in error and TOKEN not in (notice.last_error or "")
    assert TOKEN not in caplog.text
    assert "internal_error" in error  # the reason is still there, named
