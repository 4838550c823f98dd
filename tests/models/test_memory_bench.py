"""Long modelled request runs live in bounded memory.

A modelled push stores a real sample (up to 1 MiB, times the codec's copies) in the real in-memory
registry; nothing reads a pushed blob again unless a storage node is replaced (the repair rebuilds
every blob stored), so once priced it is deleted and only its sizes are kept, as running totals
(:meth:`regsim.models.requests.request_kinds.BlobSizes.retire`). The unit tests (fast) check that
the blobs the registry holds do not grow with the pushes, that pricing and the storage KPIs are
those of a run that keeps every blob, and that a run which may repair keeps them. The benchmark
(``-m benchmark``) runs an hour of 20 pushes/s of 50 MB layers (modelled, replicate(3)) in a fresh
interpreter and bounds its peak memory above that of a 10 s run of the same scenario.
"""

from __future__ import annotations

import json
import math
import resource
import subprocess
import sys
import time

import pytest

from regsim.models.requests import request_kinds
from regsim.models.requests.report import storage_overhead

from .helpers import build, scripted

MB = 1_000_000

#: a workload that sends nothing by itself: pushes are scripted
QUIET = {"kind": "poisson", "rate": "0.0001/s", "duration": "1s", "mix": {"pull": "100%"}}


def quiet(**over):
    doc = {
        "name": "mem",
        "duration": "1h",
        "cluster": {"nodes": 4},
        "registry": {"frontends": 1, "egress": "100Gbps",
                     "storage": {"codec": "replicate(3)", "nodes": 3, "nic": "100Gbps"}},
        "image": {"layers": ["50MB"]},
        "workload": dict(QUIET),
        "data_plane": "modelled",
    }
    return build(doc, over)


def pushes(sc, n: int):
    """Run ``n`` pushes of ``sc``, one every 0.5 s from four clients; the run."""
    run, _ = scripted(sc, [(0.5 * i, i % 4, "push") for i in range(n)])
    return run


def held(run) -> tuple[int, int]:
    """(blobs recorded, cluster keys) the run's real registry holds."""
    reg = run.registry
    return len(list(reg.blobs.digests())), len(reg.cluster.keys())


def test_blobs_held_after_unread_modelled_pushes_do_not_grow_with_the_pushes():
    sc = quiet()
    none, few, many = pushes(sc, 0), pushes(sc, 4), pushes(sc, 40)
    assert held(few) == held(many) == held(none)  # the image's layer, config and manifest
    assert many.blobs.retired == 40
    assert all(r.error is None and r.kind == "push" for r in many.requests)
    # the storage KPIs still count every push at its modelled size
    overhead, stored, logical = many.record().storage_overhead
    others = sum(many.registry.blobs.size(d) for d in many.registry.blobs.digests() if str(d) not in many.blobs)
    assert logical == 41 * 50 * MB + others  # the image's layer, 40 pushes, the config and manifest
    assert overhead == pytest.approx(3.0, rel=1e-3) and stored == int(round(overhead * logical))


def test_retiring_changes_neither_prices_nor_storage_kpis(monkeypatch):
    """The same pushes with every blob kept (no sample is long enough to retire): identical record."""
    sc = quiet()
    retired = pushes(sc, 12)
    monkeypatch.setattr(request_kinds, "RETIRE_MIN_BYTES", math.inf)
    kept = pushes(sc, 12)
    blobs, keys = held(pushes(sc, 0))
    assert kept.blobs.retired == 0 and held(kept) == (blobs + 12, keys + 12)
    assert [(r.start, r.end, r.size, r.lost_writes) for r in retired.requests] == \
           [(r.start, r.end, r.size, r.lost_writes) for r in kept.requests]
    assert retired.record().storage_overhead == kept.record().storage_overhead == \
           storage_overhead(kept.registry, kept.blobs)


def test_a_run_that_may_replace_a_node_keeps_every_pushed_blob():
    """The repair after a replacement rebuilds every blob stored, pushed ones too: none is retired."""
    sc = quiet(**{"failures.events": [{"at": "100s", "kind": "fail", "target": "storage/1", "duration": "10s"}]})
    run = pushes(sc, 6)
    blobs, keys = held(pushes(sc, 0))
    assert run.storage.replaces and run.blobs.retired == 0
    assert held(run) == (blobs + 6, keys + 6)


# -- benchmark: an hour of pushes ------------------------------------------------------------------

#: 20 pushes/s of 50 MB layers, modelled, replicate(3), provisioned to keep up (unsaturated: an
#: overloaded run holds its growing queue of requests in flight, which is not per-finished state)
HOUR = {
    "name": "push-hour",
    "seed": 1,
    "duration": "2h",
    "cluster": {"nodes": 10, "racks": 1},
    "registry": {"frontends": 4, "cores": 8, "egress": "40Gbps",
                 "storage": {"codec": "replicate(3)", "nodes": 6}},
    "image": {"repository": "library/app", "layers": ["50MB"]},
    "workload": {"kind": "poisson", "rate": "20/s", "duration": "1h", "clients": 20,
                 "mix": {"pull": "0%", "push": "100%"}},
    "data_plane": "modelled",
}

_CHILD = """
import json, sys, time
from regsim.models import simulate
from regsim.scenario import scenario_from_dict
doc = json.loads(sys.argv[1])
doc["workload"]["duration"] = sys.argv[2]
sc = scenario_from_dict(doc)
t = time.perf_counter()
r = simulate(sc, sc.seed)
k = r.kpis
print(json.dumps({"wall_s": time.perf_counter() - t, "pushes": k["pushes"], "saturated": bool(k["saturated"]),
                  "throughput_rps": k["throughput_rps"]}))
"""


def _child(duration: str) -> tuple[dict, int]:
    """One run of :data:`HOUR` lasting ``duration`` in a fresh interpreter; its KPIs and the
    children's peak RSS so far (bytes; Linux reports ``ru_maxrss`` in KiB)."""
    out = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(HOUR), duration],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[-1]), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


@pytest.mark.benchmark
def test_an_hour_of_modelled_pushes_stays_in_bounded_memory():
    t = time.perf_counter()
    short, base = _child("10s")
    hour, peak = _child("1h")
    growth = peak - base
    print(f"\n10 s: {short['pushes']} pushes, peak {base / 1e6:.0f} MB; 1 h: {hour['pushes']} pushes in "
          f"{hour['wall_s']:.0f} s, peak {peak / 1e6:.0f} MB (+{growth / 1e6:.0f} MB); "
          f"wall {time.perf_counter() - t:.0f} s")
    assert not hour["saturated"] and hour["pushes"] > 0.95 * 20 * 3600
    assert growth < 500e6
