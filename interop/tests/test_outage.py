"""Source outages end to end, with real peers: ffmpeg publishing (into nginx-rtmp or Baton's
own ingest), a task relaying to nginx-rtmp (which records each destination session to its
own file), watched through the native API.

* With the default grace, an encoder that is gone 12 s costs nothing: nginx sees ONE
  destination session, its recording has strictly increasing DTS across the outage.
* An outage longer than the grace ends the relay; the task waits for its retry (RetryInterval
  60 s) but watches its source — through the hub for a source on Baton's ingest, by probing
  for one on nginx-rtmp — and the relay is back within ~2 s of the source's return.
* A task is `running` (status 1) from its start; its relay says `connecting` until media
  reaches the destination, then `forwarding`, and the event log records `Forwarding`.
"""

from __future__ import annotations

import signal
import time
import uuid

import pytest

from conftest import NginxRtmp, start_baton, start_nginx
from helpers import FFMPEG, probe_file, strictly_increasing, wait_for
from test_native_api import Api, create_token, utc_in

pytestmark = pytest.mark.timeout(180)


def native_api(baton_bin, procs, tmp_path, config: str = ""):
    server = start_baton(baton_bin, procs, tmp_path, config=config)
    api = Api(server.api_port, create_token(baton_bin, server.data_dir, "outage"))
    wait_for(lambda: api.call("GET", "/v1/whoami")[0] == 200, 10, "the new token is accepted")
    return server, api


def publish(procs, media, url: str, name: str):
    argv = FFMPEG + ["-re", "-stream_loop", "-1", "-i", media["main"].path, "-c", "copy", "-f", "flv"]
    return procs.start(name, argv + [url])


def sessions(nginx: NginxRtmp, stream: str) -> int:
    """Destination sessions nginx accepted for `stream` so far."""
    return sum(1 for line in nginx.publishes() if f"name='{stream}'" in line)


def create_task(api: Api, src_url: str, dst_url: str, name: str) -> str:
    body = {"name": name, "source": {"type": "live", "urls": [src_url]},
            "destination": dst_url, "end_time": utc_in(3600),
            "retry": {"count": 3, "interval_seconds": 60}}
    status, _, task = api.call("POST", "/v1/tasks", body)
    assert status == 201, task
    return task["id"]


def relay_state(api: Api, tid: str):
    doc = api.ok("GET", f"/v1/tasks/{tid}")
    return doc["state"], (doc.get("relay") or {}).get("state")


def event_states(api: Api, tid: str) -> list[tuple[str, str]]:
    """(state, delivery) of the task's events, oldest first."""
    items = api.ok("GET", f"/v1/tasks/{tid}/events?limit=100")["items"]
    return [(e["state"], e["delivery"]) for e in reversed(items)]


def test_a_12_second_encoder_restart_keeps_one_destination_session(baton_bin, procs, tmp_path, media):
    """Default grace: the publisher is killed and back 12 s later; nginx sees one session."""
    nginx = start_nginx(procs, tmp_path, record_unique=True)
    _, api = native_api(baton_bin, procs, tmp_path)  # no [tasks]: the defaults
    t = uuid.uuid4().hex[:8]
    src, dst = f"src{t}", f"dst{t}"
    publisher = publish(procs, media, nginx.rtmp_url(src), "publisher")
    tid = create_task(api, nginx.rtmp_url(src), nginx.rtmp_url(dst), f"restart{t}")
    wait_for(lambda: relay_state(api, tid) == ("running", "forwarding"), 20, "forwarding")
    wait_for(lambda: sessions(nginx, dst) == 1, 10, "nginx receives")
    time.sleep(3)

    publisher.stop(signal.SIGKILL)
    gone = time.monotonic()
    wait_for(lambda: relay_state(api, tid) == ("recovering", "source_reconnecting"), 10,
             "the relay holds the destination while the source is away")
    time.sleep(max(0.0, 12 - (time.monotonic() - gone)))
    publish(procs, media, nginx.rtmp_url(src), "publisher-again")
    back = time.monotonic()
    wait_for(lambda: relay_state(api, tid) == ("running", "forwarding"), 10, "forwarding again")
    print(f"\nencoder away 12 s: forwarding again {time.monotonic() - back:.2f} s after its return")
    doc = api.ok("GET", f"/v1/tasks/{tid}")
    assert doc["relay"]["destination_sessions"] == 1, doc
    assert doc["retries"] == 0 and doc["next_retry_at"] is None, doc
    time.sleep(4)

    # Stopping closes the destination: nginx finishes the one recording.
    api.ok("POST", f"/v1/tasks/{tid}/stop")
    wait_for(lambda: [p for p in nginx.records() if p.name.startswith(f"{dst}-")], 10, "the recording")
    time.sleep(1)
    assert sessions(nginx, dst) == 1, "the destination saw the encoder restart"
    records = [p for p in nginx.records() if p.name.startswith(f"{dst}-")]
    assert len(records) == 1, records
    probe = probe_file(records[0])
    for kind in ("video", "audio"):
        dts = probe.dts(kind)
        assert len(dts) > 100, f"{kind}: {len(dts)} packets"
        assert strictly_increasing(dts) == [], f"{kind} DTS went back across the outage"
    # The session spans the outage: about 3 s + 12 s + 4 s of wall clock.
    video = probe.dts("video")
    assert video[-1] - video[0] >= 15_000, (video[0], video[-1])
    states = [s for s, _ in event_states(api, tid)]
    assert states == ["Running", "Forwarding", "Recovering", "Running", "Offline"], states


