"""The web dashboard (`/ui/`) in a real browser: Debian's Chromium, headless, driven by
Playwright (its Python package only: the browser is the system's `/usr/bin/chromium`, never a
downloaded one), against a real `baton serve` with ffmpeg publishing into its ingest.

* the sign-in link that `baton ui` prints signs in (and leaves the address bar); a wrong
  token on the form is refused with the API's problem; sign-out forgets the token;
* a relay created in the form, from a live ingest stream to another ingest path, reaches
  running / forwarding with a bitrate that moves between two reads; its stream key is masked
  until "show" is clicked; its event log opens; Stop stops it;
* a live stream is forbidden from the dashboard and its publisher is disconnected, then
  resumed — from the live streams list where the server has `GET /v1/streams` (skipped with
  a reason where it answers 404), and by path everywhere;
* the live streams list renders the documented `/v1/streams` shape (served to the page by the
  test, so the rendering is checked on any server).

On failure, a screenshot of the page is saved in the test's tmp dir (the path is printed).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from playwright import sync_api as playwright_api

from conftest import start_baton
from helpers import FFMPEG, Proc, wait_flv_playing, wait_for

pytestmark = pytest.mark.timeout(60)

CHROMIUM = Path("/usr/bin/chromium")
# The publishers' domain (their URLs' host) belongs to root, so root's token controls them.
CONFIG = """
[[domains]]
name = "127.0.0.1"
account = "root"
"""
MASK = "••••"


# --------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture
def server(baton_bin, procs, tmp_path):
    return start_baton(baton_bin, procs, tmp_path, config=CONFIG)


def sign_in_link(baton_bin, server) -> str:
    """What `baton ui` prints on stdout: the link, tried against the server first."""
    out = subprocess.run(
        [str(baton_bin), "ui", "--data-dir", str(server.data_dir),
         "--endpoint", f"http://127.0.0.1:{server.api_port}"],
        capture_output=True, text=True, timeout=30,
        env={k: v for k, v in os.environ.items() if k not in ("BATON_TOKEN", "BATON_ENDPOINT")},
    )
    assert out.returncode == 0, out.stderr
    link = out.stdout.strip()
    assert link.startswith(f"http://127.0.0.1:{server.api_port}/ui/#token=btn_"), out
    assert "signs in as account root" in out.stderr, out.stderr
    return link


@pytest.fixture
def page(request, tmp_path):
    """A page of a fresh headless Chromium profile; a screenshot when the test fails."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} missing: install Debian's chromium (interop/run does)")
    with playwright_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
            ],
            viewport={"width": 1400, "height": 900},
        )
        context.set_default_timeout(10_000)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        try:
            yield page
            # The page's own script never failed (a CSP refusal is a console error too); the
            # 404 of a missing /v1/streams and the refused token are the API's answers.
            unexpected = [e for e in errors if "status of 404" not in e and "status of 401" not in e]
            assert unexpected == [], unexpected
        finally:
            rep = getattr(request.node, "rep_call", None)
            if rep is not None and rep.failed:
                shot = tmp_path / "dashboard-failure.png"
                try:
                    page.screenshot(path=str(shot), full_page=True)
                    print(f"\n===== dashboard screenshot: {shot}")
                except Exception as e:  # the browser may be what failed
                    print(f"\n===== no dashboard screenshot: {e}")
            context.close()


def publish_live(procs, media, url: str, name: str = "publisher") -> Proc:
    """ffmpeg publishing the main clip in a loop, in real time."""
    argv = FFMPEG + ["-re", "-stream_loop", "-1", "-i", media["main"].path]
    return procs.start(name, argv + ["-c", "copy", "-f", "flv", url])


