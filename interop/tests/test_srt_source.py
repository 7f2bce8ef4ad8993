"""SRT sources against libsrt peers (Debian's libsrt 1.5 inside ffmpeg and `srt-live-transmit`):
Baton receives MPEG-TS over SRT and relays it into nginx-rtmp, which records the session;
ffprobe reads the recording. One destination session, every frame of the clip, DTS strictly
increasing, audio and video aligned.

(a) Baton calls an ffmpeg listener (`baton relay`); (b) Baton calls `srt-live-transmit`, fed
over UDP by ffmpeg; (c) a native API task with the right passphrase relays (its relay status
shows the SRT statistics), one with the wrong passphrase stops with a named source error;
(d) Baton listens (mode=listener) and ffmpeg calls it, plain and encrypted; (e) Baton listens
and `srt-live-transmit` calls it.
"""

import os
import subprocess
import threading
import time
import uuid

import pytest

from conftest import start_baton, start_nginx, start_relay
from helpers import FFMPEG, free_port, probe_file, strictly_increasing, wait_for
from test_native_api import Api, create_token, utc_in

pytestmark = pytest.mark.timeout(180)

PASSPHRASE = "interop-srt-secret"
# An MPEG-TS null packet (PID 0x1FFF).
NULL_PACKET = b"\x47\x1f\xff\x10" + b"\xff" * 184


def feed_ts(procs, media, write: int):
    """ffmpeg muxes the main clip to MPEG-TS at real time; a thread writes it into the pipe
    `write` (srt-live-transmit's stdin), then closes it. Returns the ffmpeg process and the
    thread.

    srt-live-transmit sends what it reads in 1456-byte messages and keeps a last partial one to
    itself when its input ends: MPEG-TS null packets after ffmpeg's stream push the stream's
    real end out (Baton's demuxer skips them)."""
    argv = FFMPEG + ["-loglevel", "error", "-re", "-i", str(media["main"].path), "-c", "copy"]
    sender = procs.start("ffmpeg", argv + ["-f", "mpegts", "-"], stdout=subprocess.PIPE)

    def feed():
        with os.fdopen(write, "wb") as pipe:
            for chunk in iter(lambda: sender.popen.stdout.read(1316), b""):
                pipe.write(chunk)
                pipe.flush()
            pipe.write(NULL_PACKET * 16)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    return sender, feeder


def send_clip(procs, clip, url, name="ffmpeg-srt"):
    """ffmpeg sending `clip` in real time as MPEG-TS to `url`, an srt:// URL. `linger=2`: at
    the end ffmpeg waits for what it sent to be delivered before closing (libsrt's live mode
    drops unsent packets at close by default, which would cut the clip's last frames)."""
    argv = FFMPEG + ["-loglevel", "error", "-re", "-i", str(clip.path), "-c", "copy"]
    sep = "&" if "?" in url else "?"
    return procs.start(name, argv + ["-f", "mpegts", f"{url}{sep}linger=2"])


def check_recording(nginx, stream, clip):
    """One publish of `stream` recorded with every frame of `clip`, DTS strictly increasing on
    both tracks, the tracks starting and ending together."""
    publishes = [line for line in nginx.publishes() if f"name='{stream}'" in line]
    assert len(publishes) == 1, nginx.publishes()
    records = [p for p in nginx.records() if p.name.startswith(stream)]
    assert len(records) == 1, records
    probe = probe_file(records[0])
    for kind in ("video", "audio"):
        dts = probe.dts(kind)
        assert strictly_increasing(dts) == [], (kind, strictly_increasing(dts)[:5])
        assert probe.count(kind) == clip.probe.count(kind), (kind, probe.count(kind), clip.probe.count(kind))
    video, audio = probe.dts("video"), probe.dts("audio")
    assert abs(video[0] - audio[0]) <= 50, (video[0], audio[0])
    assert abs(video[-1] - audio[-1]) <= 100, (video[-1], audio[-1])
    assert probe.params() == clip.probe.params()
    return probe


