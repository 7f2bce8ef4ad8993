"""`baton relay` with real destinations: nginx-rtmp (recording every publish) and an
`ffmpeg -listen 1` recorder (which accepts exactly one connection).

The relays play from Baton's own ingest. Started *before* the publisher, they see the stream
from its first frame, a keyframe: the recordings must hold exactly the source's packets.
Started mid-stream, they begin at the ingest's cached keyframe: exactly the source from that
keyframe on (nothing of the GOP before it is sendable: it cannot be decoded without it).
"""

import re
import signal
import time
from datetime import datetime

import pytest

from conftest import start_nginx, start_relay
from helpers import (
    HttpFlvReader,
    Probe,
    assert_same_stream,
    free_port,
    is_listening,
    probe_file,
    publish,
    record,
    strictly_increasing,
    wait_for,
)

RELAY_ARGS = ["--grace", "10s", "--status-interval", "1s"]


def start_listen_recorder(procs, out):
    port = free_port()
    url = f"rtmp://127.0.0.1:{port}/live/x"
    proc = record(procs, url, out, name="ffmpeg-listen", listen=True)
    wait_for(lambda: is_listening(port), 10, "ffmpeg -listen 1 listening")
    return proc, url


def stop_relay(relay) -> int:
    """SIGINT, as Ctrl-C: the relay closes its destination (FCUnpublish, deleteStream), exit 0."""
    return relay.stop(signal.SIGINT, timeout=10)


def log_time(line: str) -> float:
    """The timestamp of a tracing log line (`2026-01-01T00:00:00.123456Z  INFO ...`)."""
    stamp = line.split()[0].rstrip("Z")
    return datetime.fromisoformat(stamp).timestamp()


@pytest.mark.parametrize("join", ["before-publish", "mid-gop"])
def test_relay_into_nginx_rtmp_and_ffmpeg_listen(procs, baton, baton_bin, media, tmp_path, join):
    """Relays started before the publisher record exactly the source. Relays started 5 s
    into a stream with keyframes at 0, 4 and 8 s start at once at the ingest's cached
    keyframe (4 s): they record exactly the source from that keyframe on, in stream order,
    i.e. without the 120 video frames (and the audio) that came before it."""
    clip = media["main"] if join == "before-publish" else media["longgop"]
    nginx = start_nginx(procs, tmp_path)
    listen_out = tmp_path / "listen.flv"
    recorder, listen_url = start_listen_recorder(procs, listen_out)
    src = baton.rtmp_url("src")

    def start_relays():
        relays = [
            start_relay(baton_bin, procs, src, nginx.rtmp_url("x"), name="relay-nginx"),
            start_relay(baton_bin, procs, src, listen_url, name="relay-ffmpeg"),
        ]
        wait_for(lambda: baton.log().count("play started") >= 2, 10, "both relays playing")
        return relays

    if join == "before-publish":
        relays = start_relays()
        publisher = publish(procs, clip.path, src)
        expected = clip.probe
    else:
        watcher = procs.track(HttpFlvReader(baton.flv_url("src")))
        publisher = publish(procs, clip.path, src)
        wait_for(lambda: media_time_ms(watcher) >= 5000, 15, "5 s of media published")
        relays = start_relays()
        expected = clip.probe.starting_at_video(clip.gop_frames)

    assert publisher.wait(clip.seconds + 15) == 0, publisher.stderr()
    time.sleep(1.5)  # the tail of the stream on its way through the relays
    for relay in relays:
        assert stop_relay(relay) == 0, relay.stderr()[-3000:]
    assert recorder.wait(10) == 0, recorder.stderr()

    assert_same_stream(probe_file(listen_out), expected, "ffmpeg -listen 1 recording")
    assert len(nginx.publishes()) == 1, nginx.publishes()
    assert [p.name for p in nginx.records()] == ["x.flv"]
    assert_same_stream(probe_file(nginx.record_dir / "x.flv"), expected, "nginx recording")


def media_time_ms(reader) -> int:
    tags = reader.flv.media("video")
    return tags[-1].timestamp - tags[0].timestamp if tags else -1



