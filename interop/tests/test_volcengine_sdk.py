"""The official Volcengine Python SDK (``volcengine`` 1.0.229, ``live.v20230101``) against
Baton's Volcengine Live dialect (Version 2023-01-01) on the same listener as the Alibaba one.

The SDK is configured as a user would (``interop/volc.py``): ``LiveService``, ``set_scheme
('http')``, ``set_host``, ``set_ak``/``set_sk``; ``RestartPullToPushTask`` (absent from
v20230101) and a POST flavour of ``ListPullToPushTask`` are registered with ``ApiInfo``.
The SDK's bare ``Exception(body)`` errors are normalised to ``VolcError`` (code, CodeN,
message, HTTP status).

What is covered: every pull-to-push task and group operation on its success path with the
returned fields checked; the error codes of the contract (parameters, states, groups,
credentials, timestamps, unknown actions, throttling, key policies, foreign domains); a live
relay from nginx-rtmp to nginx-rtmp and a VOD playlist task running, stopped, continued and
deleted; ForbidStream / ResumeStream / KillStream against a real ffmpeg publisher with
DescribeForbiddenStreamInfoByPage; and one task model under both dialects (a task created with
the Alibaba SDK listed and stopped with the Volcengine SDK, and the other way round).

One ``baton serve`` for the module with ``[[api.keys]]`` in its config; every account is used
by one test only, so the 10 requests per second per account and action never throttle a test
by accident (the face also paces itself below that, except in the throttling test).
"""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass

import pytest

from aliyun import REGION as ALIYUN_REGION
from aliyun import ApiFailure, Sdk, utc, wait_status
from conftest import start_baton, start_nginx
from helpers import FFMPEG, Procs, wait_for
from volc import (
    ACTIVE,
    NOT_STARTED,
    REGION,
    STOPPED,
    VERSION,
    Volc,
    VolcError,
    fails,
    find,
    rfc3339,
    rfc3339_ms,
    unix,
    wait_listed,
)

pytestmark = pytest.mark.timeout(300)

DOMAIN = "127.0.0.1"  # Baton's ingest as publishers reach it; owned by `root`
DAY = 86400


def _key(name: str) -> tuple[str, str]:
    """A deterministic key pair per account name (secrets: at least 16 characters)."""
    ak = f"AKLTvolc{name.replace('-', '')}"[:28]
    sk = f"VolcSecret{name.replace('-', '')}0123456789abcdef"[:40]
    return ak, sk


ACCOUNTS = [
    "ops", "paging", "errors", "titles", "states", "auth", "foreign", "groups", "throttle", "relay", "root",
    "cross-a", "cross-b", "readonly", "repeat", "acme",
]
POLICIES = {"readonly": ["live:List*", "live:Describe*"]}
KEYS = {name: _key(name) for name in ACCOUNTS}
assert len({ak for ak, _ in KEYS.values()}) == len(KEYS), "access key ids must differ"


# --------------------------------------------------------------------------------------------
# The server


@dataclass
class Api:
    endpoint: str  # host:port, as the SDKs take it
    rtmp_port: int
    play_port: int

    def volc(self, account: str, **kw) -> Volc:
        return Volc(self.endpoint, *KEYS[account], **kw)

    def aliyun(self, account: str, flavour: str = "new-v3") -> Sdk:
        return Sdk(flavour, self.endpoint, *KEYS[account])

    def ingest(self, stream: str) -> str:
        return f"rtmp://127.0.0.1:{self.rtmp_port}/live/{stream}"

    def flv(self, stream: str) -> str:
        return f"http://127.0.0.1:{self.play_port}/live/{stream}.flv"


def _serves_volc(endpoint: str) -> bool:
    """An unsigned call gets the dialect's ResponseMetadata.Error when it is mounted."""
    url = f"http://{endpoint}/?Action=ListPullToPushTask&Version={VERSION}"
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            body = r.read()
    except urllib.error.HTTPError as e:
        body = e.read()
    except OSError:
        return False
    try:
        return "Error" in json.loads(body)["ResponseMetadata"]
    except (ValueError, KeyError, TypeError):
        return False


