"""Offline cache evaluation over traces, and the ``regsim trace`` verb."""

from __future__ import annotations

import json

import pytest

from regsim.cli import main
from regsim.registry.cache import LRU
from regsim.traces import Request, evaluate, generate, parse_uri, read_trace

from .test_synthetic import SMALL

DIGESTS = [f"sha256:{i:064x}" for i in range(3)]


def req(t, method, uri, size=0, client="c1", status=200):
    return Request(float(t), method, uri, *parse_uri(uri), size, 0.01, client, status)


def push_then_pull() -> list[Request]:
    """One client pushes a three-layer image; two others pull it."""
    out = [req(i, "PUT", f"v2/u/app/blobs/uploads/{i}?digest={d}", 1000 * (i + 1), "pusher", 201)
           for i, d in enumerate(DIGESTS)]
    out.append(req(5, "PUT", "v2/u/app/manifests/v1", 700, "pusher", 201))
    for j, client in enumerate(["c1", "c2"]):
        t = 10 + 10 * j
        out.append(req(t, "GET", "v2/u/app/manifests/v1", 700, client))
        out += [req(t + 1, "GET", f"v2/u/app/blobs/{d}", 1000 * (i + 1), client) for i, d in enumerate(DIGESTS)]
    return out


def test_prefetch_raises_the_hit_ratio_of_a_push_then_pull_trace():
    trace = push_then_pull()
    plain = evaluate(trace, "lru", 10_000)
    ahead = evaluate(trace, "lru", 10_000, prefetch=True)
    assert (plain.requests, plain.hits, plain.hit_ratio) == (6, 3, 0.5)  # the first pull misses every layer
    assert (ahead.requests, ahead.hits, ahead.hit_ratio) == (6, 6, 1.0)
    assert ahead.prefetched == 3 and ahead.prefetched_bytes == 6000 and ahead.prefetch_used == 3
    assert plain.bytes_saved == 6000 and ahead.bytes_saved == 12000 - 6000
    assert ahead.policy == "lru+prefetch" and plain.policy == "lru"


def test_caching_pushed_layers_also_serves_the_first_pull():
    result = evaluate(push_then_pull(), "lfu", 10_000, admit_pushed=True)
    assert result.hit_ratio == 1.0 and result.prefetched == 0


def test_prefetch_raises_the_hit_ratio_on_the_shipped_trace():
    trace = read_trace(SMALL)
    for policy in ("lru", "lfu"):
        assert evaluate(trace, policy, "50MB", prefetch=True).hit_ratio > evaluate(trace, policy, "50MB").hit_ratio


def test_failed_requests_are_not_counted_and_a_blob_keeps_its_full_size():
    d = DIGESTS[0]
    trace = [req(0, "GET", f"v2/u/app/blobs/{d}", 500), req(1, "GET", f"v2/u/app/blobs/{d}", 0, status=404),
             req(2, "GET", f"v2/u/app/blobs/{d}", 10)]  # a short (partial) response of the same blob
    result = evaluate(trace, "lru", 1000)
    assert (result.requests, result.hits, result.requested_bytes) == (2, 1, 1000)


def test_accounting_adds_up_on_a_generated_trace():
    trace = generate(seed=9, duration_s=900)
    layer_gets = sum(1 for r in trace if r.kind == "blob" and r.method == "GET" and r.status < 400)
    for prefetch in (False, True):
        r = evaluate(trace, "lru", "100MB", prefetch=prefetch)
        assert r.requests == r.hits + r.misses == layer_gets
        assert r.backend_bytes == r.requested_bytes - r.hit_bytes + r.prefetched_bytes
        assert r.capacity == 100_000_000


def test_a_policy_may_be_any_factory_of_a_cache_policy():
    assert evaluate(push_then_pull(), lambda capacity: LRU(capacity), 10_000).hit_ratio == 0.5
    with pytest.raises(TypeError, match="expected a CachePolicy"):
        evaluate(push_then_pull(), lambda capacity: object(), 10)
    with pytest.raises(ValueError, match="unknown cache policy"):
        evaluate(push_then_pull(), "fifo", 10)


def test_trace_verb_generates_describes_and_replays(tmp_path, capsys):
    out = tmp_path / "t.json"
    assert main(["trace", "generate", "--out", str(out), "--seed", "3", "--duration", "5m",
                 "--set", "pull_rate=0.1"]) == 0
    assert "requests over" in capsys.readouterr().out and len(read_trace(out)) > 0
    assert main(["trace", "stats", str(out)]) == 0
    assert "layers_under_10MB" in capsys.readouterr().out
    assert main(["trace", "cache", str(out), "--capacity", "20MB", "--prefetch"]) == 0
    table = capsys.readouterr().out
    assert "lru+prefetch" in table and "lfu" in table and "hit_ratio" in table


def test_trace_verb_reports_a_malformed_trace_and_bad_parameters_with_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"timestamp": "2017-06-20T00:00:00Z"}]))
    assert main(["trace", "stats", str(bad)]) == 2
    assert f"{bad}: record 0: http.request.method: missing fields" in capsys.readouterr().err
    assert main(["trace", "generate", "--out", str(tmp_path / "x.json"), "--set", "clients=zero"]) == 2
    assert "clients must be a whole number, got 'zero'" in capsys.readouterr().err