def relay_until_sent(relay, sender, nginx, stream):
    """Waits for the sender to finish, lets the relay pass the last frames, stops it cleanly."""
    assert sender.wait(timeout=30) == 0, sender.stderr()
    time.sleep(1.5)
    assert relay.running(), relay.stderr()
    assert relay.stop() == 0, relay.stderr()
    wait_for(lambda: any(p.name.startswith(stream) for p in nginx.records()), 10, "the recording")
    time.sleep(0.5)


def test_a_caller_relays_an_ffmpeg_listener(procs, baton_bin, tmp_path, media):
    nginx = start_nginx(procs, tmp_path)
    port = free_port()
    sender = send_clip(procs, media["main"], f"srt://127.0.0.1:{port}?mode=listener")
    time.sleep(0.5)
    relay = start_relay(
        baton_bin, procs, f"srt://127.0.0.1:{port}?streamid=interop&latency=120",
        nginx.rtmp_url("a"), "--grace", "10s", "--status-interval", "1s",
    )
    relay_until_sent(relay, sender, nginx, "a")
    check_recording(nginx, "a", media["main"])
    # The status lines carried the SRT statistics.
    assert "srt rtt" in relay.stderr(), relay.stderr()[-2000:]


def test_a_caller_relays_srt_live_transmit(procs, baton_bin, tmp_path, media):
    nginx = start_nginx(procs, tmp_path)
    port = free_port()
    # srt-live-transmit serves what it reads on its stdin: ffmpeg's transport stream, in real
    # time, through a pipe, from the moment Baton is connected.
    read, write = os.pipe()
    procs.start(
        "srt-live-transmit",
        ["srt-live-transmit", "-q", "file://con", f"srt://:{port}?mode=listener"],
        stdin=read,
    )
    os.close(read)
    time.sleep(0.5)
    relay = start_relay(
        baton_bin, procs, f"srt://127.0.0.1:{port}", nginx.rtmp_url("b"),
        "--grace", "20s", "--status-interval", "1s",
    )
    wait_for(lambda: "source connected" in relay.stderr(), 15, "Baton connected to srt-live-transmit")
    sender, feeder = feed_ts(procs, media, write)
    assert sender.wait(timeout=30) == 0, sender.stderr()
    feeder.join(timeout=10)
    # srt-live-transmit keeps the connection open after its input ends: Baton releases the
    # stream's last frames when it sees nothing more (4 s), then reconnects.
    wait_for(lambda: "stopped: nothing more" in relay.stderr(), 15, "Baton saw the stream end")
    assert relay.stop() == 0, relay.stderr()
    time.sleep(0.5)
    check_recording(nginx, "b", media["main"])


@pytest.fixture
def api(baton_bin, procs, tmp_path):
    # No retries, a short grace: a refused source stops its task at once.
    server = start_baton(baton_bin, procs, tmp_path, config='[tasks]\ngrace = "3s"\n')
    token = create_token(baton_bin, server.data_dir, "srt")
    api = Api(server.api_port, token)
    wait_for(lambda: api.call("GET", "/v1/whoami")[0] == 200, 10, "the new token is accepted")
    return api


def create_task(api, src, dst):
    t = uuid.uuid4().hex[:8]
    body = {"name": f"srt{t}", "source": {"type": "live", "urls": [src]}, "destination": dst,
            "end_time": utc_in(3600), "retry": {"count": 0, "interval_seconds": 60}}
    status, _, task = api.call("POST", "/v1/tasks", body)
    assert status == 201, task
    assert task["source"]["protocol"] == "srt", task
    return task["id"]


