"""One task, several destinations (issue 16 §1), with real peers: two nginx-rtmp applications
and an `ffmpeg -listen 1` recorder, fed by one pull from Baton's own ingest.

The ffmpeg recorder is killed mid-stream and a new one listens on the same port: that
destination reconnects on its own (a second session, starting at a keyframe with the codec
headers), while both nginx applications keep ONE session each whose recordings hold exactly
the source — every packet, same payloads, same timestamps. The task's view in the native API
shows each destination's own state and sessions.
"""

from __future__ import annotations

import signal
import time

import pytest

from conftest import start_nginx
from helpers import assert_same_stream, free_port, is_listening, probe_file, publish, record, \
    strictly_increasing, wait_for
from test_native_api import Api, create_token, utc_in

pytestmark = pytest.mark.timeout(180)


def listener(procs, port: int, out, name: str):
    proc = record(procs, f"rtmp://127.0.0.1:{port}/live/c", out, name=name, listen=True)
    wait_for(lambda: is_listening(port), 10, f"{name} listening")
    return proc


def test_a_dead_destination_reconnects_alone_and_the_others_keep_every_frame(
        baton, baton_bin, procs, media, tmp_path):
    clip = media["longgop"]  # 10 s, keyframes at 0, 4 and 8 s
    nginx = start_nginx(procs, tmp_path, apps=("live", "second"))
    port = free_port()
    first = listener(procs, port, tmp_path / "c1.flv", "ffmpeg-listen-1")
    api = Api(baton.api_port, create_token(baton_bin, baton.data_dir, "dests"))
    wait_for(lambda: api.call("GET", "/v1/whoami")[0] == 200, 10, "the token is accepted")

    dsts = [nginx.rtmp_url("a"), nginx.rtmp_url("b", app="second"), f"rtmp://127.0.0.1:{port}/live/c"]
    body = {"name": "fanout", "source": {"type": "live", "urls": [baton.rtmp_url("src")]},
            "destinations": dsts, "end_time": utc_in(3600)}
    status, _, task = api.call("POST", "/v1/tasks", body)
    assert status == 201, task
    assert task["destinations"] == dsts
    tid = task["id"]
    # The relay plays the stream before it is published: it sees it from its first frame.
    wait_for(lambda: "play started" in baton.log(), 15, "the task's relay playing")
    publisher = publish(procs, clip.path, baton.rtmp_url("src"))

    def relay():
        return api.ok("GET", f"/v1/tasks/{tid}").get("relay") or {}

    wait_for(lambda: [d["state"] for d in relay().get("destinations", [])] == ["forwarding"] * 3,
             15, "three destinations forwarding")
    time.sleep(2.5)
    first.stop(signal.SIGKILL, 5)
    second = listener(procs, port, tmp_path / "c2.flv", "ffmpeg-listen-2")
    assert publisher.wait(clip.seconds + 15) == 0, publisher.stderr()
    time.sleep(1.5)  # the tail on its way through

    dests = relay()["destinations"]
    print(f"\ndestinations: {[(d['id'], d['state'], d['sessions'], d['frames_out']) for d in dests]}")
    assert [d["id"] for d in dests] == [0, 1, 2]
    assert [d["sessions"] for d in dests] == [1, 1, 2], dests
    assert dests[0]["frames_out"] == dests[1]["frames_out"] > dests[2]["frames_out"] > 0, dests

    api.ok("POST", f"/v1/tasks/{tid}/stop")
    assert second.wait(10) == 0, second.stderr()[-2000:]
    wait_for(lambda: len(nginx.records()) == 2, 10, "both nginx recordings")

    # The nginx applications: one session each, exactly the source.
    assert [line.count("name='a'") + line.count("name='b'") for line in nginx.publishes()] == [1, 1]
    for name in ("a", "b"):
        assert_same_stream(probe_file(nginx.record_dir / f"{name}.flv"), clip.probe, f"nginx {name}")
    # The restarted recorder: a clean stream of its own from a keyframe on.
    c2 = probe_file(tmp_path / "c2.flv")
    assert c2.params() == clip.probe.params()
    assert c2.keyframes()[:1] == [0], "starts at a keyframe"
    assert not strictly_increasing(c2.dts("video")), "video DTS strictly increasing"
    assert c2.count("video") >= clip.gop_frames, c2.count("video")