@pytest.fixture(scope="module")
def api(baton_bin, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("volcengine")
    procs = Procs(tmp)
    config = "".join(
        f'[[api.keys]]\naccess_key_id = "{ak}"\naccess_key_secret = "{sk}"\naccount = "{name}"\n'
        + (f"policy = {json.dumps(POLICIES[name])}\n" if name in POLICIES else "")
        + "\n"
        for name, (ak, sk) in KEYS.items()
    )
    config += f'[[domains]]\nname = "{DOMAIN}"\naccount = "root"\n\n'
    config += '[[domains]]\nname = "acme.example"\naccount = "acme"\n\n'
    config += '[[domains]]\nname = "ops.example"\naccount = "ops"\n'
    try:
        server = start_baton(baton_bin, procs, tmp, config=config, name="baton-volc")
        endpoint = f"127.0.0.1:{server.api_port}"
        if not _serves_volc(endpoint):
            pytest.fail("baton serve does not answer the Volcengine dialect (Version=2023-01-01)")
        yield Api(endpoint, server.rtmp_port, server.play_port)
    finally:
        procs.stop_all()


# --------------------------------------------------------------------------------------------
# Helpers


def tag() -> str:
    return uuid.uuid4().hex[:8]


def live_task(title: str, start: float = 3600, end: float = 7200, **extra) -> dict:
    """A Type 0 task (a live source); by default scheduled an hour ahead (未开始)."""
    t = uuid.uuid4().hex[:8]
    body = {
        "Title": title,
        "StartTime": unix(start),
        "EndTime": unix(end),
        "Type": 0,
        "SrcAddr": f"rtmp://127.0.0.1:9/live/src{t}",
        "DstAddr": f"rtmp://127.0.0.1:9/live/dst{t}",
        "CallbackURL": "http://127.0.0.1:9/cb?from=volc",
    }
    body.update(extra)
    return {k: v for k, v in body.items() if v is not None}  # None: leave the field out


def vod_task(title: str, start: float = 3600, end: float = 7200, **extra) -> dict:
    """A Type 1 task (a list of VOD files)."""
    t = uuid.uuid4().hex[:8]
    body = {
        "Title": title,
        "StartTime": unix(start),
        "EndTime": unix(end),
        "Type": 1,
        "SrcAddrS": [f"http://127.0.0.1:9/vod/{t}-a.flv", f"https://127.0.0.1:9/vod/{t}-b.mp4"],
        "CycleMode": -1,
        "DstAddr": f"rtmp://127.0.0.1:9/live/vod{t}",
    }
    body.update(extra)
    return {k: v for k, v in body.items() if v is not None}


def check_meta(res: dict, action: str, region: str = REGION) -> None:
    meta = res["ResponseMetadata"]
    assert meta["RequestId"], meta
    assert (meta["Action"], meta["Version"], meta["Service"], meta["Region"]) == (
        action, VERSION, "live", region,
    ), meta
    assert "Error" not in meta


def check_error(e: VolcError, status: int, code: str, code_n=None) -> None:
    assert (e.status, e.code) == (status, code), e
    assert isinstance(e.code_n, int) and e.code_n != 0, e.body
    if code_n is not None:
        assert e.code_n == code_n, e.body
    assert e.message, e.body
    assert e.meta["RequestId"] and e.meta["Version"] == VERSION, e.meta


# The current status, as a wrong-state error's Message may spell it.
STATUS_WORDS = {
    NOT_STARTED: (NOT_STARTED, "not started", "notstarted", "not_started", "scheduled"),
    ACTIVE: (ACTIVE, "running", "active", "retrying"),
    STOPPED: (STOPPED, "stopped", "disabled"),
}


def names(message: str, fields) -> bool:
    """Whether the Message names one of `fields` ("EndTime" or "end time")."""
    text = message.replace(" ", "").lower()
    return any(f.lower() in text for f in fields)


def check_task_status(e: VolcError, current: str, named: bool = False) -> None:
    """A wrong-state error; with `named`, its Message must say the current status (checked
    in one test of its own, so that a wording slip does not hide the rest)."""
    check_error(e, 400, "InvalidParam.TaskStatus")
    if named:
        text = e.message.lower()
        assert any(w.lower() in text for w in STATUS_WORDS[current]), (current, e.message)


def item_of(c: Volc, task_id: str, title: str = "") -> dict:
    item = find(c, task_id, title)
    assert item is not None, f"{task_id} not listed"
    return item


def parse_time(text: str) -> float:
    """RFC3339 UTC, with or without fractional seconds."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# --------------------------------------------------------------------------------------------
# Tasks: every operation on its success path


def test_task_operations(api):
    c = api.volc("ops")
    t = tag()
    title = f"ops{t}"

    # Create (live, scheduled an hour ahead) and List (GET, as the SDK sends it).
    params = live_task(title)
    created = c.call("CreatePullToPushTask", **params)
    check_meta(created, "CreatePullToPushTask")
    task_id = created["Result"]["TaskId"]
    assert isinstance(task_id, str) and task_id
    listed = c.call("ListPullToPushTask", Title=t.upper())  # case-insensitive substring
    check_meta(listed, "ListPullToPushTask")
    result = listed["Result"]
    assert result["Pagination"] == {"PageCur": 1, "PageSize": 20, "PageTotal": 1, "TotalCount": 1}
    [item] = result["List"]
    assert item["TaskId"] == task_id
    assert item["Title"] == title
    assert (item["StartTime"], item["EndTime"]) == (
        rfc3339(params["StartTime"]), rfc3339(params["EndTime"]),
    )
    assert (item["Type"], item["SrcAddr"], item["DstAddr"]) == (
        0, params["SrcAddr"], params["DstAddr"],
    )
    assert not item.get("SrcAddrS")
    assert item["CallbackURL"] == params["CallbackURL"]
    assert item["GroupName"] == "default"
    assert item["Status"] == NOT_STARTED

    # Another region in the credential scope is echoed.
    other = api.volc("ops", region="ap-singapore-1")
    check_meta(other.call("ListPullToPushTask", Title=t), "ListPullToPushTask", "ap-singapore-1")

    # Destination as Domain + App + Stream; an HTTP-FLV live source; a CJK title.
    cjk = f"转推{t}"
    dst_id = c.result(
        "CreatePullToPushTask",
        **live_task(cjk, DstAddr=None, Domain="ops.example", App="app1", Stream=f"s{t}",
                    SrcAddr=f"http://127.0.0.1:9/live/{t}.flv"),
    )["TaskId"]
    item = item_of(c, dst_id, cjk)
    assert item["DstAddr"] == f"rtmp://ops.example/app1/s{t}"
    assert item["SrcAddr"] == f"http://127.0.0.1:9/live/{t}.flv"
    assert item["Title"] == cjk

    # VOD tasks: the loop count is listed as CycleMode (passes, or -1), PlayTimes 0.
    vod_ids = {}
    for name, extra, cycle in [
        (f"vodinf{t}", {"CycleMode": -1}, -1),
        (f"vodtwo{t}", {"CycleMode": 2}, 2),
        (f"vodpt{t}", {"CycleMode": 0, "PlayTimes": 3}, 3),
    ]:
        body = vod_task(name, **extra)
        vod_ids[name] = c.result("CreatePullToPushTask", **body)["TaskId"]
        item = item_of(c, vod_ids[name], name)
        assert (item["Type"], item["SrcAddrS"], item["DstAddr"]) == (
            1, body["SrcAddrS"], body["DstAddr"],
        )
        assert not item.get("SrcAddr")
        assert (item["CycleMode"], item["PlayTimes"]) == (cycle, 0), name
        assert item["Status"] == NOT_STARTED
    files = [f"http://127.0.0.1:9/vod/{t}-x.flv", f"http://127.0.0.1:9/vod/{t}-y.flv"]
    body = vod_task(f"vodsrc{t}", SrcAddrS=None, CycleMode=1,
                    VodSrcAddrs=[{"SrcAddr": files[0], "StartOffset": 1.5}, {"SrcAddr": files[1]}])
    vod_ids["vodsrc"] = c.result("CreatePullToPushTask", **body)["TaskId"]
    assert item_of(c, vod_ids["vodsrc"], f"vodsrc{t}")["SrcAddrS"] == files

    # Update a task that has not started: everything may change (full replacement).
    new = live_task(f"upd{t}", start=7200, end=9000, CallbackURL="https://127.0.0.1:9/v2")
    updated = c.call("UpdatePullToPushTask", TaskId=task_id, GroupName="default", **new)
    check_meta(updated, "UpdatePullToPushTask")
    item = item_of(c, task_id, f"upd{t}")
    assert (item["Title"], item["SrcAddr"], item["DstAddr"], item["CallbackURL"]) == (
        new["Title"], new["SrcAddr"], new["DstAddr"], new["CallbackURL"],
    )
    assert (item["StartTime"], item["EndTime"]) == (rfc3339(new["StartTime"]), rfc3339(new["EndTime"]))
    title = new["Title"]

    # Stop → 停用; Continue, Restart (ApiInfo) and Relaunch → 未开始 again (start still ahead).
    for action in ("ContinuePullToPushTask", "RestartPullToPushTask", "RelaunchPullToPushTask"):
        stopped = c.call("StopPullToPushTask", TaskId=task_id)
        check_meta(stopped, "StopPullToPushTask")
        assert item_of(c, task_id, title)["Status"] == STOPPED
        resumed = c.call(action, TaskId=task_id, GroupName="default")
        check_meta(resumed, action)
        assert item_of(c, task_id, title)["Status"] == NOT_STARTED, action

    # ListPullToPushTaskV2 (POST JSON) with a group filter; ListPullToPushTask as POST JSON.
    v2 = c.call("ListPullToPushTaskV2", Title=t, GroupNames=["default"], Page=1, Size=100)
    check_meta(v2, "ListPullToPushTaskV2")
    ids = {i["TaskId"] for i in v2["Result"]["List"]}
    assert ids == {task_id, dst_id, *vod_ids.values()}
    assert all(i["GroupName"] == "default" for i in v2["Result"]["List"])
    assert v2["Result"]["Pagination"]["TotalCount"] == len(ids)
    posted = c.call("ListPullToPushTask#POST", Title=t, Page=2, Size=2)
    check_meta(posted, "ListPullToPushTask")
    assert posted["Result"]["Pagination"] == {
        "PageCur": 2, "PageSize": 2, "PageTotal": 3, "TotalCount": 6,
    }
    assert len(posted["Result"]["List"]) == 2

    # A running live task (its source unreachable: retrying, still 生效中) may change only
    # its CallbackURL (and a playlist's loop count, see the relay test).
    running = live_task(f"run{t}", start=-60, end=3600)
    run_id = c.result("CreatePullToPushTask", **running)["TaskId"]
    wait_listed(c, run_id, ACTIVE, f"run{t}")
    running["CallbackURL"] = "https://127.0.0.1:9/changed"
    c.call("UpdatePullToPushTask", TaskId=run_id, **running)
    assert item_of(c, run_id, f"run{t}")["CallbackURL"] == "https://127.0.0.1:9/changed"
    for change in ({"Title": f"renamed{t}"}, {"SrcAddr": "rtmp://127.0.0.1:9/live/other"}):
        e = fails(c.call, "UpdatePullToPushTask", TaskId=run_id, **{**running, **change})
        check_task_status(e, ACTIVE)
    for action in ("ContinuePullToPushTask", "RestartPullToPushTask", "RelaunchPullToPushTask"):
        check_task_status(fails(c.call, action, TaskId=run_id), ACTIVE)
    c.call("StopPullToPushTask", TaskId=run_id)
    assert item_of(c, run_id, f"run{t}")["Status"] == STOPPED
    # Stopped: everything may change again.
    running["Title"] = f"renamed{t}"
    c.call("UpdatePullToPushTask", TaskId=run_id, **running)
    assert item_of(c, run_id, f"renamed{t}")["Title"] == f"renamed{t}"

    # Delete, in any state: not listed afterwards, and gone for every operation.
    for tid in [task_id, dst_id, run_id, *vod_ids.values()]:
        check_meta(c.call("DeletePullToPushTask", TaskId=tid), "DeletePullToPushTask")
    assert not c.result("ListPullToPushTask", Title=t).get("List")
    for action in ("StopPullToPushTask", "ContinuePullToPushTask", "DeletePullToPushTask"):
        check_error(fails(c.call, action, TaskId=task_id), 404, "ResourceNotFound")


def test_list_paging_title_filter_and_order(api):
    c = api.volc("paging")
    t = tag()
    ids = []
    for i in range(3):
        ids.append(c.result("CreatePullToPushTask", **live_task(f"Pg{t}{i}"))["TaskId"])
        # Creation times are whole seconds: one task a second makes "newest" unambiguous.
        time.sleep(1.0 - time.time() % 1.0 + 0.01)
    other = c.result("CreatePullToPushTask", **live_task(f"zz{t}"))["TaskId"]

    # Newest first; Title is a case-insensitive substring.
    first = c.result("ListPullToPushTask", Title=f"pG{t.upper()}", Size=2)
    assert first["Pagination"] == {"PageCur": 1, "PageSize": 2, "PageTotal": 2, "TotalCount": 3}
    assert [i["TaskId"] for i in first["List"]] == [ids[2], ids[1]]
    second = c.result("ListPullToPushTask", Title=f"pg{t}", Size=2, Page=2)
    assert second["Pagination"] == {"PageCur": 2, "PageSize": 2, "PageTotal": 2, "TotalCount": 3}
    assert [i["TaskId"] for i in second["List"]] == [ids[0]]
    everything = c.result("ListPullToPushTask")
    assert everything["Pagination"]["PageSize"] == 20
    assert [i["TaskId"] for i in everything["List"]] == [other, *reversed(ids)]

    # The same list as POST JSON (the legacy client's way) and through V2.
    posted = c.result("ListPullToPushTask#POST", Title=f"PG{t}", Page=1, Size=2)
    assert posted["Pagination"] == first["Pagination"]
    assert [i["TaskId"] for i in posted["List"]] == [ids[2], ids[1]]
    v2 = c.result("ListPullToPushTaskV2", Title=f"pg{t}", Page=1, Size=500)
    assert [i["TaskId"] for i in v2["List"]] == list(reversed(ids))

    for size in (0, 501):
        e = fails(c.call, "ListPullToPushTask", Size=size)
        check_error(e, 400, "InvalidParam")
        assert "Size" in e.message, e.message
    for tid in ids + [other]:
        c.call("DeletePullToPushTask", TaskId=tid)


# --------------------------------------------------------------------------------------------
# Tasks: errors


def test_task_errors(api):
    c = api.volc("errors")
    t = tag()

    # A missing field, named.
    e = fails(c.call, "StopPullToPushTask")
    check_error(e, 400, "InvalidParam")
    assert "TaskId" in e.message, e.message
    e = fails(c.call, "UpdatePullToPushTask", **live_task(f"e{t}"))
    check_error(e, 400, "InvalidParam")
    assert "TaskId" in e.message, e.message

    # Wrong JSON types and malformed JSON.
    check_error(
        fails(c.call, "CreatePullToPushTask", **live_task(f"e{t}", StartTime="abc")),
        400, "InvalidParam.BindError",
    )
    check_error(fails(c.raw_post, "CreatePullToPushTask", '{"Title": "x",'), 400,
                "InvalidParam.BindError")

    # Create rules: (change, field(s) the Message names).
    now = unix(0)
    cases = [
        ({"Type": None}, ("Type",)),
        ({"StartTime": None}, ("StartTime",)),
        ({"EndTime": None}, ("EndTime",)),
        ({"SrcAddr": None}, ("SrcAddr",)),
        ({"DstAddr": None}, ("DstAddr", "Domain", "App", "Stream")),
        ({"DstAddr": "http://127.0.0.1/live/x"}, ("DstAddr",)),
        ({"SrcAddr": "ftp://127.0.0.1/live/x"}, ("SrcAddr",)),
        ({"Type": 2}, ("Type",)),
        ({"StartTime": now + 600, "EndTime": now + 600}, ("EndTime", "StartTime")),
        ({"StartTime": now + 600, "EndTime": now + 300}, ("EndTime", "StartTime")),
        ({"StartTime": now + 60, "EndTime": now + 60 + 7 * DAY + 1}, ("EndTime", "StartTime")),
        ({"StartTime": now - 7200, "EndTime": now - 3600}, ("EndTime",)),
        ({"Title": "a" * 21}, ("Title",)),
        ({"CallbackURL": "ftp://127.0.0.1/cb"}, ("CallbackURL",)),
        ({"CallbackURL": "http://127.0.0.1/" + "x" * 500}, ("CallbackURL",)),
    ]
    vod_cases = [
        ({"CycleMode": -2}, ("CycleMode",)),
        ({"CycleMode": 0, "PlayTimes": 0}, ("PlayTimes", "CycleMode")),
        ({"SrcAddrS": [f"http://127.0.0.1:9/{i}.flv" for i in range(31)]}, ("SrcAddrS",)),
        ({"SrcAddrS": []}, ("SrcAddrS", "VodSrcAddrs")),
        ({"SrcAddrS": None}, ("SrcAddrS", "VodSrcAddrs")),
    ]
    for make, table in ((live_task, cases), (vod_task, vod_cases)):
        for change, named in table:
            body = make(f"e{t}", **change)
            e = fails(c.call, "CreatePullToPushTask", **body)
            check_error(e, 400, "InvalidParam")
            assert names(e.message, named), (change, e.message)
    # Exactly 7 days is allowed.
    start = unix(60)
    ok = c.result("CreatePullToPushTask", **live_task(f"e{t}", StartTime=start,
                                                     EndTime=start + 7 * DAY))
    c.call("DeletePullToPushTask", TaskId=ok["TaskId"])

    # Features Baton does not run.
    watermark = {
        "Picture": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlE"
                   "QVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
        "Ratio": 0.2, "RelativePosX": 0.1, "RelativePosY": 0.1,
    }
    unsupported = [
        live_task(f"e{t}", Watermark=watermark),
        live_task(f"e{t}", SrcAddr="srt://127.0.0.1:9000?mode=rendezvous"),
        live_task(f"e{t}", SrcAddr="rtsps://127.0.0.1:9/live/x"),
        vod_task(f"e{t}", ContinueStrategy=1),
        vod_task(f"e{t}", OffsetS=[0, 5]),
        vod_task(f"e{t}", SrcAddrS=None, VodSrcAddrs=[
            {"SrcAddr": "http://127.0.0.1:9/a.flv", "StartOffset": 1, "EndOffset": 3},
        ]),
    ]
    for body in unsupported:
        e = fails(c.call, "CreatePullToPushTask", **body)
        check_error(e, 400, "InvalidParam.Unsupported")

    # Unknown task, for every operation that names one.
    for action in (
        "StopPullToPushTask", "ContinuePullToPushTask", "RestartPullToPushTask",
        "RelaunchPullToPushTask", "DeletePullToPushTask",
    ):
        check_error(fails(c.call, action, TaskId="no-such-task"), 404, "ResourceNotFound")
    e = fails(c.call, "UpdatePullToPushTask", TaskId="no-such-task", **live_task(f"e{t}"))
    check_error(e, 404, "ResourceNotFound")

    # A GroupName that is not the task's (another group, or none at all), each time on an
    # operation the task's state allows.
    task_id = c.result("CreatePullToPushTask", **live_task(f"state{t}"))["TaskId"]
    c.call("CreatePullToPushGroup", Name=f"other{t}", ProjectName="default")
    groups = (f"other{t}", f"nosuch{t}")
    for group in groups:
        for action in ("StopPullToPushTask", "DeletePullToPushTask"):
            e = fails(c.call, action, TaskId=task_id, GroupName=group)
            check_error(e, 404, "ResourceNotFound")
        e = fails(c.call, "UpdatePullToPushTask", TaskId=task_id, GroupName=group,
                  **live_task(f"state{t}"))
        check_error(e, 404, "ResourceNotFound")
    e = fails(c.call, "CreatePullToPushTask", GroupName=f"nosuch{t}", **live_task(f"e{t}"))
    check_error(e, 404, "ResourceNotFound")

    # Wrong state: Continue/Restart/Relaunch a task that has not started; Stop a stopped one.
    for action in ("ContinuePullToPushTask", "RestartPullToPushTask", "RelaunchPullToPushTask"):
        check_task_status(fails(c.call, action, TaskId=task_id), NOT_STARTED)
    c.call("StopPullToPushTask", TaskId=task_id, GroupName="default")
    check_task_status(fails(c.call, "StopPullToPushTask", TaskId=task_id), STOPPED)
    for group in groups:
        e = fails(c.call, "ContinuePullToPushTask", TaskId=task_id, GroupName=group)
        check_error(e, 404, "ResourceNotFound")
    c.call("DeletePullToPushTask", TaskId=task_id)
    c.call("DeletePullToPushGroup", Name=f"other{t}")

    # An action the service does not have (registered with ApiInfo, as a user would).
    c.register("NoSuchAction", "POST", "DescribeNoSuchThing")
    check_error(fails(c.call, "NoSuchAction", TaskId="x"), 404, "InvalidActionOrVersion", 100008)


def test_titles_are_at_most_twenty_characters(api):
    """Title: at most 20 characters (cloud-apis.md §3.3). The provider documents letters,
    digits and CJK only; Baton stores any text without control characters, so titles that
    work there (and the SDK's own captured "relay vod") work here."""
    c = api.volc("titles")
    t = tag()[:6]
    for title in ("a" * 21, "中" * 21, "tab\there"):
        e = fails(c.call, "CreatePullToPushTask", **live_task(title))
        check_error(e, 400, "InvalidParam")
        assert names(e.message, ("Title",)), (title, e.message)
    for title in (f"Ab{t}", f"中文标题{t}", "a" * 20, "中" * 20, f"has space{t}", f"dash-ed{t}"):
        task_id = c.result("CreatePullToPushTask", **live_task(title))["TaskId"]
        assert item_of(c, task_id, title)["Title"] == title
        c.call("DeletePullToPushTask", TaskId=task_id)


def test_wrong_state_errors_name_the_current_status(api):
    """InvalidParam.TaskStatus says what the task is now, whatever was asked of it."""
    c = api.volc("states")
    t = tag()
    later = c.result("CreatePullToPushTask", **live_task(f"ws{t}"))["TaskId"]
    running = live_task(f"wsrun{t}", start=-60, end=3600)
    run_id = c.result("CreatePullToPushTask", **running)["TaskId"]
    wait_listed(c, run_id, ACTIVE, f"wsrun{t}")
    for action in ("ContinuePullToPushTask", "RestartPullToPushTask", "RelaunchPullToPushTask"):
        check_task_status(fails(c.call, action, TaskId=later), NOT_STARTED, named=True)
        check_task_status(fails(c.call, action, TaskId=run_id), ACTIVE, named=True)
    e = fails(c.call, "UpdatePullToPushTask", TaskId=run_id, **{**running, "Title": f"x{t}"})
    check_task_status(e, ACTIVE, named=True)
    c.call("StopPullToPushTask", TaskId=later)
    check_task_status(fails(c.call, "StopPullToPushTask", TaskId=later), STOPPED, named=True)
    for task_id in (later, run_id):
        c.call("DeletePullToPushTask", TaskId=task_id)


def test_credentials_timestamps_and_policies(api):
    ak, _ = KEYS["auth"]
    for action, params in (
        ("ListPullToPushTask", {}),  # GET: the SDK's error body is a str
        ("StopPullToPushTask", {"TaskId": "no-such-task"}),  # POST JSON: bytes
    ):
        wrong = Volc(api.endpoint, ak, "WrongSecret0123456789abcdefgh")
        check_error(fails(wrong.call, action, **params), 401, "SignatureDoesNotMatch", 100010)
        unknown = Volc(api.endpoint, "AKLTnosuchkey000000", "x" * 32)
        check_error(fails(unknown.call, action, **params), 401, "InvalidAccessKey", 100009)
    e = fails(Volc(api.endpoint, ak, "WrongSecret0123456789abcdefgh").call, "ListPullToPushTask")
    assert isinstance(e.raw, str)
    e = fails(Volc(api.endpoint, ak, "WrongSecret0123456789abcdefgh").call, "StopPullToPushTask",
              TaskId="x")
    assert isinstance(e.raw, bytes)

    # X-Date outside ±15 minutes (the SDK's signer takes the time from one static method).
    from volcengine.auth.SignerV4 import SignerV4

    c = api.volc("auth")
    for skew, ok in ((-16 * 60, False), (16 * 60, False), (-14 * 60, True)):
        x_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() + skew))
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(SignerV4, "get_current_format_date", staticmethod(lambda d=x_date: d))
            if ok:
                e = fails(c.call, "StopPullToPushTask", TaskId="no-such-task")
                check_error(e, 404, "ResourceNotFound")
            else:
                e = fails(c.call, "StopPullToPushTask", TaskId="no-such-task")
                check_error(e, 400, "InvalidTimestamp", 100006)

    # A key allowed `live:List*` and `live:Describe*` only.
    ro = api.volc("readonly")
    assert ro.result("ListPullToPushTask")["Pagination"]["TotalCount"] == 0
    for action, params in (
        ("CreatePullToPushTask", live_task("denied")),
        ("StopPullToPushTask", {"TaskId": "no-such-task"}),
        ("CreatePullToPushGroup", {"Name": "denied", "ProjectName": "default"}),
        ("ForbidStream", {"Domain": DOMAIN, "App": "live", "Stream": "x"}),
    ):
        e = fails(ro.call, action, **params)
        check_error(e, 403, "AccessDenied", 100013)


