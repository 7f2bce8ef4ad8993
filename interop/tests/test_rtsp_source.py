"""RTSP sources against GStreamer's RTSP server (gst-rtsp-server 1.22 through its Python
bindings, `interop/rtsp_camera.py`: a live H.264 + AAC test pattern, digest authentication):
Baton pulls the camera and relays it into nginx-rtmp, which records the session; ffprobe reads
the recording. One destination session, H.264 and AAC, frames arriving all along, DTS strictly
increasing on both tracks.

(a)+(b) `baton relay` over TCP-interleaved (the default) and UDP (`?transport=udp`), with the
right digest credentials (never printed); (c) the wrong password: a named refusal, not
retried; (d) a path the camera does not serve: 404, named; (e) the camera killed and started
again within the grace period: one destination session; (f) a TCP server answering nonsense:
a named protocol error; and a task made with `baton task create` relays a camera.
"""

import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import start_baton, start_nginx, start_relay
from helpers import free_port, is_listening, probe_file, strictly_increasing, wait_for
from test_native_api import create_token

pytestmark = pytest.mark.timeout(60)

CAMERA = Path(__file__).resolve().parent.parent / "rtsp_camera.py"
USER, PASSWORD = "admin", "s3cret-pw"


def start_camera(procs, port=None, name="camera", auth=True):
    """The GStreamer camera on `port` (a free one by default); waits until it listens."""
    port = port or free_port()
    argv = ["/usr/bin/python3", str(CAMERA), "--port", str(port)]
    if auth:
        argv += ["--user", USER, "--password", PASSWORD]
    proc = procs.start(name, argv)
    wait_for(lambda: is_listening(port), 10, "the RTSP camera listens")
    return proc, port


def camera_url(port, password=PASSWORD, path="/cam", query=""):
    return f"rtsp://{USER}:{password}@127.0.0.1:{port}{path}{query}"


def check_recording(nginx, stream, min_seconds):
    """One publish of `stream`, recorded: H.264 + AAC, at least `min_seconds` of video at 25
    fps, DTS strictly increasing on both tracks, the tracks starting together."""
    publishes = [line for line in nginx.publishes() if f"name='{stream}'" in line]
    assert len(publishes) == 1, nginx.publishes()
    records = [p for p in nginx.records() if p.name.startswith(stream)]
    assert len(records) == 1, records
    probe = probe_file(records[0])
    params = probe.params()
    assert params["video"]["codec_name"] == "h264", params
    assert (params["video"]["width"], params["video"]["height"]) == (320, 240), params
    assert params["audio"]["codec_name"] == "aac", params
    assert params["audio"]["sample_rate"] == "48000", params
    for kind in ("video", "audio"):
        dts = probe.dts(kind)
        assert strictly_increasing(dts) == [], (kind, strictly_increasing(dts)[:5])
    video, audio = probe.dts("video"), probe.dts("audio")
    assert probe.count("video") >= 25 * min_seconds, probe.count("video")
    # 25 fps: 40 ms apart (a camera clock, not the wall clock; ±1 ms of rounding).
    steps = [b - a for a, b in zip(video, video[1:])]
    assert sum(1 for s in steps if 39 <= s <= 41) >= 0.95 * len(steps), steps[:50]
    assert abs(video[0] - audio[0]) <= 200, (video[0], audio[0])
    return probe


def stop_and_wait_for_recording(relay, nginx, stream):
    assert relay.running(), relay.stderr()
    assert relay.stop() == 0, relay.stderr()
    wait_for(lambda: any(p.name.startswith(stream) for p in nginx.records()), 10, "the recording")
    time.sleep(0.5)


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_a_camera_is_relayed_over_tcp_and_udp_with_digest_auth(procs, baton_bin, tmp_path, transport):
    nginx = start_nginx(procs, tmp_path)
    _camera, port = start_camera(procs)
    query = "?transport=udp" if transport == "udp" else ""
    relay = start_relay(baton_bin, procs, camera_url(port, query=query), nginx.rtmp_url(transport),
                        "--grace", "10s", "--status-interval", "1s")
    wait_for(lambda: "media reaches the destination" in relay.stderr(), 15, "media at nginx")
    time.sleep(5)
    stop_and_wait_for_recording(relay, nginx, transport)
    check_recording(nginx, transport, 4)
    log = relay.stderr()
    assert "transport=rtsp" in log, log[-2000:]
    assert PASSWORD not in log, "the camera's password was printed"
    assert f"{USER}:***@127.0.0.1:{port}" in log, log[-2000:]
    assert log.count("source connected") == 1, log[-3000:]