def streams_route(server) -> int:
    """The status of `GET /v1/streams` without a token: 404 where the route does not exist,
    401 where it does."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.api_port}/v1/streams", timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def task_row(page, name: str):
    return page.locator("#tasks-table tbody tr", has_text=name)


def bps(row, column: str) -> int:
    value = row.locator(f"td.{column}").get_attribute("data-bps")
    return int(value) if value else 0


# --------------------------------------------------------------------------------------------
# Tests


def test_sign_in_create_a_relay_watch_it_forward_and_stop_it(baton_bin, server, procs, media, page):
    base = f"http://127.0.0.1:{server.api_port}/ui/"

    # Without a token: the sign-in form; a wrong token is refused with the API's problem.
    page.goto(base)
    page.locator("#view-signin").wait_for()
    page.fill("#signin-token", "btn_not-a-token")
    page.click("#signin-form button[type=submit]")
    error = page.locator("#signin-error")
    error.wait_for()
    assert "token is not valid" in error.text_content()
    assert page.evaluate("sessionStorage.getItem('baton.token')") is None

    # The link signs in and leaves the address bar (a fragment-only navigation: no reload).
    page.goto(sign_in_link(baton_bin, server))
    page.locator("#view-tasks").wait_for()
    wait_for(lambda: "root" in page.text_content("#who"), 5, "the account in the header")
    assert page.url == base, page.url
    assert page.evaluate("sessionStorage.getItem('baton.token')").startswith("btn_")

    # A live stream into Baton's ingest, and a relay of it to another ingest path.
    source = server.rtmp_url("dash-src")
    key = f"key-{uuid.uuid4().hex[:12]}"
    destination = server.rtmp_url(key)
    publisher = publish_live(procs, media, source)
    wait_flv_playing(publisher, server.flv_url("dash-src"), 15, "the source stream is live")

    name = f"dash <b>{uuid.uuid4().hex[:6]}</b>"  # markup in a name stays text
    page.click("#create-toggle")
    page.fill("#create-name", name)
    page.fill("#create-source", source)
    page.fill("#create-destination", destination)
    page.click("#create-form button[type=submit]")
    row = task_row(page, name)
    row.wait_for()
    assert row.locator("b").count() == 0
    assert "created" in page.text_content("#flash")

    # Running and forwarding, with a bitrate that moves between two reads (~2 s refreshes).
    wait_for(lambda: row.locator(".state").get_attribute("data-state") == "running"
             and row.locator(".relay-state").get_attribute("data-state") == "forwarding",
             15, "the row: running / forwarding")
    first = wait_for(lambda: bps(row, "in"), 10, "a bitrate in")
    wait_for(lambda: bps(row, "out") > 0, 10, "a bitrate out")
    second = wait_for(lambda: (lambda v: v if v and v != first else 0)(bps(row, "in")), 10,
                      "the bitrate to move")
    print(f"bitrate in: {first} then {second} b/s; shown {row.locator('td.in').text_content()!r}")
    assert float(row.locator("td.fps").text_content()) > 0
    wait_flv_playing(publisher, server.flv_url(key), 10, "the relayed stream plays")

    # The stream key is masked until "show" is clicked.
    dest = row.locator("td.destination")
    assert key not in dest.text_content() and MASK in dest.text_content()
    assert dest.locator(".transport").text_content() == "rtmp", dest.text_content()
    dest.locator("button", has_text="show").click()
    assert destination in dest.text_content()
    time.sleep(2.5)  # a refresh keeps it revealed
    assert destination in dest.text_content()
    dest.locator("button", has_text="hide").click()
    assert key not in dest.text_content()

    # The event log.
    row.locator("button[data-action=events]").click()
    page.locator("#view-events").wait_for()
    wait_for(lambda: page.locator("#events-table tbody tr").count() >= 1, 5, "an event")
    assert name in page.text_content("#events-title")
    page.click("#view-events a[href='#tasks']")
    page.locator("#view-tasks").wait_for()

    # Stop.
    row.locator("button[data-action=stop]").click()
    wait_for(lambda: row.locator(".state").get_attribute("data-state") == "stopped", 10,
             "the row: stopped")
    assert row.locator("button[data-action=start]").is_enabled()
    assert row.locator("button[data-action=stop]").is_disabled()
    assert "stopped" in page.text_content("#flash")

    # Delete asks first; cancelled, the task stays.
    row.locator("button[data-action=delete]").click()
    page.locator("#confirm").get_by_role("button", name="Cancel").click()
    time.sleep(0.3)
    assert row.count() == 1

    # Sign out forgets the token.
    page.click("#sign-out")
    page.locator("#view-signin").wait_for()
    assert page.evaluate("sessionStorage.getItem('baton.token')") is None
    assert page.locator("#tasks-table tbody tr").count() == 0


def test_forbid_a_live_stream_from_the_list(baton_bin, server, procs, media, page):
    stream = f"live-{uuid.uuid4().hex[:8]}"
    publisher = publish_live(procs, media, server.rtmp_url(stream))
    wait_flv_playing(publisher, server.flv_url(stream), 15, "the stream is live")
    page.goto(sign_in_link(baton_bin, server))
    page.click("#nav a[data-view=streams]")
    page.locator("#view-streams").wait_for()
    if streams_route(server) == 404:
        page.locator("#streams-unavailable").wait_for()
        assert page.locator("#streams-table").is_hidden()
        pytest.skip("GET /v1/streams answers 404 on this server: the list shows its note")

    row = page.locator(f"#streams-table tbody tr[data-key='127.0.0.1/live/{stream}']")
    row.wait_for()
    assert stream not in row.text_content() and MASK in row.text_content()
    wait_for(lambda: row.get_attribute("data-publishing") == "true", 5, "publishing")
    row.locator("button[data-action=forbid]").click()
    page.click("#confirm-ok")
    publisher.wait(10)
    block = page.locator(f"#blocks-table tbody tr[data-key='127.0.0.1/live/{stream}']")
    block.wait_for()
    block.locator("button[data-action=resume]").click()
    block.wait_for(state="detached")


def test_forbid_resume_and_kick_by_path(baton_bin, server, procs, media, page):
    stream = f"live-{uuid.uuid4().hex[:8]}"
    publisher = publish_live(procs, media, server.rtmp_url(stream))
    wait_flv_playing(publisher, server.flv_url(stream), 15, "the stream is live")
    page.goto(sign_in_link(baton_bin, server))
    page.click("#nav a[data-view=streams]")
    page.locator("#view-streams").wait_for()
    page.fill("#path-domain", "127.0.0.1")
    page.fill("#path-app", "live")
    page.fill("#path-stream", stream)

    # Kick: the publisher is disconnected (ffmpeg ends), nothing is forbidden.
    page.click("#path-form button[data-op=kick]")
    page.click("#confirm-ok")
    publisher.wait(10)
    wait_for(lambda: "kicked" in page.text_content("#flash"), 5, "the kick reported")
    assert page.locator("#blocks-table tbody tr").count() == 0

    # Forbid, with a resume time: the new publisher is disconnected and cannot come back.
    publisher = publish_live(procs, media, server.rtmp_url(stream), name="publisher-2")
    wait_flv_playing(publisher, server.flv_url(stream), 15, "the stream is live again")
    page.click("#path-form button[data-op=forbid]")
    page.fill("#confirm-resume-at", time.strftime("%Y-%m-%dT%H:%M", time.localtime(time.time() + 7200)))
    page.click("#confirm-ok")
    publisher.wait(10)
    block = page.locator(f"#blocks-table tbody tr[data-key='127.0.0.1/live/{stream}']")
    block.wait_for()
    assert stream not in block.text_content() and MASK in block.text_content()
    again = publish_live(procs, media, server.rtmp_url(stream), name="publisher-3")
    assert again.wait(10) != 0, "a forbidden stream refuses its publisher"

    # Resume: the row goes, and publishing works again.
    block.locator("button[data-action=resume]").click()
    block.wait_for(state="detached")
    publisher = publish_live(procs, media, server.rtmp_url(stream), name="publisher-4")
    wait_flv_playing(publisher, server.flv_url(stream), 15, "the stream is live after resume")


def test_the_streams_list_renders_the_documented_shape(baton_bin, server, page):
    """`GET /v1/streams` as the API documents it, served to the page by the test: this checks
    the rendering on any server (the data calls that act still go to the real server)."""
    doc = {"items": [
        {"domain": "127.0.0.1", "app": "live", "stream": "secret-key-1", "publishing": True,
         "protocol": "rtmp", "publisher_addr": "127.0.0.1:50000",
         "started_at": "2026-01-01T00:00:00Z", "uptime_seconds": 3725,
         "video": {"codec": "h264", "width": 1280, "height": 720, "profile": "High", "fps": 30},
         "audio": {"codec": "aac", "sample_rate": 44100, "channels": 2},
         "bitrate_in_bps": 2_500_000, "players": 3, "gop_cache_frames": 31,
         "gop_cache_bytes": 400_000, "frames_in": 1200, "frames_dropped": 2,
         "forbidden": False, "forbidden_until": None},
        {"domain": "127.0.0.1", "app": "live", "stream": "<i>secret-key-2</i>", "publishing": False,
         "protocol": None, "publisher_addr": None, "started_at": None, "uptime_seconds": None,
         "video": None, "audio": None, "bitrate_in_bps": 0, "players": 0,
         "gop_cache_frames": 0, "gop_cache_bytes": 0, "frames_in": 0, "frames_dropped": 0,
         "forbidden": True, "forbidden_until": "2027-01-01T00:00:00Z"},
    ]}
    page.route("**/v1/streams", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps(doc)))
    page.goto(sign_in_link(baton_bin, server))
    page.click("#nav a[data-view=streams]")
    live = page.locator("#streams-table tbody tr[data-key='127.0.0.1/live/secret-key-1']")
    live.wait_for()
    assert page.locator("#streams-unavailable").is_hidden()
    cells = [c.text_content() for c in live.locator("td").all()]
    assert "secret-key-1" not in live.text_content() and MASK in cells[0], cells
    assert cells[1].startswith("RTMP") and "127.0.0.1:50000" in cells[1], cells
    assert cells[2] == "1h02m05s", cells
    assert cells[3] == "h264 · 1280×720 · 30.0 fps · High", cells
    assert cells[4] == "aac · 44.1 kHz · 2 ch", cells
    assert cells[5] == "2.50 Mb/s" and cells[6] == "3", cells
    assert cells[8] == "1200 / 2", cells
    assert live.locator("button[data-action=resume]").is_hidden()

    gone = page.locator("#streams-table tbody tr[data-key='127.0.0.1/live/<i>secret-key-2</i>']")
    assert gone.locator("i").count() == 0
    assert "forbidden" in gone.locator("td").nth(9).text_content()
    assert gone.locator("button[data-action=resume]").is_visible()
    gone.locator("button[data-action=reveal]").click()
    assert "live/<i>secret-key-2</i>" in gone.locator("td").first.text_content()
