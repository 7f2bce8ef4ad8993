"""A minimal RTMP client that records what the server says.

ffmpeg and rtmpdump print a server's onStatus descriptions but not always its codes (ffmpeg
logs "Server error: <description>" for NetStream.Publish.BadName). This client logs every
command, user control event and media message with its arrival time, so tests can assert the
codes on the wire. It is a test probe, not a player: plain handshake (RTMP spec 1.0 section
5.2), chunk stream (5.3), AMF0 commands (7.2), acknowledgements (5.4.3).
"""

from __future__ import annotations

import dataclasses
import os
import socket
import struct
import threading
import time
from typing import Any, Optional

from helpers import recv_exact, rtmp_handshake

# ------------------------------------------------------------------------------------ AMF0


def amf0_encode(value: Any) -> bytes:
    if value is None:
        return b"\x05"
    if isinstance(value, bool):
        return b"\x01" + (b"\x01" if value else b"\x00")
    if isinstance(value, (int, float)):
        return b"\x00" + struct.pack(">d", float(value))
    if isinstance(value, str):
        raw = value.encode()
        return b"\x02" + struct.pack(">H", len(raw)) + raw
    if isinstance(value, dict):
        out = b"\x03"
        for k, v in value.items():
            raw = k.encode()
            out += struct.pack(">H", len(raw)) + raw + amf0_encode(v)
        return out + b"\x00\x00\x09"
    raise TypeError(f"no AMF0 encoding for {value!r}")


def amf0_decode_all(data: bytes) -> list:
    values, pos = [], 0
    while pos < len(data):
        value, pos = _amf0_decode(data, pos)
        values.append(value)
    return values


def _amf0_decode(data: bytes, pos: int):
    marker = data[pos]
    pos += 1
    if marker == 0x00:
        return struct.unpack(">d", data[pos : pos + 8])[0], pos + 8
    if marker == 0x01:
        return data[pos] != 0, pos + 1
    if marker == 0x02:
        n = struct.unpack(">H", data[pos : pos + 2])[0]
        return data[pos + 2 : pos + 2 + n].decode(errors="replace"), pos + 2 + n
    if marker in (0x03, 0x08):  # object, ECMA array (4-byte count, then like an object)
        if marker == 0x08:
            pos += 4
        obj = {}
        while True:
            n = struct.unpack(">H", data[pos : pos + 2])[0]
            pos += 2
            if n == 0 and data[pos] == 0x09:
                return obj, pos + 1
            key = data[pos : pos + n].decode(errors="replace")
            obj[key], pos = _amf0_decode(data, pos + n)
    if marker in (0x05, 0x06):
        return None, pos
    raise ValueError(f"AMF0 marker {marker:#x} not supported by this probe")


# ------------------------------------------------------------------------------------ client


@dataclasses.dataclass
class Event:
    arrival: float
    kind: str  # "command", "user-control", "audio", "video", "data", "control"
    name: str = ""  # command name / event type
    code: str = ""  # onStatus code
    level: str = ""
    timestamp: int = 0
    values: Optional[list] = None