def test_a_wrong_password_is_a_named_refusal_and_not_retried(procs, baton_bin, tmp_path):
    nginx = start_nginx(procs, tmp_path)
    _camera, port = start_camera(procs)
    started = time.monotonic()
    relay = start_relay(baton_bin, procs, camera_url(port, password="not-it"), nginx.rtmp_url("c"),
                        "--grace", "20s")
    assert relay.wait(timeout=15) != 0
    assert time.monotonic() - started < 10, "retried"
    log = relay.stderr()
    assert "the credentials in the URL were refused (401 Unauthorized)" in log, log[-2000:]
    assert "not-it" not in log
    assert nginx.publishes() == []


def test_a_path_the_camera_does_not_serve_is_named(procs, baton_bin, tmp_path):
    nginx = start_nginx(procs, tmp_path)
    _camera, port = start_camera(procs)
    relay = start_relay(baton_bin, procs, camera_url(port, path="/nothing"), nginx.rtmp_url("d"),
                        "--grace", "3s")
    assert relay.wait(timeout=15) != 0
    log = relay.stderr()
    assert "no stream at this path (404 Not Found)" in log, log[-2000:]


def test_a_camera_restarted_within_the_grace_keeps_the_destination_session(procs, baton_bin, tmp_path):
    nginx = start_nginx(procs, tmp_path)
    camera, port = start_camera(procs)
    relay = start_relay(baton_bin, procs, camera_url(port), nginx.rtmp_url("e"),
                        "--grace", "15s", "--status-interval", "1s")
    wait_for(lambda: "media reaches the destination" in relay.stderr(), 15, "media at nginx")
    time.sleep(3)
    # The camera goes away (its process killed: no TEARDOWN, the connection reset) and comes
    # back on the same port 2 s later with a new encoder and a new RTP clock.
    camera.stop()
    time.sleep(2)
    start_camera(procs, port=port, name="camera-again")
    wait_for(lambda: relay.stderr().count("source connected") >= 2, 15, "the relay calls the camera again")
    time.sleep(4)
    stop_and_wait_for_recording(relay, nginx, "e")
    log = relay.stderr()
    assert "source lost; holding the destination" in log, log[-3000:]
    check_recording(nginx, "e", 6)


def test_garbage_from_the_server_is_a_named_protocol_error(procs, baton_bin, tmp_path):
    nginx = start_nginx(procs, tmp_path)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    conn.recv(4096)
                    conn.sendall(b"220 mail.example ESMTP ready\r\n\x00\xff\xfe nonsense \x01\r\n\r\n")
                    time.sleep(0.2)
                except OSError:
                    pass

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        relay = start_relay(baton_bin, procs, f"rtsp://127.0.0.1:{port}/cam", nginx.rtmp_url("f"),
                            "--grace", "3s")
        assert relay.wait(timeout=15) != 0
    finally:
        stop.set()
        server.join(timeout=5)
        listener.close()
    log = relay.stderr()
    assert "sent what Baton cannot read" in log, log[-2000:]
    assert nginx.publishes() == []


def test_a_task_created_with_the_cli_relays_a_camera(procs, baton_bin, tmp_path):
    nginx = start_nginx(procs, tmp_path)
    _camera, port = start_camera(procs)
    server = start_baton(baton_bin, procs, tmp_path)
    token = create_token(baton_bin, server.data_dir, "rtsp")
    env = dict(os.environ, BATON_ENDPOINT=f"http://127.0.0.1:{server.api_port}",
               BATON_TOKEN=token, NO_COLOR="1")

    def cli(*args):
        return subprocess.run([str(baton_bin), *args], capture_output=True, text=True,
                              timeout=30, env=env)

    wait_for(lambda: cli("whoami").returncode == 0, 10, "the token is accepted")
    res = cli("task", "create", "--name", "camera", "--source", camera_url(port),
              "--destination", nginx.rtmp_url("g"), "--end", "+1h", "--json")
    assert res.returncode == 0, res.stderr
    import json
    task = json.loads(res.stdout)
    assert task["source"]["protocol"] == "rtsp", task

    def forwarding():
        res = cli("task", "describe", task["id"], "--json")
        doc = json.loads(res.stdout) if res.returncode == 0 else {}
        relay = doc.get("relay") or {}
        return relay.get("state") == "forwarding" and relay

    relay = wait_for(forwarding, 20, "the task forwarding")
    assert relay["source_transport"]["protocol"] == "rtsp", relay
    time.sleep(3)
    assert cli("task", "stop", task["id"]).returncode == 0
    wait_for(lambda: any(p.name.startswith("g") for p in nginx.records()), 10, "the recording")
    time.sleep(0.5)
    check_recording(nginx, "g", 2)
