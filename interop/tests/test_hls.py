"""Live HLS sources: ffmpeg's HLS muxer (TS segments, 1 s, a sliding window of 6, old segments
deleted) writes into a directory nginx serves over HTTP; Baton follows the playlist and relays
into nginx-rtmp, which records the session; ffprobe reads it. Once with `baton relay`, once
as an Alibaba task with SourceProtocol=hls created through the official SDK, once with the
producer stopped (EXT-X-ENDLIST) and started again mid-stream.
"""

import os
import signal
import subprocess
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
    # ffmpeg ends the playlist with EXT-X-ENDLIST when it stops: an unpublish. The relay holds
    # the destination for its grace (10 s), then fails naming the end.
    assert relay.wait(timeout=SECONDS + 40) == 1, relay.stderr()
    assert "EXT-X-ENDLIST" in relay.stderr()
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

    # The playlist's end is an unpublish: the session is held for the grace period (35 s).
    wait_for(ended, SECONDS + 60, "the task's session published and closed", interval=0.5)
    time.sleep(1)
    check_recording(nginx, "task")


def encode_clip(path, seconds):
    """`seconds` of 25 fps H.264 (a keyframe a second, B-frames) and 48 kHz AAC in MPEG-TS: what
    a producer copies into HLS segments, so its frame counts are known exactly."""
    subprocess.run(
        [
            "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", str(seconds),
            "-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-bf", "2", "-b:v", "300k",
            "-c:a", "aac", "-b:a", "64k", str(path),
        ],
        check=True,
        timeout=60,
    )
    return probe_file(path)


def hls_copy(procs, clip, root, name, loop=False, extra=()):
    """ffmpeg copying `clip` (looped: until stopped) in real time into the HLS playlist
    `root/hls/live.m3u8` (segment names seg0.ts, seg1.ts, … every run: a restart reuses
    them)."""
    looping = ["-stream_loop", "-1"] if loop else []
    return procs.start(
        name,
        [
            "ffmpeg", "-hide_banner", "-loglevel", "error", *looping, "-re", "-i", str(clip),
            "-c", "copy", "-f", "hls", "-hls_time", "1", "-hls_list_size", "6",
            "-hls_flags", "delete_segments", *extra,
            "-hls_segment_filename", str(root / "hls" / "seg%d.ts"),
            str(root / "hls" / "live.m3u8"),
        ],
    )


def ms(ticks):
    """90 kHz ticks (MPEG-TS) in ms."""
    return ticks * 1000 // 90000


def split_at_outage(dts, boundary):
    return [d for d in dts if d < boundary], [d for d in dts if d >= boundary]


def test_a_producer_stopped_and_restarted_continues_one_session(procs, baton_bin, tmp_path):
    root = tmp_path / "www"
    (root / "hls").mkdir(parents=True)
    nginx = start_nginx(procs, tmp_path, http_root=root)
    clip = tmp_path / "clip.ts"
    source = encode_clip(clip, 6)
    playlist = root / "hls" / "live.m3u8"
    first = hls_copy(procs, clip, root, "ffmpeg-hls-1", loop=True)
    wait_for(lambda: playlist.exists(), 15, "ffmpeg wrote the playlist")
    relay = start_relay(
        baton_bin, procs, nginx.http_url("hls/live.m3u8"), nginx.rtmp_url("x"),
        "--grace", "30s", "--status-interval", "1s",
    )
    wait_for(lambda: "media reaches the destination" in relay.stderr(), 15, "relay forwarding")
    time.sleep(5)
    # Stopped: ffmpeg writes EXT-X-ENDLIST. The ended playlist stays served for 5 s.
    assert first.stop(signal.SIGTERM, timeout=10) in (0, 255), first.stderr()
    assert "#EXT-X-ENDLIST" in playlist.read_text()
    wait_for(lambda: "waiting for more" in relay.stderr(), 10, "the relay saw the end")
    time.sleep(5)
    # Restarted: numbered from 0 again, under the same segment names.
    second = hls_copy(procs, clip, root, "ffmpeg-hls-2", extra=("-start_number", "0"))
    assert second.wait(30) == 0, second.stderr()
    # The runner hears of the end after the last frame left (paced): then all is out.
    wait_for(lambda: relay.stderr().count("source lost") >= 2, 15, "the second end relayed")
    time.sleep(1)
    relay.stop(signal.SIGTERM, timeout=10)
    time.sleep(1)

    publishes = [line for line in nginx.publishes() if "name='x'" in line]
    assert len(publishes) == 1, nginx.publishes()
    records = [p for p in nginx.records() if p.name.startswith("x")]
    assert len(records) == 1, records
    probe = probe_file(records[0])
    video, audio = probe.dts("video"), probe.dts("audio")
    for kind, dts in (("video", video), ("audio", audio)):
        assert strictly_increasing(dts) == [], (kind, strictly_increasing(dts)[:5])
    # The outage: the one long gap in the video, about as long as the producer was away.
    gaps = [(video[i] - video[i - 1], video[i]) for i in range(1, len(video))]
    gap, boundary = max(gaps)
    assert 4000 <= gap <= 15000, gaps[-5:]
    assert sorted(gaps)[-2][0] <= 200, sorted(gaps)[-5:]
    v1, v2 = split_at_outage(video, boundary)
    a1, a2 = split_at_outage(audio, boundary - 100)
    # The new run whole: every frame of the clip once, nothing of the ended playlist again.
    assert len(v2) == source.count("video"), (len(v2), source.count("video"))
    assert len(a2) == source.count("audio"), (len(a2), source.count("audio"))
    # The first run from about three segments before its live edge at the relay's start.
    assert len(v1) >= 5 * 25, len(v1)
    # A/V aligned: the new run at both ends as in the clip, within an audio frame (FLV
    # timestamps are whole ms); the first run from where the relay joined it (its end is
    # where SIGTERM cut each track).
    head = ms(source.dts("audio")[0] - source.dts("video")[0])
    tail = ms(source.dts("audio")[-1] - source.dts("video")[-1])
    assert abs((a2[0] - v2[0]) - head) <= 25, (a2[0], v2[0], head)
    assert abs((a2[-1] - v2[-1]) - tail) <= 25, (a2[-1], v2[-1], tail)
    assert abs(a1[0] - v1[0]) <= 100, (a1[0], v1[0])


