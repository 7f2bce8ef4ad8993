"""The official Alibaba Cloud Python SDKs against Baton's Alibaba Cloud Live dialect
(Version 2016-11-01, the seven pull-to-push operations).

Three client flavours, each unchanged, as a user would configure them (sdk-wire.md):

* ``new-v3``: alibabacloud-live20161101 (tea-openapi), default ACS3-HMAC-SHA256 signature;
* ``new-v2``: the same SDK with ``signature_algorithm='v2'`` (RPC v1 HMAC-SHA1);
* ``old``: aliyun-python-sdk-live over aliyun-python-sdk-core (RPC v1 HMAC-SHA1).

The tests check what the SDKs parse — model fields (``TaskInfo.CallbackURL``, ``SourceUrls``
as a list, ``RetCode``/``Description`` only where the models have them) and the error codes
their exceptions carry.

With ``baton serve``, one test also relays a real stream: ffmpeg publishes into Baton's
ingest, an SDK-created task pushes it to another ingest stream, ffmpeg reads that back.

The server is ``baton serve`` with ``[[api.keys]]`` in its config. Every account is used by one
test only, so the provider's 10 requests per second per account and action never throttle a
test by accident. Lifecycle over time (failover, restart, EndTime, kill -9, callbacks) is in
``test_tasks.py``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass

import pytest

from aliyun import FLAVOURS, REGION, RUNNING, ApiFailure, Sdk, fails, utc, wait_status
from conftest import start_baton
from helpers import FFMPEG, Procs, probe_file, record

# The suite's per-test timeout is 120 s; the first test may also build the stand-alone server.
pytestmark = pytest.mark.timeout(900)

SECRET_LEN = 30


def _key(name: str) -> tuple[str, str]:
    """A deterministic test key pair per account name."""
    ak = f"LTAI{name.replace('-', '')}"[:24]
    sk = (name.replace("-", "") * 8)[:SECRET_LEN]
    return ak, sk


# One account per (test, flavour): throttling is per account and action.
ACCOUNTS = [f"{t}-{f}" for t in ("ops", "errors", "paging") for f in FLAVOURS]
ACCOUNTS += ["iso-a", "iso-b", "throttle", "relay", "readonly", "raw"]
POLICIES = {"readonly": ["live:Describe*"]}
KEYS = {name: _key(name) for name in ACCOUNTS}
assert len({ak for ak, _ in KEYS.values()}) == len(KEYS), "access key ids must differ"


# --------------------------------------------------------------------------------------------
# The server


@dataclass
class Api:
    endpoint: str  # host:port, as the SDKs take it
    rtmp_port: int  # Baton's ingest

    def source(self, stream: str) -> str:
        return f"rtmp://127.0.0.1:{self.rtmp_port}/live/{stream}"

    def destination(self, stream: str) -> str:
        return f"rtmp://127.0.0.1:{self.rtmp_port}/live/{stream}"


def _serves_aliyun(endpoint: str) -> bool:
    """An unsigned call gets the dialect's JSON error when the API is mounted."""
    url = f"http://{endpoint}/?Action=DescribeLivePullToPush&Version=2016-11-01"
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            body = r.read()
    except urllib.error.HTTPError as e:
        body = e.read()
    except OSError:
        return False
    try:
        return json.loads(body).get("Code") == "MissingSignature"
    except (ValueError, AttributeError):
        return False


