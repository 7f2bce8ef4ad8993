"""Helpers of the interop suite: processes stopped by PID, ports, ffprobe JSON, an incremental
FLV tag reader (for HTTP-FLV and rtmpdump output), and raw RTMP bytes for the bad-input tests.

Everything here is bounded: every wait has a timeout, every process is stopped by its PID.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import signal
import socket
import struct
import subprocess
import threading
import urllib.request
import time
from pathlib import Path
from typing import Callable, Iterable, Optional

FFMPEG = ["ffmpeg", "-hide_banner", "-nostdin", "-nostats"]
FFPROBE = ["ffprobe", "-hide_banner", "-v", "error"]


# --------------------------------------------------------------------------------------------
# Ports and waiting


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel picked it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_flv_playing(publisher, url: str, timeout: float, what: str) -> None:
    """Until `url` (an HTTP-FLV play URL) answers with an FLV header: the stream has its
    publisher. Fails at once if the `publisher` process exited."""

    def playing():
        if not publisher.running():
            raise AssertionError(
                f"publisher exited {publisher.returncode}: {publisher.stderr()[-800:]}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return len(r.read(13)) == 13
        except OSError:
            return False

    wait_for(playing, timeout, what, interval=0.2)


def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.05):
    """Polls `predicate` until it returns something truthy; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.1f} s waiting for {what}")
        time.sleep(interval)


def is_listening(port: int) -> bool:
    """Whether some socket listens on TCP `port` (from /proc/net/tcp, without connecting: a
    probe connection would use up the single connection `ffmpeg -listen 1` accepts)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                return True
    return False


def http_status(url: str, timeout: float = 1.0) -> Optional[int]:
    """The status of `GET url`, or None when the server does not answer."""
    host_port, _, path = url.removeprefix("http://").partition("/")
    host, _, port = host_port.partition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", "/" + path)
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


# --------------------------------------------------------------------------------------------
# Processes


class Proc:
    """One child process whose stdout and stderr go to files in the test's directory."""

    def __init__(self, name: str, argv: list[str], log_dir: Path, stdout=None, env=None, stdin=None):
        self.name = name
        self.argv = argv
        self.out_path = log_dir / f"{name}.out"
        self.err_path = log_dir / f"{name}.err"
        self.started = time.monotonic()
        self.ended: Optional[float] = None
        # `stdout`/`stdin`: PIPE or a file descriptor (one end of an os.pipe()) instead of
        # the log file / nothing.
        self._out = None if stdout is not None else open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        self.popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL if stdin is None else stdin,
            stdout=stdout if stdout is not None else self._out,
            stderr=self._err,
            env=env,
        )
        self.pid = self.popen.pid

    @property
    def returncode(self) -> Optional[int]:
        rc = self.popen.poll()
        if rc is not None and self.ended is None:
            self.ended = time.monotonic()
        return rc

    def running(self) -> bool:
        return self.returncode is None

    def wait(self, timeout: float) -> int:
        """Waits for the process to exit on its own; fails (and leaves it to the finalizer)
        after `timeout` seconds."""
        try:
            rc = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(
                f"{self.name} (pid {self.pid}) still running after {timeout:.1f} s"
            ) from None
        if self.ended is None:
            self.ended = time.monotonic()
        return rc

    def send_signal(self, sig: int) -> None:
        if self.popen.poll() is None:
            os.kill(self.pid, sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 5.0) -> int:
        """Sends `sig` to the PID, waits up to `timeout`, then SIGKILLs it."""
        self.send_signal(sig)
        try:
            return self.wait(timeout)
        except TimeoutError:
            self.send_signal(signal.SIGKILL)
            return self.popen.wait(timeout=5)

    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace") if self.out_path.exists() else ""

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def close_files(self) -> None:
        for f in (self._out, self._err):
            if f is not None:
                f.close()

    def __repr__(self) -> str:
        return f"<{self.name} pid={self.pid} rc={self.returncode}>"