def relay_whole_clip(procs, baton_bin, tmp_path, extra=(), clip_setup=None):
    """A 6 s clip copied into a live HLS playlist (`extra`: the muxer's options) and relayed
    from its first segment into nginx-rtmp until the end (EXT-X-ENDLIST, then 3 s of grace):
    returns ffprobe of the clip and of the one recording, after the common checks (one
    session, DTS strictly increasing)."""
    root = tmp_path / "www"
    (root / "hls").mkdir(parents=True)
    nginx = start_nginx(procs, tmp_path, http_root=root)
    clip = tmp_path / "clip.ts"
    source = encode_clip(clip, 6)
    if clip_setup is not None:
        clip_setup(root)
    producer = hls_copy(procs, clip, root, "ffmpeg-hls", extra=extra)
    playlist = root / "hls" / "live.m3u8"
    wait_for(lambda: playlist.exists(), 15, "ffmpeg wrote the playlist", interval=0.02)
    relay = start_relay(
        baton_bin, procs, nginx.http_url("hls/live.m3u8"), nginx.rtmp_url("x"),
        "--grace", "3s", "--status-interval", "1s",
    )
    assert producer.wait(30) == 0, producer.stderr()
    assert relay.wait(timeout=30) == 1, relay.stderr()
    assert "EXT-X-ENDLIST" in relay.stderr()
    time.sleep(1)
    publishes = [line for line in nginx.publishes() if "name='x'" in line]
    assert len(publishes) == 1, nginx.publishes()
    records = [p for p in nginx.records() if p.name.startswith("x")]
    assert len(records) == 1, records
    probe = probe_file(records[0])
    for kind in ("video", "audio"):
        dts = probe.dts(kind)
        assert strictly_increasing(dts) == [], (kind, strictly_increasing(dts)[:5])
    return source, probe, relay


def assert_every_frame(source, probe):
    """Every frame of the clip, once, A/V as in the clip (within an audio frame)."""
    assert probe.count("video") == source.count("video"), (probe.count("video"), source.count("video"))
    assert probe.count("audio") == source.count("audio"), (probe.count("audio"), source.count("audio"))
    assert probe.keyframes() == source.keyframes()
    head = ms(source.dts("audio")[0] - source.dts("video")[0])
    ours = probe.dts("audio")[0] - probe.dts("video")[0]
    assert abs(ours - head) <= 25, (ours, head)


def test_fmp4_segments_are_relayed(procs, baton_bin, tmp_path):
    source, probe, _ = relay_whole_clip(
        procs, baton_bin, tmp_path,
        extra=("-bsf:a", "aac_adtstoasc", "-hls_segment_type", "fmp4"),
    )
    assert_every_frame(source, probe)


def key_info(root, served_key):
    """ffmpeg's key info file: segments encrypted with a random key, the playlist naming
    `enc.key` (served: `served_key`, or the real key), no IV (the sequence number is)."""
    key = os.urandom(16)
    (root / "secret.key").write_bytes(key)
    (root / "hls" / "enc.key").write_bytes(served_key if served_key is not None else key)
    info = root / "key.info"
    info.write_text(f"enc.key\n{root / 'secret.key'}\n")
    return info


def test_aes_128_segments_are_relayed(procs, baton_bin, tmp_path):
    info = tmp_path / "www" / "key.info"
    source, probe, _ = relay_whole_clip(
        procs, baton_bin, tmp_path,
        extra=("-hls_key_info_file", str(info)),
        clip_setup=lambda root: key_info(root, None),
    )
    assert "#EXT-X-KEY:METHOD=AES-128" in (tmp_path / "www" / "hls" / "live.m3u8").read_text()
    assert_every_frame(source, probe)


def test_a_wrong_aes_key_is_a_named_source_error(procs, baton_bin, tmp_path):
    root = tmp_path / "www"
    (root / "hls").mkdir(parents=True)
    nginx = start_nginx(procs, tmp_path, http_root=root)
    clip = tmp_path / "clip.ts"
    encode_clip(clip, 4)
    info = key_info(root, bytes(16))
    producer = hls_copy(procs, clip, root, "ffmpeg-hls", extra=("-hls_key_info_file", str(info)))
    playlist = root / "hls" / "live.m3u8"
    wait_for(lambda: playlist.exists(), 15, "ffmpeg wrote the playlist", interval=0.02)
    relay = start_relay(
        baton_bin, procs, nginx.http_url("hls/live.m3u8"), nginx.rtmp_url("x"),
        "--grace", "3s",
    )
    assert producer.wait(30) == 0, producer.stderr()
    assert relay.wait(timeout=30) == 1, relay.stderr()
    assert "cannot decrypt with the AES-128 key" in relay.stderr(), relay.stderr()[-2000:]
    assert "panicked" not in relay.stderr()
    assert not [p for p in nginx.publishes() if "name='x'" in p]
