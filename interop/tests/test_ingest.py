"""Baton's ingest with real peers: ffmpeg publishes; ffprobe, ffmpeg and rtmpdump play over RTMP
and HTTP-FLV.

Baton remuxes without transcoding, so a player that was waiting before the publisher came must
see exactly the source's packets: the same count per track, the same payload bytes (ffprobe's
per-packet MD5), the same codec parameters and the same relative timestamps.
"""

import subprocess
import time

import pytest

from conftest import start_baton

from rtmp_client import RtmpProbeClient
from helpers import (
    assert_same_stream,
    HttpFlvReader,
    PipeFlvReader,
    finish_probe,
    probe_file,
    publish,
    record,
    start_probe,
    wait_for,
)


def plays_started(baton, n: int):
    return lambda: baton.log().count("play started") >= n


@pytest.mark.parametrize("protocol", ["rtmp", "http-flv"])
def test_publish_then_play(procs, baton, media, tmp_path, protocol):
    """Players waiting before the publisher get every packet, then EOF when it leaves."""
    clip = media["main"]
    url = baton.rtmp_url("s") if protocol == "rtmp" else baton.flv_url("s")
    probe = start_probe(procs, url, name=f"ffprobe-{protocol}")
    copy_path = tmp_path / f"{protocol}-copy.flv"
    recorder = record(procs, url, copy_path, name=f"ffmpeg-{protocol}")
    if protocol == "rtmp":
        wait_for(plays_started(baton, 2), 10, "both RTMP players waiting")
    else:
        time.sleep(0.5)  # an HTTP-FLV request is parked until the publisher comes; not logged

    publisher = publish(procs, clip.path, baton.rtmp_url("s"))
    assert publisher.wait(clip.seconds + 15) == 0, publisher.stderr()

    # The players end at EOF when the publisher leaves (UnpublishNotify / end of response).
    copies = {f"ffprobe over {protocol}": finish_probe(probe, 10)}
    assert recorder.wait(10) == 0, recorder.stderr()
    copies[f"ffmpeg -c copy over {protocol}"] = probe_file(copy_path)
    for what, copy in copies.items():
        assert_same_stream(copy, clip.probe, what)


@pytest.mark.parametrize("protocol", ["rtmp", "http-flv"])
def test_late_joiner_starts_at_the_last_keyframe_at_once(procs, baton, media, protocol):
    clip = media["longgop"]  # keyframes at 0, 4 and 8 s
    gop = clip.gop_frames
    early = procs.track(HttpFlvReader(baton.flv_url("late")))
    publisher = publish(procs, clip.path, baton.rtmp_url("late"))

    def media_time_ms() -> int:
        tags = early.flv.media("video")
        return tags[-1].timestamp - tags[0].timestamp if tags else -1

    # Join at 5 s: one second into the second GOP, three seconds before the next keyframe.
    wait_for(lambda: media_time_ms() >= 5000, 15, "5 s of media at the early player")
    if protocol == "http-flv":
        late = procs.track(HttpFlvReader(baton.flv_url("late")))
    else:
        # rtmpdump writes FLV to stdout; stdbuf unbuffers its stdio so arrival times count.
        argv = ["stdbuf", "-o0", "rtmpdump", "-r", baton.rtmp_url("late"), "-v", "-o", "-"]
        late = procs.track(PipeFlvReader(procs.start("rtmpdump", argv, stdout=subprocess.PIPE)))

    # It starts at *the last* keyframe (4 s), not a later one: every frame from there on, byte
    # for byte (an FLV AVC tag body is the 5-byte AVC header + ffprobe's packet).
    expected = [int(p["size"]) + 5 for p in clip.probe.packets["video"][gop:]]
    late.wait_frames("video", len(expected), clip.seconds + 10)
    video = late.flv.media("video")
    assert video, "no video"
    assert video[0].keyframe, "the first video frame is not a keyframe"
    ttff = late.first_media_after("video")
    # Without a GOP cache the next keyframe would come ~3 s later.
    assert ttff < 1.0, f"first video frame after {ttff:.2f} s"
    assert [t.size for t in video] == expected
    assert publisher.wait(clip.seconds + 15) == 0, publisher.stderr()


def test_rtmpdump_plays_the_stream(procs, baton, media, tmp_path):
    clip = media["main"]
    out = tmp_path / "rtmpdump.flv"
    dump = procs.start("rtmpdump", ["rtmpdump", "-r", baton.rtmp_url("dump"), "-v", "-o", out])
    wait_for(plays_started(baton, 1), 10, "rtmpdump waiting to play")
    publisher = publish(procs, clip.path, baton.rtmp_url("dump"))
    assert publisher.wait(clip.seconds + 15) == 0, publisher.stderr()
    # rtmpdump ends when the publisher leaves (UnpublishNotify).
    assert dump.wait(10) == 0, dump.stderr()[-2000:]
    assert_same_stream(probe_file(out), clip.probe, "rtmpdump recording")


def test_second_publisher_is_refused_while_the_first_continues(procs, baton, media):
    clip = media["main"]
    player = procs.track(HttpFlvReader(baton.flv_url("busy")))
    first = publish(procs, clip.path, baton.rtmp_url("busy"), name="first-publisher")
    wait_for(lambda: "publish started" in baton.log(), 10, "first publish")
    time.sleep(1.0)

    second = publish(procs, clip.path, baton.rtmp_url("busy"), name="second-publisher")
    rc = second.wait(10)
    assert rc != 0, "the second ffmpeg publisher was not refused"
    # ffmpeg prints an error-level onStatus as "Server error: <description>", not its code...
    assert "Server error" in second.stderr(), second.stderr()
    # ...so a raw client checks the code on the wire.
    probe = RtmpProbeClient("127.0.0.1", baton.rtmp_port, "live")
    try:
        probe.publish("busy")
        probe.wait_command("onStatus", 5)
        assert probe.statuses() == ["NetStream.Publish.BadName"]
    finally:
        probe.close()
    assert baton.log().count("publish refused") == 2
    assert first.running(), "the first publisher was disturbed"

    assert first.wait(clip.seconds + 15) == 0, first.stderr()
    # The player (there before both) got the first publisher's whole stream.
    player.wait_frames("audio", clip.probe.count("audio"), 5)
    for kind in ("video", "audio"):
        sizes = [int(p["size"]) + (5 if kind == "video" else 2) for p in clip.probe.packets[kind]]
        assert [t.size for t in player.flv.media(kind)] == sizes, kind


def test_http_flv_request_for_an_unpublished_stream_gets_404_after_the_wait(
    procs, baton_bin, tmp_path
):
    baton = start_baton(baton_bin, procs, tmp_path, config='[ingest]\nhttp_flv_wait = "1s"\n')
    player = procs.track(HttpFlvReader(baton.flv_url("nobody")))
    player.join_done(5)
    took = player.done_at - player.started_at
    assert player.status == 404
    assert 0.8 <= took <= 2.5, f"answered after {took:.2f} s"
