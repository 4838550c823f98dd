"""What only the S3 backend promises, beyond the conformance suite it passes with the others
(tests/registry/test_backends.py): multipart uploads above the part size, aborted on cancel and
invisible until commit; appends by server-side copy; retries with growing, jittered backoff;
credentials kept out of every message; the factory's checks; a registry stored in a bucket.

Everything runs against moto's S3 server (tests/registry/s3_server.py). Retries are driven by a
wrapper client that fails a set number of times and by a fake sleep and random source: nothing
here waits or measures time.
"""

from __future__ import annotations

import gc
import logging
import os
import time

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regsim.registry.config import RegistryConfig, S3Settings
from regsim.registry.errors import (BlobUploadInvalid, ConfigError, KeyNotFound, RegistryError,
                                    StorageUnavailable)
from regsim.registry.registry import Registry
from regsim.registry.storage import MeteredBackend, S3Backend, make_backend
from regsim.registry.storage.s3 import MIN_PART_SIZE
from regsim.registry.storage.s3_errors import S3RequestFailed, S3Unavailable
from regsim.registry.storage.s3_retry import RetryPolicy, is_retryable

from .s3_server import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, moto_endpoint, s3_bucket, s3_credentials  # noqa: F401

PART = MIN_PART_SIZE  # the smallest part S3 (and moto) accepts: the cheapest multipart tests


