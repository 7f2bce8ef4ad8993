"""`baton relay` from a live HLS playlist: ffmpeg's HLS muxer (TS segments, 1 s, a sliding
window of 6, old segments deleted) writes into a directory nginx serves over HTTP; Baton
follows the playlist and relays into nginx-rtmp, which records the session; ffprobe reads it.

The API still refuses SourceProtocol=hls (see ARCHITECTURE.md); this is the relay engine
against a real HLS producer.
"""

import time

from conftest import start_nginx, start_relay
from helpers import probe_file, strictly_increasing, wait_for

SECONDS = 20


def test_ffmpeg_hls_live_is_relayed_as_one_session(procs, baton_bin, tmp_path):
    root = tmp_path / "www"
    (root / "hls").mkdir(parents=True)
    nginx = start_nginx(procs, tmp_path, http_root=root)
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
    relay = start_relay(
        baton_bin, procs, nginx.http_url("hls/live.m3u8"), nginx.rtmp_url("x"),
        "--grace", "10s", "--status-interval", "1s",
    )
    # ffmpeg ends the playlist with EXT-X-ENDLIST when it stops: the relay then finishes.
    assert relay.wait(timeout=SECONDS + 30) == 0, relay.stderr()
    time.sleep(1)
    assert len(nginx.publishes()) == 1, nginx.publishes()
    records = nginx.records()
    assert len(records) == 1, records
    probe = probe_file(records[0])
    for kind in ("video", "audio"):
        dts = probe.dts(kind)
        assert len(dts) > 0, kind
        assert strictly_increasing(dts) == [], (kind, strictly_increasing(dts)[:5])
    # The relay starts about three segments from the live edge and plays to the end.
    video = probe.count("video")
    assert video >= (SECONDS - 6) * 25, video
    assert video <= SECONDS * 25, video
    assert " 200 " in nginx.http_log()
