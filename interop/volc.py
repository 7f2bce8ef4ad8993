"""The official Volcengine Python SDK (``volcengine`` 1.0.229, ``live.v20230101``) as a user
would point it at Baton (sdk-wire.md, Volcengine), behind one small face:

* ``LiveService(host=…)``, then ``set_scheme('http')``, ``set_host``, ``set_ak``/``set_sk``
  *after* constructing: ``Service.__init__`` reads ``$VOLC_ACCESSKEY``/``~/.volc`` over what
  the constructor was given.
* The SDK keeps its ``ServiceInfo`` (host, scheme, credentials, region) and its ``api_info``
  table in module-level singletons shared by every ``LiveService``. Each face gets its own
  copies, so clients with different keys or regions can live side by side in one test; what
  goes on the wire is unchanged.
* ``RestartPullToPushTask`` (documented, POST JSON) is absent from ``v20230101``: it is
  registered with ``ApiInfo`` on the face's own table, as a user would. So are a POST flavour
  of ``ListPullToPushTask`` (the legacy client's) and ``KillStream`` /
  ``DescribeForbiddenStreamInfoByPage`` should a version lack them.
* Errors: the SDK raises a bare ``Exception`` whose ``args[0]`` is the response body — bytes
  for the POST JSON operations, str for the GET ones — with no status and no parsed code. The
  face parses it into ``VolcError`` (``code``, ``code_n``, ``message``, ``status`` from a
  ``requests`` response hook on the SDK's own session). A 200 reply that carries
  ``ResponseMetadata.Error`` (which the SDK returns as a success) is raised too.
* The SDK's signature has a one-second ``X-Date`` and no nonce, so the same call sent twice
  within one second is byte-for-byte the same request. Baton runs such a state-changing
  request once and answers the repeat with the first answer; the face waits for the next
  second before repeating one, as the tests mean two calls (``distinct_seconds=False`` turns
  that off, for the test of exactly that case).
"""

from __future__ import annotations

import collections
import copy
import json
import time
from typing import Optional

import pytest

from helpers import wait_for

VERSION = "2023-01-01"
REGION = "cn-north-1"  # the SDK's default (and only) service_info region

# Task statuses as ListPullToPushTask spells them.
NOT_STARTED = "未开始"
ACTIVE = "生效中"
STOPPED = "停用"
ENDED = "已结束"

# Operations the face registers itself (ApiInfo): name → (method, Action).
EXTRA_APIS = {
    # Documented (seed 001), not in the v20230101 client.
    "RestartPullToPushTask": ("POST", "RestartPullToPushTask"),
    # The legacy `volcengine.live.LiveService` sent ListPullToPushTask as POST JSON.
    "ListPullToPushTask#POST": ("POST", "ListPullToPushTask"),
    # Present in 1.0.229; registered only if a version lacks them.
    "KillStream": ("POST", "KillStream"),
    "DescribeForbiddenStreamInfoByPage": ("GET", "DescribeForbiddenStreamInfoByPage"),
}


class VolcError(Exception):
    """An error reply, normalised from the SDK's bare ``Exception(body)``."""

    def __init__(self, status: Optional[int], body: dict, raw):
        meta = body.get("ResponseMetadata", {}) if isinstance(body, dict) else {}
        err = meta.get("Error", {}) if isinstance(meta, dict) else {}
        self.status = status
        self.code: str = err.get("Code", "")
        self.code_n = err.get("CodeN")
        self.message: str = err.get("Message", "") if err else str(raw)
        self.meta = meta
        self.body = body
        self.raw = raw
        super().__init__(f"{status} {self.code} ({self.code_n}): {self.message}")


def _snake(action: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in action).lstrip("_")