class RtmpProbeClient:
    """Connects, then `play()` or `publish()`; a thread records events until the server closes
    the connection or `close()` is called."""

    def __init__(self, host: str, port: int, app: str, timeout: float = 10.0):
        self.app = app
        self.tc_url = f"rtmp://{host}:{port}/{app}"
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.events: list[Event] = []
        self.closed = threading.Event()
        self.error: Optional[BaseException] = None
        self._lock = threading.Lock()
        self._tx = 1
        self._in_chunk = 128
        self._out_chunk = 4096
        self._window = 2_500_000
        self._received = 0
        self._acked = 0
        self._prev: dict[int, dict] = {}
        self._partial: dict[int, bytearray] = {}
        rtmp_handshake(self.sock)
        self._send(2, 0, 1, struct.pack(">I", self._out_chunk))  # Set Chunk Size
        self._command(
            "connect",
            {"app": app, "tcUrl": self.tc_url, "flashVer": "FMLE/3.0 (interop probe)",
             "type": "nonprivate", "fpad": False, "capabilities": 15.0,
             "audioCodecs": 3191.0, "videoCodecs": 252.0, "videoFunction": 1.0},
        )
        self.sock.settimeout(None)
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    # -- commands

    def play(self, stream: str) -> None:
        self._after_connect_create_stream()
        self._command("play", None, stream, -2.0, stream_id=self.stream_id, csid=8)

    def publish(self, stream: str) -> None:
        self._after_connect_create_stream()
        self._command("publish", None, stream, "live", stream_id=self.stream_id, csid=8)

    def _after_connect_create_stream(self) -> None:
        self.wait_command("_result", 10)
        self._command("createStream", None)
        result = self.wait_command("_result", 10, nth=2)
        self.stream_id = int(result.values[3])

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.closed.wait(5)
        self.sock.close()

    # -- observations

    def statuses(self) -> list[str]:
        with self._lock:
            return [e.code for e in self.events if e.kind == "command" and e.name == "onStatus"]

    def media_count(self, kind: str) -> int:
        with self._lock:
            return sum(1 for e in self.events if e.kind == kind)

    def wait_command(self, name: str, timeout: float, nth: int = 1) -> Event:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = [e for e in self.events if e.kind == "command" and e.name == name]
            if len(found) >= nth:
                return found[nth - 1]
            if self.closed.is_set():
                break
            time.sleep(0.02)
        raise TimeoutError(f"no {name!r} #{nth} from the server (events: {self.summary()})")

    def wait_status(self, code: str, timeout: float, nth: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.statuses().count(code) >= nth:
                return
            if self.closed.is_set():
                break
            time.sleep(0.02)
        raise TimeoutError(f"no {code} #{nth} (statuses so far: {self.statuses()})")

    def summary(self) -> list[str]:
        with self._lock:
            out = []
            for e in self.events:
                if e.kind in ("audio", "video", "data"):
                    if out and out[-1].startswith(e.kind):
                        n = int(out[-1].split("x")[-1]) + 1 if "x" in out[-1] else 2
                        out[-1] = f"{e.kind} x{n}"
                        continue
                    out.append(e.kind)
                else:
                    out.append(f"{e.kind}:{e.name}{'/' + e.code if e.code else ''}")
            return out

    # -- wire

    def _command(self, name: str, obj: Any, *args: Any, stream_id: int = 0, csid: int = 3):
        body = amf0_encode(name) + amf0_encode(float(self._tx)) + amf0_encode(obj)
        for a in args:
            body += amf0_encode(a)
        self._tx += 1
        self._send(csid, stream_id, 20, body)

    def _send(self, csid: int, stream_id: int, type_id: int, body: bytes) -> None:
        header = bytes([csid]) + (0).to_bytes(3, "big") + len(body).to_bytes(3, "big")
        header += bytes([type_id]) + struct.pack("<I", stream_id)
        out = bytearray(header)
        chunks = [body[i : i + self._out_chunk] for i in range(0, len(body), self._out_chunk)]
        for i, chunk in enumerate(chunks or [b""]):
            if i:
                out.append(0xC0 | csid)
            out += chunk
        self.sock.sendall(out)

    def _read(self, n: int) -> bytes:
        data = recv_exact(self.sock, n)
        self._received += n
        if self._received - self._acked >= self._window // 2:
            self._acked = self._received
            self._send(2, 0, 3, struct.pack(">I", self._received & 0xFFFFFFFF))
        return data

    def _read_loop(self) -> None:
        try:
            while True:
                self._read_chunk()
        except (ConnectionError, OSError) as e:
            if not isinstance(e, ConnectionError):
                self.error = e
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = e
        finally:
            self.closed.set()

    def _read_chunk(self) -> None:
        b0 = self._read(1)[0]
        fmt, csid = b0 >> 6, b0 & 0x3F
        if csid == 0:
            csid = 64 + self._read(1)[0]
        elif csid == 1:
            lo, hi = self._read(2)
            csid = 64 + lo + hi * 256
        prev = self._prev.setdefault(csid, {"ts": 0, "delta": 0, "len": 0, "type": 0, "sid": 0})
        if fmt <= 2:
            ts = int.from_bytes(self._read(3), "big")
            if fmt <= 1:
                prev["len"] = int.from_bytes(self._read(3), "big")
                prev["type"] = self._read(1)[0]
                if fmt == 0:
                    prev["sid"] = struct.unpack("<I", self._read(4))[0]
            if ts == 0xFFFFFF:
                ts = struct.unpack(">I", self._read(4))[0]
            prev["ext"] = ts >= 0xFFFFFF
            if fmt == 0:
                prev["ts"] = ts
                prev["delta"] = 0
            else:
                prev["delta"] = ts
        elif prev.get("ext"):
            self._read(4)
        partial = self._partial.setdefault(csid, bytearray())
        if fmt != 0 and not partial:  # a new message: its timestamp delta applies
            prev["ts"] += prev["delta"]
        n = min(self._in_chunk, prev["len"] - len(partial))
        partial += self._read(n)
        if len(partial) >= prev["len"]:
            body = bytes(partial)
            self._partial[csid] = bytearray()
            self._on_message(prev["type"], prev["ts"], body)

    def _on_message(self, type_id: int, ts: int, body: bytes) -> None:
        now = time.monotonic()
        if type_id == 1:
            self._in_chunk = struct.unpack(">I", body[:4])[0] & 0x7FFFFFFF
            event = Event(now, "control", "set-chunk-size")
        elif type_id == 5:
            self._window = struct.unpack(">I", body[:4])[0]
            event = Event(now, "control", "window-ack-size")
        elif type_id in (2, 3, 6):
            event = Event(now, "control", str(type_id))
        elif type_id == 4:
            kind = struct.unpack(">H", body[:2])[0]
            names = {0: "StreamBegin", 1: "StreamEOF", 2: "StreamDry", 4: "StreamIsRecorded",
                     6: "PingRequest", 7: "PingResponse"}
            event = Event(now, "user-control", names.get(kind, str(kind)))
            if kind == 6:  # answer pings (section 7.1.7)
                self._send(2, 0, 4, struct.pack(">H", 7) + body[2:6])
        elif type_id in (8, 9):
            event = Event(now, "audio" if type_id == 8 else "video", timestamp=ts)
        elif type_id == 18:
            event = Event(now, "data", timestamp=ts)
        elif type_id == 20:
            values = amf0_decode_all(body)
            name = values[0] if values else ""
            info = values[3] if len(values) > 3 and isinstance(values[3], dict) else {}
            event = Event(now, "command", name, str(info.get("code", "")),
                          str(info.get("level", "")), values=values)
        else:
            event = Event(now, "other", str(type_id))
        with self._lock:
            self.events.append(event)


def random_name() -> str:
    return "p" + os.urandom(4).hex()
