"""The trace family: a recorded (or synthetic) registry trace replayed through the registry's caches.

``workload.kind: trace``; :mod:`.run` replays the trace against the real registry (its blobs and
images in :mod:`.trace_store`) with the caches of :mod:`.cache_layer`, recording each request as a
:class:`~.replayed.Replayed`; :mod:`.report` turns what the replay measured (a
:class:`~.report.TraceOutcome`, not the run) into the KPIs that compare the caches.
"""

from __future__ import annotations

from regsim.models import register
from regsim.models.core.spec import ModelSpec

from .config import Trace, TraceConfig
from .run import simulate_trace

#: scenario keys the trace model does not simulate: it replays a trace on a healthy platform, with
#: the trace's own blobs and images, and requests that carry no credentials
IGNORES = ("failures", "scan", "monitoring", "registry.storage.capacity", "registry.tls", "registry.rate_limit",
           "registry.auth.service_cores", "registry.auth.db.hash", "registry.auth.db.credentials",
           "distribution.strategy", "image.layers", "image.from", "registry.auth.issuer", "registry.upstream_limit",
           "distribution.preheat")

SPEC = register(ModelSpec(
    family="trace",
    workloads={"trace": Trace},
    config=TraceConfig,
    order=30,
    simulate=simulate_trace,
    ignores=IGNORES,
))