@pytest.mark.parametrize("origin", ["baton-ingest", "nginx-rtmp"])
def test_a_source_back_during_the_retry_interval_is_relayed_within_2_seconds(
    baton_bin, procs, tmp_path, media, origin
):
    """Grace 3 s, RetryInterval 60 s: the publisher is away 8 s (the relay gave up), then
    back; the relay pushes again within ~2 s — not at the end of the interval."""
    nginx = start_nginx(procs, tmp_path, record_unique=True)
    server, api = native_api(baton_bin, procs, tmp_path, config='[tasks]\ngrace = "3s"\n')
    t = uuid.uuid4().hex[:8]
    src, dst = f"src{t}", f"dst{t}"
    src_url = server.rtmp_url(src) if origin == "baton-ingest" else nginx.rtmp_url(src)
    tid = create_task(api, src_url, nginx.rtmp_url(dst), f"retry{t}")

    # Status 1 from the start; nothing flows yet, and the relay says so.
    time.sleep(1)
    assert relay_state(api, tid) == ("running", "connecting")
    assert event_states(api, tid) == [("Running", "none")]
    publisher = publish(procs, media, src_url, "publisher")
    wait_for(lambda: relay_state(api, tid) == ("running", "forwarding"), 20, "forwarding")
    assert event_states(api, tid) == [("Running", "none"), ("Forwarding", "none")]
    wait_for(lambda: sessions(nginx, dst) == 1, 10, "nginx receives")
    time.sleep(2)

    publisher.stop(signal.SIGKILL)
    gone = time.monotonic()

    def waiting_for_retry():
        doc = api.ok("GET", f"/v1/tasks/{tid}")
        return doc["state"] == "recovering" and doc["next_retry_at"] and doc["relay"] is None

    wait_for(waiting_for_retry, 15, "the relay gave up; a retry is scheduled")
    doc = api.ok("GET", f"/v1/tasks/{tid}")
    assert doc["retries"] == 1 and doc["reason"] == "PullStreamFailed", doc
    time.sleep(max(0.0, 8 - (time.monotonic() - gone)))

    publish(procs, media, src_url, "publisher-again")
    back = time.monotonic()
    wait_for(lambda: sessions(nginx, dst) == 2, 20, "the retry pushes to nginx")
    took = time.monotonic() - back
    print(f"\n{origin}: source back after {8:.0f} s, destination publishing {took:.2f} s later")
    assert took <= 2.5, f"the retry started {took:.2f} s after the source's return"
    wait_for(lambda: relay_state(api, tid) == ("running", "forwarding"), 10, "1 again")
    doc = api.ok("GET", f"/v1/tasks/{tid}")
    assert doc["retries"] == 0 and doc["next_retry_at"] is None, doc
    states = [s for s, _ in event_states(api, tid)]
    assert states == ["Running", "Forwarding", "Recovering", "Running", "Forwarding"], states
    api.ok("POST", f"/v1/tasks/{tid}/stop")
