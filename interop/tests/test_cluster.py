"""Several `baton serve` nodes on one PostgreSQL database (issue 15): each task pushed by
exactly one node, failover after kill -9 and SIGTERM, and a forbid through any node reaching
the publisher on another.

The peers: a fourth `baton serve` on SQLite (the "edge") is both the origin — three ffmpeg
publishers loop a clip into `live/src0..2` — and every task's destination, `out/s<i>`. Its
ingest takes ONE publisher per stream and refuses a second ("stream busy", counted in its
log): a task pushed by two nodes at once would show there. The cluster's database is a
PostgreSQL server of the test's own (interop/postgres.py), which it crash-restarts under load.
"""

from __future__ import annotations

import calendar
import signal
import statistics
import time

import pytest

from conftest import BatonServer, start_baton
from helpers import FFMPEG, wait_for
from postgres import PgCluster
from test_native_api import Api, create_token, utc_in

pytestmark = pytest.mark.timeout(240)

TASKS = 30
NODES = 3


@pytest.fixture
def postgres():
    cluster = PgCluster()
    yield cluster
    cluster.close()


class Node:
    def __init__(self, server: BatonServer, api: Api, name: str):
        self.server, self.api, self.name = server, api, name

    def nodes(self) -> list[dict]:
        return self.api.ok("GET", "/v1/nodes")["items"]


def start_node(baton_bin, procs, tmp_path, database: str, name: str) -> Node:
    config = f'database = "{database}"\n\n[cluster]\nname = "{name}"\n'
    server = start_baton(baton_bin, procs, tmp_path, config=config, name=name)
    api = Api(server.api_port, create_token(baton_bin, server.data_dir, "cluster"))
    wait_for(lambda: api.call("GET", "/v1/whoami")[0] == 200, 10, f"{name} accepts its token")
    return Node(server, api, name)