@pytest.mark.parametrize(
    "source",
    ["rtmp", "http-flv"],
)
def test_source_that_drops_three_times_makes_one_destination_session(
    procs, baton, baton_bin, media, tmp_path, source
):
    """Four publishes into the ingest in a row, with gaps shorter than the grace period: each
    destination sees one session whose timeline is continuous and monotonic, lasting as long
    as the publishes and the gaps together.

    Over RTMP the relay's play session survives the gaps (UnpublishNotify, then PublishNotify);
    over HTTP-FLV each response ends with its publisher and the relay reconnects the source
    (first retry after ~0.5 s, well inside the 1 s gap, so it is parked before the next
    publish starts and again gets every frame)."""
    clip = media["short"]
    publishes, gap = 4, 1.0
    # record_unique: a second publish would make a second file (x-TIME.flv) instead of
    # overwriting the first.
    nginx = start_nginx(procs, tmp_path, record_unique=True)
    listen_out = tmp_path / "listen.flv"
    recorder, listen_url = start_listen_recorder(procs, listen_out)
    src = baton.rtmp_url("tl") if source == "rtmp" else baton.flv_url("tl")
    relays = [
        start_relay(baton_bin, procs, src, nginx.rtmp_url("x"), *RELAY_ARGS,
                    name="relay-nginx"),
        start_relay(baton_bin, procs, src, listen_url, *RELAY_ARGS, name="relay-ffmpeg"),
    ]
    if source == "rtmp":
        wait_for(lambda: baton.log().count("play started") >= 2, 10, "both relays playing")
    else:
        time.sleep(1.0)  # HTTP-FLV requests parked until the publisher comes; not logged

    for i in range(publishes):
        if i:
            time.sleep(gap)
        pub = publish(procs, clip.path, baton.rtmp_url("tl"), name=f"publisher-{i + 1}")
        assert pub.wait(clip.seconds + 15) == 0, pub.stderr()
        assert recorder.running(), f"ffmpeg -listen recorder ended after publish {i + 1}"
    time.sleep(1.5)
    for relay in relays:
        assert relay.running(), f"{relay.name} gave up: {relay.stderr()[-3000:]}"
        assert stop_relay(relay) == 0, relay.stderr()[-3000:]
    assert recorder.wait(10) == 0, recorder.stderr()

    # The media span the destinations should see: first publish start to last publish end,
    # gaps included (the relay rebases each new publish by the wall-clock gap).
    log = baton.log().splitlines()
    started = [log_time(line) for line in log if "publish started" in line]
    finished = [log_time(line) for line in log if "publish finished" in line]
    assert len(started) == len(finished) == publishes
    expected_span_ms = (finished[-1] - started[0]) * 1000

    assert len(nginx.publishes()) == 1, nginx.publishes()
    assert len(nginx.records()) == 1, nginx.records()
    recordings = {
        "ffmpeg -listen 1 recording": probe_file(listen_out),
        "nginx recording": probe_file(nginx.records()[0]),
    }
    for what, rec in recordings.items():
        check_one_timeline(rec, clip.probe, publishes, expected_span_ms, what)


def check_one_timeline(rec: Probe, source: Probe, publishes: int, span_ms: float, what: str):
    assert rec.params() == source.params(), f"{what}: codec parameters"
    for kind in ("video", "audio"):
        bad = strictly_increasing(rec.dts(kind))
        assert not bad, f"{what}: {kind} DTS not increasing at (index, prev, dts) {bad[:5]}"
        # Every frame of every publish, in order (the relay stays attached to the ingest
        # between publishes, and each publish starts with a keyframe).
        assert rec.hashes(kind) == source.hashes(kind) * publishes, f"{what}: {kind} frames"
    assert abs(rec.span_ms() - span_ms) < 750, (
        f"{what}: timeline spans {rec.span_ms()} ms, publishes and gaps took {span_ms:.0f} ms"
    )


def test_relay_fails_for_good_when_the_source_stays_away(procs, baton, baton_bin, tmp_path):
    """No publisher within the grace period: the relay gives up with a non-zero exit."""
    port = free_port()
    relay = start_relay(
        baton_bin, procs, baton.rtmp_url("never"), f"rtmp://127.0.0.1:{port}/live/x",
        "--grace", "2s", name="relay",
    )
    rc = relay.wait(15)
    assert rc != 0
    assert re.search(r"relay failed", relay.stderr()), relay.stderr()[-2000:]


def contiguous_run(copy: Probe, source: Probe, kind: str) -> int:
    """Where `copy`'s packets of `kind` sit in `source` as one unbroken run; fails otherwise."""
    hashes, src = copy.hashes(kind), source.hashes(kind)
    assert hashes, f"no {kind} packets"
    start = src.index(hashes[0])
    assert src[start : start + len(hashes)] == hashes, f"{kind}: not a contiguous run of the source"
    return start


def test_destination_that_drops_is_reconnected_at_a_keyframe(
    procs, baton, baton_bin, media, tmp_path
):
    """nginx is stopped 2 s into the stream and started again on the same port: the relay
    keeps running, reconnects, and the new destination session starts with the sequence
    headers and a keyframe, then carries on gap-free to the end of the stream."""
    clip = media["main"]
    nginx = start_nginx(procs, tmp_path, record_unique=True)
    src = baton.rtmp_url("src")
    relay = start_relay(baton_bin, procs, src, nginx.rtmp_url("x"), *RELAY_ARGS)
    wait_for(lambda: "play started" in baton.log(), 10, "relay playing")
    publisher = publish(procs, clip.path, src)
    wait_for(lambda: len(nginx.publishes()) == 1, 10, "relay publishing into nginx")
    time.sleep(2.0)
    assert nginx.proc.stop(signal.SIGTERM, timeout=10) == 0
    time.sleep(0.5)
    nginx = start_nginx(procs, tmp_path, record_unique=True, port=nginx.port)
    assert publisher.wait(clip.seconds + 15) == 0, publisher.stderr()
    time.sleep(1.5)
    assert relay.running(), f"relay gave up: {relay.stderr()[-3000:]}"
    assert stop_relay(relay) == 0, relay.stderr()[-3000:]
    assert nginx.proc.stop(signal.SIGTERM, timeout=10) == 0

    records = nginx.records()
    assert len(records) == 2, records
    before, after = probe_file(records[0]), probe_file(records[1])
    assert contiguous_run(before, clip.probe, "video") == 0
    k = contiguous_run(after, clip.probe, "video")
    assert k in clip.probe.keyframes(), f"second session starts at video frame {k}, no keyframe"
    assert k + after.count("video") == clip.probe.count("video"), "video not through to the end"
    a = contiguous_run(after, clip.probe, "audio")
    assert a + after.count("audio") == clip.probe.count("audio"), "audio not through to the end"
    assert after.params() == clip.probe.params(), "second session: codec parameters"
    for kind in ("video", "audio"):
        bad = strictly_increasing(after.dts(kind))
        assert not bad, f"second session: {kind} DTS not increasing at {bad[:5]}"
