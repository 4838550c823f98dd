"""Prometheus metrics: CNCF distribution's names where they apply, plus regsim's own.

HTTP, as distribution exports them (handler = the route's name: ``base``, ``blob``,
``blob_upload``, ``blob_upload_chunk``, ``manifest``, ``tags``, ``catalog``, ``referrers``,
``token``, ``metrics``; ``not_found`` for paths no route serves)::

    registry_http_requests_total{handler,code,method}
    registry_http_request_duration_seconds{handler,method}        histogram
    registry_http_request_size_bytes{handler}, registry_http_response_size_bytes{handler}
    registry_http_in_flight_requests                                gauge
    registry_storage_action_seconds{driver,action}                  histogram (GetContent, PutContent)

regsim's, read off the receipt each request leaves (so they count exactly the work the simulator
prices)::

    regsim_work_amount_total{kind,unit}, regsim_work_cpu_seconds_total{kind}   every receipt kind
    regsim_codec_bytes_total{operation}          encode, decode, reconstruct, replicate
    regsim_codec_work_bytes_total{operation}     encode, decode, reconstruct (erasure coding only)
    regsim_encryption_bytes_total{operation}     encrypt, decrypt
    regsim_auth_checks_total{method}             jwt_verify, jwt_cache_hit, db_query, password_hash
    regsim_auth_token_cache_{hits,misses}_total, regsim_auth_token_cache_entries (token auth)
    regsim_blob_unrecoverable_reads_total{when}  blob GETs that found too many fragments lost:
                                                 before_headers (503) or mid_stream (cut)
    regsim_blobs_lost                            blobs whose latest read found them unrecoverable
    regsim_tls_certificate_expiry_timestamp_seconds   not-after of the certificate served (TLS only)
    regsim_tls_certificate_reloads_total{result}      certificate reloads: ok, failed (TLS only)

and the audit log's detection rules (with ``audit.enabled``; see :mod:`.audit`)::

    registry_security_alerts_total{rule}   new-source-network, denied-scope-burst,
                                           concurrent-credential-use

The receipt prices erasure coding by its work, in bytes multiplied (GF(2^8) multiply-accumulates,
see :mod:`regsim.registry.codecs.metered`); that is what ``regsim_codec_work_bytes_total`` counts.
``regsim_codec_bytes_total`` keeps counting bytes through the codec, read back from the work and
the codec's shape (named on each item): data bytes encoded (padded to ``k`` equal chunks), bytes of
data chunks decoded (chunks read verbatim cost nothing and are not counted), bytes of fragments
computed by a reconstruction, and bytes copied by replication.

One :class:`Metrics` owns its own ``CollectorRegistry``, so several apps (tests) never clash.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..registry import receipts
from ..registry.codecs import parse_codec
from ..registry.errors import ConfigError
from ..registry.receipts import Kind, Receipt, WorkItem

_DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_SIZE_BUCKETS = tuple(float(1 << p) for p in range(6, 33, 3))
_CODEC = {Kind.EC_ENCODE: "encode", Kind.EC_DECODE: "decode", Kind.EC_RECONSTRUCT: "reconstruct",
          Kind.REPLICATE: "replicate"}
_CRYPTO = {Kind.AES_GCM_ENCRYPT: "encrypt", Kind.AES_GCM_DECRYPT: "decrypt"}
_EC_WORK = {Kind.EC_ENCODE, Kind.EC_DECODE, Kind.EC_RECONSTRUCT}
_AUTH = {Kind.JWT_VERIFY, Kind.JWT_CACHE_HIT, Kind.DB_QUERY, Kind.PASSWORD_HASH}
_STORAGE = {Kind.DISK_READ: "GetContent", Kind.DISK_WRITE: "PutContent"}


class Metrics:
    """The metric families of one server; :meth:`middleware` fills them, :meth:`endpoint` shows them."""

    def __init__(self, driver: str, *, token_cache: Callable[[], object] | None = None,
                 lost_blobs: Callable[[], int] | None = None, certificate: object | None = None,
                 security_alerts: Callable[[], Mapping[str, int]] | None = None) -> None:
        self.driver = driver
        r = self.registry = CollectorRegistry()
        self.requests = Counter("registry_http_requests_total", "HTTP requests by handler, status code and method",
                                ["handler", "code", "method"], registry=r)
        self.duration = Histogram("registry_http_request_duration_seconds", "HTTP request latency",
                                  ["handler", "method"], buckets=_DURATION_BUCKETS, registry=r)
        self.request_size = Histogram("registry_http_request_size_bytes", "HTTP request body sizes",
                                      ["handler"], buckets=_SIZE_BUCKETS, registry=r)
        self.response_size = Histogram("registry_http_response_size_bytes", "HTTP response body sizes",
                                       ["handler"], buckets=_SIZE_BUCKETS, registry=r)
        self.in_flight = Gauge("registry_http_in_flight_requests", "HTTP requests being served", registry=r)
        self.storage = Histogram("registry_storage_action_seconds", "storage backend actions",
                                 ["driver", "action"], buckets=_DURATION_BUCKETS, registry=r)
        self.work_amount = Counter("regsim_work_amount_total", "work recorded on receipts (bytes or operations)",
                                   ["kind", "unit"], registry=r)
        self.work_cpu = Counter("regsim_work_cpu_seconds_total", "CPU seconds of work recorded on receipts",
                                ["kind"], registry=r)
        self.codec = Counter("regsim_codec_bytes_total",
                             "bytes through the erasure or replication codec: data encoded, chunks decoded "
                             "or rebuilt, bytes copied", ["operation"], registry=r)
        self.codec_work = Counter("regsim_codec_work_bytes_total",
                                  "erasure-coding work in bytes multiplied (GF(2^8) multiply-accumulates)",
                                  ["operation"], registry=r)
        self.crypto = Counter("regsim_encryption_bytes_total", "bytes encrypted or decrypted at rest",
                              ["operation"], registry=r)
        self.auth = Counter("regsim_auth_checks_total", "authentication and authorization work by method",
                            ["method"], registry=r)
        self.unrecoverable_reads = Counter(
            "regsim_blob_unrecoverable_reads_total",
            "blob GETs that found more fragments lost than the codec tolerates, by when: before_headers "
            "(answered 503) or mid_stream (connection cut)", ["when"], registry=r)
        for when in ("before_headers", "mid_stream"):
            self.unrecoverable_reads.labels(when)
        if lost_blobs is not None:
            lost = Gauge("regsim_blobs_lost", "blobs whose latest check or read found an extent unrecoverable",
                         registry=r)
            lost.set_function(lost_blobs)
        if token_cache is not None:
            r.register(_TokenCacheCollector(token_cache))
        if certificate is not None:  # a tls_reload.CertificateReloader: expiry and reload counts
            r.register(certificate)  # type: ignore[arg-type]
        if security_alerts is not None:  # the audit log's alert counts by rule
            r.register(_AlertCollector(security_alerts))  # type: ignore[arg-type]

    def observe_receipt(self, receipt: Receipt) -> None:
        """Count a request's work items."""
        for item in receipt:
            self.work_amount.labels(item.kind, item.unit).inc(item.amount)
            if item.cpu_s:
                self.work_cpu.labels(item.kind).inc(item.cpu_s)
            if item.kind in _STORAGE:
                self.storage.labels(self.driver, _STORAGE[item.kind]).observe(item.wall_s)
            elif item.kind in _CODEC:
                self.codec.labels(_CODEC[item.kind]).inc(codec_bytes(item))
                if item.kind in _EC_WORK:
                    self.codec_work.labels(_CODEC[item.kind]).inc(item.amount)
            elif item.kind in _CRYPTO:
                self.crypto.labels(_CRYPTO[item.kind]).inc(item.amount)
            elif item.kind in _AUTH:
                self.auth.labels(item.kind).inc()

    def middleware(self, app: ASGIApp) -> ASGIApp:
        return _MetricsMiddleware(app, self)

    async def endpoint(self, request: Request) -> Response:
        request.scope["regsim.handler"] = "metrics"
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