def payload(n: int, seed: int = 0) -> bytes:
    block = bytes((i * 7 + seed) % 251 for i in range(4096))
    return (block * (n // len(block) + 1))[:n]


def etag(bucket, key: str) -> str:
    return bucket.client.head_object(Bucket=bucket.name, Key=key)["ETag"].strip('"')


# -- where objects go, multipart, visibility ----------------------------------------------------


def test_objects_live_under_the_prefix(s3_bucket):
    b = s3_bucket.backend(prefix="/reg/s1/")
    assert b.prefix == "reg/s1/"
    b.put("blobs/x", b"1")
    s3_bucket.client.put_object(Bucket=s3_bucket.name, Key="reg/s10/other", Body=b"not ours")
    s3_bucket.client.put_object(Bucket=s3_bucket.name, Key="reg/s1/folder/", Body=b"")  # a console's folder marker
    assert s3_bucket.keys() == ["reg/s1/blobs/x", "reg/s1/folder/", "reg/s10/other"]
    assert list(b.list()) == ["blobs/x"]
    assert b.modified("blobs/x") > 0


def test_small_objects_are_one_put_and_large_ones_multipart(s3_bucket):
    b = s3_bucket.backend(part_size=PART)
    b.put("small", payload(PART))  # exactly one part's worth: still one PutObject
    b.put("large", payload(2 * PART + 123))
    assert "-" not in etag(s3_bucket, "small")
    assert etag(s3_bucket, "large").endswith("-3")  # S3's ETag of a multipart object: "<md5>-<parts>"
    assert b.requests["PutObject"] == 1
    assert (b.requests["CreateMultipartUpload"], b.requests["UploadPart"], b.requests["CompleteMultipartUpload"]) == (1, 3, 1)
    assert b.get("large") == payload(2 * PART + 123)


def test_writer_uploads_parts_as_it_goes_and_nothing_shows_before_commit(s3_bucket):
    b = s3_bucket.backend(part_size=PART)
    data = payload(2 * PART + 1000, seed=3)
    w = b.writer("blobs/big")
    w.write(data[:PART - 1])
    assert s3_bucket.uploads() == [] and b.requests["UploadPart"] == 0  # less than a part: buffered
    w.write(data[PART - 1:PART + 10])
    [upload] = s3_bucket.uploads()  # the first part went out while the writer is still open
    assert upload["Key"] == "blobs/big" and upload["UploadId"] == w.upload_id
    assert b.requests["UploadPart"] == 1
    w.write(data[PART + 10:])
    assert b.requests["UploadPart"] == 2
    assert not b.exists("blobs/big") and list(b.list()) == [] and s3_bucket.keys() == []
    w.commit()
    assert s3_bucket.uploads() == []
    assert etag(s3_bucket, "blobs/big").endswith("-3")
    assert b.get("blobs/big") == data and b.stat("blobs/big") == len(data)


def test_cancel_aborts_the_multipart_upload(s3_bucket):
    b = s3_bucket.backend(part_size=PART)
    b.put("k", b"old")
    w = b.writer("k")
    w.write(payload(PART + 5))
    assert len(s3_bucket.uploads()) == 1
    w.cancel()
    assert s3_bucket.uploads() == []
    assert b.get("k") == b"old"
    with pytest.raises(RuntimeError):
        with b.writer("k") as w:
            w.write(payload(3 * PART))
            raise RuntimeError("client went away")
    assert s3_bucket.uploads() == [] and b.get("k") == b"old"


def test_a_failed_part_upload_cancels_the_writer(s3_bucket):
    b = s3_bucket.backend(part_size=PART, client=Flaky(s3_bucket.client, upload_part=99), retry=no_wait(2))
    w = b.writer("k")
    with pytest.raises(S3Unavailable):
        w.write(payload(PART))
    assert s3_bucket.uploads() == []  # aborted
    with pytest.raises(BlobUploadInvalid):
        w.commit()


def test_an_abandoned_writers_upload_is_aborted_by_the_next_writer(s3_bucket):
    b = s3_bucket.backend(part_size=PART)
    w = b.writer("k")
    w.write(payload(PART))
    assert len(s3_bucket.uploads()) == 1
    del w
    gc.collect()
    assert len(s3_bucket.uploads()) == 1  # the finalizer only queues the abort: no I/O from the GC
    b.writer("other").cancel()
    assert s3_bucket.uploads() == []


def test_append_copies_a_large_object_server_side(s3_bucket):
    b = s3_bucket.backend(part_size=PART)
    base = payload(PART + 17, seed=5)
    b.put("uploads/u", base)
    gets = b.requests["GetObject"]
    with b.writer("uploads/u", append=True) as w:
        assert w.size == len(base)
        w.write(b"tail")
        assert b.get("uploads/u") == base  # the old object until commit
    assert b.requests["UploadPartCopy"] == 1
    assert b.requests["GetObject"] == gets + 1  # the read just above, never the copy
    assert b.get("uploads/u") == base + b"tail"
    w = b.writer("uploads/u", append=True)
    w.write(b"dropped")
    w.cancel()
    assert b.get("uploads/u") == base + b"tail" and s3_bucket.uploads() == []


def test_append_reads_a_small_object_back(s3_bucket):
    b = s3_bucket.backend(part_size=PART)
    b.put("u", b"abc")
    with b.writer("u", append=True) as w:
        w.write(payload(PART))  # grows past a part: the copy of "abc" goes in the first part
    assert b.get("u") == b"abc" + payload(PART)
    assert b.requests["UploadPartCopy"] == 0


def test_stale_uploads_are_found_and_aborted(s3_bucket, monkeypatch):
    b = s3_bucket.backend(prefix="n1", part_size=PART)
    # an upload a dead process left: one part of 3 bytes
    client, bucket = s3_bucket.client, s3_bucket.name
    dead = client.create_multipart_upload(Bucket=bucket, Key="n1/blobs/dead")["UploadId"]
    client.upload_part(Bucket=bucket, Key="n1/blobs/dead", UploadId=dead, PartNumber=1, Body=b"abc")
    client.create_multipart_upload(Bucket=bucket, Key="elsewhere/x")  # not under the prefix
    live = b.writer("blobs/live")
    live.write(payload(PART))
    assert b.stale_temps(3600) == []  # the dead upload's part is seconds old
    later = time.time() + 7200
    monkeypatch.setattr("regsim.registry.storage.s3.time.time", lambda: later)
    assert b.stale_temps(3600) == [(f"blobs/dead (upload {dead})", 3)]  # the open writer is spared
    assert b.stale_temps(3600, remove=True) == [(f"blobs/dead (upload {dead})", 3)]
    assert sorted(u["Key"] for u in s3_bucket.uploads()) == ["elsewhere/x", "n1/blobs/live"]
    live.commit()
    assert b.get("blobs/live") == payload(PART)
    with pytest.raises(ValueError):
        b.stale_temps(-1)


def test_clear_empties_the_prefix_only(s3_bucket):
    b = s3_bucket.backend(prefix="a")
    other = s3_bucket.backend(prefix="b")
    for i in range(5):
        b.put(f"k{i}", b"x")
    other.put("k", b"y")
    assert b.clear() == 5
    assert list(b.list()) == [] and list(other.list()) == ["k"]


# -- property: sizes around part boundaries, any ranges ----------------------------------------


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.integers(0, 2), delta=st.integers(-3, 3), chunk=st.sampled_from([1000, 65536, PART - 1, PART + 1]),
       ranges=st.lists(st.tuples(st.integers(0, 2 * PART + 10), st.integers(0, PART + 10)), min_size=1, max_size=4))
def test_sizes_around_part_boundaries_round_trip(s3_bucket, parts, delta, chunk, ranges):
    b = s3_bucket.backend(part_size=PART)
    size = max(0, parts * PART + delta)
    data = payload(size, seed=parts + delta)
    with b.writer("prop/obj") as w:
        for start in range(0, size, chunk):
            w.write(memoryview(data)[start:start + chunk])
    assert b.stat("prop/obj") == size
    assert b.get("prop/obj") == data
    for offset, length in ranges:
        assert b.read_at("prop/obj", offset, length) == data[offset:offset + length]
    assert s3_bucket.uploads() == []


# -- retries -----------------------------------------------------------------------------------


def throttled(op: str, code: str = "SlowDown", status: int = 503, message: str = "Please reduce your request rate.") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, op)