def test_a_call_repeated_within_one_second_gets_the_first_answer(api):
    """The SDK signs with a one-second X-Date and no nonce, so the same call made twice
    within one second (a retry of the same bytes) is the same signed request twice. A
    state-changing one runs once: the repeat gets the first answer (same RequestId) without
    running again — so a Stop, Continue, then the first Stop's bytes does not re-stop the
    task. A call signed in another second is another request, answered on its merits."""
    c = api.volc("repeat", distinct_seconds=False)
    task_id = c.result("CreatePullToPushTask", **live_task(f"rep{tag()}"))["TaskId"]
    time.sleep(1.0 - time.time() % 1.0 + 0.02)  # both calls early in one second
    first = c.call("StopPullToPushTask", TaskId=task_id)
    again = c.call("StopPullToPushTask", TaskId=task_id)
    assert again == first
    assert item_of(c, task_id)["Status"] == STOPPED
    time.sleep(1.0 - time.time() % 1.0 + 0.02)
    c.call("DeletePullToPushTask", TaskId=task_id)
    e = fails(c.call, "StopPullToPushTask", TaskId=task_id)
    check_error(e, 404, "ResourceNotFound")
    # Reads run every time.
    assert find(c, task_id) is None and find(c, task_id) is None


def test_throttling(api):
    """More than 10 requests a second per account and action: 429 AccountFlowLimitExceeded;
    another action is not affected, and a second later the action is available again."""
    c = api.volc("throttle", pace=None)
    ok, throttled = 0, []
    for _ in range(15):
        try:
            c.call("ListPullToPushTask", Size=1)
            ok += 1
        except VolcError as e:
            throttled.append(e)
    assert throttled, "15 calls in a burst were all accepted"
    assert ok >= 10, (ok, [e.code for e in throttled])
    for e in throttled:
        check_error(e, 429, "AccountFlowLimitExceeded")
    e = fails(c.call, "StopPullToPushTask", TaskId="no-such-task")
    check_error(e, 404, "ResourceNotFound")
    time.sleep(1.1)
    assert c.result("ListPullToPushTask", Size=1)["Pagination"]["TotalCount"] == 0


