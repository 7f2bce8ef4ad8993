"""The slate (issue 16 §3) with real peers: a task pulls Baton's own ingest and pushes to
nginx-rtmp, which records it. The publisher is killed mid-stream: within about a second the
destination gets Baton's default slate (the 640x360 H.264/AAC card, the live stream being
640x360), looped on the same session and timeline; a new publisher brings the live stream
back at its keyframe; when its file ends, the slate again. The recording is ONE nginx session
whose video DTS strictly increases with no hole longer than the slate's start delay, and
holds, in order: the first publisher's packets, the slate's packets (byte for byte the
default slate's), the whole of the second publisher's stream from its first keyframe, the
slate.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from conftest import start_nginx
from helpers import probe_file, publish, strictly_increasing, wait_for
from test_native_api import Api, create_token, utc_in

pytestmark = pytest.mark.timeout(180)

SLATE_640 = Path(__file__).resolve().parents[2] / "assets" / "slate" / "slate-640x360.flv"


def runs(labels: list[str]) -> list[str]:
    """Consecutive equal labels collapsed."""
    out: list[str] = []
    for label in labels:
        if not out or out[-1] != label:
            out.append(label)
    return out


def test_a_dead_publisher_gives_the_slate_then_the_next_one_is_live_again(
        baton, baton_bin, procs, media, tmp_path):
    clip = media["main"]  # 6 s, 640x360, GOP 1 s
    slate = probe_file(SLATE_640)
    nginx = start_nginx(procs, tmp_path)
    api = Api(baton.api_port, create_token(baton_bin, baton.data_dir, "slate"))
    wait_for(lambda: api.call("GET", "/v1/whoami")[0] == 200, 10, "the token is accepted")

    body = {"name": "slated", "source": {"type": "live", "urls": [baton.rtmp_url("src")]},
            "destination": nginx.rtmp_url("a"), "end_time": utc_in(3600),
            "slate": {"file": "default", "after_seconds": 1, "hold_seconds": 60}}
    status, _, task = api.call("POST", "/v1/tasks", body)
    assert status == 201, task
    assert task["slate"] == {"file": "default", "after_seconds": 1, "hold_seconds": 60}
    tid = task["id"]

    def relay():
        return api.ok("GET", f"/v1/tasks/{tid}").get("relay") or {}

    wait_for(lambda: "play started" in baton.log(), 15, "the task's relay playing")
    first = publish(procs, clip.path, baton.rtmp_url("src"), name="publisher-1")
    wait_for(lambda: relay().get("state") == "forwarding", 15, "forwarding")
    time.sleep(3)
    assert relay()["slate_active"] is False
    first.stop(signal.SIGKILL, 5)
    killed = time.monotonic()
    wait_for(lambda: relay().get("slate_active"), 5, "the slate on")
    slate_after = time.monotonic() - killed
    print(f"\nslate on {slate_after * 1000:.0f} ms after the publisher was killed (API polled)")
    assert slate_after < 1.6, slate_after
    time.sleep(4)  # more than a loop of the slate (3.2 s)
    second = publish(procs, clip.path, baton.rtmp_url("src"), name="publisher-2")
    back = time.monotonic()
    wait_for(lambda: not relay().get("slate_active"), 10, "live again")
    print(f"live again {(time.monotonic() - back) * 1000:.0f} ms after the second publisher started")
    assert second.wait(clip.seconds + 15) == 0, second.stderr()
    # The second publisher's file ends: the slate again, a second after its last packet.
    wait_for(lambda: relay().get("slate_active"), 5, "the slate on again")
    time.sleep(1)
    view = relay()
    assert view["slate_starts"] == 2, view
    assert view["destination_sessions"] == 1, view
    api.ok("POST", f"/v1/tasks/{tid}/stop")
    wait_for(lambda: len(nginx.records()) == 1, 10, "the nginx recording")

    # One nginx session.
    assert len(nginx.publishes()) == 1, nginx.publishes()
    rec = probe_file(nginx.records()[0])
    # The slate's codec parameters are the live stream's (the default picked by resolution).
    assert rec.params()["video"] == slate.params()["video"] == clip.probe.params()["video"]
    # Continuous DTS: strictly increasing, no hole longer than the slate's start delay.
    video = rec.dts("video")
    assert not strictly_increasing(video), "video DTS strictly increasing"
    assert not strictly_increasing(rec.dts("audio")), "audio DTS strictly increasing"
    hole = max(b - a for a, b in zip(video, video[1:]))
    print(f"largest video DTS step {hole} ms; {rec.count('video')} video packets")
    assert hole <= 1_200, hole
    # Which packets came from where: the slate's are the default slate's own bytes.
    live = set(clip.probe.hashes("video"))
    card = set(slate.hashes("video"))
    assert not live & card
    labels = ["live" if h in live else "slate" if h in card else "?" for h in rec.hashes("video")]
    assert runs(labels) == ["live", "slate", "live", "slate"], runs(labels)
    gap_start = labels.index("slate")
    back_at = labels.index("live", gap_start)
    end_at = labels.index("slate", back_at)
    # About 5 s of a 30 fps slate (1 s after the kill until the second publisher's keyframe).
    assert 100 <= back_at - gap_start <= 240, back_at - gap_start
    # Live again at the second publisher's first keyframe, the whole of its stream after.
    assert rec.hashes("video")[back_at:end_at] == clip.probe.hashes("video")
    assert back_at in rec.keyframes()
    assert gap_start in rec.keyframes(), "the slate starts at its keyframe"
