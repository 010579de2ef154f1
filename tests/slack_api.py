"""A local Slack-compatible Web API for tests: records calls, can answer 429, 500 or hang.

The real slack-sdk ``WebClient`` talks to it through ``base_url``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    headers: dict[str, str]


@dataclass
class SlackAPI:
    """State of the fake workspace: channels' messages and the calls received."""

    calls: list[Call] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    # Scripted failures consumed in order: ("429", retry_after) | ("500", None) | ("hang", s)
    script: deque[tuple[str, float | None]] = field(default_factory=deque)
    _ts: int = 1700000000

    def next_ts(self) -> str:
        self._ts += 1
        return f"{self._ts}.000100"

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]


def _handler(api: SlackAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def _params(self) -> dict[str, Any]:
            query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if body:
                if "json" in (self.headers.get("Content-Type") or ""):
                    query.update(json.loads(body))
                else:
                    query.update({k: v[0] for k, v in parse_qs(body.decode()).items()})
            for key in ("blocks", "metadata"):
                if isinstance(query.get(key), str):
                    query[key] = json.loads(query[key])
            return query

        def _reply(self, status: int, payload: dict[str, Any],
                   headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            method = urlparse(self.path).path.rsplit("/", 1)[-1]
            params = self._params()
            api.calls.append(Call(method, params, dict(self.headers)))
            if api.script:
                kind, arg = api.script.popleft()
                if kind == "429":
                    self._reply(429, {"ok": False, "error": "ratelimited"},
                                {"Retry-After": str(int(arg or 1))})
                    return
                if kind == "500":
                    self._reply(500, {"ok": False, "error": "internal_error"})
                    return
                if kind == "hang":
                    time.sleep(arg or 5)
                    self._reply(500, {"ok": False, "error": "timeout"})
                    return
            if method == "chat.postMessage":
                ts = api.next_ts()
                message = {"ts": ts, "text": params.get("text"), "blocks": params.get("blocks"),
                           "thread_ts": params.get("thread_ts"),
                           "metadata": params.get("metadata"), "channel": "C0MLWATCH"}
                api.messages.append(message)
                self._reply(200, {"ok": True, "channel": "C0MLWATCH", "ts": ts,
                                  "message": message})
            elif method == "chat.update":
                for message in api.messages:
                    if message["ts"] == params.get("ts"):
                        message.update(text=params.get("text"), blocks=params.get("blocks"))
                self._reply(200, {"ok": True, "channel": "C0MLWATCH", "ts": params.get("ts")})
            elif method == "conversations.history":
                roots = [m for m in api.messages if not m.get("thread_ts")]
                self._reply(200, {"ok": True, "messages": list(reversed(roots))})
            else:
                self._reply(200, {"ok": True})

        do_GET = _handle
        do_POST = _handle

    return Handler


class SlackServer:
    """Runs the fake API on 127.0.0.1 in a background thread."""

    def __init__(self) -> None:
        self.api = SlackAPI()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.api))
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/api/"

    def __enter__(self) -> SlackServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
