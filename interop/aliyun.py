"""The official Alibaba Cloud Python SDKs, one face over three flavours, as a user would
configure each (sdk-wire.md):

* ``new-v3``: alibabacloud-live20161101 (tea-openapi), default ACS3-HMAC-SHA256 signature;
* ``new-v2``: the same SDK with ``signature_algorithm='v2'`` (RPC v1 HMAC-SHA1);
* ``old``: aliyun-python-sdk-live over aliyun-python-sdk-core (RPC v1 HMAC-SHA1).
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
from typing import Optional

import pytest

from helpers import wait_for

FLAVOURS = ["new-v3", "new-v2", "old"]
REGION = "cn-shanghai"


class ApiFailure(Exception):
    """An error the SDK raised, normalised: code, HTTP status, message, exception class."""

    def __init__(self, code: str, status: Optional[int], message: str, cls: str, raw=None):
        super().__init__(f"{cls} {status} {code}: {message}")
        self.code, self.status, self.message, self.cls, self.raw = code, status, message, cls, raw


def _snake(action: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in action).lstrip("_")


class Sdk:
    """Calls an operation with wire-named parameters; returns the response as the SDK
    parsed it (new SDK: the response model's ``to_map()``, i.e. only keys its model read;
    old SDK: the JSON its caller parses). ``self.model`` keeps the new SDK's response model."""

    def __init__(self, flavour: str, endpoint: str, ak: str, sk: str):
        self.flavour = flavour
        self.endpoint = endpoint
        self.model = None
        if flavour.startswith("new"):
            from alibabacloud_live20161101.client import Client
            from alibabacloud_tea_openapi.models import Config

            config = Config(
                access_key_id=ak,
                access_key_secret=sk,
                endpoint=endpoint,
                protocol="http",
                connect_timeout=5000,
                read_timeout=10000,
            )
            if flavour == "new-v2":
                config.signature_algorithm = "v2"
            self.client = Client(config)
        else:
            from aliyunsdkcore.client import AcsClient

            self.client = AcsClient(ak, sk, REGION, timeout=10, connect_timeout=5)

    def call(self, action: str, **params) -> dict:
        if self.flavour.startswith("new"):
            return self._new(action, params)
        return self._old(action, params)

    def _new(self, action: str, params: dict) -> dict:
        from alibabacloud_live20161101 import models
        from alibabacloud_tea_openapi import exceptions

        request = getattr(models, f"{action}Request")().from_map(params)
        try:
            response = getattr(self.client, _snake(action))(request)
        except (
            exceptions.ClientException,
            exceptions.ServerException,
            # Not a ClientException: raised instead when the reply has x-acs-retry-after.
            exceptions.ThrottlingException,
        ) as e:
            raise ApiFailure(e.code, e.status_code, e.message, type(e).__name__, e) from e
        assert response.status_code == 200
        self.model = response.body
        return response.body.to_map()

    def _old(self, action: str, params: dict) -> dict:
        from aliyunsdkcore.acs_exception.exceptions import ServerException

        module = importlib.import_module(f"aliyunsdklive.request.v20161101.{action}Request")
        request = getattr(module, f"{action}Request")()
        # Each request class hard-codes https and the provider's endpoint.
        request.set_endpoint(self.endpoint)
        request.set_protocol_type("http")
        for name, value in params.items():
            getattr(request, f"set_{name}")(value)
        try:
            raw = self.client.do_action_with_exception(request)
        except ServerException as e:
            raise ApiFailure(
                e.get_error_code(), e.get_http_status(), e.get_error_msg(), "ServerException", e
            ) from e
        return json.loads(raw)


def utc(seconds_from_now: float) -> str:
    t = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds_from_now)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def fails(call, *args, **kwargs) -> ApiFailure:
    with pytest.raises(ApiFailure) as info:
        call(*args, **kwargs)
    return info.value


RUNNING = (1, 2)  # running, or running abnormally (a real engine retrying a silent source)


def wait_status(c: Sdk, by_id: dict, statuses=RUNNING, timeout: float = 15) -> dict:
    """Describes the task until its status is one of `statuses` (the engine starts a task
    whose start time has passed right after Create answers, not before)."""
    seen = []

    def check():
        described = c.call("DescribeLivePullToPush", **by_id)
        seen.append(described["TaskStatus"])
        return described if described["TaskStatus"] in statuses else None

    try:
        # Three Describes a second at most: well under the 10 per second limit.
        return wait_for(check, timeout, f"task status in {statuses}", interval=0.3)
    except TimeoutError as e:
        raise AssertionError(f"{e}; statuses seen: {seen}") from e
