"""SRT destinations against libsrt receivers (Debian's libsrt 1.5 inside `srt-live-transmit`
and ffmpeg): ffmpeg publishes the main clip (H.264 High + AAC-LC) into Baton's RTMP ingest,
`baton relay` pulls it and pushes it as MPEG-TS over SRT (caller) to a receiver listening on a
port; ffprobe reads what the receiver wrote. One SRT session, every frame of the clip, H.264
and AAC with the clip's parameters, DTS strictly increasing on both tracks.

(a) `srt-live-transmit srt://:PORT?mode=listener file://con`; (b) `ffmpeg -i
'srt://…?mode=listener'` writing a .ts file; (c) Baton's own SRT ingest as a receiver that
refuses the stream id with a real SRT reject code: the relay ends at once with a destination
error naming the refusal.
"""

import signal
import time

import pytest

from conftest import start_baton, start_relay
from helpers import FFMPEG, free_port, probe_file, publish, strictly_increasing, wait_for

pytestmark = pytest.mark.timeout(60)


def relay_clip(procs, baton, baton_bin, clip, dst):
    """`baton relay` from Baton's ingest to `dst`, started before ffmpeg publishes the clip (so
    every frame goes through); returns the relay once the publisher finished and the stream's
    tail went out, stopped cleanly (SIGINT: the muxer's last packets, then SRT's shutdown)."""
    src = baton.rtmp_url("src")
    relay = start_relay(baton_bin, procs, src, dst, "--grace", "10s", "--status-interval", "1s")
    wait_for(lambda: "play started" in baton.log(), 10, "the relay playing the ingest")
    publisher = publish(procs, clip.path, src)
    assert publisher.wait(clip.seconds + 15) == 0, publisher.stderr()
    time.sleep(1.5)
    assert relay.running(), relay.stderr()[-3000:]
    assert relay.stop(signal.SIGINT, timeout=10) == 0, relay.stderr()[-3000:]
    return relay


def check_ts(path, clip, relay):
    """Every frame of `clip` in the TS file, H.264 + AAC as the clip, DTS strictly increasing,
    one destination session; the relay's status lines carried the SRT send statistics."""
    probe = probe_file(path)
    assert probe.streams["video"]["codec_name"] == "h264", probe.streams
    assert probe.streams["audio"]["codec_name"] == "aac", probe.streams
    assert probe.params() == clip.probe.params()
    for kind in ("video", "audio"):
        dts = probe.dts(kind)
        assert strictly_increasing(dts) == [], (kind, strictly_increasing(dts)[:5])
        assert probe.count(kind) == clip.probe.count(kind), (kind, probe.count(kind), clip.probe.count(kind))
    # Keyframes where the clip has them (a receiver can join at each).
    assert probe.keyframes() == clip.probe.keyframes()
    log = relay.stderr()
    assert log.count("destination publishing") == 1, log[-3000:]
    assert "transport=srt" in log, log[-3000:]
    assert "srt out rtt" in log, log[-3000:]
    last_status = [line for line in log.splitlines() if "srt out rtt" in line][-1]
    print(f"{path.name}: {probe.count('video')} video / {probe.count('audio')} audio frames; {last_status.strip()}")
    return probe


def test_srt_live_transmit_receives_every_frame(procs, baton, baton_bin, media, tmp_path):
    clip = media["main"]
    port = free_port()
    out = tmp_path / "slt.ts"
    with open(out, "wb") as sink:
        receiver = procs.start(
            "srt-live-transmit",
            ["srt-live-transmit", "-v", f"srt://:{port}?mode=listener&latency=120", "file://con"],
            stdout=sink.fileno(),
        )
    time.sleep(0.5)
    relay = relay_clip(
        procs, baton, baton_bin, clip, f"srt://127.0.0.1:{port}?streamid=interop/out&latency=120"
    )
    # What srt-live-transmit received is written out as it arrives; it waits for the next
    # caller (auto-reconnect) until stopped.
    time.sleep(1.0)
    receiver.stop()
    check_ts(out, clip, relay)
    assert "Accepted SRT" not in receiver.stderr() or receiver.stderr().count("Accepted SRT") == 1


def test_ffmpeg_listener_receives_every_frame(procs, baton, baton_bin, media, tmp_path):
    clip = media["main"]
    port = free_port()
    out = tmp_path / "ffmpeg.ts"
    argv = FFMPEG + ["-loglevel", "error", "-y", "-i", f"srt://127.0.0.1:{port}?mode=listener"]
    receiver = procs.start("ffmpeg-srt-listener", argv + ["-c", "copy", "-f", "mpegts", str(out)])
    time.sleep(0.5)
    relay = relay_clip(procs, baton, baton_bin, clip, f"srt://127.0.0.1:{port}?streamid=interop/out")
    # ffmpeg's listener takes one connection and ends with it: a second session would have
    # found nobody listening (and failed the relay).
    assert receiver.wait(10) == 0, receiver.stderr()
    check_ts(out, clip, relay)


def test_a_receiver_that_refuses_the_stream_id_ends_the_relay_at_once(
    procs, baton, baton_bin, media, tmp_path
):
    # Baton's own SRT ingest as the receiver: it answers a play stream id (m=request) with
    # SRT_REJX_BAD_MODE (2405), a refusal that will not change on a retry.
    srt_port = free_port()
    node = start_baton(
        baton_bin, procs, tmp_path, config=f'srt_listen = "127.0.0.1:{srt_port}"\n', name="receiver"
    )
    wait_for(lambda: "SRT" in node.log() or node.healthz() == 200, 10, "the SRT ingest")
    dst = f"srt://127.0.0.1:{srt_port}?streamid=%23!::r=live/out,m=request"
    src = baton.rtmp_url("src")
    relay = start_relay(baton_bin, procs, src, dst, "--grace", "20s")
    wait_for(lambda: "play started" in baton.log(), 10, "the relay playing the ingest")
    started = time.monotonic()
    publish(procs, media["short"].path, src)
    code = relay.wait(timeout=15)
    log = relay.stderr()
    assert code != 0, log[-3000:]
    assert time.monotonic() - started < 10, "retried a refusal"
    assert "destination: the SRT peer 127.0.0.1:" in log, log[-3000:]
    assert "rejected the connection" in log, log[-3000:]
    assert "SRT publish refused" in node.log(), node.log()[-3000:]