@pytest.fixture(scope="module")
def api(baton_bin, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("aliyun")
    procs = Procs(tmp)
    config = "".join(
        f'[[api.keys]]\naccess_key_id = "{ak}"\naccess_key_secret = "{sk}"\naccount = "{name}"\n'
        + (f"policy = {json.dumps(POLICIES[name])}\n" if name in POLICIES else "")
        + "\n"
        for name, (ak, sk) in KEYS.items()
    )
    try:
        server = start_baton(baton_bin, procs, tmp, config=config, name="baton-aliyun")
        endpoint = f"127.0.0.1:{server.api_port}"
        assert _serves_aliyun(endpoint), "baton serve does not answer the Alibaba dialect at /"
        yield Api(endpoint, server.rtmp_port)
    finally:
        procs.stop_all()


# --------------------------------------------------------------------------------------------
# One face over the three SDK flavours


def sdk(api: Api, flavour: str, account: str) -> Sdk:
    ak, sk = KEYS[account]
    return Sdk(flavour, api.endpoint, ak, sk)


def live_task(api: Api, name: str, start: float = -60, end: float = 3600, **extra) -> dict:
    stream = uuid.uuid4().hex[:12]
    params = {
        "Region": REGION,
        "TaskName": name,
        "SourceType": "live",
        "SourceProtocol": "rtmp",
        "SourceUrls": [api.source(f"src-{stream}")],
        "DstUrl": api.destination(f"dst-{stream}"),
        "StartTime": utc(start),
        "EndTime": utc(end),
        "CallbackUrl": "http://127.0.0.1:9/cb?src=sdk",
    }
    params.update(extra)
    return params


# --------------------------------------------------------------------------------------------
# The tests


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_all_seven_operations(api, flavour):
    c = sdk(api, flavour, f"ops-{flavour}")
    name = f"sdk {flavour} 测试 {uuid.uuid4().hex[:8]}"
    params = live_task(api, name)

    created = c.call("CreateLivePullToPush", **params)
    assert sorted(created) == ["Description", "RequestId", "RetCode", "TaskId"]
    assert (created["RetCode"], created["Description"]) == (0, "OK")
    task_id = created["TaskId"]
    by_id = {"Region": REGION, "TaskId": task_id}

    described = wait_status(c, by_id)
    assert (described["RetCode"], described["Description"]) == (0, "OK")
    assert described["TaskId"] == task_id
    assert described["TaskStatus"] in RUNNING
    for absent in ("TaskExitReason", "TaskExitTime"):
        assert absent not in described
    info = described["TaskInfo"]
    assert info["TaskId"] == task_id
    assert info["TaskName"] == name
    assert info["SourceType"] == "live"
    assert info["SourceProtocol"] == "rtmp"
    assert info["SourceUrls"] == params["SourceUrls"]
    assert info["DstUrl"] == params["DstUrl"]
    assert (info["StartTime"], info["EndTime"]) == (params["StartTime"], params["EndTime"])
    # Requests say CallbackUrl, responses CallbackURL: the model reads only the latter.
    assert info["CallbackURL"] == params["CallbackUrl"]
    assert (info["RetryCount"], info["RetryInterval"], info["RepeatNumber"]) == (3, 60, 0)
    if flavour.startswith("new"):
        model = c.model
        assert model.task_info.callback_url == params["CallbackUrl"]
        assert model.task_info.source_urls == params["SourceUrls"]
        assert model.task_status in RUNNING
        assert model.task_exit_time is None

    listed = c.call("DescribeLivePullToPushList", Region=REGION, TaskName=name)
    assert (listed["Total"], listed["PageNumber"], listed["PageSize"]) == (1, 1, 10)
    [item] = listed["TaskList"]
    assert item["TaskId"] == task_id and item["TaskInfo"]["TaskName"] == name
    assert "RetCode" not in listed

    # While running, CallbackUrl and RepeatNumber may change (seed 003), nothing else.
    updated = c.call(
        "UpdateLivePullToPush", **by_id, CallbackUrl="https://127.0.0.1:9/v2", RepeatNumber=-1
    )
    assert sorted(updated) == ["Description", "RequestId", "RetCode"]
    info = c.call("DescribeLivePullToPush", **by_id)["TaskInfo"]
    assert (info["CallbackURL"], info["RepeatNumber"]) == ("https://127.0.0.1:9/v2", -1)
    e = fails(c.call, "UpdateLivePullToPush", **by_id, StartTime=utc(600))
    assert (e.code, e.status) == ("CodeTaskHasStarted", 400)

    stopped = c.call("StopLivePullToPush", **by_id)
    assert sorted(stopped) == ["RequestId", "TaskId"]
    assert stopped["TaskId"] == task_id
    e = fails(c.call, "StopLivePullToPush", **by_id)
    assert (e.code, e.status) == ("CodeTaskHasStopped", 400)

    # Stopped: the source may change, effective at the next start.
    new_source = [api.source(f"src2-{uuid.uuid4().hex[:8]}")]
    c.call("UpdateLivePullToPush", **by_id, SourceUrls=new_source)
    restarted = c.call("RestartLivePullToPush", **by_id)
    assert sorted(restarted) == ["RequestId", "TaskId"]
    described = wait_status(c, by_id)
    assert described["TaskInfo"]["SourceUrls"] == new_source

    deleted = c.call("DeleteLivePullToPush", **by_id)
    assert (deleted["RetCode"], deleted["Description"]) == (0, "OK")
    for action in ("DescribeLivePullToPush", "StopLivePullToPush", "RestartLivePullToPush"):
        e = fails(c.call, action, **by_id)
        assert (e.code, e.status) == ("CodeTaskNotExist", 400), action
        # The new SDK wraps it: "code: 400, Task does not exist. request id: …".
        assert "Task does not exist." in e.message


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_error_codes(api, flavour):
    account = f"errors-{flavour}"
    c = sdk(api, flavour, account)
    name = f"errors {flavour}"

    # Credentials.
    ak, _ = KEYS[account]
    wrong_secret = Sdk(flavour, api.endpoint, ak, "WrongSecret0123456789abcdefgh")
    e = fails(wrong_secret.call, "DescribeLivePullToPush", Region=REGION, TaskId="abc")
    if flavour == "old":
        # The old SDK compares the server's string-to-sign (after the ':' of the message)
        # with its own and, when they agree, reports the secret as wrong.
        assert (e.code, e.status) == ("InvalidAccessKeySecret", 400)
    else:
        assert (e.code, e.status) == ("SignatureDoesNotMatch", 400)
    unknown_key = Sdk(flavour, api.endpoint, "LTAINoSuchKey0000", "x" * 30)
    e = fails(unknown_key.call, "DescribeLivePullToPush", Region=REGION, TaskId="abc")
    assert (e.code, e.status) == ("InvalidAccessKeyId.NotFound", 404)

    # Parameters.
    cases = [
        ({"DstUrl": None}, "MissingDstUrl", None),
        ({"RetryInterval": 30}, "InvalidParameter", "RetryInterval"),
        ({"Region": "mars-1"}, "InvalidParameter", "Region"),
        ({"StartTime": "2026-01-01 00:00:00"}, "InvalidParameter", "StartTime"),
        ({"StartTime": utc(600), "EndTime": utc(300)}, "InvalidParam.CodeIllegalDuration", None),
        # RTSP is built; RTSP over TLS is not (refused by name).
        ({"SourceProtocol": "rtsp", "SourceUrls": ["rtsps://127.0.0.1:9/cam"]}, "InvalidParameter", "rtsps"),
        # SRT is built; its rendezvous mode is not (named with the URL), a short passphrase is invalid.
        ({"SourceProtocol": "srt", "SourceUrls": ["srt://127.0.0.1:9?mode=rendezvous"]},
         "InvalidParameter", "mode=rendezvous"),
        ({"SourceProtocol": "srt", "SourceUrls": ["srt://127.0.0.1:9?passphrase=short"]},
         "InvalidParameter", "10 to 79"),
        ({"SourceType": "vod", "SourceUrls": ["0123456789abcdef"]}, "InvalidParameter", "vod"),
        ({"DstUrl": "http://127.0.0.1/live/x"}, "InvalidParameter", "DstUrl"),
    ]
    for change, code, named in cases:
        params = live_task(api, name)
        for k, v in change.items():
            if v is None:
                params.pop(k)
            else:
                params[k] = v
        e = fails(c.call, "CreateLivePullToPush", **params)
        assert (e.code, e.status) == (code, 400), change
        if named:
            assert named in e.message, (change, e.message)
        assert e.cls in ("ClientException", "ServerException"), e.cls

    e = fails(c.call, "DescribeLivePullToPushList", Region=REGION, PageSize=101)
    assert (e.code, e.status) == ("InvalidParameter", 400)
    e = fails(c.call, "DescribeLivePullToPush", Region=REGION)
    assert (e.code, e.status) == ("MissingTaskId", 400)
    e = fails(c.call, "DescribeLivePullToPush", Region=REGION, TaskId="no-such-task")
    assert (e.code, e.status) == ("CodeTaskNotExist", 400)

    # A task that has not started cannot be restarted or stopped. (The cases above were 10
    # CreateLivePullToPush calls: the next second has the action's quota again.)
    time.sleep(1.1)
    future = c.call("CreateLivePullToPush", **live_task(api, name, start=3600, end=7200))["TaskId"]
    by_id = {"Region": REGION, "TaskId": future}
    assert c.call("DescribeLivePullToPush", **by_id)["TaskStatus"] == 0
    e = fails(c.call, "RestartLivePullToPush", **by_id)
    assert (e.code, e.status) == ("InvalidParam.CodeIllegalDuration", 400)
    e = fails(c.call, "StopLivePullToPush", **by_id)
    assert (e.code, e.status) == ("CodeTaskHasStopped", 400)
    c.call("DeleteLivePullToPush", **by_id)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_paging_and_fuzzy_filters(api, flavour):
    c = sdk(api, flavour, f"paging-{flavour}")
    tag = uuid.uuid4().hex[:8]
    ids = [
        c.call("CreateLivePullToPush", **live_task(api, f"page {tag} {i}"))["TaskId"]
        for i in range(3)
    ]
    page = c.call(
        "DescribeLivePullToPushList", Region=REGION, TaskName=tag, PageSize=2, PageNumber=2
    )
    assert (page["Total"], page["PageNumber"], page["PageSize"]) == (3, 2, 2)
    assert len(page["TaskList"]) == 1
    seen = c.call("DescribeLivePullToPushList", Region=REGION, TaskName=tag, PageSize=2)["TaskList"]
    assert {t["TaskId"] for t in seen + page["TaskList"]} == set(ids)
    by_id = c.call("DescribeLivePullToPushList", Region=REGION, TaskId=ids[1][3:20])
    assert [t["TaskId"] for t in by_id["TaskList"]] == [ids[1]]
    for task_id in ids:
        c.call("DeleteLivePullToPush", Region=REGION, TaskId=task_id)


def test_accounts_are_isolated(api):
    a = sdk(api, "new-v3", "iso-a")
    b = sdk(api, "old", "iso-b")
    task_id = a.call("CreateLivePullToPush", **live_task(api, "isolated"))["TaskId"]
    by_id = {"Region": REGION, "TaskId": task_id}
    for action in ("DescribeLivePullToPush", "StopLivePullToPush", "DeleteLivePullToPush"):
        e = fails(b.call, action, **by_id)
        assert e.code == "CodeTaskNotExist", action
    assert b.call("DescribeLivePullToPushList", Region=REGION)["Total"] == 0
    assert a.call("DescribeLivePullToPush", **by_id)["TaskId"] == task_id
    a.call("DeleteLivePullToPush", **by_id)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_key_policy_denies_other_actions(api, flavour):
    """A key allowed `live:Describe*` only: reads pass, writes get a RAM-style 403."""
    c = sdk(api, flavour, "readonly")
    e = fails(c.call, "DescribeLivePullToPush", Region=REGION, TaskId="no-such-task")
    assert e.code == "CodeTaskNotExist"
    assert c.call("DescribeLivePullToPushList", Region=REGION)["Total"] == 0
    for action, params in [
        ("CreateLivePullToPush", live_task(api, "denied")),
        ("StopLivePullToPush", {"Region": REGION, "TaskId": "no-such-task"}),
        ("DeleteLivePullToPush", {"Region": REGION, "TaskId": "no-such-task"}),
    ]:
        e = fails(c.call, action, **params)
        assert (e.code, e.status) == ("Forbidden.RAM", 403), action
        assert f"live:{action}" in e.message, e.message


def _signed_v1(api: Api, account: str, timestamp: str, nonce: str, **params) -> tuple[int, dict]:
    """An RPC v1 (HMAC-SHA1) GET signed as the SDKs sign it, with the given Timestamp and
    SignatureNonce; returns (HTTP status, JSON body)."""
    ak, sk = KEYS[account]
    query = {
        "Format": "JSON",
        "Version": "2016-11-01",
        "AccessKeyId": ak,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": nonce,
        "Timestamp": timestamp,
        **params,
    }

    def enc(v: str) -> str:
        return urllib.parse.quote(v, safe="-_.~")

    canonical = "&".join(f"{enc(k)}={enc(str(v))}" for k, v in sorted(query.items()))
    to_sign = f"GET&{enc('/')}&{enc(canonical)}"
    mac = hmac.new(f"{sk}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    query["Signature"] = base64.b64encode(mac).decode()
    url = f"http://{api.endpoint}/?{urllib.parse.urlencode(query)}"
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_replayed_and_stale_requests_are_refused(api):
    """A signed request is good once, within 15 minutes of its Timestamp."""
    describe = {"Action": "DescribeLivePullToPush", "Region": REGION, "TaskId": "no-such-task"}
    now = utc(0)
    nonce = uuid.uuid4().hex
    status, body = _signed_v1(api, "raw", now, nonce, **describe)
    assert (status, body["Code"]) == (400, "CodeTaskNotExist"), body
    # The same signed request again: a replay.
    status, body = _signed_v1(api, "raw", now, nonce, **describe)
    assert (status, body["Code"]) == (400, "SignatureNonceUsed"), body
    assert sorted(body) == ["Code", "HostId", "Message", "Recommend", "RequestId"]
    for skew in (-16 * 60, 16 * 60):
        status, body = _signed_v1(api, "raw", utc(skew), uuid.uuid4().hex, **describe)
        assert (status, body["Code"]) == (400, "InvalidTimeStamp.Expired"), (skew, body)
    status, body = _signed_v1(api, "raw", utc(-14 * 60), uuid.uuid4().hex, **describe)
    assert body["Code"] == "CodeTaskNotExist", body
    status, body = _signed_v1(api, "raw", "yesterday", uuid.uuid4().hex, **describe)
    assert (status, body["Code"]) == (400, "InvalidTimeStamp.Format"), body


def test_throttling(api):
    """10 requests per second per account and action; the new SDK gets the wait time."""
    c = sdk(api, "new-v3", "throttle")
    codes, throttled = [], None
    for _ in range(30):
        try:
            c.call("DescribeLivePullToPush", Region=REGION, TaskId="no-such-task")
        except ApiFailure as e:
            codes.append(e.code)
            if e.code == "Throttling.User":
                throttled = e
    assert throttled is not None, codes
    assert codes.count("CodeTaskNotExist") >= 10, codes
    assert throttled.status == 400
    assert throttled.message.startswith("code: 400, Request was denied due to user flow control.")
    # `x-acs-retry-after` makes tea-openapi raise its ThrottlingException with the wait (ms).
    assert throttled.cls == "ThrottlingException"
    assert 0 < throttled.raw.retry_after <= 1000
    # Another action is not affected; after a second the action is available again.
    e = fails(c.call, "StopLivePullToPush", Region=REGION, TaskId="no-such-task")
    assert e.code == "CodeTaskNotExist"
    time.sleep(1.1)
    e = fails(c.call, "DescribeLivePullToPush", Region=REGION, TaskId="no-such-task")
    assert e.code == "CodeTaskNotExist"
    old = sdk(api, "old", "throttle")
    codes = []
    for _ in range(30):
        try:
            old.call("StopLivePullToPush", Region=REGION, TaskId="no-such-task")
        except ApiFailure as e:
            codes.append(e.code)
    assert "Throttling.User" in codes, codes


def test_a_task_relays_a_real_stream(api, media, procs, tmp_path):
    """Created with the SDK, a live task pulls a stream published into Baton's ingest and
    pushes it to another stream of the ingest, where ffmpeg reads it back; Stop ends it."""
    c = sdk(api, "new-v3", "relay")
    tag = uuid.uuid4().hex[:8]
    src, dst = api.source(f"src-{tag}"), api.destination(f"dst-{tag}")
    argv = FFMPEG + ["-re", "-stream_loop", "-1", "-i", media["main"].path]
    procs.start("publisher", argv + ["-c", "copy", "-f", "flv", src])
    params = live_task(api, f"relay {tag}", SourceUrls=[src], DstUrl=dst)
    task_id = c.call("CreateLivePullToPush", **params)["TaskId"]
    by_id = {"Region": REGION, "TaskId": task_id}
    wait_status(c, by_id, statuses=(1,), timeout=20)

    out = tmp_path / "dst.flv"
    reader = record(procs, dst, out, name="dst-reader")
    time.sleep(3)
    c.call("StopLivePullToPush", **by_id)
    assert wait_status(c, by_id, statuses=(3,))["TaskStatus"] == 3
    # The relay's end unpublishes the destination: the reader sees the end of the stream.
    reader.wait(20)
    probe = probe_file(out)
    assert probe.packets.get("video") and probe.packets.get("audio"), probe.streams
    c.call("DeleteLivePullToPush", **by_id)