class Flaky:
    """A boto3 client that fails the first N calls of some methods, then passes them on."""

    def __init__(self, client, error=throttled, **failures: int) -> None:
        self._client = client
        self._failures = dict(failures)
        self._error = error

    def __getattr__(self, name):
        real = getattr(self._client, name)
        if name not in self._failures:
            return real

        def call(**kwargs):
            if self._failures[name] > 0:
                self._failures[name] -= 1
                raise self._error(name)
            return real(**kwargs)
        return call


class FakeClock:
    def __init__(self, randoms=(0.5,)) -> None:
        self.pauses: list[float] = []
        self._randoms = list(randoms)
        self._i = 0

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)

    def random(self) -> float:
        value = self._randoms[self._i % len(self._randoms)]
        self._i += 1
        return value


def no_wait(attempts: int) -> RetryPolicy:
    return RetryPolicy(attempts, 0.1, 1.0, sleep=lambda s: None, random=lambda: 0.0)


def test_slowdown_is_retried_with_growing_jittered_backoff(s3_bucket):
    clock = FakeClock(randoms=[0.9, 0.3, 0.6, 1.0 - 1e-9])
    policy = RetryPolicy(max_attempts=6, base_delay_s=0.1, max_delay_s=0.5, sleep=clock.sleep, random=clock.random)
    b = s3_bucket.backend(client=Flaky(s3_bucket.client, put_object=4), retry=policy)
    b.put("k", b"data")
    assert b.get("k") == b"data"
    assert b.retries == 4 and b.requests["PutObject"] == 5
    ceilings = [0.1, 0.2, 0.4, 0.5]  # base * 2**n, capped at max_delay_s
    assert [policy.ceiling(n) for n in range(4)] == ceilings
    assert clock.pauses == pytest.approx([0.9 * 0.1, 0.3 * 0.2, 0.6 * 0.4, (1 - 1e-9) * 0.5])
    # jittered: each pause is a random fraction of its ceiling, not the ceiling itself
    assert all(0 <= p < c for p, c in zip(clock.pauses, ceilings)) and clock.pauses != ceilings


def test_full_jitter_draws_below_a_doubling_ceiling():
    clock = FakeClock(randoms=[0.999999])
    policy = RetryPolicy(max_attempts=10, base_delay_s=0.01, max_delay_s=10.0, sleep=clock.sleep, random=clock.random)
    delays = [policy.delay(n) for n in range(8)]
    assert all(later > earlier for earlier, later in zip(delays, delays[1:]))  # the ceiling doubles
    assert delays[-1] == pytest.approx(0.999999 * 0.01 * 2**7)
    assert RetryPolicy(base_delay_s=1.0, max_delay_s=3.0).ceiling(40) == 3.0  # capped, never overflowing
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


@pytest.mark.parametrize("error", [
    lambda op: throttled(op, "InternalError", 500, "We encountered an internal error."),
    lambda op: throttled(op, "ServiceUnavailable", 503),
    lambda op: throttled(op, "ThrottlingException", 400, "Rate exceeded"),
    lambda op: EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
])
def test_server_errors_and_dropped_connections_are_retried(s3_bucket, error):
    b = s3_bucket.backend(retry=no_wait(3))
    b.put("k", b"v")
    flaky = s3_bucket.backend(client=Flaky(s3_bucket.client, error=error, get_object=2, head_object=2), retry=no_wait(3))
    assert flaky.get("k") == b"v"
    assert flaky.stat("k") == 1
    assert flaky.retries == 4


