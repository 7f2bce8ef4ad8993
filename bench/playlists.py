#!/usr/bin/env python3
"""What a looping file costs: N playlist relays in one `baton serve` (SourceType `url`,
RepeatNumber -1, created through the Alibaba API) against N `ffmpeg -re -stream_loop -1 -i URL
-c copy -f flv DST` processes, both reading the same MP4 from nginx over HTTP and pushing to one
nginx-rtmp sink. Reports CPU (% of one core per relay) and memory per relay.

    .venv/bin/python bench/playlists.py --relays 20 --seconds 60

Needs ffmpeg, nginx with the RTMP module, the Python SDK in .venv (interop/run installs them)
and `cargo build --release --bin baton`.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
TICK = os.sysconf("SC_CLK_TCK")
KEY = ("LTAI5tPlaylistBenchKey01", "PlaylistBenchSecret0123456789ab")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError):
            pass
    return total


def memory_kib(pids: list[int]) -> tuple[int, int]:
    """(RSS, USS) in KiB summed over `pids`."""
    rss = uss = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                key, _, value = line.partition(":")
                if key == "Rss":
                    rss += int(value.split()[0])
                elif key in ("Private_Clean", "Private_Dirty"):
                    uss += int(value.split()[0])
        except OSError:
            pass
    return rss, uss


def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


def make_clip(path: Path) -> None:
    """30 s, H.264 High 1280x720 30 fps GOP 60 ~1.9 Mb/s CBR, AAC 48 kHz 128 kb/s (the relay
    benchmark's clip parameters), moov first."""
    if path.exists():
        return
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
         "-t", "30", "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high",
         "-g", "60", "-b:v", "1900k", "-maxrate", "1900k", "-bufsize", "1900k",
         "-x264-params", "nal-hrd=cbr", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-movflags", "+faststart", str(path)],
        check=True, timeout=600,
    )


def nginx(tmp: Path, media: Path) -> tuple[subprocess.Popen, int, int]:
    rtmp, http = free_port(), free_port()
    conf = tmp / "nginx.conf"
    user = "user root root;" if os.geteuid() == 0 else ""
    conf.write_text(f"""
load_module {MODULE};
{user}
worker_processes 1; daemon off; master_process on; pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
rtmp {{ server {{ listen 127.0.0.1:{rtmp}; application live {{ live on; }} }} }}
http {{ access_log {tmp}/http.log; server {{ listen 127.0.0.1:{http}; root {media}; }} }}
""")
    proc = subprocess.Popen(["nginx", "-p", str(tmp), "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(rtmp)
    wait_port(http)
    return proc, rtmp, http


def http_requests(tmp: Path) -> int:
    log = tmp / "http.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def measure(pids_of, seconds: float, warmup: float, n: int, tmp: Path) -> dict:
    time.sleep(warmup)
    pids = pids_of()
    t0, c0, r0 = time.monotonic(), cpu_ticks(pids), http_requests(tmp)
    time.sleep(seconds)
    t1, c1, r1 = time.monotonic(), cpu_ticks(pids), http_requests(tmp)
    rss, uss = memory_kib(pids)
    cpu = (c1 - c0) / TICK / (t1 - t0) * 100
    return {"cpu_per_relay": cpu / n, "rss_mib": rss / 1024 / n, "uss_mib": uss / 1024 / n,
            "processes": len(pids), "requests_per_min": (r1 - r0) / n / (t1 - t0) * 60}


def run_baton(baton: Path, tmp: Path, n: int, src: str, rtmp: int, args) -> dict:
    sys.path.insert(0, str(REPO / "interop"))
    from aliyun import Sdk, utc  # noqa: E402 (the interop suite's SDK face)

    api = free_port()
    config = tmp / "baton.toml"
    config.write_text(
        f'[[api.keys]]\naccess_key_id = "{KEY[0]}"\naccess_key_secret = "{KEY[1]}"\n'
        f'account = "root"\n[api]\nactions_per_second = 1000\n'
    )
    env = dict(os.environ, BATON_LOG="warn")
    proc = subprocess.Popen(
        [str(baton), "serve", "--config", str(config), "--data-dir", str(tmp / "data"),
         "--api-listen", f"127.0.0.1:{api}", "--rtmp-listen", f"127.0.0.1:{free_port()}",
         "--play-listen", f"127.0.0.1:{free_port()}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(api)
        idle_rss, idle_uss = memory_kib([proc.pid])
        c = Sdk("new-v3", f"127.0.0.1:{api}", *KEY)
        for i in range(n):
            c.call("CreateLivePullToPush", Region="cn-shanghai", TaskName=f"bench {i}",
                   SourceType="url", SourceUrls=[src], RepeatNumber=-1,
                   DstUrl=f"rtmp://127.0.0.1:{rtmp}/live/baton{i}",
                   StartTime=utc(-60), EndTime=utc(7200))
        m = measure(lambda: [proc.pid], args.seconds, args.warmup, n, tmp)
        m["rss_mib"] -= idle_rss / 1024 / n
        m["uss_mib"] -= idle_uss / 1024 / n
        return m
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)


def run_ffmpeg(n: int, src: str, rtmp: int, args, tmp: Path) -> dict:
    procs = [
        subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
             "-stream_loop", "-1", "-i", src, "-c", "copy", "-f", "flv",
             f"rtmp://127.0.0.1:{rtmp}/live/ffmpeg{i}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for i in range(n)
    ]
    try:
        return measure(lambda: [p.pid for p in procs], args.seconds, args.warmup, n, tmp)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(20)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--relays", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--warmup", type=float, default=10)
    ap.add_argument("--baton", type=Path, default=REPO / "target" / "release" / "baton")
    ap.add_argument("--media", type=Path, default=REPO / "target" / "bench-media")
    args = ap.parse_args()
    args.media.mkdir(parents=True, exist_ok=True)
    clip = args.media / "playlist-720p30.mp4"
    make_clip(clip)
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        ng, rtmp, http = nginx(tmp, args.media)
        try:
            src = f"http://127.0.0.1:{http}/{clip.name}"
            results = {
                "baton": run_baton(args.baton, tmp, args.relays, src, rtmp, args),
                "ffmpeg": run_ffmpeg(args.relays, src, rtmp, args, tmp),
            }
        finally:
            ng.send_signal(signal.SIGQUIT)
            ng.wait(20)
    print(f"{args.relays} looping playlist relays of {clip.name}, {args.seconds:.0f} s window\n")
    print("| system | CPU % of a core per relay | RSS MiB per relay | USS MiB per relay "
          "| HTTP requests per relay-minute | processes |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, m in results.items():
        print(f"| {name} | {m['cpu_per_relay']:.3f} | {m['rss_mib']:.2f} | {m['uss_mib']:.2f} "
              f"| {m['requests_per_min']:.1f} | {m['processes']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