class Volc:
    """One configured ``LiveService``; ``call(action, **params)`` returns the parsed JSON the
    SDK hands back (``ResponseMetadata`` and ``Result``)."""

    def __init__(
        self,
        endpoint: str,
        ak: str,
        sk: str,
        region: str = REGION,
        pace: Optional[int] = 8,
        distinct_seconds: bool = True,
    ):
        from volcengine.ApiInfo import ApiInfo
        from volcengine.live.v20230101.live_service import LiveService

        svc = LiveService(host=endpoint)
        # Own copies of the module-level singletons (see the module doc).
        info = copy.copy(svc.service_info)
        info.header = dict(info.header)
        info.credentials = copy.copy(info.credentials)
        info.credentials.region = region
        svc.service_info = info
        svc.api_info = dict(svc.api_info)
        # As a user configures it, after construction.
        svc.set_scheme("http")
        svc.set_host(endpoint)
        svc.set_ak(ak)
        svc.set_sk(sk)
        svc.set_connection_timeout(5)
        svc.set_socket_timeout(15)
        for name, (method, action) in EXTRA_APIS.items():
            if name not in svc.api_info:
                svc.api_info[name] = ApiInfo(
                    method, "/", {"Action": action, "Version": VERSION}, {}, {}
                )
        self.svc = svc
        self.endpoint = endpoint
        self.region = region
        self.last_status: Optional[int] = None
        self.last_headers: dict = {}
        svc.session.hooks["response"].append(self._seen)
        # Client-side pacing, as a careful user would do: at most `pace` calls of one action
        # in any second, under Baton's 10 per second per account and action (None: no pacing,
        # for the throttling test).
        self.pace = pace
        self.recent: dict[str, collections.deque] = {}
        self.distinct_seconds = distinct_seconds
        self.sent: dict[tuple[str, str], int] = {}  # (action, body) → X-Date second

    def _seen(self, response, *args, **kwargs):
        self.last_status = response.status_code
        self.last_headers = dict(response.headers)

    def register(self, name: str, method: str, action: str, version: str = VERSION) -> None:
        """Adds an operation to this client's table, as ``ApiInfo`` does for a user."""
        from volcengine.ApiInfo import ApiInfo

        self.svc.api_info[name] = ApiInfo(method, "/", {"Action": action, "Version": version}, {}, {})

    def call(self, action: str, **params) -> dict:
        """Calls `action` through the SDK's own method when it has one (e.g.
        ``create_pull_to_push_task(body)``), else through ``api_get``/``api_post`` with the
        registered ``ApiInfo``; GET parameters go in the query, POST ones in a JSON body."""
        svc = self.svc
        method = getattr(svc, _snake(action), None) if "#" not in action else None
        is_get = svc.api_info[action].method == "GET"
        # The SDK rewrites GET parameters in place (ints to str): give it a copy.
        arg = dict(params)
        if not is_get:
            self._distinct(action, json.dumps(arg))
        return self._run(
            lambda: method(arg)
            if method is not None
            else (
                json.loads(svc.api_get(action, arg))
                if is_get
                else json.loads(svc.api_post(action, [], json.dumps(arg)))
            ),
            action,
        )

    def raw_post(self, action: str, body: str) -> dict:
        """POSTs `body` exactly as given (e.g. malformed JSON), signed by the SDK."""
        self._distinct(action, body)
        return self._run(lambda: json.loads(self.svc.api_post(action, [], body)), action)

    def result(self, action: str, **params) -> dict:
        return self.call(action, **params).get("Result") or {}

    def _distinct(self, action: str, body: str) -> None:
        """Waits for the next X-Date second if this exact call was sent in this second."""
        key = (action.split("#")[0], body)
        if self.distinct_seconds and self.sent.get(key) == int(time.time()):
            time.sleep(1.0 - time.time() % 1.0 + 0.01)
        self.sent[key] = int(time.time())

    def _paced(self, action: str) -> None:
        if self.pace is None:
            return
        q = self.recent.setdefault(action.split("#")[0], collections.deque())
        now = time.monotonic()
        while q and now - q[0] >= 1.0:
            q.popleft()
        if len(q) >= self.pace:
            time.sleep(1.0 - (now - q[0]) + 0.01)
            q.popleft()
        q.append(time.monotonic())

    def _run(self, fn, action: str = "") -> dict:
        self._paced(action)
        self.last_status = None
        try:
            res = fn()
        except Exception as e:  # noqa: BLE001 - the SDK raises bare Exceptions
            if type(e) is not Exception or not e.args:
                raise
            raw = e.args[0]
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
            try:
                body = json.loads(text)
            except ValueError:
                body = {}
            raise VolcError(self.last_status, body, raw) from None
        meta = res.get("ResponseMetadata", {})
        if "Error" in meta:
            raise VolcError(self.last_status, res, res)
        return res


def fails(call, *args, **kwargs) -> VolcError:
    with pytest.raises(VolcError) as info:
        call(*args, **kwargs)
    return info.value


def unix(seconds_from_now: float) -> int:
    return int(time.time() + seconds_from_now)


def rfc3339(t: int) -> str:
    """How ListPullToPushTask spells a Unix time: ``2026-11-23T01:02:03Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def rfc3339_ms(seconds_from_now: float) -> str:
    """ForbidStream's EndTime: RFC3339 UTC with milliseconds."""
    t = time.time() + seconds_from_now
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def find(c: Volc, task_id: str, title: str = "") -> Optional[dict]:
    """The task's ListPullToPushTask item (GET, as the SDK sends it), or None."""
    params = {"Size": 500, **({"Title": title} if title else {})}
    listed = c.result("ListPullToPushTask", **params)
    return next((t for t in listed.get("List") or [] if t["TaskId"] == task_id), None)


def wait_listed(c: Volc, task_id: str, statuses, title: str = "", timeout: float = 15) -> dict:
    """Lists until the task's Status is one of `statuses` (three lists a second at most: well
    under the 10 per second limit)."""
    if isinstance(statuses, str):
        statuses = (statuses,)
    seen = []

    def check():
        item = find(c, task_id, title)
        seen.append(item and item["Status"])
        return item if item and item["Status"] in statuses else None

    try:
        return wait_for(check, timeout, f"task {task_id} status in {statuses}", interval=0.3)
    except TimeoutError as e:
        raise AssertionError(f"{e}; statuses seen: {seen[-5:]}") from e
