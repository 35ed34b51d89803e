"""Fixtures for the boto3 tests: unmodified boto3 KMS clients built from `keyraft dev`'s dev.json.

The server is started by `tests/run-client-tests`, which points KEYRAFT_DEV_JSON at the
dev.json it wrote. To run against a `keyraft dev` you started yourself:

    KEYRAFT_DEV_JSON=./keyraft-data/dev.json .venv/bin/python -m pytest -q tests/python
"""

import json
import os
import uuid
from dataclasses import dataclass, field

import boto3
import pytest
from botocore.config import Config

REGIONS = ("us-east-1", "eu-west-1")


@dataclass
class Region:
    name: str
    account_id: str
    endpoints: list
    clients: list = field(default_factory=list)

    @property
    def kms(self):
        """The client of the region's first node."""
        return self.clients[0]

    def key_arn(self, key_id):
        return f"arn:aws:kms:{self.name}:{self.account_id}:key/{key_id}"

    def alias_arn(self, alias_name):
        return f"arn:aws:kms:{self.name}:{self.account_id}:{alias_name}"


class ResponseLog:
    """Every HTTP response a test's clients received (botocore's after-call event)."""

    def __init__(self):
        self.entries = []

    def __call__(self, http_response, parsed, model, **_):
        self.entries.append((model.name, http_response.status_code, dict(http_response.headers), parsed))


@pytest.fixture(scope="session")
def dev_info():
    path = os.environ.get("KEYRAFT_DEV_JSON")
    if not path:
        pytest.fail("KEYRAFT_DEV_JSON is not set: run tests/run-client-tests, or point it at a running `keyraft dev`'s dev.json")
    with open(path) as f:
        info = json.load(f)
    assert set(REGIONS) <= set(info["regions"]), info["regions"].keys()
    return info


@pytest.fixture(scope="session")
def response_log():
    return ResponseLog()


@pytest.fixture(scope="session")
def make_client(dev_info, response_log):
    """make_client(region, endpoint, access_key_id=..., secret_access_key=..., **botocore_config)
    -> a boto3 KMS client with its own session."""

    def make(region, endpoint, access_key_id=None, secret_access_key=None, **config):
        session = boto3.session.Session(
            aws_access_key_id=access_key_id or dev_info["access_key_id"],
            aws_secret_access_key=secret_access_key or dev_info["secret_access_key"],
            region_name=region,
        )
        client = session.client("kms", endpoint_url=endpoint, config=Config(**config) if config else None)
        client.meta.events.register("after-call.kms", response_log)
        return client

    return make


@pytest.fixture(scope="session")
def regions(dev_info, make_client):
    out = {}
    for name in REGIONS:
        endpoints = dev_info["regions"][name]["endpoints"]
        assert len(endpoints) == 3, endpoints
        r = Region(name=name, account_id=dev_info["account_id"], endpoints=endpoints)
        r.clients = [make_client(name, e) for e in endpoints]
        out[name] = r
    return out


@pytest.fixture(params=REGIONS)
def region(request, regions):
    """Each test taking `region` runs once per region."""
    return regions[request.param]


@pytest.fixture
def kms(region):
    return region.kms


@pytest.fixture
def unique():
    """A short unique suffix for alias and tag names."""
    return uuid.uuid4().hex[:12]


@pytest.fixture(autouse=True)
def every_response_has_a_request_id(response_log):
    """AWS sends x-amzn-requestid on every response, errors included; boto3 reads it into
    ResponseMetadata.RequestId. Checked for every call every test makes."""
    start = len(response_log.entries)
    yield
    for op, status, headers, parsed in response_log.entries[start:]:
        lower = {k.lower(): v for k, v in headers.items()}
        rid = lower.get("x-amzn-requestid")
        assert rid, f"{op} (HTTP {status}) had no x-amzn-requestid header: {headers}"
        assert parsed.get("ResponseMetadata", {}).get("RequestId") == rid, (op, parsed.get("ResponseMetadata"))
        assert status < 500, f"{op} answered HTTP {status}: {parsed}"