# --------------------------------------------------------------------------------------------
# Groups


def group_list(c: Volc, **params) -> dict:
    return c.result("ListPullToPushGroup", PageNum=1, PageSize=100, **params)


def group_named(c: Volc, name: str, **params):
    return next((g for g in group_list(c, **params)["List"] if g["Name"] == name), None)


def test_groups(api):
    c = api.volc("groups")
    t = tag()
    name = f"grp{t}"

    created = c.call("CreatePullToPushGroup", Name=name, ProjectName="default",
                     Tags=[{"Key": "env", "Value": "test"}])
    check_meta(created, "CreatePullToPushGroup")
    e = fails(c.call, "CreatePullToPushGroup", Name=name, ProjectName="default")
    check_error(e, 400, "InvalidParam.GroupAlreadyExists")
    for bad in ({"Name": "dash-ed"}, {"Name": "g" * 21}, {"Name": ""}, {"ProjectName": None}):
        params = {"Name": f"bad{t}", "ProjectName": "default", **bad}
        params = {k: v for k, v in params.items() if v is not None}
        check_error(fails(c.call, "CreatePullToPushGroup", **params), 400, "InvalidParam")

    listed = c.call("ListPullToPushGroup", PageNum=1, PageSize=100)
    check_meta(listed, "ListPullToPushGroup")
    group = next(g for g in listed["Result"]["List"] if g["Name"] == name)
    assert (group["ProjectName"], group["Status"]) == ("default", 0)
    assert [(g["Key"], g["Value"]) for g in group["Tags"]] == [("env", "test")]
    assert listed["Result"]["Total"] == len(listed["Result"]["List"])
    for size in (0, 1001):
        check_error(fails(c.call, "ListPullToPushGroup", PageNum=1, PageSize=size), 400,
                    "InvalidParam")

    # Update replaces the tags.
    tags = [{"Category": "Custom", "Key": "team", "Value": "media"}]
    check_meta(c.call("UpdatePullToPushGroup", Name=name, Tags=tags), "UpdatePullToPushGroup")
    assert group_named(c, name)["Tags"] == tags
    e = fails(c.call, "UpdatePullToPushGroup", Name=f"nosuch{t}", Tags=tags)
    check_error(e, 404, "ResourceNotFound")

    # Tasks in the group; the default group appears with the first task outside any group.
    in_group = c.result("CreatePullToPushTask", GroupName=name, **live_task(f"ing{t}"))["TaskId"]
    default = c.result("CreatePullToPushTask", **live_task(f"dfl{t}"))["TaskId"]
    assert item_of(c, in_group, f"ing{t}")["GroupName"] == name
    assert group_named(c, "default")["Status"] == 0
    v2 = c.result("ListPullToPushTaskV2", GroupNames=[name], Page=1, Size=10)
    assert [i["TaskId"] for i in v2["List"]] == [in_group]
    assert v2["List"][0]["GroupName"] == name
    v2 = c.result("ListPullToPushTaskV2", GroupNames=[name, "default"], Title=t, Page=1, Size=10)
    assert {i["TaskId"] for i in v2["List"]} == {in_group, default}
    c.call("StopPullToPushTask", TaskId=in_group, GroupName=name)
    c.call("ContinuePullToPushTask", TaskId=in_group, GroupName=name)

    # A group with tasks that have not ended cannot be deleted.
    e = fails(c.call, "DeletePullToPushGroup", Name=name)
    check_error(e, 400, "InvalidParam.GroupNotEmpty")
    c.call("DeletePullToPushTask", TaskId=in_group, GroupName=name)
    check_meta(c.call("DeletePullToPushGroup", Name=name), "DeletePullToPushGroup")
    check_error(fails(c.call, "DeletePullToPushGroup", Name=f"nosuch{t}"), 404, "ResourceNotFound")

    # Deleted groups: Status 1, listed only when StatusList asks for them.
    assert group_named(c, name) is None
    assert group_named(c, name, StatusList=[0]) is None
    assert group_named(c, name, StatusList=[1])["Status"] == 1
    both = group_list(c, StatusList=[0, 1])
    assert {(g["Name"], g["Status"]) for g in both["List"]} >= {(name, 1), ("default", 0)}
    c.call("DeletePullToPushTask", TaskId=default)


