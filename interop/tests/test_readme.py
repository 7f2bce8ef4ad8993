"""The README's path, run as written: a fresh `baton serve` prints its root credentials at its
first start; the README's code blocks marked `# readme-example: NAME` then run with exactly
those credentials — the Alibaba and Volcengine SDK examples with this suite's Python (the SDKs
of interop/requirements.txt, the pip packages the README names), the shell quick start with
bash, the `baton` binary on PATH and ffmpeg — and the tasks they create exist and relay.

What the test changes in the blocks, and only that: the default ports in URLs
(`127.0.0.1/`, `:8080`, `:8081`) become the test server's free ports, `input.mp4` a generated
clip; `export` lines are replaced by the environment a reader would have, and `ffplay` (a
window) is left out.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

from conftest import REPO, start_baton
from helpers import wait_for

README = REPO / "README.md"
BLOCK = re.compile(r"```(\w+)\n# readme-example: ([\w-]+)\n(.*?)```", re.S)


def examples() -> dict[str, tuple[str, str]]:
    """name → (language, code) of every marked block."""
    return {m.group(2): (m.group(1), m.group(3)) for m in BLOCK.finditer(README.read_text())}


def first_start_credentials(log: str) -> dict[str, str]:
    """The values the first-start message shows after its labels."""
    found = {}
    for label in ("AccessKeyId", "AccessKeySecret", "Token"):
        m = re.search(rf"^\s+{label}\s+(\S+)", log, re.M)
        assert m, f"no {label} in the first-start message:\n{log}"
        found[label] = m.group(1)
    return found


def localize(code: str, server) -> str:
    """The block with this server's ports in place of the defaults."""
    code = code.replace("rtmp://127.0.0.1/", f"rtmp://127.0.0.1:{server.rtmp_port}/")
    code = code.replace("127.0.0.1:8080", f"127.0.0.1:{server.api_port}")
    return code.replace("127.0.0.1:8081", f"127.0.0.1:{server.play_port}")


def v1(server, token: str, path: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.api_port}{path}", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def test_the_readme_examples_run_as_written(baton_bin, procs, tmp_path, media):
    blocks = examples()
    assert {"quickstart", "aliyun-create", "volc-create"} <= set(blocks), sorted(blocks)
    server = start_baton(baton_bin, procs, tmp_path)
    wait_for(lambda: "baton task list" in server.log(), 5, "the first-start message")
    creds = first_start_credentials(server.log())
    endpoint = f"http://127.0.0.1:{server.api_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATON_", "VOLC_", "ALIBABA_"))}
    env.update(
        BATON_ENDPOINT=endpoint,
        BATON_TOKEN=creds["Token"],
        ALIBABA_CLOUD_ACCESS_KEY_ID=creds["AccessKeyId"],
        ALIBABA_CLOUD_ACCESS_KEY_SECRET=creds["AccessKeySecret"],
        VOLC_ACCESSKEY=creds["AccessKeyId"],
        VOLC_SECRETKEY=creds["AccessKeySecret"],
        PATH=f"{Path(baton_bin).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        NO_PROXY="127.0.0.1,localhost",
    )

    # The shell quick start: publish (background), create the relay task, list it.
    lang, code = blocks["quickstart"]
    assert lang == "sh"
    lines = [
        line
        for line in localize(code, server).replace("\\\n", " ").splitlines()
        if not line.startswith(("export ", "ffplay "))
    ]
    script = "\n".join(lines).replace("input.mp4", str(media["main"].path))
    path = tmp_path / "quickstart.sh"
    path.write_text("set -e\n" + script + "\nwait\n")
    quickstart = procs.start("quickstart", ["bash", str(path)], env=env)

    def demo_task():
        tasks = v1(server, creds["Token"], "/v1/tasks")["items"]
        return next((t for t in tasks if t["name"] == "demo"), None)

    wait_for(demo_task, 15, "`baton task create` of the quick start made task demo")
    task_id = demo_task()["id"]

    def relaying():
        doc = v1(server, creds["Token"], f"/v1/tasks/{task_id}")
        return doc["state"] == "running" and (doc.get("relay") or {}).get("bitrate_out_bps", 0) > 0

    wait_for(relaying, 15, "task demo relaying the published stream")
    assert quickstart.wait(20) == 0, quickstart.stderr()
    assert "demo" in quickstart.stdout(), quickstart.stdout()  # `baton task list`

    # The SDK examples, with the reader's Python and environment.
    for name, task_name in (("aliyun-create", "aliyun-example"), ("volc-create", "volc-example")):
        lang, code = blocks[name]
        assert lang == "python"
        path = tmp_path / f"{name}.py"
        path.write_text(localize(code, server))
        run = subprocess.run(
            [sys.executable, str(path)], env=env, capture_output=True, text=True, timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert run.returncode == 0, f"{name}:\n{run.stdout}\n{run.stderr}"
        task_id = run.stdout.split()[0]
        doc = v1(server, creds["Token"], f"/v1/tasks/{task_id}")
        assert doc["name"] == task_name and doc["state"] in ("running", "recovering"), doc
