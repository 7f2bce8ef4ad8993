"""Replay protection end to end, with the official SDKs beside a raw flooder:

* one key floods — a read-only key with requests its policy refuses, and a full key far past
  its share of spent nonces — while the Alibaba SDKs (all three flavours) with another key
  keep getting their answers;
* a captured signed request is refused after a restart, by SIGTERM and by kill -9 (spent
  nonces are on disk before the request runs, and loaded at start);
* a captured Volcengine Stop replayed after a Continue gets the first answer and leaves the
  task running — also after kill -9.
"""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid

import pytest
import requests

from aliyun import FLAVOURS, REGION, Sdk, utc
from conftest import start_baton
from flood import flood, get, signed_path
from volc import NOT_STARTED, STOPPED, Volc, find, unix

pytestmark = pytest.mark.timeout(300)

KEYS = {
    "flood": ("LTAIreplayflood0000001", "ReplayFloodSecret000000000001"),
    "flood-ro": ("LTAIreplayfloodro00001", "ReplayFloodSecret000000000002"),
    "victim": ("LTAIreplayvictim000001", "ReplayVictimSecret00000000001"),
    "capture": ("LTAIreplaycapture00001", "ReplayCaptureSecret0000000001"),
    "volc": ("AKLTreplayvolc000000001", "ReplayVolcSecret0123456789abcdef"),
}
POLICIES = {"flood-ro": ["live:Describe*"]}
SHARE = 2000


def config(extra: str = "") -> str:
    return extra + "".join(
        f'\n[[api.keys]]\naccess_key_id = "{ak}"\naccess_key_secret = "{sk}"\naccount = "{name}"\n'
        + (f"policy = {json.dumps(POLICIES[name])}\n" if name in POLICIES else "")
        for name, (ak, sk) in KEYS.items()
    )


def aliyun_task(name: str) -> dict:
    """A task an hour ahead (nothing runs)."""
    s = uuid.uuid4().hex[:8]
    return {
        "Region": REGION,
        "TaskName": name,
        "SourceType": "live",
        "SourceProtocol": "rtmp",
        "SourceUrls": json.dumps([f"rtmp://127.0.0.1:9/live/src{s}"]),
        "DstUrl": f"rtmp://127.0.0.1:9/live/dst{s}",
        "StartTime": utc(3600),
        "EndTime": utc(7200),
    }


def test_a_nonce_flood_by_one_key_leaves_other_keys_answered(baton_bin, procs, tmp_path):
    # The throttle raised for everyone, so that only the share limits the flooding key.
    server = start_baton(
        baton_bin, procs, tmp_path,
        config=config(f"[api]\nactions_per_second = 100000\nreplay_share_per_key = {SHARE}\n"),
    )
    endpoint = f"127.0.0.1:{server.api_port}"
    victims = [Sdk(f, endpoint, *KEYS["victim"]) for f in FLAVOURS]
    created = victims[0].call("CreateLivePullToPush", **{**aliyun_task("victim"),
                              "SourceUrls": [f"rtmp://127.0.0.1:9/live/v{uuid.uuid4().hex[:6]}"]})
    task = {"Region": REGION, "TaskId": created["TaskId"]}

    # The read-only key asks to stop tasks: its policy refuses every one.
    refused = [signed_path(*KEYS["flood-ro"], {"Action": "StopLivePullToPush", **task})
               for _ in range(12_000)]
    # The full key describes: its first SHARE are answered, the rest are over its share.
    allowed = [signed_path(*KEYS["flood"], {"Action": "DescribeLivePullToPush", "Region": REGION,
                                             "TaskId": "no-such-task"})
               for _ in range(SHARE + 6_000)]
    results = {}
    floods = [
        threading.Thread(target=lambda: results.update(ro=flood(endpoint, refused)), daemon=True),
        threading.Thread(target=lambda: results.update(rw=flood(endpoint, allowed)), daemon=True),
    ]
    for t in floods:
        t.start()
    answered = 0
    deadline = time.monotonic() + 240
    while any(t.is_alive() for t in floods) and time.monotonic() < deadline:
        for c in victims:
            # Raises on anything but a 200.
            assert c.call("DescribeLivePullToPush", **task)["TaskId"] == created["TaskId"]
            answered += 1
        time.sleep(0.1)
    for t in floods:
        t.join(timeout=5)
        assert not t.is_alive(), "a flood did not finish"
    assert answered >= 3, answered
    assert results["ro"] == {(403, "Forbidden.RAM"): len(refused)}, results["ro"]
    assert results["rw"] == {
        (400, "CodeTaskNotExist"): SHARE,
        (400, "Throttling.User"): len(allowed) - SHARE,
    }, results["rw"]
    # The refused requests spent nothing: one of them again is refused by the policy again.
    assert get(endpoint, refused[0])[1]["Code"] == "Forbidden.RAM"
    # The flooding key's spent nonces are spent; the victims still answer after the flood.
    assert get(endpoint, allowed[0])[1]["Code"] == "SignatureNonceUsed"
    for c in victims:
        assert c.call("DescribeLivePullToPush", **task)["TaskId"] == created["TaskId"]


