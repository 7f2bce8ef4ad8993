"""The egress policy end to end: what a tenant's task may make Baton connect to.

One `baton serve` with the default `[egress]` rules for account `acme` (public addresses
only) and `[egress.accounts.trusted] allow = ["127.0.0.0/8"]`; tokens for both from
`baton account create` / `baton token create`, as an operator makes them. The peers listen on
127.0.0.1: small HTTP servers in the test process that count every TCP connection they
accept (so "nothing reached it" is measured, not assumed), nginx-rtmp, ffmpeg.

* acme's IP literals on loopback, private networks or the metadata address (sources,
  destinations, callbacks) are refused at Create, naming the field, the rule and the setting (`egress.accounts.acme.local_networks`, `….allow`).
* acme's `localhost` (a name, so Create cannot judge it) is refused when the relay connects:
  the task stops with last error `EgressDenied`, its callbacks to `localhost` are not sent,
  and no connection reaches the listeners.
* trusted's relay from nginx-rtmp on 127.0.0.1 works; its callbacks arrive; a redirect to
  Baton's own API listener or to the metadata address is not followed (sources), and a
  callback's redirect is not followed at all.

Each of these failed before the policy: Create accepted every address, the relay and the
callback outbox connected wherever the URL (or a 302) pointed, and the old config refused the
unknown `[egress]` section.
"""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import start_baton, start_nginx
from helpers import FFMPEG, wait_for
from test_native_api import Api, utc_in

pytestmark = pytest.mark.timeout(240)

CONFIG = """
[tasks]
grace = "2s"

[egress.accounts.trusted]
allow = ["127.0.0.0/8"]
"""


class Peer:
    """An HTTP server on 127.0.0.1 that counts the TCP connections it accepts and keeps every
    request. `redirects` maps a path to the Location its requests (any method) get in a 302;
    other POSTs get 200 (a callback receiver), other GETs 404."""

    def __init__(self, redirects: dict[str, str] | None = None):
        self.redirects = dict(redirects or {})
        self.accepted = 0
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self, method: str):
                length = int(self.headers.get("Content-Length", "0") or 0)
                if length:
                    self.rfile.read(length)
                with outer.lock:
                    outer.requests.append((method, self.path))
                path = self.path.split("?")[0]
                if path in outer.redirects:
                    self.send_response(302)
                    self.send_header("Location", outer.redirects[path])
                else:
                    self.send_response(200 if method == "POST" else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):  # noqa: N802 (http.server's name)
                self.answer("GET")

            def do_POST(self):  # noqa: N802
                self.answer("POST")

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            def get_request(self):
                conn = super().get_request()
                with outer.lock:
                    outer.accepted += 1
                return conn

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def posts(self, path: str) -> int:
        with self.lock:
            return sum(1 for m, p in self.requests if m == "POST" and p == path)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def peers():
    made: list[Peer] = []

    def make(**kw) -> Peer:
        made.append(Peer(**kw))
        return made[-1]

    yield make
    for p in made:
        p.close()


def account_token(baton_bin, data_dir, account: str) -> str:
    def run(*args: str) -> str:
        out = subprocess.run(
            [str(baton_bin), *args, "--data-dir", str(data_dir)],
            capture_output=True, text=True, timeout=30, check=True,
        )
        return out.stdout

    run("account", "create", account)
    out = run("token", "create", "--account", account, "--name", f"{account}-egress")
    return out.strip().splitlines()[-1].split()[-1]


@pytest.fixture
def node(baton_bin, procs, tmp_path):
    server = start_baton(baton_bin, procs, tmp_path, config=CONFIG)
    apis = {a: Api(server.api_port, account_token(baton_bin, server.data_dir, a))
            for a in ("acme", "trusted")}
    for api in apis.values():
        # The server re-reads its credentials file within a second.
        wait_for(lambda: api.call("GET", "/v1/whoami")[0] == 200, 10, "the new token is accepted")
    return server, apis