def test_giving_up_after_max_attempts_is_a_clear_503(s3_bucket):
    clock = FakeClock()
    policy = RetryPolicy(max_attempts=3, base_delay_s=0.1, max_delay_s=1.0, sleep=clock.sleep, random=clock.random)
    b = s3_bucket.backend(name="s2", client=Flaky(s3_bucket.client, put_object=10), retry=policy)
    with pytest.raises(S3Unavailable) as e:
        b.put("blobs/k", b"data")
    assert isinstance(e.value, StorageUnavailable) and e.value.status == 503
    message = str(e.value)
    assert message.startswith(f"s3 backend 's2': PutObject of 'blobs/k' in bucket '{s3_bucket.name}' still failed "
                              "after 3 attempts: SlowDown (HTTP 503): Please reduce your request rate.")
    assert len(clock.pauses) == 2 and b.requests["PutObject"] == 3 and b.retries == 2
    assert not b.exists("blobs/k")


def test_client_errors_are_not_retried(s3_bucket):
    denied = lambda op: throttled(op, "AccessDenied", 403, "Access Denied")  # noqa: E731
    b = s3_bucket.backend(client=Flaky(s3_bucket.client, error=denied, put_object=1), retry=no_wait(5))
    with pytest.raises(ConfigError, match="PutObject of 'k' .* was refused: AccessDenied \\(HTTP 403\\)"):
        b.put("k", b"v")
    assert b.requests["PutObject"] == 1 and b.retries == 0
    odd = lambda op: throttled(op, "InvalidArgument", 400, "nope")  # noqa: E731
    b = s3_bucket.backend(client=Flaky(s3_bucket.client, error=odd, put_object=1), retry=no_wait(5))
    with pytest.raises(S3RequestFailed, match="InvalidArgument"):
        b.put("k", b"v")
    assert not is_retryable(ValueError("a bug, not S3"))


def test_missing_bucket_is_a_configuration_error(s3_bucket):
    b = make_backend({"kind": "s3", "bucket": "no-such-bucket-here", "endpoint_url": s3_bucket.endpoint}, name="s0")
    with pytest.raises(ConfigError, match="s3 backend 's0': bucket 'no-such-bucket-here' does not exist"):
        list(b.list())
    with pytest.raises(KeyNotFound):  # S3 answers a HEAD in a missing bucket with a bare 404
        b.stat("k")


# -- credentials -------------------------------------------------------------------------------


def test_explicit_credentials_are_used_and_never_shown(s3_bucket, monkeypatch, caplog):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var)
    key_id, secret = "AKIAEXPLICITTEST0001", "explicit/secret+key/0123456789abcdef"
    b = make_backend({"kind": "s3", "bucket": s3_bucket.name, "endpoint_url": s3_bucket.endpoint,
                      "access_key_id": key_id, "secret_access_key": secret, "max_attempts": 2}, name="s1")
    b.put("k", b"v")  # signed with the explicit pair
    assert b.get("k") == b"v"
    leak = lambda op: throttled(op, "SignatureDoesNotMatch", 403,  # noqa: E731
                                f"Credential={key_id}/20260101/us-east-1/s3 secret {secret}")
    b._client = Flaky(b.client, error=leak, get_object=1)
    with pytest.raises(ConfigError) as e:
        b.get("k")
    slow = S3Backend(s3_bucket.name, endpoint_url=s3_bucket.endpoint, access_key_id=key_id, secret_access_key=secret,
                     retry=no_wait(2))
    slow._client = Flaky(slow.client, error=lambda op: throttled(op, message=f"for {key_id}"), get_object=5)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(S3Unavailable) as e2:
        slow.get("k")
    shown = [repr(b), str(b), repr(MeteredBackend(b)), str(e.value), repr(e.value), str(e2.value), caplog.text,
             repr(e.value.__cause__), repr(e.value.__context__)]
    assert "***" in str(e.value) and "***" in str(e2.value)
    for text in shown:
        assert key_id not in text and secret not in text


def test_environment_credentials_never_appear_in_errors(s3_bucket):
    b = s3_bucket.backend(client=Flaky(s3_bucket.client, error=lambda op: throttled(
        op, "InvalidAccessKeyId", 403, f"The AWS Access Key Id {FAKE_ACCESS_KEY} does not exist"), head_object=1))
    with pytest.raises(ConfigError) as e:
        b.stat("k")
    assert FAKE_ACCESS_KEY not in str(e.value) and FAKE_SECRET_KEY not in str(e.value)
    assert "InvalidAccessKeyId" in str(e.value)


def test_an_endpoint_with_a_password_is_shown_without_it():
    b = S3Backend("bucket", endpoint_url="http://user:pa55word@minio.local:9000")
    assert "pa55word" not in repr(b) and "minio.local:9000" in repr(b)


# -- the factory -------------------------------------------------------------------------------


