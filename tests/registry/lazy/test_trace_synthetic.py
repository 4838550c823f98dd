"""Synthetic start-up traces: the fraction is met, seeds are deterministic, locality shows, files
come from a real OCI layout with layers applied in order."""

from __future__ import annotations

import math
import random
from posixpath import dirname

import pytest

from regsim.registry.lazy.synthetic import (
    SLACKER_FRACTION, ImageFile, image_files, merge_layers, same_directory_share, startup_weight, synthesize,
)
from regsim.registry.lazy.trace import StartupTrace, TraceError

from .layers import build_tar, write_layout


def many_files(seed: int = 3, n: int = 2000) -> list[ImageFile]:
    """A file list shaped like an image: 40 folders, sizes log-uniform from 10 B to 2 MB."""
    rnd = random.Random(seed)
    folders = [f"usr/lib/pkg{i}" for i in range(20)] + [f"opt/app/d{i}" for i in range(15)] + \
              ["bin", "etc", "lib", "usr/bin", "usr/share/doc"]
    return [ImageFile(rnd.randrange(3), f"{rnd.choice(folders)}/f{i}", int(10 ** rnd.uniform(1, 6.3)))
            for i in range(n)]


@pytest.mark.parametrize("fraction", [0.01, SLACKER_FRACTION, 0.3])
@pytest.mark.parametrize("partial", [1.0, 0.25, 0.1])
def test_fraction_is_met_within_one_file(fraction, partial):
    files = many_files()
    total = sum(f.size for f in files)
    t = synthesize(files, fraction=fraction, partial=partial, seed=5)
    target = fraction * total
    if fraction > partial * 0.9:  # reading heads only cannot reach it: every file is read, and no more
        assert t.files_touched == len(files) and t.bytes_read < target
        return
    assert t.bytes_read >= target
    assert t.bytes_read - t.reads[-1].length < target  # it stopped at the first read past the target
    assert t.files_touched == len(t)  # each file read once
    sizes = {(f.layer, f.path): f.size for f in files}
    for r in t.reads:
        full = sizes[(r.layer, r.path)]
        assert r.offset == 0 and r.length == (full if partial == 1.0 else max(1, math.ceil(full * partial)))
    assert t.meta["image_bytes"] == total


def test_default_fraction_is_slackers():
    t = synthesize(many_files())
    assert t.meta["fraction"] == 0.064


def test_deterministic_per_seed():
    files = many_files()
    a, b, c = (synthesize(files, seed=s) for s in (1, 1, 2))
    assert a == b
    assert a.reads != c.reads


def test_locality_shows_in_same_directory_successors():
    files = many_files(n=3000)
    shares = {loc: sum(same_directory_share(synthesize(files, fraction=0.2, locality=loc, seed=s))
                       for s in range(3)) / 3
              for loc in (0.0, 0.5, 0.95)}
    assert shares[0.0] < shares[0.5] < shares[0.95]
    assert shares[0.95] > 0.8 and shares[0.0] < 0.3


def test_bias_toward_startup_paths_and_small_files():
    assert startup_weight("usr/lib/libc.so", 1000) > startup_weight("opt/data/libc.so", 1000)
    assert startup_weight("etc/a", 100) > startup_weight("etc/b", 10_000_000)
    files = many_files()
    t = synthesize(files, fraction=0.02, locality=0.0, seed=9)
    first = t.reads[:20]
    def boosted(path):
        return path.startswith(("bin/", "etc/", "lib/", "usr/lib/", "usr/bin/"))
    startup = sum(1 for r in first if boosted(r.path))
    share = sum(1 for f in files if boosted(f.path)) / len(files)
    assert startup / len(first) > share
    mean_read = sum(r.length for r in t.reads) / len(t)
    assert mean_read < sum(f.size for f in files) / len(files)


def test_cpu_between_is_exponential_with_the_mean():
    t = synthesize(many_files(), fraction=0.5, cpu_between=0.004, seed=2)
    assert len(t) > 300
    assert t.cpu_s / len(t) == pytest.approx(0.004, rel=0.15)
    assert synthesize(many_files(), cpu_between=0.0).cpu_s == 0.0


def test_edge_cases_and_bad_parameters():
    assert len(synthesize([], fraction=0.5)) == 0
    assert len(synthesize([(0, "a", 0)], fraction=1.0)) == 0  # an empty file is never read
    t = synthesize([(0, "a", 10), (1, "b/c", 20)], fraction=1.0)
    assert t.bytes_read == 30 and t.files_touched == 2
    for kw, msg in [({"fraction": 1.5}, "fraction"), ({"locality": -0.1}, "locality"),
                    ({"cpu_between": -1}, "cpu_between"), ({"partial": 0}, "partial")]:
        with pytest.raises(TraceError, match=msg):
            synthesize([(0, "a", 1)], **kw)


def test_merge_layers_applies_whiteouts_and_shadowing():
    lower = [("etc", "dir", 0), ("etc/a", "reg", 10), ("etc/b", "reg", 20), ("opt/x/1", "reg", 5),
             ("opt/x/2", "reg", 6), ("var/y", "reg", 7)]
    upper = [("etc/a", "reg", 11), ("etc/.wh.b", "reg", 0), ("opt/x/.wh..wh..opq", "reg", 0), ("opt/x/3", "reg", 8),
             ("var/.wh.y", "reg", 0)]
    got = {(f.layer, f.path, f.size) for f in merge_layers([lower, upper])}
    assert got == {(1, "etc/a", 11), (1, "opt/x/3", 8)}


def test_image_files_and_trace_from_a_layout(tmp_path):
    a = build_tar([("etc", "dir", None), ("etc/os-release", "reg", b"x" * 300), ("usr/lib/libc.so", "reg", b"y" * 5000),
                   ("usr/lib/gone.so", "reg", b"z" * 100)])
    b = build_tar([("usr/lib/.wh.gone.so", "reg", b""), ("app/main.py", "reg", b"print(1)\n" * 100),
                   ("etc/os-release", "reg", b"v" * 400)])
    root = write_layout(tmp_path / "layout", [a, b])
    files = image_files(root)
    assert {(f.layer, f.path, f.size) for f in files} == {(1, "etc/os-release", 400), (0, "usr/lib/libc.so", 5000),
                                                          (1, "app/main.py", 900)}
    t = synthesize(files, fraction=0.5, seed=1)
    t.validate({0: {"usr/lib/libc.so": 5000}, 1: {"etc/os-release": 400, "app/main.py": 900}})
    assert StartupTrace.loads(t.dumps()) == t
    assert all(dirname(r.path) for r in t.reads)
