"""The ``s3`` calibration workload: what the S3 backend's requests cost its client in CPU time.

A registry on S3 spends CPU on every request it sends, beside the bytes it moves: boto3 checks
the parameters, serialises the request, signs it (SigV4), hands it to urllib3 and parses the
answer. This workload measures that on the real backend (:class:`~regsim.registry.storage.s3.S3Backend`,
its client built as the registry builds it) against a moto S3 server it starts in this process
on 127.0.0.1, and records one receipt item per request:

- ``s3_put_request`` / ``s3_get_request``: a PutObject / GetObject of 1 KiB to 4 MiB, counted
  in bytes, so :func:`regsim.sim.calibrate.fit_bytes` splits the cost into a per-request
  overhead (the intercept) and a per-byte cost (the slope);
- ``s3_head_request``, ``s3_list_request`` (one ListObjectsV2 page of 20 keys) and
  ``s3_delete_request``: counted in requests.

Each item's CPU time is the calling thread's (``time.thread_time``): moto answers on threads of
its own, so the server's work is not in it, and the time the client spends waiting is not CPU
time. Against a plain-HTTP endpoint botocore signs the payload (a SHA-256 of the body), which is
most of the per-byte cost; over HTTPS it would send ``UNSIGNED-PAYLOAD`` and pay TLS encryption
instead (priced by the AES-GCM rate, roughly).

The layering rule holds: this engine module imports the registry's backend, never the other way
round. moto is needed only when the workload runs; without it the run stops with a
:class:`~regsim.sim.profile.ProfileError` saying what to install.
"""

from __future__ import annotations

import atexit
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np

from regsim.registry import receipts
from regsim.registry.receipts import Kind

from .calibrate import Workload, register_workload
from .profile import ProfileError

#: PUT and GET body sizes, and requests of each per repeat: small ones fix the per-request
#: overhead, large ones the per-byte cost (all under the backend's part size: one request each)
S3_SIZES = ((1 << 10, 12), (64 << 10, 8), (1 << 20, 4), (4 << 20, 2))
#: HEAD and DELETE requests per repeat; LIST requests per repeat and keys they list
S3_SMALL_OPS = 16
S3_LISTS = 8
S3_LIST_KEYS = 20

_rng = np.random.default_rng(2)


def _moto_server() -> Any:
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as e:
        raise ProfileError(
            f"the s3 calibration workload runs a local S3 server with moto, which is not importable ({e}); "
            "install it with: pip install 'moto[server]'") from None
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    atexit.register(server.stop)
    return server


class _S3Bench:
    """A moto server, a bucket on it and the backend the requests go through; made on first use."""

    def __init__(self) -> None:
        from regsim.registry.storage.s3 import S3Backend

        server = _moto_server()
        host, port = server.get_host_and_port()
        # Fake credentials of its own: nothing is looked up in the environment or ~/.aws, and
        # one attempt per request, so that every timed call is exactly one request.
        self.backend = S3Backend(f"regsim-calibrate-{uuid.uuid4().hex[:12]}", prefix="calibrate",
                                 endpoint_url=f"http://{host}:{port}", region="us-east-1",
                                 access_key_id="regsim-calibrate", secret_access_key="regsim-calibrate",
                                 max_attempts=1, name="calibrate-s3")
        self.backend.request("create_bucket")
        self.payload = _rng.integers(0, 256, max(s for s, _ in S3_SIZES), dtype=np.uint8).tobytes()
        self.bodies = {size: self.payload[:size] for size, _ in S3_SIZES}
        for i in range(S3_LIST_KEYS):
            self.backend.put(f"list/k{i:03d}", b"x")
        self.round = 0


def _timed(kind: str, amount: int, detail: str, call: Callable[[], object]) -> None:
    """Run one request and record it as one ``kind`` item with the calling thread's CPU time."""
    cpu0, wall0 = time.thread_time(), time.perf_counter()
    call()
    cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
    receipts.record(kind, amount, cpu_s=cpu, wall_s=wall, detail=detail)


def _round(bench: _S3Bench) -> None:
    b = bench.backend
    bench.round += 1
    before = b.requests.copy()
    keys = []
    for size, count in S3_SIZES:
        for i in range(count):
            key = f"objects/r{bench.round}-{size}-{i}"
            keys.append((key, size))
            _timed(Kind.S3_PUT_REQUEST, size, "PutObject", lambda k=key, s=size: b.put(k, bench.bodies[s]))
    for key, size in keys:
        _timed(Kind.S3_GET_REQUEST, size, "GetObject", lambda k=key: b.get(k))
    for key, _ in keys[:S3_SMALL_OPS]:
        _timed(Kind.S3_HEAD_REQUEST, 1, "HeadObject", lambda k=key: b.stat(k))
    for _ in range(S3_LISTS):
        _timed(Kind.S3_LIST_REQUEST, 1, "ListObjectsV2", lambda: list(b.list("list")))
    for key, _ in keys[:S3_SMALL_OPS]:  # the DeleteObject alone (the backend's delete also HEADs first)
        _timed(Kind.S3_DELETE_REQUEST, 1, "DeleteObject", lambda k=key: b.request("delete_object", k))
    for key, _ in keys[S3_SMALL_OPS:]:  # not timed: leave the bucket as it was
        b.request("delete_object", key)
    sent = b.requests - before
    puts = sum(n for _, n in S3_SIZES)
    expected = {"PutObject": puts, "GetObject": puts, "HeadObject": S3_SMALL_OPS, "ListObjectsV2": S3_LISTS,
                "DeleteObject": puts}
    if dict(sent) != expected:  # a timed call that was not exactly one request would skew its price
        raise RuntimeError(f"calibrating s3: expected requests {expected}, the backend sent {dict(sent)}")


def s3_workload() -> Workload:
    """The ``s3`` workload: PUT, GET, HEAD, LIST and DELETE requests of the S3 backend, each timed
    on its own (the moto server and the bucket are made on the first run)."""
    state: list[_S3Bench] = []

    def run() -> None:
        if not state:
            with receipts.suspended():  # setting up is not part of any price
                state.append(_S3Bench())
        _round(state[0])

    run.__doc__ = "Client-side CPU time of the S3 backend's requests against a local moto server."
    return run


def register_s3_workload() -> str:
    """Add the ``s3`` workload to the default calibration set; returns its name."""
    register_workload("s3", s3_workload())
    return "s3"
