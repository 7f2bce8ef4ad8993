"""Schemathesis fuzzes Baton's native REST API (``/v1``) from the server's own OpenAPI document.

One ``baton serve`` with a fresh data dir; ``baton token create --account root`` makes a bearer
token (no ingest domain is configured, so ``root`` owns every domain and the block / kick
operations get past ownership). Then ``schemathesis run`` (its CLI, run by this venv's Python)
loads ``http://127.0.0.1:PORT/v1/openapi.json`` from the running server and tests every
operation of it, ``GET /v1/openapi.json`` included:

* phases: coverage (boundary and just-invalid values of every schema, deterministic), fuzzing
  (Hypothesis: ``MAX_EXAMPLES`` per operation, more for the task create and update, fixed seed,
  no shrinking) and stateful (sequences through the links schemathesis infers from the
  document and from ``Location`` headers: create a task, then get / patch / stop / start /
  restart / delete it);
* modes: positive and negative (``--mode all``): a documented 4xx answer to invalid data passes
  every check below; what is judged is how the server answers, never that it refused;
* checks (``CHECKS``): no 5xx and no dropped connection, every status documented for its
  operation, content types, response bodies against their schemas, response headers
  (``ETag``, ``Location``), plus the checks that need no extra setup and hold today:
  authentication is not ignored, undocumented methods get 405 with a correct ``Allow``, a
  created task can be read back, a deleted one is gone.

Checks left out, with the reason:

* ``positive_data_acceptance``: it flags every 4xx to schema-valid input, but the server
  validates more than a JSON schema can say (a cursor must be one it issued, URLs need a
  scheme the source type supports, ``end_time`` must lie ahead, ``source.protocol`` is for live
  sources only). Those answers are documented 400 / 422 problems.
* ``negative_data_rejection``: it wants every schema violation refused, including unknown
  query parameters, which the server ignores on purpose (as most HTTP APIs do).
* ``object_level_authorization``: needs a second account's credentials in schemathesis'
  config; the cross-account rules are tested with the SDKs.

Generated task bodies would almost never be accepted (a random string is not a source URL, a
random date-time is rarely ahead of now), leaving every ``/v1/tasks/{id}`` operation to 404s.
So schemathesis gets *dictionaries* for a few body fields of ``createTask`` / ``updateTask``
(source URLs, an ``rtmp://`` destination, start and end times ahead of now, a callback URL),
each drawn with a probability below 1: the rest stays generated from the document, and the
accepted creates feed real task IDs to the other operations. The URLs point at 127.0.0.1:9
(discard, nothing listens), so running tasks fail over to recovering without traffic.

The server allows 50 requests per second per account on ``/v1`` (not settable from the config
file), so schemathesis paces itself below that (``--rate-limit``); a 429 that slips through is
documented on every operation and passes the checks anyway.

A failing run prints schemathesis' own report (per failure: operation, check, a ``curl``
reproduction and the response) and its JSON summary. Before that, the server must have
survived: still running, ``/healthz`` 200, no panic in its log.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import start_baton
from helpers import wait_for

pytestmark = pytest.mark.timeout(300)

SEED = 20251123
# Hypothesis examples per operation in the fuzzing phase (positive and negative together); the
# coverage phase adds its own deterministic set. The whole run takes about 50 s, paced by
# RATE_LIMIT.
MAX_EXAMPLES = 40
MAX_EXAMPLES_TASK_BODIES = 100  # createTask / updateTask: their bodies have the most to explore
# Requests per second schemathesis sends: under the server's 50 per second per account.
RATE_LIMIT = "45/s"
CHECKS = [
    # The contract.
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    # Also part of it, no setup needed.
    "ignored_auth",
    "unsupported_method",
    "allow_header_conformance",
    "missing_required_header",
    "ensure_resource_availability",
    "use_after_free",
]
PHASES = ["coverage", "fuzzing", "stateful"]
RUN_TIMEOUT = 220  # seconds; the run takes far less, this only bounds a hang
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def _get(url: str, token: str | None = None, timeout: float = 5.0) -> tuple[int, bytes]:
    req = urllib.request.Request(url)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _create_token(baton_bin: Path, data_dir: Path) -> str:
    """`baton token create`: the token is the last line of stdout (stderr has a note)."""
    argv = [str(baton_bin), "token", "create", "--account", "root", "--name", "fuzz"]
    argv += ["--data-dir", str(data_dir)]
    done = subprocess.run(
        argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, f"{argv} exited {done.returncode}: {done.stderr}"
    lines = done.stdout.strip().splitlines()
    assert lines, f"`baton token create` printed no token (stderr: {done.stderr})"
    return lines[-1].strip()


def _config(now: dt.datetime) -> str:
    """schemathesis.toml: example counts and the dictionaries of the task bodies."""

    def at(**delta) -> str:
        return (now + dt.timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")

    dictionaries = {
        # live: rtmp and http-flv; url: http(s) files (an rtmp URL there is a documented 400).
        "sources": [
            "rtmp://127.0.0.1:9/live/fuzz",
            "http://127.0.0.1:9/live/fuzz.flv",
            "https://127.0.0.1:9/vod/fuzz.mp4",
        ],
        "destinations": ["rtmp://127.0.0.1:9/live/out", "rtmp://127.0.0.1:9/app/out?k=v"],
        "callbacks": ["http://127.0.0.1:9/cb", "https://127.0.0.1:9/cb?from=fuzz"],
        # Every start before every end: a minute ago (the task runs at once) or ahead.
        "starts": [at(minutes=-1), at(minutes=10), at(hours=1)],
        "ends": [at(hours=2), at(days=1), at(days=3)],
        "types": ["live", "url"],
    }
    bindings = {
        "body.source.urls[*]": ("sources", 0.9),
        "body.source.type": ("types", 0.8),
        "body.destination": ("destinations", 0.9),
        "body.callback_url": ("callbacks", 0.5),
        "body.start_time": ("starts", 0.9),
        "body.end_time": ("ends", 0.9),
    }
    lines = ["[generation]", f"max-examples = {MAX_EXAMPLES}", ""]
    for name, values in dictionaries.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    params = ", ".join(
        f'"{key}" = {{ dictionary = "{name}", probability = {p} }}'
        for key, (name, p) in bindings.items()
    )
    lines += [
        "[[operations]]",
        'include-operation-id = ["createTask", "updateTask"]',
        f"generation.max-examples = {MAX_EXAMPLES_TASK_BODIES}",
        f"parameters = {{ {params} }}",
        "",
    ]
    return "\n".join(lines)


def _tail(text: str, limit: int = 40_000) -> str:
    if len(text) <= limit:
        return text
    return f"[… {len(text) - limit} characters cut]\n{text[-limit:]}"


def test_native_api_fuzz(baton_bin, procs, tmp_path):
    server = start_baton(baton_bin, procs, tmp_path, name="baton-fuzz")
    base = f"http://127.0.0.1:{server.api_port}"
    spec_url = f"{base}/v1/openapi.json"

    status, body = _get(spec_url)
    if status != 200:
        pytest.fail(f"GET /v1/openapi.json answered {status}: {body[:500]!r}")
    spec = json.loads(body)
    assert spec.get("openapi", "").startswith("3."), spec.get("openapi")
    operations = [
        f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        for method in item
        if method in HTTP_METHODS
    ]
    assert operations, "the document has no operations"

    # The token, then wait until the server has read it (credentials.toml is re-read within 1 s).
    token = _create_token(baton_bin, server.data_dir)
    wait_for(
        lambda: _get(f"{base}/v1/whoami", token)[0] == 200,
        10,
        "GET /v1/whoami with the new token = 200",
        interval=0.2,
    )
    whoami = json.loads(_get(f"{base}/v1/whoami", token)[1])
    assert whoami.get("account") == "root", whoami

    config = tmp_path / "schemathesis.toml"
    config.write_text(_config(dt.datetime.now(dt.timezone.utc).replace(microsecond=0)))
    report_dir = tmp_path / "schemathesis"
    json_report = report_dir / "report.json"
    argv = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config)]
    argv += ["run", spec_url]
    # Any explicit filter brings in GET /v1/openapi.json, which schemathesis otherwise leaves
    # out as the operation that served the document.
    argv += ["--include-path-regex", "^/"]
    argv += ["--header", f"Authorization: Bearer {token}"]
    argv += ["--checks", ",".join(CHECKS)]
    argv += ["--phases", ",".join(PHASES)]
    argv += ["--mode", "all", "--seed", str(SEED), "--no-shrink"]
    argv += ["--generation-database", "none"]
    argv += ["--workers", "1", "--rate-limit", RATE_LIMIT, "--request-timeout", "10"]
    argv += ["--suppress-health-check", "all"]
    argv += ["--report", "json", "--report-dir", str(report_dir)]
    argv += ["--report-json-path", str(json_report)]
    argv += ["--no-color", "--output-truncate", "false"]
    env = dict(os.environ)
    env["NO_COLOR"] = "1"
    for var in ("SCHEMATHESIS_HOOKS", "SCHEMATHESIS_CONFIG"):  # nothing from the environment
        env.pop(var, None)
    started = time.monotonic()
    try:
        done = subprocess.run(
            argv,
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=RUN_TIMEOUT,
        )
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else e.stdout or ""
        pytest.fail(f"schemathesis still running after {RUN_TIMEOUT} s:\n{_tail(out)}")
    elapsed = time.monotonic() - started
    output = done.stdout
    (tmp_path / "schemathesis.out").write_text(output)
    print(f"schemathesis: exit {done.returncode} after {elapsed:.1f} s")
    print(_tail(output, 6000))

    summary = json.loads(json_report.read_text()) if json_report.exists() else None
    keys = ("operations", "phases", "test_cases", "failures", "errors")
    digest = json.dumps({k: summary.get(k) for k in keys}, indent=1) if summary else "(no report)"

    # The server survived the run; judged first, as a crash would explain everything else.
    assert server.proc.running(), (
        f"baton serve exited {server.proc.returncode} during the fuzz run\n"
        f"{_tail(server.log(), 8000)}\n----- schemathesis\n{_tail(output)}"
    )
    assert server.healthz() == 200, "GET /healthz is not 200 after the fuzz run"
    panics = [line for line in server.log().splitlines() if "panicked" in line]
    assert not panics, "baton serve panicked during the fuzz run:\n" + "\n".join(panics[:20])

    assert done.returncode == 0, (
        f"schemathesis exit {done.returncode} (1: checks failed, 2: the run could not be "
        f"done) after {elapsed:.1f} s\n----- summary\n{digest}\n----- schemathesis output "
        f"(all of it in {tmp_path / 'schemathesis.out'})\n{_tail(output, 60_000)}"
    )
    assert summary is not None, "schemathesis wrote no JSON report"
    ops = summary["operations"] or {}
    # Every operation of the document was tested, none skipped or errored.
    assert ops.get("total") == ops.get("selected") == ops.get("tested") == len(operations), (
        operations,
        digest,
    )
    assert not ops.get("errored") and not summary["errors"], digest
    for phase in PHASES:
        assert summary["phases"][phase]["status"] == "success", digest
    assert summary["test_cases"]["generated"] >= len(operations) * 20, digest
