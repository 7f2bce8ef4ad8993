"""Ingest control (seed 002) with ffmpeg as the publisher and the official Alibaba SDKs as the
client: ForbidLiveStream / ResumeLiveStream / DescribeLiveStreamsBlockList, ingest domains,
signed publish URLs, and a task whose destination is forbidden.

The node's config gives `127.0.0.1` to the root account and `acme.example` to `acme`; other
domains are not served. Publishers reach a domain with `?vhost=` on 127.0.0.1.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid

import pytest

from aliyun import FLAVOURS, REGION, Sdk, fails, utc, wait_status
from conftest import start_baton
from helpers import FFMPEG, Procs, wait_flv_playing

pytestmark = pytest.mark.timeout(300)

ROOT_KEY = ("LTAI5tIngestRootKey0001", "IngestRootSecret0123456789abcd")
ACME_KEY = ("LTAI5tIngestAcmeKey0001", "IngestAcmeSecret0123456789abcd")
# A root key limited to one domain's resources.
NARROW_KEY = ("LTAI5tIngestNarrowKey01", "IngestNarrowSecret0123456789ab")
DOMAIN = "127.0.0.1"

CONFIG = f"""
[[api.keys]]
access_key_id = "{ROOT_KEY[0]}"
access_key_secret = "{ROOT_KEY[1]}"
account = "root"

[[api.keys]]
access_key_id = "{NARROW_KEY[0]}"
access_key_secret = "{NARROW_KEY[1]}"
account = "root"
resources = ["acs:cdn:*:root:domain/elsewhere.example"]

[[api.keys]]
access_key_id = "{ACME_KEY[0]}"
access_key_secret = "{ACME_KEY[1]}"
account = "acme"

[[domains]]
name = "127.0.0.1"
account = "root"

[[domains]]
name = "acme.example"
account = "acme"
"""


class Node:
    def __init__(self, baton_bin, procs: Procs, tmp_path, media):
        self.baton_bin, self.procs, self.media, self.tmp_path = baton_bin, procs, media, tmp_path
        self.baton = start_baton(baton_bin, procs, tmp_path, config=CONFIG)

    def kill_and_restart(self) -> None:
        self.baton.proc.send_signal(signal.SIGKILL)
        self.baton.proc.wait(15)
        self.baton = start_baton(
            self.baton_bin, self.procs, self.tmp_path, config=CONFIG, again=self.baton
        )

    def sdk(self, flavour: str = "new-v3", key=ROOT_KEY) -> Sdk:
        return Sdk(flavour, f"127.0.0.1:{self.baton.api_port}", *key)

    def url(self, stream: str, query: str = "") -> str:
        return self.baton.rtmp_url(stream) + (f"?{query}" if query else "")

    def publish(self, url: str, name: str = "publisher"):
        argv = FFMPEG + ["-re", "-stream_loop", "-1", "-i", self.media["main"].path]
        return self.procs.start(name, argv + ["-c", "copy", "-f", "flv", url])

    def wait_publishing(self, proc, stream: str, timeout: float = 10):
        """Until the stream plays over HTTP-FLV (the ingest has the publisher)."""
        wait_flv_playing(proc, self.baton.flv_url(stream), timeout, f"{stream} published")

    def refused(self, url: str, name: str) -> str:
        """Publishes `url` and expects the server to refuse it: returns ffmpeg's stderr."""
        proc = self.publish(url, name=name)
        rc = proc.wait(10)
        assert rc != 0, f"{name}: ffmpeg was not refused"
        return proc.stderr()

    def baton_cli(self, *args: str) -> str:
        env = dict(os.environ, BATON_DATA_DIR=str(self.baton.data_dir))
        res = subprocess.run(
            [self.baton_bin, *args], capture_output=True, text=True, timeout=30, env=env
        )
        assert res.returncode == 0, res.stderr
        return res.stdout


@pytest.fixture
def node(baton_bin, procs, tmp_path, media) -> Node:
    return Node(baton_bin, procs, tmp_path, media)


def forbid(c: Sdk, stream: str, **extra) -> dict:
    return c.call(
        "ForbidLiveStream",
        DomainName=DOMAIN,
        AppName="live",
        StreamName=stream,
        LiveStreamType="publisher",
        **extra,
    )


def resume(c: Sdk, stream: str, app: str = "live") -> dict:
    return c.call(
        "ResumeLiveStream",
        DomainName=DOMAIN,
        AppName=app,
        StreamName=stream,
        LiveStreamType="publisher",
    )