class Procs:
    """The processes of one test. The fixture's finalizer stops whatever still runs (SIGTERM,
    then SIGKILL), also when the test failed."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.all: list[Proc] = []
        self.readers: list = []

    def track(self, reader):
        """Starts an in-process player (thread) and hangs it up at teardown."""
        reader.start()
        self.readers.append(reader)
        return reader

    def start(self, name: str, argv: list[str], **kw) -> Proc:
        taken = {p.name for p in self.all}
        unique, n = name, 1
        while unique in taken:
            n += 1
            unique = f"{name}-{n}"
        proc = Proc(unique, [str(a) for a in argv], self.log_dir, **kw)
        self.all.append(proc)
        return proc

    def stop_all(self) -> None:
        for reader in self.readers:
            if hasattr(reader, "close"):
                reader.close()
        for proc in reversed(self.all):
            if proc.running():
                proc.stop(signal.SIGTERM, timeout=5)
            proc.close_files()

    def log_tails(self, lines: int = 40) -> str:
        out = []
        for proc in self.all:
            err = proc.stderr().splitlines()[-lines:]
            out.append(f"----- {proc.name} {proc.argv} rc={proc.returncode}")
            out.extend(err)
        return "\n".join(out)


def publish(procs: Procs, media: Path, url: str, name: str = "publisher", realtime=True) -> Proc:
    """`ffmpeg -re -i media -c copy -f flv url`."""
    argv = FFMPEG + (["-re"] if realtime else []) + ["-i", media, "-c", "copy", "-f", "flv", url]
    return procs.start(name, argv)


def record(procs: Procs, url: str, out: Path, name: str = "recorder", listen=False) -> Proc:
    """`ffmpeg [-listen 1] -i url -c copy -f flv out`."""
    argv = FFMPEG + ["-y"] + (["-listen", "1"] if listen else []) + ["-i", url]
    return procs.start(name, argv + ["-c", "copy", "-f", "flv", out])


# --------------------------------------------------------------------------------------------
# ffprobe


@dataclasses.dataclass
class Probe:
    """ffprobe's view of a file or URL: streams and packets by codec type."""

    streams: dict[str, dict]
    packets: dict[str, list[dict]]
    ordered: list[dict]  # every packet, in stream order

    @staticmethod
    def parse(text: str) -> "Probe":
        doc = json.loads(text)
        streams: dict[str, dict] = {}
        for s in doc.get("streams", []):
            streams.setdefault(s["codec_type"], s)
        return Probe.of(streams, doc.get("packets", []))

    @staticmethod
    def of(streams: dict[str, dict], ordered: list[dict]) -> "Probe":
        packets: dict[str, list[dict]] = {"video": [], "audio": []}
        for p in ordered:
            packets.setdefault(p["codec_type"], []).append(p)
        return Probe(streams, packets, ordered)

    def starting_at_video(self, index: int) -> "Probe":
        """What a player joining at video packet `index` (a keyframe) receives: that packet
        and every packet of any track after it in stream order."""
        first = self.packets["video"][index]
        position = next(i for i, p in enumerate(self.ordered) if p is first)
        return Probe.of(self.streams, self.ordered[position:])

    def count(self, kind: str) -> int:
        return len(self.packets.get(kind, []))

    def params(self) -> dict[str, dict]:
        """The codec parameters the suite compares between source and copies."""
        keys = {
            "video": ("codec_name", "profile", "width", "height", "pix_fmt"),
            "audio": ("codec_name", "profile", "sample_rate", "channels"),
        }
        return {
            kind: {k: self.streams.get(kind, {}).get(k) for k in names}
            for kind, names in keys.items()
        }

    def dts(self, kind: str) -> list[int]:
        return [int(p["dts"]) for p in self.packets.get(kind, [])]

    def hashes(self, kind: str) -> list[str]:
        return [p.get("data_hash") for p in self.packets.get(kind, [])]

    def keyframes(self, kind: str = "video") -> list[int]:
        """Indexes of the keyframe packets."""
        return [i for i, p in enumerate(self.packets.get(kind, [])) if "K" in p["flags"]]

    def span_ms(self) -> int:
        """Last minus first DTS over all tracks, in ms (FLV timestamps are ms)."""
        dts = [d for kind in ("video", "audio") for d in self.dts(kind)]
        return max(dts) - min(dts) if dts else 0


PROBE_ARGS = ["-of", "json", "-show_streams", "-show_packets", "-show_data_hash", "md5"]


