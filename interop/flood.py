"""A fast signer and sender of Alibaba RPC v1 (HMAC-SHA1) requests, for floods: requests are
signed up front and written pipelined (many per write) over a few keep-alive connections, each
in a thread, so one Python process sends thousands a second. Bounded: a fixed list of requests,
socket timeouts on every read.
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
import hashlib
import hmac
import json
import socket
import threading
import urllib.parse
import uuid
from typing import Iterable, Optional


def _enc(v: str) -> str:
    return urllib.parse.quote(v, safe="-_.~")


def signed_path(ak: str, sk: str, params: dict, nonce: Optional[str] = None,
                timestamp: Optional[str] = None) -> str:
    """`/?…` of an RPC v1 GET signed as the SDKs sign it."""
    if timestamp is None:
        timestamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    query = {
        "Format": "JSON",
        "Version": "2016-11-01",
        "AccessKeyId": ak,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": nonce or uuid.uuid4().hex,
        "Timestamp": timestamp,
        **{k: str(v) for k, v in params.items()},
    }
    canonical = "&".join(f"{_enc(k)}={_enc(v)}" for k, v in sorted(query.items()))
    to_sign = f"GET&{_enc('/')}&{_enc(canonical)}"
    mac = hmac.new(f"{sk}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return f"/?{canonical}&Signature={_enc(base64.b64encode(mac).decode())}"


def get(endpoint: str, path: str, timeout: float = 10) -> tuple[int, dict]:
    """One GET on a new connection: (status, JSON body)."""
    host, port = endpoint.split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(_request(endpoint, path))
        f = s.makefile("rb")
        status, body = _response(f)
    return status, json.loads(body)


def _request(endpoint: str, path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {endpoint}\r\n\r\n".encode()


def _response(f) -> tuple[int, bytes]:
    status_line = f.readline()
    if not status_line:
        raise ConnectionError("the server closed the connection")
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = f.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    return status, f.read(length)


def flood(endpoint: str, paths: Iterable[str], connections: int = 4, depth: int = 100,
          stop: Optional[threading.Event] = None) -> collections.Counter:
    """Sends every path (GET), `depth` pipelined per write on each of `connections`
    connections; returns how many answers had each (status, Code)."""
    paths = list(paths)
    counts: collections.Counter = collections.Counter()
    lock = threading.Lock()
    host, port = endpoint.split(":")

    def worker(mine: list[str]) -> None:
        local: collections.Counter = collections.Counter()
        with socket.create_connection((host, int(port)), timeout=30) as s:
            f = s.makefile("rb")
            for i in range(0, len(mine), depth):
                if stop is not None and stop.is_set():
                    break
                batch = mine[i : i + depth]
                s.sendall(b"".join(_request(endpoint, p) for p in batch))
                for _ in batch:
                    status, body = _response(f)
                    try:
                        code = json.loads(body).get("Code", "")
                    except ValueError:
                        code = "?"
                    local[(status, code)] += 1
        with lock:
            counts.update(local)

    threads = [
        threading.Thread(target=worker, args=(paths[i::connections],), daemon=True)
        for i in range(connections)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return counts
