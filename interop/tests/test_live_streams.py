"""What is live (issue 13 §2): ffmpeg publishes into `baton serve` over RTMP (and SRT); the
native `/v1/streams` through `baton stream list`, and Alibaba's DescribeLiveStreamsOnlineList
through the official SDKs, show the stream with its codecs, size, frame rate, bitrate and
players, and forget it once the publisher has gone.

The node's config gives `127.0.0.1` to the root account and `acme.example` to `acme`.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from aliyun import FLAVOURS, Sdk, fails
from conftest import start_baton
from helpers import FFMPEG, free_port, wait_for

pytestmark = pytest.mark.timeout(180)

ROOT_KEY = ("LTAI5tLiveListRootKey01", "LiveListRootSecret0123456789ab")
ACME_KEY = ("LTAI5tLiveListAcmeKey01", "LiveListAcmeSecret0123456789ab")
DOMAIN = "127.0.0.1"


def config(srt_port: int) -> str:
    return f"""
srt_listen = "127.0.0.1:{srt_port}"

[srt]
domain = "{DOMAIN}"

[[api.keys]]
access_key_id = "{ROOT_KEY[0]}"
access_key_secret = "{ROOT_KEY[1]}"
account = "root"

[[api.keys]]
access_key_id = "{ACME_KEY[0]}"
access_key_secret = "{ACME_KEY[1]}"
account = "acme"

[[domains]]
name = "{DOMAIN}"
account = "root"

