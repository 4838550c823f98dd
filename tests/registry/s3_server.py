"""Fixtures for tests on S3: one moto server per session, a fresh bucket per test, fake credentials.

moto's server mode (``ThreadedMotoServer``) answers real HTTP on 127.0.0.1 on a port of its
choosing, so the backend runs its real boto3 client, signing and retries included; a ``regsim
serve`` subprocess can reach it too. Import the fixtures into a test module (or a conftest)::

    from tests.registry.s3_server import moto_endpoint, s3_bucket, s3_credentials  # noqa: F401

The credentials are fake and set in the environment for the test only; ``AWS_CONFIG_FILE`` and
``AWS_SHARED_CREDENTIALS_FILE`` point nowhere, so a developer's own ``~/.aws`` is never read.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

FAKE_ACCESS_KEY = "AKIAREGSIMTESTFAKE01"
FAKE_SECRET_KEY = "regsim/fake+secret/never-a-real-one-0123456789"
REGION = "us-east-1"


@dataclass
class Bucket:
    """A bucket made for one test on the session's moto server."""

    endpoint: str
    name: str
    client: Any  # a boto3 S3 client with the fake credentials

    def backend(self, **options):
        """An S3Backend on this bucket (``options`` as S3Backend takes them)."""
        from regsim.registry.storage.s3 import S3Backend

        return S3Backend(self.name, endpoint_url=self.endpoint, region=REGION, **options)

    def uploads(self) -> list[dict]:
        """The multipart uploads in progress, as the server sees them."""
        return self.client.list_multipart_uploads(Bucket=self.name).get("Uploads", [])

    def keys(self) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", ()))


@pytest.fixture(scope="session")
def moto_endpoint() -> str:
    """``http://127.0.0.1:<port>`` of a moto S3 server running for the whole session."""
    server_mod = pytest.importorskip("moto.server", reason="moto[server] is needed for the S3 tests")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request otherwise
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_credentials(monkeypatch, tmp_path) -> tuple[str, str]:
    """Fake credentials in the environment (what boto3's chain finds first), nothing else."""
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL",
                "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return FAKE_ACCESS_KEY, FAKE_SECRET_KEY


@pytest.fixture
def s3_bucket(moto_endpoint, s3_credentials) -> Bucket:
    """A new, empty bucket; emptied and removed after the test (moto keeps objects in memory)."""
    from regsim.registry.storage.s3 import make_client

    client = make_client(endpoint_url=moto_endpoint, region=REGION)
    name = f"regsim-test-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name)
    bucket = Bucket(moto_endpoint, name, client)
    yield bucket
    for upload in bucket.uploads():
        client.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
    keys = bucket.keys()
    for i in range(0, len(keys), 1000):
        client.delete_objects(Bucket=name, Delete={"Objects": [{"Key": k} for k in keys[i:i + 1000]], "Quiet": True})
    client.delete_bucket(Bucket=name)
    client.close()
