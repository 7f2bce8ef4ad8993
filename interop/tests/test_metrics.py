"""Baton's Prometheus metrics scraped by a real Prometheus (Debian's `prometheus` package).

`baton serve` runs with its own metrics listener; ffmpeg publishes into Baton's RTMP ingest and
a task (native API) relays that stream to another stream of the same ingest. Prometheus
scrapes Baton every second twice — the metrics listener (no token) and the API listener's
`/metrics` with a root bearer token, as an operator would configure it — and PromQL over its
HTTP API answers about the running relay: bitrate, a positive byte rate, its state, the
ingest stream's publisher, and the API's own request counter. Prometheus runs on 127.0.0.1
with its TSDB in the test's tmp dir and is stopped by its PID."""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.parse
import urllib.request
import uuid

import pytest

from conftest import start_baton
from helpers import FFMPEG, free_port, http_status, wait_for
from test_native_api import Api, create_token, utc_in

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"

pytestmark = pytest.mark.timeout(90)


def start_prometheus(procs, tmp_path, targets: dict[str, tuple[int, str | None]]):
    """Prometheus scraping each `job: (port, bearer token or None)` every second."""
    jobs = []
    for job, (port, token) in targets.items():
        auth = f"    authorization:\n      type: Bearer\n      credentials: {token}\n" if token else ""
        jobs.append(
            f"  - job_name: {job}\n    scrape_interval: 1s\n    scrape_timeout: 1s\n{auth}"
            f"    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        )
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1s\nscrape_configs:\n" + "".join(jobs))
    port = free_port()
    argv = [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]
    proc = procs.start("prometheus", argv)
    wait_for(lambda: http_status(f"http://127.0.0.1:{port}/-/ready") == 200, 20, "prometheus ready")
    return proc, port


def query(port: int, promql: str) -> list[dict]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as r:
        doc = json.load(r)
    assert doc["status"] == "success", doc
    return doc["data"]["result"]


def test_prometheus_answers_promql_about_a_running_relay(baton_bin, procs, tmp_path, media):
    if not os.path.exists(PROMETHEUS):
        pytest.fail("prometheus missing: install Debian's prometheus package (interop/run does)")
    metrics_port = free_port()
    server = start_baton(baton_bin, procs, tmp_path, config=f'metrics_listen = "127.0.0.1:{metrics_port}"\n')
    token = create_token(baton_bin, server.data_dir, "prometheus")
    api = Api(server.api_port, token)
    wait_for(lambda: api.call("GET", "/v1/whoami")[0] == 200, 10, "the new token is accepted")

    t = uuid.uuid4().hex[:8]
    src, dst = f"src{t}", f"dst{t}"
    argv = FFMPEG + ["-re", "-stream_loop", "-1", "-i", media["main"].path, "-c", "copy", "-f", "flv"]
    procs.start("publisher", argv + [server.rtmp_url(src)])
    body = {"name": f"metrics{t}", "source": {"type": "live", "urls": [server.rtmp_url(src)]},
            "destination": server.rtmp_url(dst), "end_time": utc_in(3600)}
    status, _, task = api.call("POST", "/v1/tasks", body)
    assert status == 201, task
    tid = task["id"]

    _, prom = start_prometheus(procs, tmp_path, {
        "baton": (metrics_port, None),
        "baton_api": (server.api_port, token),
    })

    def answered(promql: str):
        return lambda: query(prom, promql)

    # Both targets are up (the API listener's with the root token).
    wait_for(answered('up{job="baton"} == 1'), 10, "the metrics listener scraped")
    wait_for(answered('up{job="baton_api"} == 1'), 10, "the API listener's /metrics scraped")
    sel = f'job="baton",task_id="{tid}"'
    bitrate = wait_for(answered(f"baton_relay_bitrate_out_bits{{{sel}}} > 0"), 20, "a bitrate out")
    assert bitrate[0]["metric"]["account"] == "root", bitrate
    wait_for(answered(f"rate(baton_relay_bytes_out_total{{{sel}}}[5s]) > 0"), 10, "bytes out move")
    wait_for(answered(f'baton_relay_state{{{sel},state="forwarding"}} == 1'), 10, "forwarding")
    wait_for(answered(f'baton_task_status{{{sel},status="running"}} == 1'), 10, "status 1")
    wait_for(answered(f'baton_stream_publishing{{job="baton",stream="{src}"}} == 1'), 10,
             "the source stream has its publisher")
    wait_for(answered(f'baton_stream_players{{job="baton",stream="{src}"}} >= 1'), 10,
             "the relay is a player of the source stream")
    wait_for(answered('sum(baton_api_requests_total{job="baton_api",dialect="native"}) > 0'), 10,
             "the API counted the create")

    # Deleted: the task's series go stale in Prometheus too.
    status, _, _ = api.call("DELETE", f"/v1/tasks/{tid}")
    assert status in (200, 204)
    wait_for(lambda: not query(prom, f"baton_task_status{{{sel}}}"), 15, "the task's series vanish")
