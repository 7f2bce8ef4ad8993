"""Bad input on Baton's RTMP port and shutdown.

A hostile or broken connection is closed, with a log line naming the peer and the cause, while
a real publish and a real player on the same server carry on untouched. SIGTERM ends
`baton serve` with exit 0 within a few seconds, connections or not.
"""

import os
import random
import re
import socket
import time

import pytest

from conftest import start_baton
from helpers import (
    HttpFlvReader,
    assert_same_stream,
    finish_probe,
    publish,
    rtmp_handshake,
    set_chunk_size_message,
    start_probe,
    wait_closed,
    wait_for,
)

HANDSHAKE_TIMEOUT = 2.0


def random_bytes() -> bytes:
    data = bytearray(random.Random(1935).randbytes(8192))
    data[0] = 0xA5  # not a version byte (3, or 6/8 for RTMPE)
    return bytes(data)


def stalled_handshake(sock: socket.socket) -> None:
    sock.sendall(b"\x03" + os.urandom(100))  # C0 and 100 of C1's 1536 bytes, then silence


def after_handshake(payload: bytes):
    def send(sock: socket.socket) -> None:
        rtmp_handshake(sock)
        sock.sendall(payload)

    return send


def oversized_message_header() -> bytes:
    # A type-0 chunk announcing a 16 MiB - 1 command message (type 20): more than the
    # default 8 MiB limit, so the server must refuse before buffering it.
    return bytes([0x03]) + b"\x00\x00\x00" + (0xFFFFFF).to_bytes(3, "big") + b"\x14" + b"\0" * 4


# name: (what to do, the longest the server may take to close, what the log must say)
BAD_INPUTS = {
    "random-bytes": (lambda s: s.sendall(random_bytes()), 1.5, r"version"),
    "stalled-handshake": (stalled_handshake, HANDSHAKE_TIMEOUT + 1.5, r"timeout"),
    "chunk-size-zero": (after_handshake(set_chunk_size_message(0)), 1.5, r"chunk size"),
    "chunk-size-2^32-1": (
        after_handshake(set_chunk_size_message(0xFFFFFFFF)), 1.5, r"chunk size"
    ),
    "oversized-message": (after_handshake(oversized_message_header()), 1.5, r"exceeds|limit"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_closes_that_connection_only(procs, baton_bin, media, tmp_path, case):
    action, max_close, cause = BAD_INPUTS[case]
    clip = media["short"]
    config = f'[ingest]\nhandshake_timeout = "{HANDSHAKE_TIMEOUT}s"\n'
    baton = start_baton(baton_bin, procs, tmp_path, config=config)
    witness = start_probe(procs, baton.rtmp_url("ok"), name="ffprobe-witness")
    wait_for(lambda: "play started" in baton.log(), 10, "witness player waiting")
    publisher = publish(procs, clip.path, baton.rtmp_url("ok"))
    wait_for(lambda: "publish started" in baton.log(), 10, "publish started")

    with socket.create_connection(("127.0.0.1", baton.rtmp_port), timeout=5) as sock:
        port = sock.getsockname()[1]
        action(sock)
        took = wait_closed(sock, max_close + 2)
    assert took is not None, f"{case}: connection still open after {max_close + 2:.1f} s"
    assert took <= max_close, f"{case}: closed only after {took:.2f} s"
    if case == "stalled-handshake":
        assert took >= HANDSHAKE_TIMEOUT - 0.5, f"closed after {took:.2f} s, before the timeout"

    def closed_line():
        lines = baton.log().splitlines()
        return [ln for ln in lines if "connection closed" in ln and f"127.0.0.1:{port}" in ln]

    lines = wait_for(closed_line, 3, f"a log line about the connection from port {port}")
    assert re.search(cause, lines[0], re.IGNORECASE), f"cause not named: {lines[0]}"

    assert publisher.wait(clip.seconds + 15) == 0, publisher.stderr()
    assert_same_stream(finish_probe(witness, 10), clip.probe, "witness player")
    assert baton.proc.running()


@pytest.mark.parametrize(
    "connections",
    [
        "idle",
        "rtmp-publisher-and-player",
        "http-flv-player",
        "rtmp-player-waiting-for-publisher",
        "http-flv-player-waiting-for-publisher",
        "http-flv-player-after-unpublish",
    ],
)
def test_sigterm_exits_zero_within_a_few_seconds(procs, baton, media, connections):
    clip = media["short"]
    if connections == "http-flv-player-waiting-for-publisher":
        procs.track(HttpFlvReader(baton.flv_url("nobody")))
        time.sleep(0.5)
    elif connections == "rtmp-player-waiting-for-publisher":
        start_probe(procs, baton.rtmp_url("nobody"), name="ffprobe-player")
        wait_for(lambda: "play started" in baton.log(), 10, "player waiting")
    elif connections == "http-flv-player-after-unpublish":
        player = procs.track(HttpFlvReader(baton.flv_url("s")))
        assert publish(procs, clip.path, baton.rtmp_url("s")).wait(clip.seconds + 15) == 0
        player.wait_frames("video", clip.probe.count("video"), 5)
    elif connections != "idle":
        if connections == "http-flv-player":
            player = procs.track(HttpFlvReader(baton.flv_url("s")))
        else:
            start_probe(procs, baton.rtmp_url("s"), name="ffprobe-player")
        publish(procs, clip.path, baton.rtmp_url("s"))
        wait_for(lambda: "publish started" in baton.log(), 10, "publish started")
        wait_for(lambda: baton.log().count("play started") >= 1, 10, "player playing")
        time.sleep(1.0)
        if connections == "http-flv-player":
            assert player.flv.media("video"), "the HTTP-FLV player got no video"
    rc, took = baton.stop(timeout=15)
    assert rc == 0, f"exit status {rc}"
    assert took < 5.0, f"took {took:.1f} s to exit"
