"""The peers without Baton: ffmpeg -> nginx-rtmp -> ffprobe/recording.

A control for the rest of the suite: the same exactness the Baton tests demand (every packet,
same parameters, same payloads) holds between the reference peers themselves.
"""

from helpers import finish_probe, probe_file, publish, start_probe, wait_for


def test_ffmpeg_to_nginx_rtmp_is_exact(procs, nginx, media):
    clip = media["short"]
    url = nginx.rtmp_url("ref")
    # nginx-rtmp answers a play for an unknown stream by waiting for its publisher.
    reader = start_probe(procs, url, name="ffprobe-nginx")
    wait_for(lambda: " play: name='ref'" in nginx.error_log(), 10, "nginx: play command")
    pub = publish(procs, clip.path, url)
    assert pub.wait(clip.seconds + 15) == 0, pub.stderr()
    live = finish_probe(reader, 10)
    recorded = probe_file(nginx.record_dir / "ref.flv")

    for copy in (live, recorded):
        assert copy.params() == clip.probe.params()
        for kind in ("video", "audio"):
            assert copy.hashes(kind) == clip.probe.hashes(kind), kind
    assert len(nginx.publishes()) == 1
