"""RTMPS (and HTTPS sources) with real TLS peers.

Client side: nginx's `stream` module terminating TLS (a test CA made with openssl) in front of
nginx-rtmp. `baton relay` pushes to `rtmps://127.0.0.1:PORT/...` and pulls from it, trusting
the test CA with `--ca-file`; ffprobe checks that what arrived is exactly the source. Without
the CA, the relay fails at once, naming the unknown issuer.

Listener side: ffmpeg publishes `rtmps://` into Baton's RTMPS ingest (`rtmps_listen`), and
the certificate files, rewritten while Baton runs, are presented from then on.

HTTPS: an HLS source behind the same terminator is trusted through the same `--ca-file`, and
refused by name without it.
"""

import signal
import subprocess
import time
from pathlib import Path

from conftest import start_baton, start_nginx, start_relay
from helpers import FFMPEG, assert_same_stream, is_listening, free_port, probe_file, publish, record, wait_for


def make_pki(d: Path, leaf_name: str = "127.0.0.1") -> tuple[Path, Path, Path]:
    """(CA certificate, server chain, server key): a CA and a leaf for 127.0.0.1/localhost
    (its subject CN `leaf_name`)."""
    d.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=Baton interop CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", *ec, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", f"/CN={leaf_name}")
    (d / "leaf.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
    )
    openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "leaf.pem", "-days", "2", "-extfile", "leaf.ext")
    return d / "ca.pem", d / "leaf.pem", d / "leaf.key"


def stop(relay) -> int:
    return relay.stop(signal.SIGINT, timeout=10)


def test_relay_pushes_into_nginx_rtmp_over_rtmps(procs, baton, baton_bin, media, tmp_path):
    ca, chain, key = make_pki(tmp_path / "pki")
    nginx = start_nginx(procs, tmp_path, tls=(chain, key))
    clip = media["main"]
    src = baton.rtmp_url("src")
    relay = start_relay(
        baton_bin, procs, src, nginx.rtmps_url("x"), "--ca-file", str(ca),
        "--grace", "10s", name="relay-rtmps",
    )
    wait_for(lambda: "play started" in baton.log(), 10, "relay playing")
    publisher = publish(procs, clip.path, src)
    assert publisher.wait(clip.seconds + 15) == 0, publisher.stderr()
    time.sleep(1.5)
    assert stop(relay) == 0, relay.stderr()[-3000:]
    # The status line names the destination's TLS.
    assert "dst rtmps (TLSv1." in relay.stderr(), relay.stderr()[-3000:]
    assert len(nginx.publishes()) == 1, nginx.publishes()
    assert_same_stream(probe_file(nginx.record_dir / "x.flv"), clip.probe, "nginx recording via TLS")


def test_relay_pulls_from_nginx_rtmp_over_rtmps(procs, baton_bin, media, tmp_path):
    ca, chain, key = make_pki(tmp_path / "pki")
    nginx = start_nginx(procs, tmp_path, tls=(chain, key))
    clip = media["short"]
    port = free_port()
    out = tmp_path / "pulled.flv"
    recorder = record(procs, f"rtmp://127.0.0.1:{port}/live/x", out, name="ffmpeg-listen", listen=True)
    wait_for(lambda: is_listening(port), 10, "ffmpeg -listen 1 listening")
    relay = start_relay(
        baton_bin, procs, nginx.rtmps_url("src"), f"rtmp://127.0.0.1:{port}/live/x",
        "--ca-file", str(ca), "--grace", "10s", name="relay-pull",
    )
    # nginx-rtmp answers a play for an unknown stream by waiting for its publisher.
    wait_for(lambda: " play: name='src'" in nginx.error_log(), 10, "nginx: play over TLS")
    publisher = publish(procs, clip.path, nginx.rtmp_url("src"))
    assert publisher.wait(clip.seconds + 15) == 0, publisher.stderr()
    time.sleep(1.5)
    assert stop(relay) == 0, relay.stderr()[-3000:]
    assert "src rtmps (TLSv1." in relay.stderr(), relay.stderr()[-3000:]
    assert recorder.wait(10) == 0, recorder.stderr()
    assert_same_stream(probe_file(out), clip.probe, "pulled over TLS")


def test_an_unknown_ca_fails_the_relay_at_once_by_name(procs, baton, baton_bin, tmp_path):
    _, chain, key = make_pki(tmp_path / "pki")
    nginx = start_nginx(procs, tmp_path, tls=(chain, key))
    started = time.monotonic()
    relay = start_relay(
        baton_bin, procs, nginx.rtmps_url("src"), baton.rtmp_url("copy"),
        "--restarts", "3", name="relay-untrusted",
    )
    assert relay.wait(15) == 1, relay.stderr()[-3000:]
    assert time.monotonic() - started < 10, "a certificate failure is not retried"
    err = relay.stderr()
    assert "TLS certificate of 127.0.0.1 rejected: unknown issuer" in err, err[-3000:]
    assert "Certificate" in err and "retryable=false" in err, err[-3000:]


def served_subject(port: int) -> str:
    """The subject of the certificate a TLS server on loopback presents."""
    shown = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=10,
    )
    subject = subprocess.run(
        ["openssl", "x509", "-noout", "-subject"], input=shown.stdout, capture_output=True, timeout=10
    )
    return subject.stdout.decode().strip()


