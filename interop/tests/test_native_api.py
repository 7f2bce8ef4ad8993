"""Baton's native REST API (/v1) against a real `baton serve` and real media peers: a task
created over /v1 relays from nginx-rtmp to nginx-rtmp, its live relay status (bitrate, fps,
uptime) and its event log show up, a source that goes away leaves a durable last error
(side, code, message, time), Start continues it, ETags guard updates, and the event log
outlives a delete. Tokens come from `baton token create`, as an operator makes them."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from typing import Optional

import pytest

from conftest import start_baton, start_nginx
from helpers import FFMPEG, wait_for

pytestmark = pytest.mark.timeout(240)


class Api:
    def __init__(self, port: int, token: str):
        self.base, self.token = f"http://127.0.0.1:{port}", token

    def call(self, method: str, path: str, body: Optional[dict] = None, headers: Optional[dict] = None):
        """(status, lower-cased headers, JSON body or None)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                raw = r.read()
                return r.status, {k.lower(): v for k, v in r.headers.items()}, json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, {k.lower(): v for k, v in e.headers.items()}, json.loads(raw) if raw else None

    def ok(self, method: str, path: str, body: Optional[dict] = None, headers=None) -> dict:
        status, _, doc = self.call(method, path, body, headers)
        assert 200 <= status < 300, (method, path, status, doc)
        return doc


def create_token(baton_bin, data_dir, name: str) -> str:
    out = subprocess.run(
        [str(baton_bin), "token", "create", "--account", "root", "--name", name, "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=30, check=True,
    )
    return out.stdout.strip().splitlines()[-1].split()[-1]


def utc_in(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds))


@pytest.fixture
def api(baton_bin, procs, tmp_path):
    # Short relay grace and the account's retries off, so a lost source stops the task fast.
    server = start_baton(baton_bin, procs, tmp_path, config='[tasks]\ngrace = "2s"\n')
    token = create_token(baton_bin, server.data_dir, "interop")
    api = Api(server.api_port, token)
    # The server re-reads its credentials file within a second.
    wait_for(lambda: api.call("GET", "/v1/whoami")[0] == 200, 10, "the new token is accepted")
    return api


def test_tokens_are_required(api):
    anonymous = Api(int(api.base.rsplit(":", 1)[1]), "btn_not-a-token")
    status, headers, doc = anonymous.call("GET", "/v1/tasks")
    assert status == 401 and doc["code"] == "unauthorized", doc
    assert headers.get("content-type") == "application/problem+json"
    assert api.ok("GET", "/v1/whoami") == {"account": "root", "token": "interop"}


def test_a_relay_over_the_native_api(api, procs, tmp_path, media):
    nginx = start_nginx(procs, tmp_path, record_unique=True)
    t = uuid.uuid4().hex[:8]
    src, dst = f"src{t}", f"dst{t}"
    argv = FFMPEG + ["-re", "-stream_loop", "-1", "-i", media["main"].path, "-c", "copy", "-f", "flv"]
    publisher = procs.start("publisher", argv + [nginx.rtmp_url(src)])

    key = {"Idempotency-Key": f"interop-{t}"}
    body = {"name": f"native{t}", "source": {"type": "live", "urls": [nginx.rtmp_url(src)]},
            "destination": nginx.rtmp_url(dst), "end_time": utc_in(3600),
            "retry": {"count": 0, "interval_seconds": 60}}
    status, headers, task = api.call("POST", "/v1/tasks", body, key)
    assert status == 201, task
    tid = task["id"]
    # A retried create (same key, same body) is the same task, not a second relay.
    status, headers2, again = api.call("POST", "/v1/tasks", body, key)
    assert (status, again["id"], headers2.get("idempotent-replayed")) == (200, tid, "true")

    def relaying():
        doc = api.ok("GET", f"/v1/tasks/{tid}")
        relay = doc.get("relay") or {}
        return doc["state"] == "running" and relay.get("bitrate_out_bps", 0) > 0 and relay.get("fps", 0) > 0

    wait_for(relaying, 25, "the task running with a live bitrate and fps")
    doc = api.ok("GET", f"/v1/tasks/{tid}")
    assert doc["relay"]["uptime_seconds"] > 0 and doc["relay"]["destination_sessions"] == 1, doc
    assert doc["last_error"] is None
    wait_for(lambda: any(f"name='{dst}'" in l for l in nginx.publishes()), 10, "nginx receives")

    # The source goes away: recovering, then (grace 2 s, no retries) stopped with a last error.
    publisher.stop()
    wait_for(lambda: api.ok("GET", f"/v1/tasks/{tid}")["state"] == "stopped", 40, "the task stops")
    doc = api.ok("GET", f"/v1/tasks/{tid}")
    assert doc["reason"] == "PullStreamFailed", doc
    err = doc["last_error"]
    assert err and err["side"] == "source" and err["code"] and err["message"], doc
    assert err["at"].endswith("Z")
    assert doc["relay"] is None

    events = api.ok("GET", f"/v1/tasks/{tid}/events")["items"]
    states = [e["state"] for e in events]
    assert states[0] == "Offline" and "Running" in states and "Recovering" in states, events
    assert events[0]["reason"] == "PullStreamFailed"
    assert all(e["delivery"] == "none" for e in events), events  # no callback URL
    assert [e["seq"] for e in events] == sorted((e["seq"] for e in events), reverse=True)
    page = api.ok("GET", f"/v1/tasks/{tid}/events?limit=1")
    assert len(page["items"]) == 1 and page["next_cursor"]
    rest = api.ok("GET", f"/v1/tasks/{tid}/events?limit=100&cursor={page['next_cursor']}")
    assert [e["seq"] for e in rest["items"]] == [e["seq"] for e in events[1:]]

    # Stopping a stopped task: 409 naming the state. A stale ETag: 412.
    status, _, problem = api.call("POST", f"/v1/tasks/{tid}/stop")
    assert (status, problem["code"], problem["current_state"]) == (409, "wrong_state", "stopped")
    status, headers, current = api.call("GET", f"/v1/tasks/{tid}")
    etag = headers["etag"]
    api.ok("PATCH", f"/v1/tasks/{tid}", {"name": f"renamed{t}"}, {"If-Match": etag})
    status, _, problem = api.call("PATCH", f"/v1/tasks/{tid}", {"name": "lost"}, {"If-Match": etag})
    assert (status, problem["code"]) == (412, "precondition_failed"), problem

    # Publish again and start the task: running, a second destination session, a new event.
    procs.start("publisher2", argv + [nginx.rtmp_url(src)])
    time.sleep(1)
    started = api.ok("POST", f"/v1/tasks/{tid}/start", {})
    assert started["state"] == "running"
    wait_for(relaying, 25, "running again")
    # Running at the start (the relay connecting), Forwarding when media reached nginx.
    newest = api.ok("GET", f"/v1/tasks/{tid}/events?limit=2")["items"]
    assert [e["state"] for e in newest] == ["Forwarding", "Running"], newest
    # The last error stays: it is the last one, with its time.
    assert api.ok("GET", f"/v1/tasks/{tid}")["last_error"] == err

    # Delete: gone from the list, its event log still readable (until retention purges it).
    status, _, _ = api.call("DELETE", f"/v1/tasks/{tid}")
    assert status == 204
    status, _, problem = api.call("GET", f"/v1/tasks/{tid}")
    assert (status, problem["code"]) == (404, "not_found")
    log = api.ok("GET", f"/v1/tasks/{tid}/events")["items"]
    assert log[0]["state"] == "Exit" and log[0]["exit_reason"] == "TriggerByUser", log