def live_task(source: str, destination: str, callback: str | None = None, kind: str = "live") -> dict:
    t = uuid.uuid4().hex[:8]
    body = {"name": f"egress{t}", "source": {"type": kind, "urls": [source]},
            "destination": destination, "end_time": utc_in(3600),
            "retry": {"count": 0, "interval_seconds": 60}}
    if callback is not None:
        body["callback_url"] = callback
    return body


def stopped_with_error(api: Api, tid: str, timeout: float = 30) -> dict:
    def stopped():
        doc = api.ok("GET", f"/v1/tasks/{tid}")
        return doc if doc["state"] == "stopped" and doc.get("last_error") else None

    return wait_for(stopped, timeout, f"task {tid} stopped with a last error")["last_error"]


def test_literals_an_account_may_not_reach_are_refused_at_create(node, peers):
    server, apis = node
    acme = apis["acme"]
    peer = peers()
    dst = "rtmp://push.example.com/live/dst"  # a name: judged when the relay connects
    public = "rtmp://media.example.com/live/s"
    rtmp = f"rtmp://127.0.0.1:{peer.port}/live/s"
    cases = [
        (live_task(rtmp, dst), "source.urls", "127.0.0.1", "a loopback address"),
        (live_task(peer.url("/live/s.flv"), dst), "source.urls", "127.0.0.1", "a loopback address"),
        (live_task(peer.url("/a.mp4"), dst, kind="url"), "source.urls", "127.0.0.1", "a loopback address"),
        # IPv4-mapped IPv6 is the IPv4 address it maps.
        (live_task(peer.url("/s.flv", host="[::ffff:127.0.0.1]"), dst), "source.urls", "127.0.0.1",
         "a loopback address"),
        # Baton's own API listener: refused whatever the account's other rules.
        (live_task(f"http://127.0.0.1:{server.api_port}/live/x.flv", dst), "source.urls",
         "127.0.0.1", "Baton's own API listener; set egress.accounts.acme.allow_api_listener"),
        # A name is not judged at Create: the callback is.
        (live_task(public, dst, callback=peer.url("/cb")), "callback_url", "127.0.0.1",
         "a loopback address"),
        (live_task(public, dst, callback="http://169.254.169.254/latest/meta-data/"),
         "callback_url", "169.254.169.254", "link-local or cloud metadata"),
        # The push is a connection the account makes too.
        (live_task(public, f"rtmp://127.0.0.1:{peer.port}/live/out"), "destination", "127.0.0.1",
         "a loopback address"),
        (live_task(public, "rtmp://[::ffff:10.0.0.7]/live/out"), "destination", "10.0.0.7",
         "a private-network address"),
    ]
    for body, field, addr, what in cases:
        status, _, problem = acme.call("POST", "/v1/tasks", body)
        assert status == 400 and problem["code"] == "invalid_parameter", (body, status, problem)
        assert problem["field"] == field, problem
        detail = problem["detail"]
        assert field in detail and addr in detail and what in detail, detail
        assert "egress refused" in detail and "egress.accounts.acme." in detail, detail
    # The rules of the documentation address block (203.0.113.0/24: reserved, allow-only).
    status, _, problem = acme.call("POST", "/v1/tasks", live_task("rtmp://203.0.113.9/live/s", dst))
    assert status == 400 and "add its network to egress.accounts.acme.allow" in problem["detail"], problem
    assert peer.accepted == 0, "nothing connected to the listener"


def test_names_resolving_to_forbidden_addresses_are_refused_at_connect(node, peers, procs, tmp_path):
    server, apis = node
    acme = apis["acme"]
    peer = peers()
    sink = start_nginx(procs, tmp_path)  # a destination that would accept, were it reached
    # A name too (a loopback literal would be refused at Create, as the destination is the
    # account's connection as well).
    dst = sink.rtmp_url(f"dst{uuid.uuid4().hex[:6]}").replace("127.0.0.1", "localhost")
    # `localhost`: a name, so Create cannot judge it; the connection is refused, not made.
    for source in (f"rtmp://localhost:{peer.port}/live/s", peer.url("/live/s.flv", host="localhost")):
        callback = peer.url("/cb", host="localhost")
        status, _, task = acme.call("POST", "/v1/tasks", live_task(source, dst, callback=callback))
        assert status == 201, task
        err = stopped_with_error(acme, task["id"])
        assert (err["side"], err["code"]) == ("source", "EgressDenied"), err
        message = err["message"]
        assert f"localhost:{peer.port} resolves to a loopback address" in message, message
        assert "egress.accounts.acme.local_networks = true" in message, message
        # What a name resolves to is not told (no address in the refusal).
        assert "127.0.0.1" not in message and "::1" not in message, message
        events = acme.ok("GET", f"/v1/tasks/{task['id']}/events")["items"]
        assert events and events[0]["state"] == "Offline", events
    # The tasks' callbacks (Online, Offline …) were refused too: give them time to have gone.
    time.sleep(3)
    assert peer.accepted == 0 and peer.requests == [], peer.requests
    assert not sink.publishes(), "the destination was never opened"


