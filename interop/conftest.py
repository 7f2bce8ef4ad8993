"""Fixtures of the interop suite: the baton binary, `baton serve` on free 127.0.0.1 ports,
nginx-rtmp, test media generated once per session, and per-test process bookkeeping.

Every process a test starts goes through the `procs` fixture, whose finalizer stops it by PID
(SIGTERM, then SIGKILL) whether the test passed or not; a failed test prints the tail of each
process's stderr.
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Optional

import pytest

from helpers import (
    FFMPEG,
    Probe,
    Proc,
    Procs,
    free_port,
    http_status,
    is_listening,
    probe_file,
    wait_for,
)

REPO = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[[0-9;]*m")
NGINX_RTMP_MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")
NGINX_STREAM_MODULE = Path("/usr/lib/nginx/modules/ngx_stream_module.so")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Lets fixtures see in their finalizers whether the test failed (`request.node.rep_call`).
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


def _failed(request) -> bool:
    rep = getattr(request.node, "rep_call", None)
    setup = getattr(request.node, "rep_setup", None)
    return (rep is not None and rep.failed) or (setup is not None and setup.failed)


# --------------------------------------------------------------------------------------------
# The binary and per-test processes


@pytest.fixture(scope="session")
def baton_bin() -> Path:
    """`$BATON_BIN`, else the workspace's `target/debug/baton` (interop/run builds it)."""
    path = Path(os.environ.get("BATON_BIN", REPO / "target" / "debug" / "baton"))
    if not path.is_file():
        pytest.fail(f"no baton binary at {path}: run `cargo build --bin baton` (interop/run does)")
    return path


@pytest.fixture
def procs(request, tmp_path):
    p = Procs(tmp_path)
    yield p
    p.stop_all()
    if _failed(request):
        print(f"\n===== process logs ({tmp_path})\n{p.log_tails()}")


# --------------------------------------------------------------------------------------------
# Test media


@dataclasses.dataclass
class Clip:
    """A generated FLV file and ffprobe's view of it."""

    path: Path
    seconds: float
    gop_frames: int
    probe: Probe


def _make_clip(path: Path, seconds: float, gop_frames: int) -> Clip:
    # H.264 High (libx264, B-frames on, fixed GOP) + AAC-LC stereo 44.1 kHz, 640x360 at 30 fps.
    argv = FFMPEG + ["-loglevel", "error", "-y"]
    argv += ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30"]
    argv += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]
    argv += ["-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high"]
    argv += ["-pix_fmt", "yuv420p", "-g", str(gop_frames), "-keyint_min", str(gop_frames)]
    argv += ["-sc_threshold", "0", "-c:a", "aac", "-b:a", "96k", "-ac", "2", "-f", "flv", path]
    subprocess.run([str(a) for a in argv], check=True, stdin=subprocess.DEVNULL, timeout=120)
    return Clip(path, seconds, gop_frames, probe_file(path))


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> dict[str, Clip]:
    """`main`: 6 s, GOP 1 s; `longgop`: 10 s, GOP 4 s (keyframes at 0, 4, 8 s);
    `short`: 3 s, GOP 1 s."""
    d = tmp_path_factory.mktemp("media")
    return {
        "main": _make_clip(d / "main.flv", 6, 30),
        "longgop": _make_clip(d / "longgop.flv", 10, 120),
        "short": _make_clip(d / "short.flv", 3, 30),
    }


# --------------------------------------------------------------------------------------------
# baton serve


class BatonServer:
    """A running `baton serve` on 127.0.0.1 ports, with its own data dir."""

    def __init__(self, proc: Proc, rtmp_port: int, play_port: int, api_port: int, data_dir):
        self.proc = proc
        self.rtmp_port = rtmp_port
        self.play_port = play_port
        self.api_port = api_port
        self.data_dir = data_dir

    def rtmp_url(self, stream: str, app: str = "live") -> str:
        return f"rtmp://127.0.0.1:{self.rtmp_port}/{app}/{stream}"

    def flv_url(self, stream: str, app: str = "live") -> str:
        return f"http://127.0.0.1:{self.play_port}/{app}/{stream}.flv"

    def healthz(self) -> Optional[int]:
        return http_status(f"http://127.0.0.1:{self.api_port}/healthz")

    def log(self) -> str:
        """baton's stderr (tracing output), without colour codes."""
        return ANSI.sub("", self.proc.stderr())

    def stop(self, timeout: float = 10.0) -> tuple[int, float]:
        """SIGTERM; returns (exit code, seconds until exit). SIGKILL after `timeout`."""
        start = time.monotonic()
        rc = self.proc.stop(signal.SIGTERM, timeout)
        return rc, time.monotonic() - start