# --------------------------------------------------------------------------------------------
# A live relay and a playlist, with nginx-rtmp as source and destination


def test_live_relay_and_playlist_lifecycle(api, media, procs, tmp_path):
    nginx = start_nginx(procs, tmp_path, record_unique=True, http_root=media["main"].path.parent)
    c = api.volc("relay")
    t = tag()
    src, dst, vod = f"src{t}", f"dst{t}", f"vod{t}"

    def sessions(stream: str) -> int:
        return sum(1 for line in nginx.publishes() if f"name='{stream}'" in line)

    def wait_sessions(stream: str, n: int, timeout: float = 15) -> None:
        wait_for(lambda: sessions(stream) >= n, timeout, f"{n} nginx publishes of {stream}")

    argv = FFMPEG + ["-re", "-stream_loop", "-1", "-i", media["main"].path]
    procs.start("publisher", argv + ["-c", "copy", "-f", "flv", nginx.rtmp_url(src)])
    live = live_task(f"relay{t}", start=-60, end=3600, SrcAddr=nginx.rtmp_url(src),
                     DstAddr=nginx.rtmp_url(dst))
    live_id = c.result("CreatePullToPushTask", **live)["TaskId"]
    wait_listed(c, live_id, ACTIVE, f"relay{t}", timeout=20)
    wait_sessions(dst, 1, timeout=20)

    # A playlist of one FLV file served by nginx over HTTP, looping.
    playlist = vod_task(f"vod{t}", start=-60, end=3600, SrcAddrS=[nginx.http_url("main.flv")],
                        CycleMode=-1, DstAddr=nginx.rtmp_url(vod))
    vod_id = c.result("CreatePullToPushTask", **playlist)["TaskId"]
    wait_listed(c, vod_id, ACTIVE, f"vod{t}", timeout=20)
    wait_sessions(vod, 1, timeout=20)
    # Running: the loop count may change, the rest may not.
    c.call("UpdatePullToPushTask", TaskId=vod_id, **{**playlist, "CycleMode": 5})
    assert item_of(c, vod_id, f"vod{t}")["CycleMode"] == 5
    e = fails(c.call, "UpdatePullToPushTask", TaskId=vod_id,
              **{**playlist, "CycleMode": 5, "DstAddr": nginx.rtmp_url(f"x{t}")})
    check_task_status(e, ACTIVE)

    # Stop → 停用, the destination session ends; Continue → 生效中, a new session.
    c.call("StopPullToPushTask", TaskId=live_id)
    assert item_of(c, live_id, f"relay{t}")["Status"] == STOPPED
    check_task_status(fails(c.call, "StopPullToPushTask", TaskId=live_id), STOPPED)
    time.sleep(1)
    assert sessions(dst) == 1
    c.call("ContinuePullToPushTask", TaskId=live_id)
    wait_listed(c, live_id, ACTIVE, f"relay{t}")
    wait_sessions(dst, 2)

    c.call("StopPullToPushTask", TaskId=vod_id)
    assert item_of(c, vod_id, f"vod{t}")["Status"] == STOPPED
    c.call("RelaunchPullToPushTask", TaskId=vod_id)
    wait_listed(c, vod_id, ACTIVE, f"vod{t}")
    wait_sessions(vod, 2)

    # Delete a running task: it stops pushing and is gone.
    for tid in (live_id, vod_id):
        c.call("DeletePullToPushTask", TaskId=tid)
        check_error(fails(c.call, "StopPullToPushTask", TaskId=tid), 404, "ResourceNotFound")
    assert not c.result("ListPullToPushTask", Title=t).get("List")
    time.sleep(2)
    assert (sessions(dst), sessions(vod)) == (2, 2)


