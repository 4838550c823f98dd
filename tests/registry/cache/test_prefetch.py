"""Prefetch on manifest GET: what the image index learns, what is prefetched, and its accounting."""

from __future__ import annotations

import pytest

from regsim.registry.cache import LFU, LRU, ImageIndex, PrefetchOnManifest

LAYERS = {"sha256:a": 10, "sha256:b": 20, "sha256:c": 30}


def push(cache_or_index, client="pusher", repo="team/app", tag="v1", layers=LAYERS):
    for digest, size in layers.items():
        if isinstance(cache_or_index, ImageIndex):
            cache_or_index.blob_pushed(client, repo, digest, size)
        else:
            cache_or_index.blob_put(client, repo, digest, size)
    cache_or_index.manifest_put(client, repo, tag) if not isinstance(cache_or_index, ImageIndex) else \
        cache_or_index.manifest_pushed(client, repo, tag)


def test_the_index_learns_an_image_from_its_push():
    index = ImageIndex()
    push(index)
    assert index.layers("team/app", "v1") == LAYERS
    assert index.layers("team/app", "unknown-tag") == LAYERS  # falls back to the repository's latest image
    assert index.layers("other/repo", "v1") == {}


def test_a_push_includes_layers_the_client_found_by_head():
    index = ImageIndex()
    push(index)
    index.blob_checked("pusher", "team/app", "sha256:a")     # already stored: HEAD 200
    index.blob_pushed("pusher", "team/app", "sha256:d", 5)
    index.manifest_pushed("pusher", "team/app", "v2")
    assert index.layers("team/app", "v2") == {"sha256:a": 10, "sha256:d": 5}
    assert index.layers("team/app", "v1") == LAYERS


def test_the_index_learns_an_image_from_the_layers_fetched_after_its_manifest():
    index = ImageIndex(follow_s=60)
    index.manifest_pulled("c1", "team/app", "v1", time=100.0)
    index.blob_pulled("c1", "team/app", "sha256:a", 10, time=101.0)
    index.blob_pulled("c1", "team/app", "sha256:b", 20, time=159.0)
    index.blob_pulled("c1", "team/app", "sha256:late", 1, time=161.0)  # beyond follow_s: another pull's
    index.blob_pulled("c2", "team/app", "sha256:other", 1, time=102.0)  # another client's
    assert index.layers("team/app", "v1") == {"sha256:a": 10, "sha256:b": 20}


def test_a_manifest_get_prefetches_the_image_and_its_layers_then_hit():
    cache = PrefetchOnManifest(LRU(100))
    push(cache)
    assert sorted(cache.manifest_get("c1", "team/app", "v1")) == sorted(LAYERS)
    assert all(cache.blob_get("c1", "team/app", d, s) for d, s in LAYERS.items())
    assert cache.cache.stats.hit_ratio == 1.0
    assert (cache.stats.prefetched, cache.stats.prefetched_bytes, cache.stats.used, cache.stats.wasted) == (3, 60, 3, 0)
    assert cache.manifest_get("c2", "team/app", "v1") == []  # all cached already


def test_without_prefetch_the_first_pull_after_a_push_misses_every_layer():
    plain = LRU(100)
    assert not any(plain.request(d, s) for d, s in LAYERS.items())


def test_prefetches_evicted_unused_are_counted_as_wasted():
    cache = PrefetchOnManifest(LFU(60))
    push(cache)
    cache.manifest_get("c1", "team/app", "v1")          # a, b, c prefetched: 60 bytes, cache full
    cache.blob_get("c1", "team/app", "sha256:a", 10)     # used
    cache.blob_get("c1", "x/y", "sha256:z", 40)          # a miss: evicts prefetched b and c (count 0)
    assert (cache.stats.used, cache.stats.wasted, cache.stats.wasted_bytes) == (1, 2, 50)


def test_pushed_layers_are_cached_only_when_asked():
    plain, eager = PrefetchOnManifest(LRU(100)), PrefetchOnManifest(LRU(100), admit_pushed=True)
    push(plain)
    push(eager)
    assert len(plain.cache) == 0 and sorted(eager.cache) == sorted(LAYERS)


def test_skip_client_layers_prefetches_only_what_the_client_lacks():
    cache = PrefetchOnManifest(LRU(100), skip_client_layers=True)
    push(cache)
    cache.blob_get("c1", "team/app", "sha256:c", 30)       # c1 now holds layer c
    cache.cache.discard("sha256:c")                        # and the cache lost it since
    assert sorted(cache.manifest_get("c1", "team/app", "v1")) == ["sha256:a", "sha256:b"]
    assert cache.manifest_get("c2", "team/app", "v1") == ["sha256:c"]


def test_follow_window_must_be_positive():
    with pytest.raises(ValueError, match="follow_s must be positive"):
        ImageIndex(follow_s=0)
