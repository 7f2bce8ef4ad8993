"""SRT publishing into the ingest: ffmpeg publishes MPEG-TS over SRT (as OBS does) into
`baton serve`; ffprobe plays the stream back over RTMP and HTTP-FLV; ForbidLiveStream kicks
the SRT publisher; a passphrase-protected listener; and a task relaying the SRT-published
stream (source `rtmp://this-node/live/…`) into nginx-rtmp, whose recording is checked.

The SRT listener's default domain is `127.0.0.1`, so `rtmp://127.0.0.1:PORT/live/cam` plays
what `streamid=#!::r=live/cam,m=publish` publishes.
"""

from __future__ import annotations

import time

import pytest

from aliyun import REGION, Sdk, utc
from conftest import start_baton, start_nginx
from helpers import FFMPEG, finish_probe, free_port, probe_file, start_probe, strictly_increasing, wait_flv_playing, wait_for

pytestmark = pytest.mark.timeout(180)

KEY = ("LTAI5tSrtIngestKey000001", "SrtIngestSecret0123456789abcdef")
PASSPHRASE = "srt-interop-passphrase"


def config(srt_port: int, extra: str = "") -> str:
    return f"""
srt_listen = "127.0.0.1:{srt_port}"

[srt]
domain = "127.0.0.1"
{extra}

[[accounts]]
id = "root"
callback_secret = "srt-callback-secret"

[[api.keys]]
access_key_id = "{KEY[0]}"
access_key_secret = "{KEY[1]}"
account = "root"
"""


class Node:
    """`baton serve` with an SRT listener."""

    def __init__(self, baton_bin, procs, tmp_path, extra: str = "", name: str = "baton"):
        self.procs = procs
        self.srt_port = free_port()
        self.baton = start_baton(baton_bin, procs, tmp_path, config=config(self.srt_port, extra), name=name)

    def srt_url(self, stream_id: str, passphrase: str | None = None) -> str:
        # ffmpeg passes the streamid through as written (no percent-decoding): no `&` in it.
        assert "&" not in stream_id
        url = f"srt://127.0.0.1:{self.srt_port}?streamid={stream_id}"
        url += "&pkt_size=1316"
        if passphrase is not None:
            url += f"&passphrase={passphrase}&pbkeylen=16"
        return url

    def publish(self, stream_id: str, seconds: float, name: str = "srt-publisher", passphrase=None):
        """ffmpeg encoding a test pattern (H.264 with B-frames, AAC) in real time into SRT."""
        argv = FFMPEG + ["-loglevel", "warning", "-re"]
        argv += ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25"]
        argv += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
        argv += ["-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-g", "25"]
        argv += ["-bf", "2", "-pix_fmt", "yuv420p", "-b:v", "300k", "-c:a", "aac", "-b:a", "64k", "-f", "mpegts"]
        return self.procs.start(name, argv + [self.srt_url(stream_id, passphrase)])

    def wait_publishing(self, proc, stream: str, timeout: float = 10) -> None:
        """Until the stream plays over HTTP-FLV (the ingest has the publisher)."""
        wait_flv_playing(proc, self.baton.flv_url(stream), timeout, f"{stream} published over SRT")

    def refused(self, stream_id: str, name: str, passphrase=None) -> str:
        proc = self.publish(stream_id, 5, name=name, passphrase=passphrase)
        rc = proc.wait(10)
        assert rc != 0, f"{name}: ffmpeg was not refused"
        return proc.stderr()

    def sdk(self) -> Sdk:
        return Sdk("new-v3", f"127.0.0.1:{self.baton.api_port}", *KEY)


@pytest.fixture
def node(baton_bin, procs, tmp_path) -> Node:
    return Node(baton_bin, procs, tmp_path)


