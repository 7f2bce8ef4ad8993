"""Pull-to-push tasks over time, as a user watches them through the official Alibaba SDK:
fail over, restart, stop, delete, exit at EndTime, survive kill -9 — with signed callbacks.

Topology: ffmpeg publishes a looping clip into nginx-rtmp (`live/src-*`); a Baton task pulls
it and pushes it back into nginx-rtmp (`live/dst-*`). nginx logs one `publish:` line per
destination session and records each session to its own file (record_unique), so the
tests see exactly when Baton opened, held or interrupted the destination. A small HTTP
receiver in the test process collects the task callbacks and checks their signatures.
"""

from __future__ import annotations

import signal
import time
import uuid

import pytest

from aliyun import REGION, Sdk, fails, utc, wait_status
from callbacks import Callbacks
from conftest import BatonServer, NginxRtmp, start_baton, start_nginx
from helpers import FFMPEG, Procs, probe_file, strictly_increasing, wait_for

pytestmark = pytest.mark.timeout(300)

ACCOUNT = "tasks"
ACCESS_KEY = ("LTAI5tTasksInteropKey01", "TasksInteropSecret0123456789abc")
CALLBACK_SECRET = "cb-secret-for-interop-tests"


# --------------------------------------------------------------------------------------------
# Callbacks


@pytest.fixture
def callbacks():
    c = Callbacks(CALLBACK_SECRET)
    yield c
    c.close()


# --------------------------------------------------------------------------------------------
# The node


CONFIG = f"""
[[accounts]]
id = "{ACCOUNT}"
callback_secret = "{CALLBACK_SECRET}"

[[api.keys]]
access_key_id = "{ACCESS_KEY[0]}"
access_key_secret = "{ACCESS_KEY[1]}"
account = "{ACCOUNT}"
"""


class Node:
    """nginx-rtmp as source and destination server, Baton running the tasks."""

    def __init__(self, baton_bin, procs: Procs, tmp_path, media):
        self.baton_bin, self.procs, self.tmp_path, self.media = baton_bin, procs, tmp_path, media
        self.nginx: NginxRtmp = start_nginx(procs, tmp_path, record_unique=True)
        self.baton: BatonServer = start_baton(baton_bin, procs, tmp_path, config=CONFIG)

    def sdk(self, flavour: str = "new-v3") -> Sdk:
        return Sdk(flavour, f"127.0.0.1:{self.baton.api_port}", *ACCESS_KEY)

    def restart_baton(self, sig: int) -> None:
        """Ends `baton serve` with `sig` and starts it again on the same ports and data dir."""
        self.baton.proc.send_signal(sig)
        self.baton.proc.wait(15)
        self.baton = start_baton(
            self.baton_bin, self.procs, self.tmp_path, config=CONFIG, again=self.baton
        )

    def publish(self, stream: str, name: str = "publisher"):
        argv = FFMPEG + ["-re", "-stream_loop", "-1", "-i", self.media["main"].path]
        return self.procs.start(name, argv + ["-c", "copy", "-f", "flv", self.url(stream)])

    def url(self, stream: str) -> str:
        return self.nginx.rtmp_url(stream)

    def sessions(self, stream: str) -> int:
        """Destination sessions nginx accepted for `stream` so far."""
        return sum(1 for line in self.nginx.publishes() if f"name='{stream}'" in line)

    def wait_sessions(self, stream: str, n: int, timeout: float = 15) -> None:
        wait_for(lambda: self.sessions(stream) >= n, timeout, f"{n} nginx publishes of {stream}")

    def records(self, stream: str):
        return sorted(p for p in self.nginx.records() if p.name.startswith(f"{stream}-"))


@pytest.fixture
def node(baton_bin, procs, tmp_path, media) -> Node:
    return Node(baton_bin, procs, tmp_path, media)


def task_params(node: Node, name: str, src: str, dst: str, callback: str, **extra) -> dict:
    params = {
        "Region": REGION,
        "TaskName": name,
        "SourceType": "live",
        "SourceProtocol": "rtmp",
        "SourceUrls": [node.url(src)],
        "DstUrl": node.url(dst),
        "StartTime": utc(-60),
        "EndTime": utc(3600),
        "CallbackUrl": callback,
    }
    params.update(extra)
    return params


# --------------------------------------------------------------------------------------------
# The tests