# --------------------------------------------------------------------------------------------
# Ingest control: ForbidStream / ResumeStream / KillStream with ffmpeg publishing into Baton


class Ingest:
    def __init__(self, api: Api, procs: Procs, media):
        self.api, self.procs, self.media = api, procs, media

    def publish(self, stream: str, name: str = "publisher"):
        argv = FFMPEG + ["-re", "-stream_loop", "-1", "-i", self.media["main"].path]
        return self.procs.start(name, argv + ["-c", "copy", "-f", "flv", self.api.ingest(stream)])

    def wait_publishing(self, proc, stream: str, timeout: float = 10) -> None:
        def playing():
            if not proc.running():
                raise AssertionError(f"publisher exited {proc.returncode}: {proc.stderr()[-800:]}")
            try:
                with urllib.request.urlopen(self.api.flv(stream), timeout=2) as r:
                    return len(r.read(13)) == 13
            except OSError:
                return False

        wait_for(playing, timeout, f"{stream} published", interval=0.2)

    def refused(self, stream: str, name: str) -> str:
        proc = self.publish(stream, name=name)
        rc = proc.wait(10)
        assert rc != 0, f"{name}: ffmpeg was not refused"
        return proc.stderr()


def forbidden(c: Volc, **params) -> dict:
    return c.result("DescribeForbiddenStreamInfoByPage", PageNum=1, PageSize=100, **params)