def start_baton(
    baton_bin: Path,
    procs: Procs,
    tmp_path: Path,
    config: str = "",
    name: str = "baton",
    again: Optional[BatonServer] = None,
    local_networks: bool = True,
) -> BatonServer:
    """`baton serve` on free ports with a fresh data dir — or, with `again`, on that server's
    ports and data dir (a restart of the same node).

    Every peer of this suite listens on 127.0.0.1, which by default only the root account's
    tasks may reach (`[egress]`): unless `local_networks` is false or `config` has its own
    `[egress]` rules, every account may reach loopback and private networks here."""
    if again is not None:
        rtmp, play, api = again.rtmp_port, again.play_port, again.api_port
    else:
        rtmp, play, api = free_port(), free_port(), free_port()
    data_dir = tmp_path / f"{name}-data" if again is None else again.data_dir
    argv = [baton_bin, "serve", "--data-dir", data_dir, "--api-listen", f"127.0.0.1:{api}"]
    argv += ["--rtmp-listen", f"127.0.0.1:{rtmp}", "--play-listen", f"127.0.0.1:{play}"]
    if local_networks and "[egress" not in config:
        config += "\n[egress]\nlocal_networks = true\n"
    if config:
        path = tmp_path / f"{name}.toml"
        path.write_text(config)
        argv += ["--config", path]
    env = dict(os.environ)
    env.setdefault("BATON_LOG", "info")
    env["NO_COLOR"] = "1"
    server = BatonServer(procs.start(name, argv, env=env), rtmp, play, api, data_dir)

    def ready():
        if not server.proc.running():
            raise AssertionError(f"baton serve exited {server.proc.returncode}: {server.log()}")
        return server.healthz() == 200

    wait_for(ready, 20, "baton serve: GET /healthz = 200")
    return server


@pytest.fixture
def baton(baton_bin, procs, tmp_path) -> BatonServer:
    return start_baton(baton_bin, procs, tmp_path)


def start_relay(
    baton_bin: Path, procs: Procs, src: str, dst: str, *extra: str, name: str = "relay"
) -> Proc:
    env = dict(os.environ)
    env.setdefault("BATON_LOG", "info")
    env["NO_COLOR"] = "1"
    argv = [baton_bin, "relay", src, dst, *extra]
    return procs.start(name, argv, env=env)


# --------------------------------------------------------------------------------------------
# nginx-rtmp


class NginxRtmp:
    """nginx with the RTMP module: application `live`, recording every publish to `record_dir`."""

    def __init__(self, proc: Proc, port: int, prefix: Path):
        self.proc = proc
        self.port = port
        self.http_port: Optional[int] = None
        self.prefix = prefix
        self.record_dir = prefix / "rec"
        self.tls_port: Optional[int] = None

    def rtmp_url(self, stream: str, app: str = "live") -> str:
        return f"rtmp://127.0.0.1:{self.port}/{app}/{stream}"

    def rtmps_url(self, stream: str, app: str = "live") -> str:
        """Through the `stream` TLS terminator in front of the RTMP port (`tls=` given)."""
        return f"rtmps://127.0.0.1:{self.tls_port}/{app}/{stream}"

    def error_log(self) -> str:
        return (self.prefix / "error.log").read_text(errors="replace")

    def access_log(self) -> str:
        path = self.prefix / "rtmp_access.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def publishes(self) -> list[str]:
        """The `publish:` lines nginx-rtmp logs (one per publish command it accepted)."""
        return [line for line in self.error_log().splitlines() if " publish: name=" in line]

    def records(self) -> list[Path]:
        return sorted(self.record_dir.glob("*.flv"))

    def http_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.http_port}/{name}"

    def https_url(self, name: str) -> str:
        """Through the `stream` TLS terminator in front of the HTTP port (`tls=` and
        `http_root=` given)."""
        return f"https://127.0.0.1:{self.https_port}/{name}"

    def http_log(self) -> str:
        path = self.prefix / "http_access.log"
        return path.read_text(errors="replace") if path.exists() else ""