def test_failover_restart_stop_delete(node, callbacks):
    """Source gone → 2 (PullStreamFailed) with the destination session held; source back → 1,
    still one destination session with a continuous timeline; Restart interrupts the
    destination (a new session); Stop → 3; Delete → gone. Each transition is a signed
    callback, numbered in the task's event log."""
    c = node.sdk()
    tag = uuid.uuid4().hex[:8]
    src, dst = f"src-{tag}", f"dst-{tag}"
    publisher = node.publish(src)
    params = task_params(node, f"failover {tag}", src, dst, callbacks.url)
    task_id = c.call("CreateLivePullToPush", **params)["TaskId"]
    by_id = {"Region": REGION, "TaskId": task_id}

    wait_status(c, by_id, statuses=(1,), timeout=20)
    node.wait_sessions(dst, 1)
    running = callbacks.wait_state(task_id, "Running")
    assert running["Sequence"] == 1 and running["TaskName"] == params["TaskName"]
    assert "Reason" not in running and "ExitReason" not in running
    time.sleep(3)

    # The source goes away: the relay reconnects it within its grace period (35 s), holding
    # the destination; the task shows 2 meanwhile.
    publisher.stop(signal.SIGKILL)
    gone = time.monotonic()
    abnormal = wait_status(c, by_id, statuses=(2,), timeout=10)
    assert abnormal["TaskInvalidReason"] == "PullStreamFailed"
    recovering = callbacks.wait_state(task_id, "Recovering")
    assert recovering["Reason"] == "PullStreamFailed"
    time.sleep(max(0.0, 3 - (time.monotonic() - gone)))
    node.publish(src, name="publisher-again")
    recovered = wait_status(c, by_id, statuses=(1,), timeout=15)
    assert "TaskInvalidReason" not in recovered
    callbacks.wait_state(task_id, "Running", count=2)
    time.sleep(3)
    assert node.sessions(dst) == 1, "the destination saw the source failover"

    # Restart interrupts the ingest at the destination: a second session.
    c.call("RestartLivePullToPush", **by_id)
    node.wait_sessions(dst, 2)
    wait_status(c, by_id, statuses=(1,))
    callbacks.wait_state(task_id, "Running", count=3)

    # The first destination session, closed by the restart, spans the failover on one
    # timeline: video DTS strictly increasing, no gap back to zero.
    first = node.records(dst)[0]
    probe = probe_file(first)
    dts = probe.dts("video")
    assert len(dts) > 150, f"{first.name}: {len(dts)} video packets"
    assert strictly_increasing(dts) == [], f"{first.name}: DTS went back"
    assert probe.dts("audio"), "no audio"

    c.call("StopLivePullToPush", **by_id)
    assert wait_status(c, by_id, statuses=(3,))["TaskStatus"] == 3
    callbacks.wait_state(task_id, "Offline")
    e = fails(c.call, "StopLivePullToPush", **by_id)
    assert e.code == "CodeTaskHasStopped"

    c.call("DeleteLivePullToPush", **by_id)
    exited = callbacks.wait_state(task_id, "Exit")
    assert exited["ExitReason"] == "TriggerByUser"
    e = fails(c.call, "DescribeLivePullToPush", **by_id)
    assert e.code == "CodeTaskNotExist"

    events = callbacks.of(task_id)
    seqs = sorted({e["Sequence"] for e in events})
    # Sequence numbers the task's event log; the callbacks skip the log-only `Forwarding`
    # events (media reached the destination: after the start and after the restart).
    skipped = sorted(set(range(1, seqs[-1] + 1)) - set(seqs))
    assert seqs[0] == 1 and len(skipped) == 2, (seqs, skipped)
    assert callbacks.states(task_id) == [
        "Running", "Recovering", "Running", "Running", "Offline", "Exit"
    ]


def test_end_time_exits_and_stays_describable(node, callbacks):
    """At EndTime the task stops pushing and exits: -1, OverEndTime, TaskExitTime; it stays
    describable (retention) and cannot be restarted."""
    c = node.sdk("old")
    tag = uuid.uuid4().hex[:8]
    src, dst = f"src-{tag}", f"dst-{tag}"
    node.publish(src)
    end = time.time() + 8
    end_text = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(end))
    params = task_params(node, f"endtime {tag}", src, dst, callbacks.url, EndTime=end_text)
    task_id = c.call("CreateLivePullToPush", **params)["TaskId"]
    by_id = {"Region": REGION, "TaskId": task_id}
    wait_status(c, by_id, statuses=(1,), timeout=20)
    node.wait_sessions(dst, 1)

    exited = wait_status(c, by_id, statuses=(-1,), timeout=25)
    assert exited["TaskExitReason"] == "OverEndTime"
    # The exit happens at EndTime (whole seconds), not later than the engine's tick.
    assert int(end) <= exited["TaskExitTime"] <= int(end) + 2, (end, exited["TaskExitTime"])
    event = callbacks.wait_state(task_id, "Exit")
    assert event["ExitReason"] == "OverEndTime"
    # nginx records the session to a file; the relay's end closes it (no second session).
    wait_for(lambda: node.records(dst), 10, "the destination's record")
    time.sleep(2)
    assert node.sessions(dst) == 1
    e = fails(c.call, "RestartLivePullToPush", **by_id)
    assert e.status == 400 and e.code.startswith(("InvalidParam", "CodeTask")), e.code
    assert c.call("DescribeLivePullToPush", **by_id)["TaskStatus"] == -1
    c.call("DeleteLivePullToPush", **by_id)
    assert fails(c.call, "DescribeLivePullToPush", **by_id).code == "CodeTaskNotExist"