[[domains]]
name = "acme.example"
account = "acme"
"""


@pytest.fixture(scope="module")
def hd_clip(tmp_path_factory) -> Path:
    """4 s of H.264 High 1280x720 at 25 fps (GOP 1 s) + AAC-LC stereo 44.1 kHz."""
    path = tmp_path_factory.mktemp("live-media") / "hd.flv"
    argv = FFMPEG + ["-loglevel", "error", "-y"]
    argv += ["-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25"]
    argv += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]
    argv += ["-t", "4", "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high"]
    argv += ["-pix_fmt", "yuv420p", "-g", "25", "-b:v", "1500k", "-c:a", "aac", "-b:a", "96k"]
    argv += ["-ac", "2", "-f", "flv", str(path)]
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, timeout=120)
    return path


class Node:
    def __init__(self, baton_bin, procs, tmp_path, clip: Path):
        self.baton_bin, self.procs, self.clip = baton_bin, procs, clip
        self.srt_port = free_port()
        self.baton = start_baton(baton_bin, procs, tmp_path, config=config(self.srt_port))
        out = subprocess.run(
            [str(baton_bin), "token", "create", "--account", "root", "--name", "live",
             "--data-dir", str(self.baton.data_dir)],
            capture_output=True, text=True, timeout=30, check=True,
        )
        self.token = out.stdout.strip().splitlines()[-1].split()[-1]
        # The server re-reads its credentials file within a second.
        wait_for(lambda: self.cli_run("stream", "list").returncode == 0, 10, "token accepted")

    def cli_run(self, *args: str) -> subprocess.CompletedProcess:
        env = dict(os.environ, BATON_ENDPOINT=f"http://127.0.0.1:{self.baton.api_port}",
                   BATON_TOKEN=self.token, NO_COLOR="1")
        return subprocess.run([str(self.baton_bin), *args], capture_output=True, text=True,
                              timeout=30, env=env)

    def cli(self, *args: str) -> str:
        res = self.cli_run(*args)
        assert res.returncode == 0, res.stderr
        return res.stdout

    def live(self) -> list[dict]:
        return json.loads(self.cli("stream", "list", "--json"))

    def stream(self, name: str):
        return next((s for s in self.live() if s["stream"] == name), None)

    def publish_rtmp(self, stream: str, name: str = "publisher"):
        argv = FFMPEG + ["-loglevel", "warning", "-re", "-stream_loop", "-1", "-i", str(self.clip)]
        return self.procs.start(name, argv + ["-c", "copy", "-f", "flv", self.baton.rtmp_url(stream)])

    def publish_srt(self, stream: str, seconds: float):
        argv = FFMPEG + ["-loglevel", "warning", "-re"]
        argv += ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25"]
        argv += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
        argv += ["-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-g", "25"]
        argv += ["-pix_fmt", "yuv420p", "-b:v", "300k", "-c:a", "aac", "-b:a", "64k", "-f", "mpegts"]
        url = f"srt://127.0.0.1:{self.srt_port}?streamid=#!::r=live/{stream},m=publish&pkt_size=1316"
        return self.procs.start("srt-publisher", argv + [url])

    def play(self, stream: str, name: str = "player"):
        """An HTTP-FLV player that decodes nothing (`-c copy` into the null muxer)."""
        argv = FFMPEG + ["-loglevel", "warning", "-i", self.baton.flv_url(stream)]
        return self.procs.start(name, argv + ["-c", "copy", "-f", "null", "-"])

    def sdk(self, flavour: str, key=ROOT_KEY) -> Sdk:
        return Sdk(flavour, f"127.0.0.1:{self.baton.api_port}", *key)


@pytest.fixture
def node(baton_bin, procs, tmp_path, hd_clip) -> Node:
    return Node(baton_bin, procs, tmp_path, hd_clip)


def test_stream_list_shows_the_rtmp_publisher_codecs_rates_and_players(node):
    assert node.live() == []
    publisher = node.publish_rtmp("cam")
    wait_for(lambda: (node.stream("cam") or {}).get("publishing"), 10, "cam is live")
    player = node.play("cam")
    # Two seconds of input fill the rate window; the player shows up once it connected.
    time.sleep(2.5)
    s = wait_for(lambda: (lambda s: s if s and s["players"] == 1 else None)(node.stream("cam")),
                 10, "one player of cam")
    print(f"\n/v1/streams: {json.dumps(s)}")
    assert s["domain"] == DOMAIN and s["app"] == "live"
    assert s["protocol"] == "rtmp"
    assert s["publisher_addr"].startswith("127.0.0.1:")
    assert s["started_at"].endswith("Z") and s["uptime_seconds"] >= 2
    video, audio = s["video"], s["audio"]
    assert (video["codec"], video["width"], video["height"], video["profile"]) == (
        "H.264", 1280, 720, "High")
    assert 20 <= video["fps"] <= 30, video
    assert (audio["codec"], audio["sample_rate"], audio["channels"]) == ("AAC", 44100, 2)
    assert s["bitrate_in_bps"] > 100_000, s
    assert s["video_bitrate_bps"] + s["audio_bitrate_bps"] <= s["bitrate_in_bps"]
    assert s["gop_cache_frames"] > 0 and s["frames_in"] > 50
    assert s["forbidden"] is False and s["forbidden_until"] is None
    table = node.cli("stream", "list")
    assert "127.0.0.1/live/cam" in table and "H.264 1280x720 High" in table, table
    assert "AAC 44100Hz 2ch" in table, table

    publisher.stop()
    # The player leaves when the publisher has gone (HTTP-FLV ends the response), and the
    # stream with it.
    wait_for(lambda: node.stream("cam") is None, 15, "cam gone after its publisher stopped")
    player.stop()


def test_stream_list_shows_an_srt_publisher(node):
    publisher = node.publish_srt("srtcam", seconds=8)
    s = wait_for(lambda: (lambda s: s if s and s["video"] and s["video"]["width"] else None)(
        node.stream("srtcam")), 10, "srtcam is live with its video size")
    assert s["protocol"] == "srt" and s["publisher_addr"].startswith("127.0.0.1:")
    assert (s["video"]["codec"], s["video"]["width"], s["video"]["height"]) == ("H.264", 320, 240)
    assert s["audio"]["codec"] == "AAC" and s["audio"]["sample_rate"] == 48000
    time.sleep(2)
    s = node.stream("srtcam")
    print(f"\nSRT: fps {s['video']['fps']}, {s['bitrate_in_bps']} b/s")
    assert 20 <= s["video"]["fps"] <= 30 and s["bitrate_in_bps"] > 0
    publisher.stop()
    wait_for(lambda: node.stream("srtcam") is None, 15, "srtcam gone after its publisher stopped")


def test_describe_live_streams_online_list_with_the_official_sdks(node):
    publisher = node.publish_rtmp("sdkcam")
    wait_for(lambda: (node.stream("sdkcam") or {}).get("publishing"), 10, "sdkcam is live")
    time.sleep(2.5)
    for flavour in FLAVOURS:
        c = node.sdk(flavour)
        body = c.call("DescribeLiveStreamsOnlineList", DomainName=DOMAIN, PageSize=10)
        print(f"\n{flavour}: {json.dumps(body)}")
        assert (body["TotalNum"], body["TotalPage"], body["PageNum"], body["PageSize"]) == (1, 1, 1, 10)
        [info] = body["OnlineInfo"]["LiveStreamOnlineInfo"]
        assert (info["DomainName"], info["AppName"], info["StreamName"]) == (DOMAIN, "live", "sdkcam")
        assert (info["VideoCodecId"], info["Width"], info["Height"]) == (7, 1280, 720)
        assert 20 <= info["FrameRate"] <= 30 and info["VideoDataRate"] > 100_000
        assert info["AudioCodecId"] == 10 and info["AudioDataRate"] > 0
        assert info["ClientIp"] == "127.0.0.1" and info["PublishType"] == "edge"
        assert info["PublishUrl"] == f"rtmp://{DOMAIN}/live/sdkcam"
        assert info["PublishTime"].endswith("Z")
        only = c.call("DescribeLiveStreamsOnlineList", DomainName=DOMAIN, OnlyStream="yes",
                      StreamName="sdk", QueryType="fuzzy")
        assert set(only["OnlineInfo"]["LiveStreamOnlineInfo"][0]) == {
            "DomainName", "AppName", "StreamName", "PublishTime"}
        none = c.call("DescribeLiveStreamsOnlineList", DomainName=DOMAIN, StreamName="sdk",
                      QueryType="strict")
        assert none["TotalNum"] == 0
    # Another account's domain, and a value the provider does not define.
    e = fails(node.sdk("new-v3", ACME_KEY).call, "DescribeLiveStreamsOnlineList", DomainName=DOMAIN)
    assert (e.status, e.code) == (400, "InvalidDomain.NotFound")
    e = fails(node.sdk("old").call, "DescribeLiveStreamsOnlineList", DomainName=DOMAIN,
              StreamType="mixed")
    assert (e.status, e.code) == (400, "InvalidParameter")

    publisher.stop()

    def gone():
        body = node.sdk("new-v3").call("DescribeLiveStreamsOnlineList", DomainName=DOMAIN)
        return body["TotalNum"] == 0

    wait_for(gone, 10, "sdkcam gone from DescribeLiveStreamsOnlineList")