def test_forbid_resume_kill(api, media, procs):
    c = api.volc("root")
    ing = Ingest(api, procs, media)
    t = tag()
    s = f"s{t}"

    # ForbidStream disconnects the publisher and refuses it until ResumeStream.
    publisher = ing.publish(s)
    ing.wait_publishing(publisher, s)
    t0 = time.time()
    res = c.call("ForbidStream", Domain=DOMAIN, App="live", Stream=s, Priority=0)
    check_meta(res, "ForbidStream")
    publisher.wait(5)
    ing.refused(s, "refused")
    listed = forbidden(c, Stream=s)
    assert listed["RoughCount"] == 1
    [info] = listed["StreamInfoList"]
    assert (info["Vhost"], info["Domain"], info["App"], info["Stream"], info["Status"]) == (
        DOMAIN, DOMAIN, "live", s, True,
    )
    assert abs(parse_time(info["CreateTime"]) - t0) < 60, info
    # Default EndTime: now + 90 days.
    assert abs(parse_time(info["EndTime"]) - (t0 + 90 * DAY)) < 120, info

    res = c.call("ResumeStream", Vhost=DOMAIN, App="live", Stream=s)
    check_meta(res, "ResumeStream")
    assert forbidden(c, Stream=s)["RoughCount"] == 0
    again = ing.publish(s, name="publisher-again")
    ing.wait_publishing(again, s)

    # KillStream disconnects without a block: the publisher may come straight back.
    res = c.call("KillStream", Vhost=DOMAIN, App="live", Stream=s)
    check_meta(res, "KillStream")
    again.wait(5)
    assert forbidden(c, Stream=s)["RoughCount"] == 0
    back = ing.publish(s, name="publisher-back")
    ing.wait_publishing(back, s)
    back.stop()

    # A block with an EndTime a few seconds ahead: refused before, accepted after.
    short = f"short{t}"
    until = time.time() + 4
    c.call("ForbidStream", Vhost=DOMAIN, App="live", Stream=short, EndTime=rfc3339_ms(4))
    ing.refused(short, "refused-short")
    time.sleep(max(0.0, until - time.time()) + 1.2)
    after = ing.publish(short, name="publisher-after")
    ing.wait_publishing(after, short)
    after.stop()

    # Listing: strict and fuzzy Stream, App filter, EndTime order, pages.
    names = [f"ls{t}a", f"ls{t}b", f"ls{t}c"]
    for hours, name in zip((3, 1, 2), names):
        c.call("ForbidStream", Domain=DOMAIN, App="live", Stream=name,
               EndTime=rfc3339_ms(hours * 3600))
    fuzzy = forbidden(c, Stream=f"LS{t.upper()}", QueryType="fuzzy")
    assert fuzzy["RoughCount"] == 3
    desc = [i["Stream"] for i in fuzzy["StreamInfoList"]]
    assert desc == [names[0], names[2], names[1]]  # by EndTime, latest first
    asc = forbidden(c, Stream=f"ls{t}", QueryType="fuzzy", Sort="asc")
    assert [i["Stream"] for i in asc["StreamInfoList"]] == list(reversed(desc))
    assert forbidden(c, Stream=f"ls{t}")["RoughCount"] == 0  # strict by default
    assert forbidden(c, Stream=f"ls{t}", QueryType="strict")["RoughCount"] == 0
    assert forbidden(c, Stream=names[1], QueryType="strict")["RoughCount"] == 1
    assert forbidden(c, App="nosuchapp", Stream=names[1])["RoughCount"] == 0
    assert forbidden(c, Vhost=DOMAIN, App="live", Stream=names[1])["RoughCount"] == 1
    page = c.result("DescribeForbiddenStreamInfoByPage", PageNum=2, PageSize=2,
                    Stream=f"ls{t}", QueryType="fuzzy")
    assert page["RoughCount"] == 3
    assert [i["Stream"] for i in page["StreamInfoList"]] == [names[1]]
    # POST is accepted too.
    c.register("DescribeForbidden#POST", "POST", "DescribeForbiddenStreamInfoByPage")
    posted = c.result("DescribeForbidden#POST", PageNum=1, PageSize=10, Stream=f"ls{t}",
                      QueryType="fuzzy")
    assert posted["RoughCount"] == 3
    for name in names:
        c.call("ResumeStream", Domain=DOMAIN, App="live", Stream=name)
    assert forbidden(c, Stream=f"ls{t}", QueryType="fuzzy")["RoughCount"] == 0

    # Validation.
    for bad in (
        {"Domain": DOMAIN, "Vhost": DOMAIN},
        {"Domain": None},
        {"EndTime": rfc3339_ms(-60)},
        {"EndTime": rfc3339_ms(91 * DAY)},
        {"EndTime": "tomorrow"},
        {"App": None},
        {"Stream": None},
    ):
        params = {"Domain": DOMAIN, "App": "live", "Stream": f"v{t}", **bad}
        params = {k: v for k, v in params.items() if v is not None}
        e = fails(c.call, "ForbidStream", **params)
        check_error(e, 400, "InvalidParam")
    for bad in ({"PageSize": None}, {"PageNum": None}, {"PageSize": 1001}, {"PageSize": 0}):
        params = {"PageNum": 1, "PageSize": 10, **bad}
        params = {k: v for k, v in params.items() if v is not None}
        check_error(fails(c.call, "DescribeForbiddenStreamInfoByPage", **params), 400,
                    "InvalidParam")