def test_what_the_config_allows_works_and_redirects_are_checked(node, peers, procs, tmp_path, media):
    server, apis = node
    trusted = apis["trusted"]
    nginx = start_nginx(procs, tmp_path, record_unique=True)
    t = uuid.uuid4().hex[:8]
    src, dst = f"src{t}", f"dst{t}"
    argv = FFMPEG + ["-re", "-stream_loop", "-1", "-i", media["main"].path, "-c", "copy", "-f", "flv"]
    procs.start("publisher", argv + [nginx.rtmp_url(src)])

    # A callback receiver whose /moved answers 302 to another receiver.
    elsewhere = peers()
    receiver = peers(redirects={"/moved": elsewhere.url("/cb")})

    # The relay acme may not make: the same one, for the account allowed 127.0.0.0/8.
    status, _, problem = apis["acme"].call("POST", "/v1/tasks", live_task(nginx.rtmp_url(src), nginx.rtmp_url(dst)))
    assert status == 400 and "egress.accounts.acme" in problem["detail"], problem
    body = live_task(nginx.rtmp_url(src), nginx.rtmp_url(dst), callback=receiver.url("/cb"))
    status, _, task = trusted.call("POST", "/v1/tasks", body)
    assert status == 201, task
    tid = task["id"]

    def relaying():
        doc = trusted.ok("GET", f"/v1/tasks/{tid}")
        relay = doc.get("relay") or {}
        return doc["state"] == "running" and relay.get("bitrate_out_bps", 0) > 0

    wait_for(relaying, 25, "trusted's task relaying from nginx on 127.0.0.1")
    wait_for(lambda: any(f"name='{dst}'" in l for l in nginx.publishes()), 10, "nginx receives")
    wait_for(lambda: receiver.posts("/cb") > 0, 15, "trusted's callbacks delivered")

    # A callback whose URL redirects: the 302 is a failed attempt, never followed.
    status, headers, current = trusted.call("GET", f"/v1/tasks/{tid}")
    trusted.ok("PATCH", f"/v1/tasks/{tid}", {"callback_url": receiver.url("/moved")},
               {"If-Match": headers["etag"]})
    trusted.ok("POST", f"/v1/tasks/{tid}/stop")
    wait_for(lambda: receiver.posts("/moved") > 0, 15, "a callback sent to /moved")
    time.sleep(2)
    assert elsewhere.accepted == 0, "the callback's redirect was followed"

    # Sources: a 302 to Baton's own API listener, or to the metadata address, is checked as a
    # new target and refused (after a redirect), naming the rule.
    origin = peers(redirects={
        "/api.flv": f"http://127.0.0.1:{server.api_port}/healthz",
        "/meta.flv": "http://169.254.169.254/latest/meta-data/",
    })
    for path, rule in (("/api.flv", "Baton's own API listener"),
                       ("/meta.flv", "link-local or cloud metadata")):
        status, _, task = trusted.call("POST", "/v1/tasks", live_task(origin.url(path), nginx.rtmp_url(dst)))
        assert status == 201, task
        err = stopped_with_error(trusted, task["id"])
        assert (err["side"], err["code"]) == ("source", "EgressDenied"), err
        assert "egress refused (after a redirect)" in err["message"] and rule in err["message"], err
    assert [p for m, p in origin.requests] == ["/api.flv", "/meta.flv"], origin.requests