def epoch(rfc3339: str) -> int:
    return calendar.timegm(time.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ"))


class Edge:
    """The origin and destination server."""

    def __init__(self, baton_bin, procs, tmp_path):
        self.server = start_baton(baton_bin, procs, tmp_path, name="edge")
        self.api = Api(self.server.api_port, create_token(baton_bin, self.server.data_dir, "edge"))
        wait_for(lambda: self.api.call("GET", "/v1/whoami")[0] == 200, 10, "edge accepts its token")

    def outputs(self) -> dict[str, int]:
        """Publishing `out/*` streams: name → when the current publish started (Unix s)."""
        items = self.api.ok("GET", "/v1/streams?app=out")["items"]
        return {s["stream"]: epoch(s["started_at"]) for s in items if s.get("started_at")}

    def busy_refusals(self) -> int:
        return self.server.log().count("publish refused: stream busy")


def owners(node: Node) -> dict[str, str]:
    """Task ID → the name of the node holding its lease, as `/v1/nodes` says."""
    out = {}
    for n in node.nodes():
        for tid in n["task_ids"]:
            out[tid] = n["name"]
    return out


def test_three_nodes_failover_without_double_pushes(baton_bin, procs, tmp_path, media, postgres):
    edge = Edge(baton_bin, procs, tmp_path)
    for i in range(3):
        argv = FFMPEG + ["-loglevel", "warning", "-re", "-stream_loop", "-1", "-i", media["main"].path]
        procs.start(f"publisher{i}", argv + ["-c", "copy", "-f", "flv", edge.server.rtmp_url(f"src{i}")])
    nodes = [start_node(baton_bin, procs, tmp_path, postgres.url, f"node{i}") for i in range(NODES)]

    # Ten tasks through each node's API; each node claims what it created.
    ids: dict[str, str] = {}  # task id → its destination stream
    for i in range(TASKS):
        body = {"name": f"c{i}", "source": {"type": "live", "urls": [edge.server.rtmp_url(f"src{i % 3}")]},
                "destination": edge.server.rtmp_url(f"s{i}", app="out"), "end_time": utc_in(3600)}
        status, _, task = nodes[i % NODES].api.call("POST", "/v1/tasks", body)
        assert status == 201, task
        ids[task["id"]] = f"s{i}"
    wait_for(lambda: len(edge.outputs()) == TASKS, 60, f"all {TASKS} tasks pushing")
    where = wait_for(lambda: (lambda o: o if len(o) == TASKS else None)(owners(nodes[0])), 10,
                     "every task owned")
    per_node = {n.name: sum(1 for v in where.values() if v == n.name) for n in nodes}
    print(f"\ntasks per node: {per_node}")
    assert all(per_node.values()), per_node
    # Every node shows the same cluster, every task held.
    assert nodes[1].api.ok("GET", "/v1/nodes")["unowned_tasks"] == 0
    for n in nodes:
        seen = {x["name"]: (x["alive"], len(x["task_ids"])) for x in n.nodes()}
        assert seen == {m.name: (True, per_node[m.name]) for m in nodes}, seen

    # PostgreSQL crash-restarted under the load: the nodes' renewals fail for as long as it is
    # down (if longer than the fence, their relays stop and are claimed back); afterwards every
    # task pushes, from one node.
    before = edge.outputs()
    down = time.monotonic()
    postgres.stop("immediate")
    postgres.start()
    print(f"PostgreSQL crash-restarted in {time.monotonic() - down:.1f} s")
    wait_for(lambda: len(edge.outputs()) == TASKS, 45, f"all {TASKS} tasks pushing after the restart")
    time.sleep(3)  # past any fence the outage could have caused
    wait_for(lambda: len(edge.outputs()) == TASKS, 30, f"all {TASKS} tasks pushing")
    restarted = sum(1 for s, at in edge.outputs().items() if at != before.get(s))
    print(f"  relays that stopped (fenced) and pushed again meanwhile: {restarted} of {TASKS}")
    where = wait_for(lambda: (lambda o: o if len(o) == TASKS else None)(owners(nodes[0])), 20,
                     "every task owned after the restart")
    per_node = {n.name: sum(1 for v in where.values() if v == n.name) for n in nodes}

    # kill -9 of the busiest node: its tasks push again from the others.
    victim = max(nodes, key=lambda n: per_node[n.name])
    lost = [ids[t] for t, owner in where.items() if owner == victim.name]
    killed_at = time.time()
    victim.server.proc.stop(signal.SIGKILL, 5)
    back: dict[str, float] = {}

    def all_back():
        now, outs = time.time(), edge.outputs()
        for s in lost:
            if s not in back and outs.get(s, 0) >= int(killed_at):
                back[s] = now - killed_at
        return len(back) == len(lost)

    wait_for(all_back, 45, f"the {len(lost)} tasks of {victim.name} pushing again", interval=0.1)
    times = sorted(back.values())
    print(f"kill -9 of {victim.name}: {len(lost)} tasks pushing again after min {times[0]:.2f} s, "
          f"median {statistics.median(times):.2f} s, max {times[-1]:.2f} s")
    assert statistics.median(times) <= 10, times
    assert len(edge.outputs()) == TASKS
    survivors = [n for n in nodes if n is not victim]

    # SIGTERM of another node: its leases are released and taken at once.
    where = owners(survivors[0])
    leaving, staying = survivors
    moved = [t for t, owner in where.items() if owner == leaving.name]
    rc, took = leaving.server.stop(10)
    assert rc == 0, leaving.server.log()[-2000:]
    exited_at = time.monotonic()

    def claimed():
        o = owners(staying)
        return all(o.get(t) == staying.name for t in moved)

    wait_for(claimed, 10, f"{staying.name} holds the tasks of {leaving.name}", interval=0.05)
    takeover = time.monotonic() - exited_at
    print(f"SIGTERM of {leaving.name} (exited in {took:.2f} s): {len(moved)} leases taken over "
          f"{takeover:.2f} s after its exit")
    assert takeover < 1.0, takeover
    wait_for(lambda: len(edge.outputs()) == TASKS, 30, "every task pushing from the last node")

    # No destination stream ever had two publishers.
    assert edge.busy_refusals() == 0, edge.server.log()[-3000:]


def test_a_forbid_through_one_node_kicks_the_publisher_on_another(baton_bin, procs, tmp_path,
                                                                   media, postgres):
    a, b = (start_node(baton_bin, procs, tmp_path, postgres.url, f"node{i}") for i in range(2))
    argv = FFMPEG + ["-loglevel", "warning", "-re", "-stream_loop", "-1", "-i", media["main"].path]
    publisher = procs.start("publisher", argv + ["-c", "copy", "-f", "flv", b.server.rtmp_url("cam")])

    def live_on_b():
        items = b.api.ok("GET", "/v1/streams?app=live")["items"]
        return any(s["stream"] == "cam" and s.get("publishing", True) for s in items)

    wait_for(live_on_b, 15, "cam publishing on node1")
    start = time.monotonic()
    a.api.ok("PUT", "/v1/blocks/127.0.0.1/live/cam", {})
    wait_for(lambda: not publisher.running(), 5, "the publisher on node1 disconnected", interval=0.02)
    kicked = time.monotonic() - start
    print(f"\nforbid through node0 → publisher on node1 gone after {kicked:.2f} s")
    assert kicked < 1.0, kicked
    # And it stays out on every node.
    again = procs.start("again", argv + ["-c", "copy", "-f", "flv", a.server.rtmp_url("cam")])
    wait_for(lambda: not again.running(), 10, "a publish to node0 refused too")
    a.api.call("DELETE", "/v1/blocks/127.0.0.1/live/cam")