@functools.lru_cache(maxsize=64)
def _shape(name: str | None) -> tuple[int, int] | None:
    """(k, m) of the codec named ``name``, or None when the name is not a codec spec."""
    if name is None:
        return None
    try:
        codec = parse_codec(name)
    except ConfigError:
        return None
    return codec.k, codec.m


def codec_bytes(item: WorkItem) -> int:
    """Bytes through the codec for one codec work item.

    Erasure-coding items count bytes multiplied: encoding ``B`` padded data bytes is ``B * m`` of
    them and computing ``B`` bytes of chunks ``B * k``, so the bytes follow from the codec's shape.
    Replication items, and items whose codec cannot be told, already count bytes.
    """
    shape = _shape(item.detail) if item.kind in _EC_WORK else None
    if shape is None:
        return item.amount
    k, m = shape
    per_byte = m if item.kind == Kind.EC_ENCODE else k
    return item.amount // per_byte if per_byte else 0  # rs(k,0) encodes by splitting: no coding


class _MetricsMiddleware:
    """Pure ASGI (so streamed bodies are measured to their end, and the receipt collector spans
    the worker threads that stream them)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        m = self.metrics
        status, sizes = [500], [0, 0]

        async def counting_receive() -> Message:
            message = await receive()
            sizes[0] += len(message.get("body", b""))
            return message

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            elif message["type"] == "http.response.body":
                sizes[1] += len(message.get("body", b""))
            await send(message)

        start = time.perf_counter()
        m.in_flight.inc()
        try:
            with receipts.collect() as receipt:
                await self.app(scope, counting_receive, counting_send)
        finally:
            m.in_flight.dec()
            handler = scope.get("regsim.handler", "not_found")
            method = scope["method"]
            m.requests.labels(handler, str(status[0]), method).inc()
            m.duration.labels(handler, method).observe(time.perf_counter() - start)
            m.request_size.labels(handler).observe(sizes[0])
            m.response_size.labels(handler).observe(sizes[1])
            m.observe_receipt(receipt)


class _TokenCacheCollector:
    """The verified-token cache's own counters, read when scraped."""

    def __init__(self, stats: Callable[[], object]) -> None:
        self.stats = stats

    def collect(self) -> Iterator[object]:
        s = self.stats()
        if s is None:
            return
        hits = CounterMetricFamily("regsim_auth_token_cache_hits", "token checks answered from the cache")
        hits.add_metric([], s.hits)  # type: ignore[attr-defined]
        misses = CounterMetricFamily("regsim_auth_token_cache_misses", "token checks that ran PyJWT")
        misses.add_metric([], s.misses)  # type: ignore[attr-defined]
        size = GaugeMetricFamily("regsim_auth_token_cache_entries", "verified tokens cached")
        size.add_metric([], s.size)  # type: ignore[attr-defined]
        yield from (hits, misses, size)


class _AlertCollector:
    """The audit log's security alerts by rule, read when scraped (the audit log counts them)."""

    def __init__(self, counts: Callable[[], Mapping[str, int]]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[object]:
        family = CounterMetricFamily("registry_security_alerts", "security alerts raised by the audit log's "
                                     "detection rules, by rule", labels=["rule"])
        for rule, count in sorted(self.counts().items()):
            family.add_metric([rule], count)
        yield family