def test_ffmpeg_publishes_rtmps_into_batons_listener_which_reloads_its_certificate(
    procs, baton_bin, media, tmp_path
):
    ca, chain, key = make_pki(tmp_path / "pki", leaf_name="first")
    port = free_port()
    config = f'rtmps_listen = "127.0.0.1:{port}"\n[rtmps]\ncert_file = "{chain}"\nkey_file = "{key}"\n'
    baton = start_baton(baton_bin, procs, tmp_path, config=config)
    assert is_listening(port)
    clip = media["short"]
    out = tmp_path / "ingested.flv"
    # HTTP-FLV waits for the publisher: the recording starts at its first frame.
    recorder = record(procs, baton.flv_url("s"), out)
    time.sleep(0.5)
    publisher = publish(procs, clip.path, f"rtmps://127.0.0.1:{port}/live/s", name="ffmpeg-rtmps")
    assert publisher.wait(clip.seconds + 15) == 0, publisher.stderr()
    assert recorder.wait(15) == 0, recorder.stderr()
    assert_same_stream(probe_file(out), clip.probe, "published over RTMPS")
    assert "subject=CN = first" in served_subject(port)

    # A renewal rewrites both files; the next handshake presents the new certificate.
    _, new_chain, new_key = make_pki(tmp_path / "renewed", leaf_name="renewed")
    key.write_bytes(new_key.read_bytes())
    chain.write_bytes(new_chain.read_bytes())
    wait_for(lambda: "RTMPS certificate reloaded" in baton.log(), 25, "certificate reloaded")
    assert "subject=CN = renewed" in served_subject(port)
    # Half-written files are not loaded: the renewed pair stays.
    key.write_text("not a key")
    wait_for(lambda: "RTMPS certificate not reloaded" in baton.log(), 25, "bad pair refused")
    assert "subject=CN = renewed" in served_subject(port)


def test_a_task_pushes_rtmps_with_the_configured_ca_and_shows_its_transport(
    procs, baton_bin, media, tmp_path
):
    """`baton serve` with `[tls] ca_file`: a task created over /v1 pushes to nginx-rtmp
    through its TLS terminator, and the task's relay status names the destination's TLS."""
    from test_native_api import Api, create_token, utc_in

    ca, chain, key = make_pki(tmp_path / "pki")
    nginx = start_nginx(procs, tmp_path, tls=(chain, key))
    server = start_baton(baton_bin, procs, tmp_path, config=f'[tls]\nca_file = "{ca}"\n')
    api = Api(server.api_port, create_token(baton_bin, server.data_dir, "rtmps"))
    wait_for(lambda: api.call("GET", "/v1/whoami")[0] == 200, 10, "the new token is accepted")
    argv = FFMPEG + ["-re", "-stream_loop", "-1", "-i", media["main"].path, "-c", "copy", "-f", "flv"]
    procs.start("publisher", argv + [nginx.rtmp_url("src")])
    body = {"source": {"type": "live", "urls": [nginx.rtmp_url("src")]},
            "destination": nginx.rtmps_url("dst"), "end_time": utc_in(3600),
            "retry": {"count": 0, "interval_seconds": 60}}
    status, _, task = api.call("POST", "/v1/tasks", body)
    assert status == 201, task

    def forwarding():
        relay = api.ok("GET", f"/v1/tasks/{task['id']}").get("relay") or {}
        return relay.get("state") == "forwarding" and relay.get("destination_transport")

    wait_for(forwarding, 25, "the task forwarding over RTMPS")
    relay = api.ok("GET", f"/v1/tasks/{task['id']}")["relay"]
    assert relay["source_transport"] == {"protocol": "rtmp"}, relay
    destination = relay["destination_transport"]
    assert destination["protocol"] == "rtmps", relay
    assert destination["tls"]["version"].startswith("TLSv1."), relay
    assert destination["tls"]["peer_names"] == ["localhost"], relay
    # The certificate's subject and issuer as openssl made them (RFC 4514 form).
    assert destination["tls"]["subject"] == "CN=127.0.0.1", relay
    assert destination["tls"]["issuer"] == "CN=Baton interop CA", relay
    wait_for(lambda: any("name='dst'" in l for l in nginx.publishes()), 10, "nginx receives over TLS")


def test_an_https_hls_source_trusts_the_same_ca_file(procs, baton_bin, tmp_path):
    from test_hls import start_producer

    ca, chain, key = make_pki(tmp_path / "pki")
    root = tmp_path / "www"
    nginx = start_nginx(procs, tmp_path, http_root=root, tls=(chain, key))
    start_producer(procs, root)
    source = nginx.https_url("hls/live.m3u8")
    untrusted = start_relay(baton_bin, procs, source, nginx.rtmp_url("no"), "--restarts", "3",
                            name="relay-https-untrusted")
    assert untrusted.wait(15) == 1, untrusted.stderr()[-3000:]
    err = untrusted.stderr()
    assert "TLS certificate of 127.0.0.1 rejected: unknown issuer" in err, err[-3000:]
    assert "retryable=false" in err, err[-3000:]

    relay = start_relay(baton_bin, procs, source, nginx.rtmp_url("yes"), "--ca-file", str(ca),
                        name="relay-https")
    wait_for(lambda: "media reaches the destination" in relay.stderr(), 20, "relay forwarding")
    assert stop(relay) == 0, relay.stderr()[-3000:]
    assert any("name='yes'" in line for line in nginx.publishes()), nginx.publishes()
