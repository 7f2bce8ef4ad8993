"""Task callbacks as a receiver sees them: a small HTTP server that keeps every POST and
checks the X-Baton-Signature of each event it hands back."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from helpers import wait_for


class Callbacks:
    """An HTTP receiver on 127.0.0.1: every POST is kept (headers, raw body, arrival time);
    events are read back with their signature (`secret`) checked."""

    def __init__(self, secret: str):
        self.secret = secret
        self.events: list[dict] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer.lock:
                    outer.events.append(
                        {"headers": dict(self.headers), "body": body, "at": time.time()}
                    )
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/baton/callback"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def of(self, task_id: str) -> list[dict]:
        """The task's events as delivered (duplicates kept), each checked: signature, headers."""
        with self.lock:
            raw = list(self.events)
        out = []
        for e in raw:
            event = json.loads(e["body"])
            if event["TaskId"] != task_id:
                continue
            h = {k.lower(): v for k, v in e["headers"].items()}
            assert h["content-type"].startswith("application/json"), h
            ts = h["x-baton-timestamp"]
            mac = hmac.new(self.secret.encode(), ts.encode() + b"." + e["body"], hashlib.sha256)
            assert h["x-baton-signature"] == f"v1={mac.hexdigest()}", "bad callback signature"
            assert abs(int(ts) - e["at"]) < 60, "stale callback timestamp"
            assert h["x-baton-event-id"] == event["EventId"] == f"{task_id}.{event['Sequence']}"
            out.append(event)
        return out

    def states(self, task_id: str) -> list[str]:
        """The task's states in sequence order, each event once."""
        unique = {e["Sequence"]: e for e in self.of(task_id)}
        return [unique[s]["State"] for s in sorted(unique)]

    def wait_event(self, task_id: str, event: str, timeout: float = 15) -> dict:
        """The first delivered event of the task whose `Event` is `event` (delivery order is
        not event order: callbacks are retried independently; `Sequence` orders them)."""

        def seen():
            return next((e for e in self.of(task_id) if e.get("Event") == event), None)

        try:
            return wait_for(seen, timeout, f"callback {event} of {task_id}", interval=0.1)
        except TimeoutError as e:
            raise AssertionError(f"{e}; received: {self.states(task_id)}") from e

    def wait_state(self, task_id: str, state: str, count: int = 1, timeout: float = 15) -> dict:
        def seen():
            matching = [e for e in self.of(task_id) if e["State"] == state]
            return matching[count - 1] if len(matching) >= count else None

        try:
            return wait_for(seen, timeout, f"callback #{count} {state} of {task_id}", interval=0.1)
        except TimeoutError as e:
            raise AssertionError(f"{e}; received: {self.states(task_id)}") from e