def block_list(c: Sdk, **extra) -> dict:
    return c.call("DescribeLiveStreamsBlockList", DomainName=DOMAIN, **extra)


def test_forbid_disconnects_ffmpeg_and_resume_lets_it_back(node):
    c = node.sdk()
    stream = f"s-{uuid.uuid4().hex[:8]}"
    publisher = node.publish(node.url(stream))
    node.wait_publishing(publisher, stream)

    t0 = time.monotonic()
    assert sorted(forbid(c, stream)) == ["RequestId"]
    publisher.wait(5)
    kicked_after = time.monotonic() - t0
    print(f"\nForbidLiveStream → ffmpeg disconnected after {kicked_after * 1000:.0f} ms")
    assert kicked_after < 1.0, kicked_after

    err = node.refused(node.url(stream), "publisher-refused")
    assert "forbidden until" in err, err[-800:]
    listed = block_list(c)
    assert f"{DOMAIN}/live/{stream}" in listed["StreamUrls"]["StreamUrl"]
    assert (listed["DomainName"], listed["PageNum"], listed["PageSize"]) == (DOMAIN, 1, 2000)
    assert listed["TotalNum"] >= 1 and listed["TotalPage"] >= 1

    assert sorted(resume(c, stream)) == ["RequestId"]
    again = node.publish(node.url(stream), name="publisher-again")
    node.wait_publishing(again, stream)
    assert f"{DOMAIN}/live/{stream}" not in block_list(c)["StreamUrls"]["StreamUrl"]


def test_oneshot_kicks_and_resume_time_expires(node):
    c = node.sdk("old")
    stream = f"s-{uuid.uuid4().hex[:8]}"
    publisher = node.publish(node.url(stream))
    node.wait_publishing(publisher, stream)
    forbid(c, stream, Oneshot="yes")
    publisher.wait(5)
    again = node.publish(node.url(stream), name="publisher-again")
    node.wait_publishing(again, stream)
    again.stop()

    # Forbidden until a ResumeTime a few seconds ahead: refused before, accepted after.
    until = time.time() + 4
    forbid(c, stream, ResumeTime=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(until)))
    node.refused(node.url(stream), "publisher-before")
    time.sleep(max(0.0, until - time.time()) + 1.2)
    after = node.publish(node.url(stream), name="publisher-after")
    node.wait_publishing(after, stream)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_sdks_drive_all_three_operations(node, flavour):
    c = node.sdk(flavour)
    tag = uuid.uuid4().hex[:6]
    streams = [f"{tag}-{i}" for i in range(5)]
    for s in streams:
        forbid(c, s)
    # A second app; AppName=* resumes a stream in every app.
    c.call(
        "ForbidLiveStream", DomainName=DOMAIN, AppName="app2", StreamName=streams[0],
        LiveStreamType="publisher",
    )
    page = block_list(c, PageSize=2, PageNum=3)
    assert (page["TotalNum"], page["TotalPage"], page["PageNum"], page["PageSize"]) == (6, 3, 3, 2)
    everything = block_list(c)["StreamUrls"]["StreamUrl"]
    assert everything == sorted(everything, key=lambda u: u.split("/")[1:])
    assert f"{DOMAIN}/app2/{streams[0]}" in everything

    resume(c, streams[0], app="*")
    remaining = block_list(c)["StreamUrls"]["StreamUrl"]
    assert len(remaining) == 4 and all(streams[0] not in u for u in remaining)
    for s in streams[1:]:
        resume(c, s)
    assert block_list(c)["TotalNum"] == 0
    # Resuming a stream that is not forbidden is not an error.
    resume(c, streams[1])

    # Validation.
    for bad, code in [
        ({"LiveStreamType": "player"}, "InvalidParameter"),
        ({"Oneshot": "maybe"}, "InvalidParameter"),
        ({"ResumeTime": "2020-01-01T00:00:00Z"}, "InvalidParameter"),
        ({"ResumeTime": "tomorrow"}, "InvalidParameter"),
    ]:
        params = dict(DomainName=DOMAIN, AppName="live", StreamName="x", LiveStreamType="publisher")
        params.update(bad)
        e = fails(c.call, "ForbidLiveStream", **params)
        assert (e.code, e.status) == (code, 400), (bad, e)
    e = fails(c.call, "DescribeLiveStreamsBlockList", DomainName=DOMAIN, PageSize=3001)
    assert (e.code, e.status) == ("InvalidParameter", 400)