def test_native_tasks_with_the_right_and_the_wrong_passphrase(api, procs, tmp_path, media):
    nginx = start_nginx(procs, tmp_path)
    port = free_port()
    sender = send_clip(
        procs, media["main"], f"srt://127.0.0.1:{port}?mode=listener&passphrase={PASSPHRASE}&pbkeylen=16",
    )
    time.sleep(0.5)
    tid = create_task(api, f"srt://127.0.0.1:{port}?passphrase={PASSPHRASE}", nginx.rtmp_url("c"))

    def srt_stats():
        relay = api.ok("GET", f"/v1/tasks/{tid}").get("relay") or {}
        srt = relay.get("srt") or {}
        return relay.get("state") == "forwarding" and srt.get("packets_received", 0) > 0 and srt

    stats = wait_for(srt_stats, 15, "the task forwarding with SRT statistics")
    assert stats["latency_ms"] >= 120 and "rtt_ms" in stats and stats["packets_lost"] >= 0, stats
    assert stats["decrypt_errors"] == 0, stats
    assert sender.wait(timeout=30) == 0, sender.stderr()
    time.sleep(1.5)
    api.ok("POST", f"/v1/tasks/{tid}/stop")
    wait_for(lambda: any(p.name.startswith("c") for p in nginx.records()), 10, "the recording")
    time.sleep(0.5)
    check_recording(nginx, "c", media["main"])

    # The wrong passphrase: libsrt rejects the handshake, the task stops with the reason.
    port = free_port()
    send_clip(procs, media["main"], f"srt://127.0.0.1:{port}?mode=listener&passphrase={PASSPHRASE}",
              name="ffmpeg-srt-2")
    time.sleep(0.5)
    tid = create_task(api, f"srt://127.0.0.1:{port}?passphrase=not-{PASSPHRASE}", nginx.rtmp_url("w"))
    wait_for(lambda: api.ok("GET", f"/v1/tasks/{tid}")["state"] == "stopped", 20, "the task stops")
    doc = api.ok("GET", f"/v1/tasks/{tid}")
    assert doc["reason"] == "PullStreamFailed", doc
    err = doc["last_error"]
    assert err["side"] == "source", doc
    assert "rejected the connection" in err["message"] and "passphrase" in err["message"], err


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "passphrase"])
def test_a_listener_relays_an_ffmpeg_caller(procs, baton_bin, tmp_path, media, encrypted):
    nginx = start_nginx(procs, tmp_path)
    port = free_port()
    secret = f"&passphrase={PASSPHRASE}&pbkeylen=16" if encrypted else ""
    relay = start_relay(
        baton_bin, procs, f"srt://127.0.0.1:{port}?mode=listener{secret}", nginx.rtmp_url("d"),
        "--grace", "15s", "--status-interval", "1s",
    )
    time.sleep(1)
    sender = send_clip(procs, media["main"], f"srt://127.0.0.1:{port}?streamid=publisher{secret}")
    relay_until_sent(relay, sender, nginx, "d")
    check_recording(nginx, "d", media["main"])


def test_a_listener_relays_srt_live_transmit_calling(procs, baton_bin, tmp_path, media):
    # (e) The other direction with libsrt's own tool: Baton listens, `srt-live-transmit`
    # calls it and sends what ffmpeg writes to its stdin.
    nginx = start_nginx(procs, tmp_path)
    port = free_port()
    relay = start_relay(
        baton_bin, procs, f"srt://127.0.0.1:{port}?mode=listener", nginx.rtmp_url("e"),
        "--grace", "15s", "--status-interval", "1s",
    )
    time.sleep(1)
    read, write = os.pipe()
    transmit = procs.start(
        "srt-live-transmit",
        ["srt-live-transmit", "-q", "file://con", f"srt://127.0.0.1:{port}?linger=2"],
        stdin=read,
    )
    os.close(read)
    sender, feeder = feed_ts(procs, media, write)
    wait_for(lambda: "source connected" in relay.stderr(), 15, "srt-live-transmit connected")
    assert sender.wait(timeout=30) == 0, sender.stderr()
    feeder.join(timeout=10)
    # srt-live-transmit closes when its input ends (or, holding the connection, Baton
    # releases the last frames after 4 s of nothing).
    wait_for(
        lambda: not transmit.running() or "stopped: nothing more" in relay.stderr(),
        15, "the stream's end",
    )
    time.sleep(1.5)
    assert relay.running(), relay.stderr()
    assert relay.stop() == 0, relay.stderr()
    wait_for(lambda: any(p.name.startswith("e") for p in nginx.records()), 10, "the recording")
    time.sleep(0.5)
    check_recording(nginx, "e", media["main"])
