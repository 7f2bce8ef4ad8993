"""VOD HLS playlists as playlist items: ffmpeg's HLS muxer writes a VOD playlist (TS segments,
EXT-X-ENDLIST) that nginx serves; an Alibaba `url` task created through the official SDK plays
it twice, with an MP4 between, into nginx-rtmp, which records the one session; ffprobe reads it.
"""

import subprocess
import time

import pytest

from aliyun import REGION, Sdk, utc
from conftest import start_baton, start_nginx
from helpers import probe_file, strictly_increasing, wait_for

pytestmark = pytest.mark.timeout(180)

SECONDS = 4
KEY = ("LTAI5tHlsVodInteropKey00", "HlsVodInteropSecret0123456789abc")
CONFIG = f"""
[[accounts]]
id = "root"
callback_secret = "hls-vod-callback-secret"

[[api.keys]]
access_key_id = "{KEY[0]}"
access_key_secret = "{KEY[1]}"
account = "root"
"""

SOURCE = [
    "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
    "-t", str(SECONDS),
    "-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-bf", "2", "-b:v", "300k",
    "-c:a", "aac", "-b:a", "64k",
]


def make_media(root):
    """`vod/index.m3u8` (1 s TS segments) and `clip.mp4`, SECONDS each, under `root`."""
    (root / "vod").mkdir(parents=True)
    ffmpeg = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"]
    subprocess.run(
        ffmpeg + SOURCE + [
            "-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod",
            "-hls_segment_filename", str(root / "vod" / "seg%d.ts"),
            str(root / "vod" / "index.m3u8"),
        ],
        check=True, timeout=60,
    )
    subprocess.run(ffmpeg + SOURCE + [str(root / "clip.mp4")], check=True, timeout=60)
    assert "#EXT-X-ENDLIST" in (root / "vod" / "index.m3u8").read_text()


def test_a_vod_playlist_plays_as_items_of_a_list(procs, baton_bin, tmp_path):
    root = tmp_path / "www"
    make_media(root)
    nginx = start_nginx(procs, tmp_path, http_root=root)
    baton = start_baton(baton_bin, procs, tmp_path, config=CONFIG)
    c = Sdk("new-v3", f"127.0.0.1:{baton.api_port}", *KEY)
    vod = nginx.http_url("vod/index.m3u8")
    c.call(
        "CreateLivePullToPush",
        Region=REGION,
        TaskName="hls-vod",
        SourceType="url",
        SourceUrls=[vod, nginx.http_url("clip.mp4"), vod],
        DstUrl=nginx.rtmp_url("vod"),
        StartTime=utc(-60),
        EndTime=utc(3600),
    )

    def ended():
        log = nginx.error_log()
        return "name='vod'" in log and ("deleteStream" in log or "disconnect" in log)

    wait_for(ended, 3 * SECONDS + 30, "the task's session published and closed", interval=0.5)
    time.sleep(1)
    publishes = [line for line in nginx.publishes() if "name='vod'" in line]
    assert len(publishes) == 1, nginx.publishes()
    records = [p for p in nginx.records() if p.name.startswith("vod")]
    assert len(records) == 1, records
    probe = probe_file(records[0])
    for kind in ("video", "audio"):
        dts = probe.dts(kind)
        assert strictly_increasing(dts) == [], (kind, strictly_increasing(dts)[:5])
    # Every picture of the three items.
    assert probe.count("video") == 3 * SECONDS * 25, probe.count("video")
    # Audio as long as the pictures (A/V aligned within a frame or two per item).
    video_end = probe.dts("video")[-1]
    audio_end = probe.dts("audio")[-1]
    assert abs(video_end - audio_end) <= 200, (video_end, audio_end)