def check_playback(probe, what: str, seconds: float) -> None:
    assert probe.streams["video"]["codec_name"] == "h264", what
    assert probe.streams["audio"]["codec_name"] == "aac", what
    assert (probe.streams["video"]["width"], probe.streams["video"]["height"]) == (320, 240)
    assert probe.streams["audio"]["sample_rate"] == "48000", what
    for kind in ("video", "audio"):
        dts = probe.dts(kind)
        assert strictly_increasing(dts) == [], (what, kind, strictly_increasing(dts)[:5])
    # Every frame from the first keyframe on (the player waited for the publisher).
    video = probe.count("video")
    assert video >= (seconds - 0.5) * 25, (what, video)
    assert probe.keyframes()[0] == 0, what


@pytest.mark.parametrize(
    "stream_id", ["#!::r=live/cam,m=publish", "live/cam"], ids=["access-control", "obs-style"]
)
def test_srt_publish_plays_over_rtmp_and_http_flv(node, procs, stream_id):
    seconds = 5
    rtmp = start_probe(procs, node.baton.rtmp_url("cam"), name="ffprobe-rtmp")
    flv = start_probe(procs, node.baton.flv_url("cam"), name="ffprobe-http-flv")
    wait_for(lambda: "play started" in node.baton.log(), 10, "the RTMP player waiting")
    time.sleep(0.5)  # an HTTP-FLV request is parked until the publisher comes; not logged
    publisher = node.publish(stream_id, seconds)
    assert publisher.wait(seconds + 15) == 0, publisher.stderr()
    # Both players end at EOF when the SRT publisher leaves, as with an RTMP publisher.
    for what, proc in (("rtmp", rtmp), ("http-flv", flv)):
        probe = finish_probe(proc, 15)
        check_playback(probe, what, seconds)
        print(f"\nSRT {stream_id!r} → {what}: {probe.count('video')} video, {probe.count('audio')} audio packets")
    log = node.baton.log()
    assert "SRT publish started" in log and "stream=127.0.0.1/live/cam" in log


def test_a_second_publisher_and_plays_over_srt_are_refused(node):
    first = node.publish("#!::r=live/busy,m=publish", 20)
    node.wait_publishing(first, "busy")
    node.refused("live/busy", "second-publisher")
    node.refused("#!::r=live/busy,m=request", "srt-player")
    log = node.baton.log()
    assert "is already publishing" in log and "code=2409" in log, log[-2000:]
    assert "playing over SRT (m=request) is not supported" in log and "code=2405" in log
    assert first.running(), "the first publisher was not disturbed"


def test_forbid_kicks_the_srt_publisher(node):
    c = node.sdk()
    publisher = node.publish("#!::r=live/kick,m=publish", 30)
    node.wait_publishing(publisher, "kick")
    t0 = time.monotonic()
    c.call(
        "ForbidLiveStream",
        DomainName="127.0.0.1",
        AppName="live",
        StreamName="kick",
        LiveStreamType="publisher",
    )
    publisher.wait(10)
    kicked_after = time.monotonic() - t0
    print(f"\nForbidLiveStream → SRT publisher (ffmpeg) ended after {kicked_after * 1000:.0f} ms")
    assert kicked_after < 3.0, kicked_after
    node.refused("live/kick", "refused-after-forbid")
    log = node.baton.log()
    assert "disconnected by the server" in log
    assert "forbidden until" in log and "code=2403" in log, log[-2000:]

    c.call(
        "ResumeLiveStream",
        DomainName="127.0.0.1",
        AppName="live",
        StreamName="kick",
        LiveStreamType="publisher",
    )
    again = node.publish("live/kick", 20, name="publisher-again")
    node.wait_publishing(again, "kick")


def test_passphrase_protected_listener(baton_bin, procs, tmp_path):
    node = Node(baton_bin, procs, tmp_path, extra=f'passphrase = "{PASSPHRASE}"')
    node.refused("live/enc", "no-passphrase")
    node.refused("live/enc", "wrong-passphrase", passphrase="not-the-passphrase")
    good = node.publish("live/enc", 20, passphrase=PASSPHRASE)
    node.wait_publishing(good, "enc")
    log = node.baton.log()
    assert "code=1011" in log, log[-2000:]
    assert "encrypted=true" in log