def start_nginx(
    procs: Procs,
    tmp_path: Path,
    record_unique: bool = False,
    port: Optional[int] = None,
    http_root: Optional[Path] = None,
    tls: Optional[tuple[Path, Path]] = None,
    apps: tuple[str, ...] = ("live",),
) -> NginxRtmp:
    """nginx-rtmp on a free port (or `port`, to restart one in the same prefix); with
    `http_root`, also a static HTTP server of that directory (range requests, access log);
    with `tls` (certificate chain, key: PEM files), also an RTMPS port — nginx's `stream`
    module terminating TLS in front of the RTMP port, as RTMPS ingests are commonly run — and,
    with both, an HTTPS port in front of the HTTP one. `apps`: the RTMP applications, each
    live and recording into the same directory (one file per stream name)."""
    if not NGINX_RTMP_MODULE.exists():
        pytest.fail(f"{NGINX_RTMP_MODULE} missing: install libnginx-mod-rtmp (interop/run does)")
    port = port or free_port()
    prefix = tmp_path / "nginx"
    (prefix / "rec").mkdir(parents=True, exist_ok=True)
    # Workers of a root master run as `nobody` unless told otherwise; they write the records.
    user = "user root root;" if os.geteuid() == 0 else ""
    http = ""
    http_port = None
    if http_root is not None:
        http_port = free_port()
        http = f"""
http {{
    access_log {prefix}/http_access.log;
    server {{
        listen 127.0.0.1:{http_port};
        root {http_root};
    }}
}}
"""
    stream = ""
    tls_port = None
    https_port = None
    if tls is not None:
        if not NGINX_STREAM_MODULE.exists():
            pytest.fail(f"{NGINX_STREAM_MODULE} missing: install libnginx-mod-stream (interop/run does)")
        tls_port = free_port()
        fronts = [(tls_port, port)]
        if http_port is not None:
            https_port = free_port()
            fronts.append((https_port, http_port))
        servers = "".join(f"""
    server {{
        listen 127.0.0.1:{front} ssl;
        ssl_certificate {tls[0]};
        ssl_certificate_key {tls[1]};
        proxy_pass 127.0.0.1:{back};
    }}""" for front, back in fronts)
        stream = f"""
load_module {NGINX_STREAM_MODULE};
stream {{{servers}
}}
"""
    # publish_notify: tell players when the publisher leaves (NetStream.Play.UnpublishNotify),
    # which ffmpeg takes as EOF, as Baton does.
    applications = "".join(f"""
        application {app} {{
            live on;
            publish_notify on;
            record all;
            record_path {prefix}/rec;
            record_unique {"on" if record_unique else "off"};
        }}""" for app in apps)
    conf = f"""
load_module {NGINX_RTMP_MODULE};
{stream}
{user}
worker_processes 1;
daemon off;
master_process on;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 128; }}
rtmp {{
    access_log {prefix}/rtmp_access.log;
    server {{
        listen 127.0.0.1:{port};
{applications}    }}
}}
{http}"""
    (prefix / "nginx.conf").write_text(conf)
    argv = ["nginx", "-p", prefix, "-e", prefix / "error.log", "-c", prefix / "nginx.conf"]
    proc = procs.start("nginx", argv)

    def ready():
        if not proc.running():
            raise AssertionError(f"nginx exited {proc.returncode}: {proc.stderr()}")
        return is_listening(port)

    wait_for(ready, 10, f"nginx listening on {port}")
    if tls_port is not None:
        wait_for(lambda: is_listening(tls_port), 10, f"nginx TLS listening on {tls_port}")
    server = NginxRtmp(proc, port, prefix)
    server.http_port = http_port
    server.tls_port = tls_port
    server.https_port = https_port
    return server


@pytest.fixture
def nginx(procs, tmp_path) -> NginxRtmp:
    return start_nginx(procs, tmp_path)