def test_a_captured_request_is_refused_after_sigterm_and_after_kill_9(baton_bin, procs, tmp_path):
    server = start_baton(baton_bin, procs, tmp_path, config=config())
    endpoint = f"127.0.0.1:{server.api_port}"
    ak, sk = KEYS["capture"]
    create = signed_path(ak, sk, {"Action": "CreateLivePullToPush", **aliyun_task("captured")})
    status, body = get(endpoint, create)
    assert status == 200, body
    task = {"Region": REGION, "TaskId": body["TaskId"]}

    rc, _ = server.stop()
    assert rc == 0
    server = start_baton(baton_bin, procs, tmp_path, config=config(), again=server)
    status, body = get(endpoint, create)
    assert (status, body["Code"]) == (400, "SignatureNonceUsed"), body

    describe = signed_path(ak, sk, {"Action": "DescribeLivePullToPush", **task})
    status, body = get(endpoint, describe)
    assert status == 200, body
    # Killed right after the answer: the nonce was on disk before the request ran.
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(10)
    server = start_baton(baton_bin, procs, tmp_path, config=config(), again=server)
    status, body = get(endpoint, describe)
    assert (status, body["Code"]) == (400, "SignatureNonceUsed"), body
    status, body = get(endpoint, create)
    assert (status, body["Code"]) == (400, "SignatureNonceUsed"), body
    listed = get(endpoint, signed_path(ak, sk, {"Action": "DescribeLivePullToPushList",
                                                "Region": REGION}))[1]
    assert listed["Total"] == 1, listed


def test_a_captured_volcengine_stop_does_not_undo_a_later_continue(baton_bin, procs, tmp_path):
    server = start_baton(baton_bin, procs, tmp_path, config=config())
    endpoint = f"127.0.0.1:{server.api_port}"
    c = Volc(endpoint, *KEYS["volc"], distinct_seconds=False)
    sent = []
    c.svc.session.hooks["response"].append(
        lambda r, *a, **k: sent.append((r.request, r.status_code, r.content))
    )
    s = uuid.uuid4().hex[:8]
    task_id = c.result("CreatePullToPushTask", Title="captured", StartTime=unix(3600),
                       EndTime=unix(7200), Type=0, SrcAddr=f"rtmp://127.0.0.1:9/live/s{s}",
                       DstAddr=f"rtmp://127.0.0.1:9/live/d{s}")["TaskId"]
    c.call("StopPullToPushTask", TaskId=task_id)
    captured, status, first = sent[-1]
    assert status == 200
    assert find(c, task_id)["Status"] == STOPPED
    time.sleep(1.0 - time.time() % 1.0 + 0.02)  # Continue signed in another second
    c.call("ContinuePullToPushTask", TaskId=task_id)
    assert find(c, task_id)["Status"] == NOT_STARTED

    def replay():
        r = requests.Session().send(captured, timeout=10)
        return r.status_code, r.content

    # The captured bytes: the first answer, byte for byte, and the task is not stopped.
    assert replay() == (200, first)
    assert find(c, task_id)["Status"] == NOT_STARTED
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(10)
    start_baton(baton_bin, procs, tmp_path, config=config(), again=server)
    assert replay() == (200, first)
    assert find(c, task_id)["Status"] == NOT_STARTED