def test_kill_9_loses_no_task(node, callbacks):
    """kill -9 of `baton serve`, then a start on the same data dir: the running task runs and
    pushes again within seconds, the scheduled and the stopped tasks keep their state, and no
    callback is lost (delivery is at least once: seq 1..n, duplicates allowed)."""
    c = node.sdk("new-v2")
    tag = uuid.uuid4().hex[:8]
    src, dst = f"src-{tag}", f"dst-{tag}"
    node.publish(src)
    running_id = c.call(
        "CreateLivePullToPush", **task_params(node, f"k9 run {tag}", src, dst, callbacks.url)
    )["TaskId"]
    later_id = c.call(
        "CreateLivePullToPush",
        **task_params(
            node, f"k9 later {tag}", src, f"later-{tag}", callbacks.url,
            StartTime=utc(3600), EndTime=utc(7200),
        ),
    )["TaskId"]
    stopped_id = c.call(
        "CreateLivePullToPush",
        **task_params(node, f"k9 stopped {tag}", src, f"stopped-{tag}", callbacks.url),
    )["TaskId"]
    ids = {"running": running_id, "later": later_id, "stopped": stopped_id}
    by = {k: {"Region": REGION, "TaskId": v} for k, v in ids.items()}
    wait_status(c, by["running"], statuses=(1,), timeout=20)
    wait_status(c, by["stopped"], statuses=(1,), timeout=20)
    c.call("StopLivePullToPush", **by["stopped"])
    callbacks.wait_state(stopped_id, "Offline")
    node.wait_sessions(dst, 1)
    time.sleep(2)

    node.restart_baton(signal.SIGKILL)
    back = time.monotonic()
    c = node.sdk("new-v2")
    wait_status(c, by["running"], statuses=(1,), timeout=10)
    node.wait_sessions(dst, 2, timeout=10)
    print(f"\nafter kill -9: task running and pushing again in {time.monotonic() - back:.2f} s")
    assert c.call("DescribeLivePullToPush", **by["later"])["TaskStatus"] == 0
    assert c.call("DescribeLivePullToPush", **by["stopped"])["TaskStatus"] == 3
    listed = c.call("DescribeLivePullToPushList", Region=REGION, TaskName=tag)
    assert {t["TaskId"] for t in listed["TaskList"]} == set(ids.values())

    # Callbacks: every event acknowledged before the crash was delivered, in order, and
    # the recovered task keeps numbering where it left off.
    c.call("StopLivePullToPush", **by["running"])
    callbacks.wait_state(running_id, "Offline")
    assert callbacks.states(running_id) == ["Running", "Offline"]
    assert callbacks.states(stopped_id) == ["Running", "Offline"]
    assert callbacks.states(later_id) == []
    for task in ids.values():
        c.call("DeleteLivePullToPush", Region=REGION, TaskId=task)


def test_req_auth_callbacks_carry_alibabas_signature(node, callbacks):
    """ReqAuth=yes with an AuthKey, sent by the official SDK: the task's callbacks carry
    ALI-LIVE-TIMESTAMP and ALI-LIVE-SIGNATURE = md5("<callback host>|<timestamp>|<AuthKey>"),
    checked here as a receiver following Alibaba's "Callback authentication" would; Baton's
    own X-Baton-Signature stays (checked by `callbacks.of`)."""
    import hashlib

    c = node.sdk("new-v3")
    tag = uuid.uuid4().hex[:8]
    key = f"ali-key-{tag}"
    params = task_params(
        node, f"reqauth {tag}", f"src-{tag}", f"dst-{tag}", callbacks.url, ReqAuth="yes", AuthKey=key
    )
    task_id = c.call("CreateLivePullToPush", **params)["TaskId"]
    callbacks.wait_state(task_id, "Running")
    with callbacks.lock:
        raw = [e for e in callbacks.events if task_id.encode() in e["body"]]
    assert raw
    for e in raw:
        h = {k.lower(): v for k, v in e["headers"].items()}
        ts = h["ali-live-timestamp"]
        assert ts == h["x-baton-timestamp"]
        expected = hashlib.md5(f"127.0.0.1|{ts}|{key}".encode()).hexdigest()
        assert h["ali-live-signature"] == expected
    info = c.call("DescribeLivePullToPush", Region=REGION, TaskId=task_id)["TaskInfo"]
    assert (info["ReqAuth"], info["AuthKey"]) == ("yes", key)
    c.call("DeleteLivePullToPush", Region=REGION, TaskId=task_id)