def test_domains_belong_to_accounts(node):
    root, acme = node.sdk(), node.sdk("new-v2", key=ACME_KEY)
    e = fails(forbid, acme, "s")
    assert e.code == "InvalidDomain.NotFound", e
    e = fails(acme.call, "DescribeLiveStreamsBlockList", DomainName=DOMAIN)
    assert e.code == "InvalidDomain.NotFound", e
    acme.call(
        "ForbidLiveStream", DomainName="acme.example", AppName="live", StreamName="s",
        LiveStreamType="publisher",
    )
    e = fails(root.call, "DescribeLiveStreamsBlockList", DomainName="acme.example")
    assert e.code == "InvalidDomain.NotFound", e
    # The block is acme's domain's: 127.0.0.1/live/s is still open, acme.example/live/s not.
    node.refused(node.url("s", "vhost=acme.example"), "acme-refused")
    open_one = node.publish(node.url("s"), name="root-open")
    node.wait_publishing(open_one, "s")
    # A key whose resources do not cover the domain is refused by policy.
    narrow = node.sdk("old", key=NARROW_KEY)
    e = fails(forbid, narrow, "s")
    assert (e.code, e.status) == ("Forbidden.RAM", 403), e
    assert "domain/127.0.0.1" in e.message, e.message
    # A domain nobody owns is not served.
    err = node.refused(node.url("x", "vhost=nobody.example"), "nobody")
    assert "not served here" in err, err[-800:]


def test_signed_publish_urls(node):
    out = node.baton_cli("domain", "add", "signed.example", "--account", "root", "--publish-auth")
    assert "publish auth key:" in out
    time.sleep(1.5)  # the server re-reads the credentials file within a second
    base = node.url("cam", "vhost=signed.example")
    err = node.refused(base, "unsigned")
    assert "no auth_key" in err, err[-800:]

    signed = node.baton_cli("domain", "sign", base).strip()
    assert "auth_key=" in signed
    good = node.publish(signed, name="signed")
    # HTTP-FLV plays the domain's stream with the same vhost.
    url = node.baton.flv_url("cam") + "?vhost=signed.example"
    wait_flv_playing(good, url, 10, "signed publish plays")
    good.stop()

    head, digest = signed.rsplit("-", 1)
    tampered = head + "-" + ("0" if digest[0] != "0" else "1") + digest[1:]
    assert "does not match" in node.refused(tampered, "tampered")
    old = node.baton_cli("domain", "sign", base, "--timestamp", str(int(time.time()) - 3600))
    assert "expired" in node.refused(old.strip(), "expired")


def test_a_task_pushing_into_a_forbidden_stream_fails_with_push_stream_failed(node):
    c = node.sdk()
    tag = uuid.uuid4().hex[:8]
    src, dst = f"src-{tag}", f"dst-{tag}"
    publisher = node.publish(node.url(src))
    node.wait_publishing(publisher, src)
    task_id = c.call(
        "CreateLivePullToPush",
        Region=REGION, TaskName=f"forbidden {tag}", SourceType="live", SourceProtocol="rtmp",
        SourceUrls=[node.url(src)], DstUrl=node.url(dst), StartTime=utc(-60), EndTime=utc(3600),
    )["TaskId"]
    by_id = {"Region": REGION, "TaskId": task_id}
    wait_status(c, by_id, statuses=(1,), timeout=20)

    forbid(c, dst)
    failed = wait_status(c, by_id, statuses=(2,), timeout=20)
    assert failed["TaskInvalidReason"] == "PushStreamFailed", failed
    c.call("DeleteLivePullToPush", **by_id)


def test_blocks_survive_kill_9(node):
    c = node.sdk()
    stream = f"s-{uuid.uuid4().hex[:8]}"
    forbid(c, stream)
    until = time.time() + 3600
    forbid(c, f"{stream}-timed", ResumeTime=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(until)))
    node.kill_and_restart()
    node.refused(node.url(stream), "after-restart")
    node.refused(node.url(f"{stream}-timed"), "after-restart-timed")
    c = node.sdk()
    urls = block_list(c)["StreamUrls"]["StreamUrl"]
    assert {f"{DOMAIN}/live/{stream}", f"{DOMAIN}/live/{stream}-timed"} <= set(urls), urls
