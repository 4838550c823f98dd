"""The in-memory upstream: Docker Hub's definition of a pull, 429 with Retry-After, outages."""

from __future__ import annotations

import pytest

from regsim.registry import receipts
from regsim.registry.descriptors import OCI_INDEX
from regsim.registry.errors import BlobUnknown, ManifestUnknown, TooManyRequests
from regsim.registry.pullthrough import (
    RateLimit,
    RegistryUpstream,
    Upstream,
    UpstreamRateLimited,
    UpstreamUnavailable,
)


def test_the_upstream_client_is_an_upstream(hub):
    assert isinstance(hub.client("x"), Upstream)


def test_manifest_gets_count_heads_and_blobs_do_not(hub, hub_registry, clock):
    up = hub.client("c")
    m = up.get_manifest("library/alpine", "3.20")
    assert hub.pulls_counted("c") == 1
    stored = hub_registry.get_manifest("library/alpine", "3.20")
    assert (m.data, m.media_type, m.digest) == (stored.data, stored.media_type, stored.digest)
    for _ in range(10):
        assert up.head_manifest("library/alpine", "3.20") == m.digest
    for digest in (d for d in hub_registry.repos.blob_links("library/alpine")):
        up.get_blob("library/alpine", digest)
    assert hub.pulls_counted("c") == 1
    up.get_manifest("library/alpine", str(m.digest))  # by digest: a pull too
    assert hub.pulls_counted("c") == 2


def test_the_fourth_get_is_429_with_retry_after_until_a_slot_frees(hub, clock):
    up = hub.client("c")
    for dt in (0.0, 20.0, 30.0):
        clock.advance(dt)
        up.get_manifest("library/alpine", "3.20")  # at t0, t0+20, t0+50
    clock.advance(10.0)  # t0 + 60
    with pytest.raises(UpstreamRateLimited) as info:
        up.get_manifest("library/alpine", "3.20")
    err = info.value
    assert err.retry_after == pytest.approx(40.0)  # the pull at t0 frees its slot at t0 + 100
    assert err.retry_after_header == "40"
    assert err.status == 429 and err.code == "TOOMANYREQUESTS" and isinstance(err, TooManyRequests)
    assert (err.limit, err.window_s, err.upstream) == (3, 100.0, "docker.io")
    # HEAD is still answered, and says 0 remaining, as Docker Hub does
    assert up.head_manifest("library/alpine", "3.20")
    assert up.ratelimit_headers()["ratelimit-remaining"] == "0;w=100"
    clock.advance(err.retry_after)
    up.get_manifest("library/alpine", "3.20")
    assert hub.counters("c").refused == 1 and hub.pulls_counted("c") == 4


def test_clients_have_their_own_budgets(hub):
    a, b = hub.client("a"), hub.client("b")
    for _ in range(3):
        a.get_manifest("library/alpine", "3.20")
    with pytest.raises(UpstreamRateLimited):
        a.get_manifest("library/alpine", "3.20")
    for _ in range(3):
        b.get_manifest("library/debian", "12")
    assert hub.pulls_counted("a") == hub.pulls_counted("b") == 3


def test_a_404_takes_nothing_from_the_budget(hub):
    up = hub.client("c")
    for _ in range(5):
        with pytest.raises(ManifestUnknown):
            up.get_manifest("library/alpine", "nope")
    with pytest.raises(BlobUnknown):
        up.get_blob("library/alpine", "sha256:" + "0" * 64)
    assert hub.pulls_counted("c") == 0 and hub.counters("c").not_found == 6
    up.get_manifest("library/alpine", "3.20")


def test_index_gets_are_not_pulls_unless_configured(hub_registry, clock):
    alpine = hub_registry.get_manifest("library/alpine", "3.20")
    index = ('{"schemaVersion": 2, "mediaType": "%s", "manifests": [{"mediaType": "%s", "digest": "%s", '
             '"size": %d, "platform": {"architecture": "amd64", "os": "linux"}}]}'
             % (OCI_INDEX, alpine.media_type, alpine.digest, len(alpine.data))).encode()
    hub_registry.put_manifest("library/alpine", "multi", index, OCI_INDEX)
    for count_index, expected in ((False, 1), (True, 2)):
        up = RegistryUpstream(hub_registry, limit=RateLimit(5, 100.0), clock=clock, count_index_gets=count_index)
        c = up.client("c")
        got = c.get_manifest("library/alpine", "multi")
        assert got.media_type == OCI_INDEX
        c.get_manifest("library/alpine", str(alpine.digest))  # the platform's image manifest
        assert up.pulls_counted("c") == expected


def test_outages_answer_503_for_their_span_only(hub, clock):
    up = hub.client("c")
    t0 = clock.now
    hub.down_between(t0 + 10, t0 + 20)
    up.get_manifest("library/alpine", "3.20")
    clock.now = t0 + 10
    for call in (lambda: up.get_manifest("library/alpine", "3.20"), lambda: up.head_manifest("library/alpine", "3.20"),
                 lambda: up.get_blob("library/alpine", "sha256:" + "0" * 64)):
        with pytest.raises(UpstreamUnavailable) as info:
            call()
        assert info.value.status == 502 and info.value.upstream == "docker.io"
    clock.now = t0 + 20
    up.get_manifest("library/alpine", "3.20")
    assert hub.pulls_counted("c") == 2 and hub.counters("c").unavailable == 3
    hub.set_down(True)
    with pytest.raises(UpstreamUnavailable):
        up.head_manifest("library/alpine", "3.20")
    hub.set_down(False)
    up.head_manifest("library/alpine", "3.20")
    with pytest.raises(ValueError):
        hub.down_between(5, 5)


def test_the_log_records_every_request_and_its_answer(hub, clock):
    up = hub.client("c")
    up.head_manifest("library/alpine", "3.20")
    up.get_manifest("library/alpine", "3.20")
    with pytest.raises(ManifestUnknown):
        up.get_manifest("library/alpine", "nope")
    assert [(e.kind, e.status, e.counted) for e in hub.log] == [
        ("manifest_head", 200, False), ("manifest_get", 200, True), ("manifest_get", 404, False)]
    assert hub.served()[("c", "manifest_get")] == 1


def test_the_upstreams_own_work_is_not_on_the_callers_receipt(hub):
    with receipts.collect() as r:
        hub.client("c").get_manifest("library/alpine", "3.20")
    assert len(r) == 0


def test_an_unlimited_upstream_never_refuses(hub_registry, clock):
    up = RegistryUpstream(hub_registry, clock=clock)
    for _ in range(50):
        up.client().get_manifest("library/alpine", "3.20")
    assert up.ratelimit_headers("anonymous") == {}