def test_foreign_domains_are_forbidden(api):
    """An ingest domain the account does not own: 403 RequestForbidden."""
    c = api.volc("foreign")
    for action, params in (
        ("ForbidStream", {"Domain": DOMAIN, "App": "live", "Stream": "x"}),
        ("ForbidStream", {"Vhost": "acme.example", "App": "live", "Stream": "x"}),
        ("ResumeStream", {"Domain": "acme.example", "App": "live", "Stream": "x"}),
        ("KillStream", {"Vhost": DOMAIN, "App": "live", "Stream": "x"}),
    ):
        check_error(fails(c.call, action, **params), 403, "RequestForbidden")


# --------------------------------------------------------------------------------------------
# One task model under both dialects


def test_aliyun_task_through_volcengine(api):
    """Created with the Alibaba SDK; listed (status mapped) and stopped with the Volcengine SDK."""
    ali, c = api.aliyun("cross-a"), api.volc("cross-a")
    t = tag()
    params = {
        "Region": ALIYUN_REGION,
        "TaskName": f"ali{t}",
        "SourceType": "live",
        "SourceProtocol": "rtmp",
        "SourceUrls": [f"rtmp://127.0.0.1:9/live/src{t}"],
        "DstUrl": f"rtmp://127.0.0.1:9/live/dst{t}",
        "StartTime": utc(-60),
        "EndTime": utc(3600),
        "CallbackUrl": "http://127.0.0.1:9/cb",
    }
    task_id = ali.call("CreateLivePullToPush", **params)["TaskId"]
    by_id = {"Region": ALIYUN_REGION, "TaskId": task_id}
    later = ali.call(
        "CreateLivePullToPush",
        **{**params, "TaskName": f"alilater{t}", "StartTime": utc(3600), "EndTime": utc(7200)},
    )["TaskId"]

    item = wait_listed(c, task_id, ACTIVE, f"ali{t}")
    assert (item["Title"], item["Type"], item["SrcAddr"], item["DstAddr"]) == (
        params["TaskName"], 0, params["SourceUrls"][0], params["DstUrl"],
    )
    assert (item["StartTime"], item["EndTime"]) == (params["StartTime"], params["EndTime"])
    assert item["CallbackURL"] == params["CallbackUrl"]
    assert item["GroupName"] == "default"
    assert item_of(c, later, f"alilater{t}")["Status"] == NOT_STARTED

    c.call("StopPullToPushTask", TaskId=task_id)
    assert wait_status(ali, by_id, statuses=(3,))["TaskStatus"] == 3
    assert item_of(c, task_id, f"ali{t}")["Status"] == STOPPED
    c.call("ContinuePullToPushTask", TaskId=task_id)
    wait_status(ali, by_id)
    c.call("DeletePullToPushTask", TaskId=task_id)
    with pytest.raises(ApiFailure) as info:
        ali.call("DescribeLivePullToPush", **by_id)
    assert info.value.code == "CodeTaskNotExist"
    ali.call("DeleteLivePullToPush", Region=ALIYUN_REGION, TaskId=later)


def test_volcengine_task_through_aliyun(api):
    """Created with the Volcengine SDK; described, listed and stopped with the Alibaba SDK."""
    ali, c = api.aliyun("cross-b", "old"), api.volc("cross-b")
    t = tag()
    later = c.result("CreatePullToPushTask", **live_task(f"later{t}"))["TaskId"]
    assert ali.call("DescribeLivePullToPush", Region=ALIYUN_REGION, TaskId=later)["TaskStatus"] == 0
    # Running (its source unreachable: retrying), which the Alibaba dialect can stop.
    body = live_task(f"volc{t}", start=-60, end=3600)
    task_id = c.result("CreatePullToPushTask", **body)["TaskId"]
    by_id = {"Region": ALIYUN_REGION, "TaskId": task_id}

    described = wait_status(ali, by_id)
    assert described["TaskId"] == task_id
    info = described["TaskInfo"]
    assert (info["TaskName"], info["SourceType"], info["SourceUrls"], info["DstUrl"]) == (
        body["Title"], "live", [body["SrcAddr"]], body["DstAddr"],
    )
    assert (info["StartTime"], info["EndTime"]) == (rfc3339(body["StartTime"]), rfc3339(body["EndTime"]))
    assert info["CallbackURL"] == body["CallbackURL"]
    listed = ali.call("DescribeLivePullToPushList", Region=ALIYUN_REGION, TaskName=f"volc{t}")
    assert [i["TaskId"] for i in listed["TaskList"]] == [task_id]

    stopped = ali.call("StopLivePullToPush", **by_id)
    assert stopped["TaskId"] == task_id
    assert ali.call("DescribeLivePullToPush", **by_id)["TaskStatus"] == 3
    assert item_of(c, task_id, f"volc{t}")["Status"] == STOPPED
    c.call("RestartPullToPushTask", TaskId=task_id)
    wait_status(ali, by_id)
    ali.call("DeleteLivePullToPush", **by_id)
    assert find(c, task_id, f"volc{t}") is None
    ali.call("DeleteLivePullToPush", Region=ALIYUN_REGION, TaskId=later)
    assert find(c, later) is None