def test_a_task_relays_the_srt_published_stream_as_one_session(node, procs, tmp_path):
    nginx = start_nginx(procs, tmp_path)
    c = node.sdk()
    c.call(
        "CreateLivePullToPush",
        Region=REGION,
        TaskName="srt",
        SourceType="live",
        SourceProtocol="rtmp",
        SourceUrls=[node.baton.rtmp_url("relayed")],
        DstUrl=nginx.rtmp_url("task"),
        StartTime=utc(-60),
        EndTime=utc(12),
    )
    publisher = node.publish("#!::r=live/relayed,m=publish", 20)
    node.wait_publishing(publisher, "relayed")

    def ended():
        log = nginx.error_log()
        return "name='task'" in log and ("deleteStream" in log or "disconnect" in log)

    wait_for(ended, 30, "the task's session published and closed at EndTime", interval=0.5)
    time.sleep(1)
    publishes = [line for line in nginx.publishes() if "name='task'" in line]
    assert len(publishes) == 1, nginx.publishes()
    records = [p for p in nginx.records() if p.name.startswith("task")]
    assert len(records) == 1, records
    probe = probe_file(records[0])
    for kind in ("video", "audio"):
        dts = probe.dts(kind)
        assert len(dts) > 0, kind
        assert strictly_increasing(dts) == [], (kind, strictly_increasing(dts)[:5])
    video = probe.count("video")
    print(f"\nSRT publish → task → nginx: {video} video, {probe.count('audio')} audio packets")
    assert video >= 5 * 25, video


def test_signed_publish_with_auth_key_in_the_stream_id(node, baton_bin):
    """A domain with publish authentication: the stream id carries `auth_key`, as the RTMP
    stream name's query does (`baton domain sign` makes it)."""
    import os
    import subprocess

    env = dict(os.environ, BATON_DATA_DIR=str(node.baton.data_dir))

    def cli(*args: str) -> str:
        res = subprocess.run([baton_bin, *args], capture_output=True, text=True, timeout=30, env=env)
        assert res.returncode == 0, res.stderr
        return res.stdout

    cli("domain", "add", "signed.example", "--account", "root", "--publish-auth")
    time.sleep(1.5)  # the server re-reads the credentials file within a second
    signed = cli("domain", "sign", node.baton.rtmp_url("cam") + "?vhost=signed.example").strip()
    auth_key = signed.split("auth_key=", 1)[1].split("&", 1)[0]

    node.refused("#!::h=signed.example,r=live/cam,m=publish", "unsigned")
    assert "no auth_key" in node.baton.log()
    good = node.publish(f"#!::h=signed.example,r=live/cam,m=publish,auth_key={auth_key}", 20)
    url = node.baton.flv_url("cam") + "?vhost=signed.example"
    wait_flv_playing(good, url, 10, "the signed SRT publish plays")


def test_a_handshake_the_library_used_to_panic_on_is_refused_and_nobody_else_notices(node):
    """ffmpeg's `transtype=file` asks for file congestion control in a handshake extension;
    upstream srt-protocol panicked in the listener's task on it, dropping every SRT publisher.
    Baton's vendored copy rejects that caller: a publisher already live keeps publishing, the
    listener is never bound again, and the next publisher is served."""
    live = node.publish("#!::r=live/before,m=publish", 20)
    node.wait_publishing(live, "before")
    bad = node.procs.start(
        "transtype-file",
        FFMPEG + ["-loglevel", "warning", "-f", "lavfi", "-i", "testsrc=rate=25", "-t", "2",
                  "-c:v", "libx264", "-f", "mpegts", node.srt_url("live/odd") + "&transtype=file"],
    )
    assert bad.wait(15) != 0
    assert live.running(), "the live publisher was dropped"
    assert "listening again" not in node.baton.log()
    good = node.publish("#!::r=live/after,m=publish", 20)
    node.wait_publishing(good, "after")
    assert live.running()
    assert node.baton.proc.running()