@pytest.mark.parametrize(("options", "message"), [
    ({}, "s3 backend 'n' needs a 'bucket'"),
    ({"bucket": 42}, "'bucket' must be a bucket name"),
    ({"bucket": "b", "buckett": "c"}, "s3 backend: unknown option\\(s\\) 'buckett'; accepted: access_key_id, "
                                      "base_delay_s, bucket, endpoint_url"),
    ({"bucket": "b", "part_size": "8M"}, "'part_size' must be a whole number, got '8M'"),
    ({"bucket": "b", "part_size": 1 << 20}, "part_size must be a whole number of bytes from 5,242,880"),
    ({"bucket": "b", "part_size": True}, "'part_size' must be a whole number"),
    ({"bucket": "b", "max_attempts": 0}, "max_attempts must be a whole number >= 1"),
    ({"bucket": "b", "base_delay_s": -1}, "'base_delay_s' must be a non-negative number"),
    ({"bucket": "b", "endpoint_url": "minio:9000"}, "'endpoint_url' must be an http:// or https:// URL"),
    ({"bucket": "b", "prefix": "../up"}, "prefix '../up' must be slash-separated names"),
    ({"bucket": "b", "prefix": 3}, "'prefix' must be a string"),
    ({"bucket": "b", "access_key_id": "AKIAONLYONE"}, "give both access_key_id and secret_access_key, or neither"),
    ({"bucket": "b", "access_key_id": "AKIA", "secret_access_key": 12345678}, "'secret_access_key' must be a "
                                                                              "non-empty string \\(value not shown\\)"),
])
def test_factory_errors_are_clear(options, message):
    with pytest.raises(ConfigError, match=message) as e:
        make_backend({"kind": "s3", **options}, name="n")
    assert "12345678" not in str(e.value) and "AKIAONLYONE" not in str(e.value)


def test_factory_builds_an_s3_backend_without_touching_the_network():
    b = make_backend({"kind": "s3", "bucket": "reg", "prefix": "prod", "endpoint_url": "http://127.0.0.1:9",
                      "region": "eu-west-1", "part_size": 16 << 20, "max_attempts": 7}, name="s3")
    assert isinstance(b, S3Backend) and b._client is None  # the client comes with the first request
    assert (b.bucket, b.prefix, b.region, b.part_size, b.retry.max_attempts) == ("reg", "prod/", "eu-west-1", 16 << 20, 7)


# -- a registry in a bucket --------------------------------------------------------------------


def test_a_registry_on_s3_persists_and_reopens(s3_bucket):
    settings_ = S3Settings(bucket=s3_bucket.name, prefix="reg", endpoint_url=s3_bucket.endpoint, part_size=PART)
    config = RegistryConfig(backend="s3", s3=settings_, codec="rs(2,1)", nodes=3, segment_size=4096,
                            extent_size=1 << 20)
    reg = Registry(config)
    layers = [os.urandom(3 << 20), b"small layer"]
    pushed = reg.push_image("team/app", "v1", layers)
    keys = s3_bucket.keys()
    assert any(k.startswith("reg/meta/") for k in keys)
    assert {k.split("/")[2] for k in keys if k.startswith("reg/nodes/")} == {"s0", "s1", "s2"}
    again = Registry(config)  # a new process, say: the layout index is rebuilt from the bucket
    assert again.pull_image("team/app", "v1") == layers
    assert again.get_manifest("team/app", "v1").digest == pushed.manifest
    again.replace_node("s1")  # comes back empty ...
    assert not any(k.startswith("reg/nodes/s1/") for k in s3_bucket.keys())
    again.repair()  # ... and is rebuilt
    assert any(k.startswith("reg/nodes/s1/") for k in s3_bucket.keys())
    assert Registry(config).pull_image("team/app", "v1") == layers


def test_registry_config_needs_s3_settings_with_the_s3_backend():
    with pytest.raises(ConfigError, match="registry.s3: the s3 backend needs its settings"):
        RegistryConfig(backend="s3")
    with pytest.raises(ConfigError, match="only used with the s3 backend"):
        RegistryConfig(backend="memory", s3=S3Settings(bucket="b"))
    spec = RegistryConfig(backend="s3", s3=S3Settings(bucket="b", prefix="/p/", region="r")).backend_spec("s3")
    assert spec == {"kind": "s3", "bucket": "b", "prefix": "p/nodes/s3", "part_size": 8 << 20, "max_attempts": 5,
                    "region": "r"}
    assert isinstance(ConfigError("x"), RegistryError)
