"""Deliver the outbox: to Slack through slack-sdk, or to the console and a file.

Delivery loses nothing: every notice is a row before it is sent; a failure leaves it
pending for the next run, and notices of one incident go out in order. A root message is
posted with metadata naming its notice id, so after a crash between posting and recording
a retry finds the earlier post instead of posting twice.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

from incidents.models import Notification
from incidents.store import Store

EVENT_TYPE = "mlwatch_notice"


class DeliveryError(Exception):
    """A notice could not be delivered now; ``recoverable`` says whether a retry may help."""

    def __init__(self, message: str, recoverable: bool = True) -> None:
        super().__init__(message)
        self.recoverable = recoverable


class NoticeSender(Protocol):
    def post_root(self, notice: Notification) -> tuple[str, str]: ...
    def find_root(self, notice: Notification) -> tuple[str, str] | None: ...
    def update(self, channel: str, ts: str, notice: Notification) -> None: ...


class ConsoleSender:
    """No Slack token: notices go to stdout and a log file, with the same text."""

    def __init__(self, path: Path, stream: TextIO | None = sys.stdout) -> None:
        self.path = path
        self.stream = stream

    def _write(self, header: str, text: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        block = f"{header}\n{text}\n"
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(block + "\n")
        if self.stream is not None:
            print(block, file=self.stream, flush=True)

    def post_root(self, notice: Notification) -> tuple[str, str]:
        self._write(f"=== [notice {notice.id}] incident #{notice.incident_id}", notice.text)
        return "console", f"console-{notice.id}"

    def find_root(self, notice: Notification) -> tuple[str, str] | None:
        if self.path.exists() and f"[notice {notice.id}] " in self.path.read_text("utf-8"):
            return "console", f"console-{notice.id}"
        return None

    def update(self, channel: str, ts: str, notice: Notification) -> None:
        self._write(f"--- [notice {notice.id}] incident #{notice.incident_id} thread {ts}",
                    notice.text)


class SlackSender:
    """The real slack-sdk WebClient; 429s are retried honouring Retry-After."""

    def __init__(self, token: str, *, base_url: str | None = None, timeout: int = 10,
                 max_rate_limit_retries: int = 3) -> None:
        from slack_sdk import WebClient
        from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

        kwargs: dict[str, Any] = {"token": token, "timeout": timeout}
        if base_url:
            kwargs["base_url"] = base_url.rstrip("/") + "/"
        self.client = WebClient(**kwargs)
        self.client.retry_handlers.append(
            RateLimitErrorRetryHandler(max_retry_count=max_rate_limit_retries)
        )

    def _call(self, method: str, **kwargs: Any) -> Any:
        from slack_sdk.errors import SlackApiError, SlackRequestError

        try:
            return getattr(self.client, method)(**kwargs)
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            status = exc.response.status_code if exc.response is not None else None
            recoverable = status is None or status >= 500 or status == 429 or error in (
                "ratelimited", "service_unavailable", "internal_error", "fatal_error")
            raise DeliveryError(f"Slack {method} failed: {error or status}",
                                recoverable) from None
        except (SlackRequestError, OSError, TimeoutError) as exc:
            raise DeliveryError(f"Slack {method} failed: {type(exc).__name__}: {exc}") from None

    def post_root(self, notice: Notification) -> tuple[str, str]:
        payload = notice.payload
        response = self._call(
            "chat_postMessage", channel=payload["channel"], text=payload.get("text", notice.text),
            blocks=payload.get("blocks"),
            metadata={"event_type": EVENT_TYPE, "event_payload": {"notice_id": notice.id}},
        )
        return response["channel"], response["ts"]

    def find_root(self, notice: Notification) -> tuple[str, str] | None:
        oldest = notice.created_at.timestamp() - 60 if notice.created_at else 0
        response = self._call("conversations_history", channel=notice.payload["channel"],
                              oldest=str(oldest), include_all_metadata=True, limit=200)
        for message in response.get("messages", []):
            meta = message.get("metadata") or {}
            if meta.get("event_type") == EVENT_TYPE and \
                    meta.get("event_payload", {}).get("notice_id") == notice.id:
                return response.get("channel", notice.payload["channel"]), message["ts"]
        return None

    def update(self, channel: str, ts: str, notice: Notification) -> None:
        payload = notice.payload
        self._call("chat_update", channel=channel, ts=ts, text=payload["root_text"],
                   blocks=payload.get("blocks"))
        self._call("chat_postMessage", channel=channel, thread_ts=ts, text=notice.text)


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    recovered: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    waiting: list[int] = field(default_factory=list)


def deliver_pending(store: Store, sender: NoticeSender, now: datetime) -> DeliveryReport:
    """Send every pending notice in order; stop at the first recoverable failure."""
    report = DeliveryReport()
    roots: dict[int, tuple[str, str]] = {}
    blocked: set[int] = set()
    for notice in store.pending_notices():
        if notice.incident_id in blocked:
            report.waiting.append(notice.id)
            continue
        try:
            if notice.kind == "root":
                found = sender.find_root(notice) if notice.attempts > 0 else None
                if found is not None:
                    report.recovered.append(notice.id)
                else:
                    store.mark_notice_attempt(notice.id)  # the intent, before the post
                    found = sender.post_root(notice)
                    report.sent.append(notice.id)
                store.mark_notice_sent(notice.id, found[0], found[1], now)
                roots[notice.incident_id] = found
                continue
            root = roots.get(notice.incident_id) or _root_of(store, notice.incident_id)
            if root is None:  # its root has not gone out yet: keep the order
                blocked.add(notice.incident_id)
                report.waiting.append(notice.id)
                continue
            store.mark_notice_attempt(notice.id)
            sender.update(root[0], root[1], notice)
            store.mark_notice_sent(notice.id, root[0], root[1], now)
            report.sent.append(notice.id)
        except DeliveryError as exc:
            store.mark_notice_failed(notice.id, str(exc))
            report.failed[notice.id] = str(exc)
            if exc.recoverable:
                # Slack is down or slow: everything after this waits for the next run.
                remaining = [n.id for n in store.pending_notices() if n.id > notice.id]
                report.waiting.extend(remaining)
                break
            blocked.add(notice.incident_id)
    return report


def _root_of(store: Store, incident_id: int) -> tuple[str, str] | None:
    incident = store.incident(incident_id)
    if incident.slack_ts and incident.slack_channel:
        return incident.slack_channel, incident.slack_ts
    return None