def probe_file(path: Path, timeout: float = 30) -> Probe:
    """ffprobe of a finished file."""
    res = subprocess.run(
        FFPROBE + PROBE_ARGS + [str(path)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
    )
    if res.returncode != 0:
        raise AssertionError(f"ffprobe {path} failed ({res.returncode}): {res.stderr.decode()}")
    return Probe.parse(res.stdout.decode())


def start_probe(procs: Procs, url: str, name: str = "ffprobe") -> Proc:
    """ffprobe reading a live URL until EOF; parse with `finish_probe`."""
    return procs.start(name, FFPROBE + PROBE_ARGS + [url])


def finish_probe(proc: Proc, timeout: float) -> Probe:
    rc = proc.wait(timeout)
    assert rc == 0, f"{proc.name} exited {rc}: {proc.stderr()[-2000:]}"
    return Probe.parse(proc.stdout())


def relative_timestamps(probe: Probe, kind: str) -> list[tuple[int, int]]:
    """(DTS, PTS - DTS) of each packet, DTS relative to the earliest DTS of any track (a server
    may shift the whole timeline, never one track against the other)."""
    origin = min(int(p["dts"]) for k in ("video", "audio") for p in probe.packets[k][:1])
    return [(int(p["dts"]) - origin, int(p["pts"]) - int(p["dts"])) for p in probe.packets[kind]]


def assert_same_stream(copy: Probe, source: Probe, what: str) -> None:
    assert copy.params() == source.params(), f"{what}: codec parameters differ"
    for kind in ("video", "audio"):
        assert copy.count(kind) == source.count(kind), f"{what}: {kind} packet count"
        assert copy.hashes(kind) == source.hashes(kind), f"{what}: {kind} payloads differ"
        assert relative_timestamps(copy, kind) == relative_timestamps(source, kind), (
            f"{what}: {kind} timestamps differ"
        )


def strictly_increasing(values: list[int]) -> list[tuple[int, int, int]]:
    """The places (index, previous, value) where `values` does not increase."""
    return [(i, values[i - 1], values[i]) for i in range(1, len(values)) if values[i] <= values[i - 1]]


# --------------------------------------------------------------------------------------------
# FLV tags as they arrive (HTTP-FLV responses, rtmpdump's stdout)


@dataclasses.dataclass
class Tag:
    arrival: float  # time.monotonic() when the tag's last byte was read
    kind: str  # "video", "audio", "script"
    timestamp: int  # ms
    size: int
    keyframe: bool = False  # video: frame type 1
    sequence_header: bool = False  # AVC/HEVC/AAC configuration record
    end_of_sequence: bool = False  # AVC/HEVC end of sequence (FLV spec E.4.3.1 packet type 2)


class FlvTagReader:
    """Incremental FLV parser (FLV spec E.2 header, E.4.1 tags); feed bytes, get tags."""

    def __init__(self):
        self.buf = bytearray()
        self.header_seen = False
        self.tags: list[Tag] = []

    def feed(self, data: bytes, now: float) -> None:
        self.buf += data
        if not self.header_seen:
            if len(self.buf) < 13:
                return
            if self.buf[:3] != b"FLV":
                raise ValueError(f"not an FLV stream: {bytes(self.buf[:16])!r}")
            offset = struct.unpack(">I", self.buf[5:9])[0]
            del self.buf[: offset + 4]  # header + PreviousTagSize0
            self.header_seen = True
        while len(self.buf) >= 11:
            ttype = self.buf[0] & 0x1F
            size = int.from_bytes(self.buf[1:4], "big")
            if len(self.buf) < 11 + size + 4:
                return
            ts = int.from_bytes(self.buf[4:7], "big") | (self.buf[7] << 24)
            body = bytes(self.buf[11 : 11 + size])
            del self.buf[: 11 + size + 4]
            self.tags.append(self._tag(ttype, ts, body, now))

    @staticmethod
    def _tag(ttype: int, ts: int, body: bytes, now: float) -> Tag:
        if ttype == 9 and body:
            b0 = body[0]
            if b0 & 0x80:  # Enhanced RTMP: IsExHeader, frame type in bits 4-6, packet type low
                key, packet_type = (b0 >> 4) & 7 == 1, b0 & 0x0F
                seq, eos = packet_type == 0, packet_type == 2
            else:
                key = b0 >> 4 == 1
                avc = (b0 & 0x0F) in (7, 12) and len(body) > 1
                seq, eos = avc and body[1] == 0, avc and body[1] == 2
            return Tag(now, "video", ts, len(body), key, seq, eos)
        if ttype == 8 and body:
            seq = body[0] >> 4 == 10 and len(body) > 1 and body[1] == 0
            return Tag(now, "audio", ts, len(body), False, seq)
        return Tag(now, "script", ts, len(body))

    def media(self, kind: str) -> list[Tag]:
        """Tags of `kind` that carry frames (not configuration records, not end of sequence)."""
        return [
            t
            for t in self.tags
            if t.kind == kind and not t.sequence_header and not t.end_of_sequence
        ]


class StreamReader(threading.Thread):
    """Reads an FLV byte stream in a thread, recording each tag's arrival time."""

    def __init__(self, name: str):
        super().__init__(name=name, daemon=True)
        self.flv = FlvTagReader()
        self.started_at: Optional[float] = None
        self.done_at: Optional[float] = None
        self.error: Optional[BaseException] = None
        self.done = threading.Event()
        self.closed = False  # hung up by the test: errors after that are expected
        self.bytes = 0

    def run(self) -> None:
        self.started_at = time.monotonic()
        try:
            for chunk in self.chunks():
                self.bytes += len(chunk)
                self.flv.feed(chunk, time.monotonic())
        except BaseException as e:  # noqa: BLE001 - reported to the test
            if not self.closed:
                self.error = e
        finally:
            self.done_at = time.monotonic()
            self.done.set()

    def chunks(self) -> Iterable[bytes]:
        raise NotImplementedError

    def join_done(self, timeout: float) -> None:
        if not self.done.wait(timeout):
            raise TimeoutError(f"{self.name}: stream still open after {timeout:.1f} s")
        if self.error is not None:
            raise AssertionError(f"{self.name}: {self.error!r}")

    def wait_frames(self, kind: str, n: int, timeout: float) -> None:
        """Waits until `n` frames of `kind` arrived (or the stream ended, or `timeout`)."""
        try:
            wait_for(
                lambda: len(self.flv.media(kind)) >= n or self.done.is_set(),
                timeout,
                f"{self.name}: {n} {kind} frames",
            )
        except TimeoutError as e:
            raise TimeoutError(f"{e} (have {len(self.flv.media(kind))})") from None

    def first_media_after(self, kind: str) -> Optional[float]:
        """Seconds from the start of the request to the first `kind` frame."""
        media = self.flv.media(kind)
        return media[0].arrival - self.started_at if media else None


class HttpFlvReader(StreamReader):
    """`GET url` as an HTTP-FLV player; the response body is parsed as FLV until it ends."""

    def __init__(self, url: str, timeout: float = 30.0):
        super().__init__(f"http-flv {url}")
        self.url = url
        self.timeout = timeout
        self.status: Optional[int] = None
        self.headers: dict[str, str] = {}
        self.conn: Optional[http.client.HTTPConnection] = None

    def close(self) -> None:
        """Hangs up (the reading thread then ends)."""
        self.closed = True
        conn = self.conn
        if conn is not None and conn.sock is not None:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.done.wait(5)

    def chunks(self) -> Iterable[bytes]:
        host_port, _, path = self.url.removeprefix("http://").partition("/")
        host, _, port = host_port.partition(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=self.timeout)
        try:
            self.conn.request("GET", "/" + path)
            resp = self.conn.getresponse()
            self.status = resp.status
            self.headers = {k.lower(): v for k, v in resp.getheaders()}
            if resp.status != 200:
                resp.read()
                return
            while True:
                chunk = resp.read1(65536)
                if not chunk:
                    return
                yield chunk
        finally:
            self.conn.close()


class PipeFlvReader(StreamReader):
    """Parses the FLV a process writes to its stdout (rtmpdump `-o -`)."""

    def __init__(self, proc: Proc):
        super().__init__(f"{proc.name} stdout")
        self.proc = proc

    def chunks(self) -> Iterable[bytes]:
        fd = self.proc.popen.stdout.fileno()
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                return
            yield chunk


# --------------------------------------------------------------------------------------------
# Raw RTMP bytes (RTMP spec 1.0 sections 5.2 handshake, 5.3 chunking, 5.4.1 Set Chunk Size)

HANDSHAKE_SIZE = 1536


def recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError(f"closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def rtmp_handshake(sock: socket.socket) -> None:
    """The plain (section 5.2.2-5.2.4) handshake: C0 C1, read S0 S1 S2, send C2 = S1."""
    c1 = struct.pack(">II", 0, 0) + os.urandom(HANDSHAKE_SIZE - 8)
    sock.sendall(b"\x03" + c1)
    s0s1s2 = recv_exact(sock, 1 + 2 * HANDSHAKE_SIZE)
    assert s0s1s2[0] == 3, f"S0 version {s0s1s2[0]}"
    sock.sendall(s0s1s2[1 : 1 + HANDSHAKE_SIZE])


def set_chunk_size_message(value: int) -> bytes:
    """Protocol control message 1 on chunk stream 2, message stream 0 (section 5.4.1):
    a type-0 chunk header, then the 4-byte size. `value` is sent as is, even if invalid."""
    header = bytes([0x02]) + (0).to_bytes(3, "big") + (4).to_bytes(3, "big") + b"\x01"
    return header + struct.pack("<I", 0) + struct.pack(">I", value & 0xFFFFFFFF)


def wait_closed(sock: socket.socket, timeout: float) -> Optional[float]:
    """Reads and discards until the peer closes; returns the seconds it took, or None if the
    connection was still open after `timeout`."""
    start = time.monotonic()
    deadline = start + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return time.monotonic() - start
        except socket.timeout:
            return None
        except ConnectionError:
            return time.monotonic() - start
