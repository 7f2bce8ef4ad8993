"""Live HLS sources: ffmpeg's HLS muxer (TS segments, 1 s, a sliding window of 6, old segments
deleted) writes into a directory nginx serves over HTTP; Baton follows the playlist and relays
into nginx-rtmp, which records the session; ffprobe reads it. Once with `baton relay`, once
as an Alibaba task with SourceProtocol=hls created through the official SDK.
"""

import time

import pytest

from aliyun import REGION, Sdk, utc
from conftest import start_baton, start_nginx, start_relay
from helpers import probe_file, strictly_increasing, wait_for

pytestmark = pytest.mark.timeout(300)

SECONDS = 20
KEY = ("LTAI5tHlsInteropKey00000", "HlsInteropSecret0123456789abcdef")
CONFIG = f"""
[[accounts]]
id = "root"
callback_secret = "hls-callback-secret"

[[api.keys]]
access_key_id = "{KEY[0]}"
access_key_secret = "{KEY[1]}"
account = "root"
"""


def start_producer(procs, root):
    """ffmpeg's HLS muxer writing `hls/live.m3u8` under `root` in real time for SECONDS."""
    (root / "hls").mkdir(parents=True)
    playlist = root / "hls" / "live.m3u8"
    procs.start(
        "ffmpeg-hls",
        [
            "ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
            "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", str(SECONDS),
            "-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-bf", "2", "-b:v", "300k",
            "-c:a", "aac", "-b:a", "64k",
            "-f", "hls", "-hls_time", "1", "-hls_list_size", "6",
            "-hls_flags", "delete_segments",
            "-hls_segment_filename", str(root / "hls" / "seg%d.ts"),
            str(playlist),
        ],
    )
    wait_for(lambda: playlist.exists(), 15, "ffmpeg wrote the playlist")


def check_recording(nginx, stream):
    """One publish of `stream`, one recording, DTS strictly increasing on both tracks, and the
    live edge to the end relayed."""
    publishes = [line for line in nginx.publishes() if f"name='{stream}'" in line]
    assert len(publishes) == 1, nginx.publishes()
    records = [p for p in nginx.records() if p.name.startswith(stream)]
    assert len(records) == 1, records
    probe = probe_file(records[0])
    for kind in ("video", "audio"):
        dts = probe.dts(kind)
        assert len(dts) > 0, kind
        assert strictly_increasing(dts) == [], (kind, strictly_increasing(dts)[:5])
    # The relay starts about three segments from the live edge and plays to the end.
    video = probe.count("video")
    assert (SECONDS - 6) * 25 <= video <= SECONDS * 25, video


def test_ffmpeg_hls_live_is_relayed_as_one_session(procs, baton_bin, tmp_path):
    root = tmp_path / "www"
    nginx = start_nginx(procs, tmp_path, http_root=root)
    start_producer(procs, root)
    relay = start_relay(
        baton_bin, procs, nginx.http_url("hls/live.m3u8"), nginx.rtmp_url("x"),
        "--grace", "10s", "--status-interval", "1s",
    )
    # ffmpeg ends the playlist with EXT-X-ENDLIST when it stops: the relay then finishes.
    assert relay.wait(timeout=SECONDS + 30) == 0, relay.stderr()
    time.sleep(1)
    check_recording(nginx, "x")
    assert " 200 " in nginx.http_log()


def test_an_alibaba_task_with_source_protocol_hls(procs, baton_bin, tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    nginx = start_nginx(procs, tmp_path, http_root=root)
    baton = start_baton(baton_bin, procs, tmp_path, config=CONFIG)
    start_producer(procs, root)
    c = Sdk("new-v3", f"127.0.0.1:{baton.api_port}", *KEY)
    c.call(
        "CreateLivePullToPush",
        Region=REGION,
        TaskName="hls",
        SourceType="live",
        SourceProtocol="hls",
        SourceUrls=[nginx.http_url("hls/live.m3u8")],
        DstUrl=nginx.rtmp_url("task"),
        StartTime=utc(-60),
        EndTime=utc(3600),
    )

    def ended():
        log = nginx.error_log()
        return "name='task'" in log and ("deleteStream" in log or "disconnect" in log)

    wait_for(ended, SECONDS + 30, "the task's session published and closed", interval=0.5)
    time.sleep(1)
    check_recording(nginx, "task")
