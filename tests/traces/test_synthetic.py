"""The synthetic generator: round trip through the IBM format, determinism, and the documented shape."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.traces import SyntheticSpec, dumps_trace, generate, loads_trace, read_trace, summarize

SMALL = Path(__file__).resolve().parent.parent / "data" / "traces" / "synthetic-small.json"
#: the parameters the shipped small trace was made with (docs/traces.md gives the command).
SMALL_SPEC = dict(seed=2018, duration_s=900.0, repositories=12, users=4, clients=16, pull_rate=0.05, push_rate=0.008)

specs = st.builds(
    SyntheticSpec, seed=st.integers(0, 2**32 - 1), duration_s=st.floats(10, 400), repositories=st.integers(1, 8),
    users=st.integers(1, 3), clients=st.integers(1, 6), pull_rate=st.floats(0, 0.2), push_rate=st.floats(0, 0.05),
    layers_mean=st.floats(1, 5), base_layers=st.integers(0, 3), fresh_client=st.floats(0, 1),
    layer_sigma=st.floats(0, 3))


@settings(max_examples=25, deadline=None)
@given(spec=specs)
def test_generated_traces_survive_writing_and_parsing_unchanged(spec):
    trace = generate(spec)
    again = loads_trace(dumps_trace(trace), "round-trip")
    assert again.requests == trace.requests
    assert [r.time for r in trace] == sorted(r.time for r in trace)


def test_the_same_spec_gives_the_same_trace_and_another_seed_another():
    a, b, c = generate(seed=5, duration_s=300), generate(seed=5, duration_s=300), generate(seed=6, duration_s=300)
    assert a.requests == b.requests and a.requests != c.requests


def test_the_default_trace_has_the_shape_docs_traces_md_promises():
    s = summarize(generate(SyntheticSpec(seed=1)))
    assert s["layers_under_10MB"] > 0.85            # most layers are small
    assert s["layer_max_bytes"] > 20e6               # with a long tail
    assert s["top10pct_repo_pull_share"] > 0.4       # a tenth of the repositories take most pulls
    assert s["get_share"] > 0.85                     # reads dominate
    assert s["pushes_followed_by_pull"] > 0.7        # a push is followed by pulls of that image
    assert s["manifest_puts"] > 5 and s["layer_gets"] > s["manifest_gets"]


def test_a_pull_fetches_its_manifest_then_only_the_layers_the_client_lacks():
    trace = generate(seed=3, duration_s=600, fresh_client=0.0, push_rate=0.0, clients=1, repositories=1)
    gets = [r for r in trace if r.method == "GET"]
    assert gets[0].kind == "manifest"
    layers = [r.reference for r in gets if r.kind == "blob"]
    assert layers and len(layers) == len(set(layers))  # one client, one image: each layer fetched once


def test_a_push_uploads_new_layers_then_its_manifest():
    trace = generate(seed=4, duration_s=600, push_rate=0.02, pull_rate=0.0, pulls_after_push=0.0)
    methods = [(r.method, r.kind) for r in trace]
    assert ("PUT", "upload") in methods and methods[-1] == ("PUT", "manifest")
    uploads = [r for r in trace if r.kind == "upload"]
    assert all(r.reference.startswith("sha256:") and r.size > 0 and r.status == 201 for r in uploads)


@pytest.mark.parametrize(("override", "says"), [
    ({"clients": 0}, "clients must be positive"),
    ({"pull_rate": -1}, "pull_rate cannot be negative"),
    ({"fresh_client": 1.5}, r"fresh_client must be a fraction in \[0, 1\]"),
    ({"duration_s": float("inf")}, "duration_s must be a finite number"),
    ({"layers_mean": 0.5}, "layers_mean and new_layers_mean must be at least 1"),
    ({"colour": "red"}, "unknown parameter"),
])
def test_bad_parameters_are_refused_naming_them(override, says):
    with pytest.raises(ValueError, match=says):
        generate(**override)


def test_the_shipped_small_trace_is_small_valid_and_reproducible():
    assert SMALL.stat().st_size < 200_000
    shipped = read_trace(SMALL)
    assert shipped.requests == generate(**SMALL_SPEC).requests
    s = summarize(shipped)
    assert s["manifest_puts"] >= 3 and s["layers_under_10MB"] > 0.8
