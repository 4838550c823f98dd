"""Synthetic start-up traces: a plausible start-up read pattern over a real image's files.

Real start-up traces are rarely at hand, but an image's file list is (``skopeo copy ...
oci:DIR``). :func:`synthesize` draws a :class:`~.trace.StartupTrace` over that list from a small
profile:

- ``fraction``: the share of the image's bytes read during start-up. Default
  :data:`SLACKER_FRACTION` = 6.4 %: Harter et al., "Slacker: Fast Distribution with Lazy Docker
  Containers", FAST '16 -- over the 57 images they studied, "pulling packages accounts for 76 %
  of container start time, but only 6.4 % of that data is read".
- ``locality`` (0..1): the probability that the next file read is the next unread file of the
  same directory as the previous one (in layer order, so contiguous in a tar), rather than a
  fresh draw. Start-up reads cluster (a dynamic loader walks ``lib/``, an interpreter its
  package folder); 0.5 is an *assumption*, not a measurement.
- ``cpu_between``: the mean, in seconds, of the exponential CPU time before each read. Default
  1 ms -- an *assumption* (a process doing a little work between opening files); set it from a
  measured start-up time when one is known.
- ``partial``: the share of each file read -- 1.0 (whole files, the default) or a head fraction
  (``0.25`` reads the first quarter of each file: an ELF header and the parts mapped first).
- ``seed``: a :class:`numpy.random.Generator` seed, so a trace is the same for the same inputs.

Which files are read is drawn without replacement, weighted toward small files and the paths a
start-up typically touches (:data:`STARTUP_PREFIXES`: ``bin/``, ``sbin/``, ``lib/``,
``usr/lib/``, ``etc/``, ...). The weight, ``boost / sqrt(1 + size / 4 KiB)`` with ``boost`` =
:data:`STARTUP_BOOST` for those paths, is an *assumption* chosen to read configuration, loader and
library files first and large data files last; files are added until the bytes read reach
``fraction`` of the image (so the total overshoots by less than one file's read), or until
every file has been read (a head-only profile, ``partial`` < ``fraction``, cannot reach it).

The file list comes from :func:`image_files` (an OCI image layout, layers applied in order with
whiteouts, as a container sees them) or from any list of ``(layer, path, size)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from posixpath import basename, dirname

import numpy as np

from .tarlayer import clean_name
from .trace import Read, StartupTrace, TraceError

#: Slacker (Harter et al., FAST '16): "only 6.4 % of that data is read" at start-up
SLACKER_FRACTION = 0.064
#: assumed mean CPU time before each read (seconds)
DEFAULT_CPU_BETWEEN_S = 0.001
#: assumed probability that the next read stays in the previous read's directory
DEFAULT_LOCALITY = 0.5
#: paths a start-up typically reads first (an assumption: loader, libraries, binaries, configuration)
STARTUP_PREFIXES = ("bin/", "sbin/", "lib/", "lib64/", "lib32/", "usr/bin/", "usr/sbin/", "usr/lib/",
                    "usr/lib64/", "usr/local/bin/", "usr/local/lib/", "etc/")
#: how much likelier a file under :data:`STARTUP_PREFIXES` is drawn than another of the same size
STARTUP_BOOST = 8.0
#: the size scale of the small-file bias: weight ~ 1 / sqrt(1 + size / SIZE_SCALE)
SIZE_SCALE = 4096


@dataclass(frozen=True, slots=True)
class ImageFile:
    """A regular file an image holds: its layer (index), cleaned path and size."""

    layer: int | str
    path: str
    size: int


def image_files(layout: str | Path, ref: str | None = None, *, platform: str = "linux/amd64") -> list[ImageFile]:
    """The regular files of an image of an OCI layout, as a container sees them: layers applied
    bottom to top, a later layer's file replacing an earlier one of the same path, whiteouts
    (``.wh.NAME``) and opaque directories (``.wh..wh..opq``) removing lower files. Each file is
    listed under the layer its visible copy comes from (index in the manifest)."""
    from ..manifests import parse_manifest
    from ..oci_layout import OciLayout
    from .tarlayer import read_layer

    lay = layout if isinstance(layout, OciLayout) else OciLayout(layout)
    desc = lay.image_manifest(lay.select(ref), platform)
    manifest = parse_manifest(lay.read(desc), desc.media_type)
    per_layer = []
    for layer in manifest.layers:
        data = lay.blob_path(layer.digest).read_bytes()
        entries = read_layer(data).entries
        per_layer.append([(e.name, e.type, e.size) for e in entries if e.name])
    return merge_layers(per_layer)


def merge_layers(layers: Sequence[Iterable[tuple[str, str, int]]]) -> list[ImageFile]:
    """Overlay ``layers`` (each a list of ``(name, type, size)`` in tar order, bottom first) into
    the visible regular files, in layer then tar order. Hard links are left out (they name a file
    listed under its own path)."""
    visible: dict[str, ImageFile] = {}
    for index, entries in enumerate(layers):
        for name, kind, size in entries:
            name = clean_name(name)
            base, parent = basename(name), dirname(name)
            if base == ".wh..wh..opq":
                prefix = parent + "/" if parent else ""
                for p in [p for p in visible if p.startswith(prefix) and visible[p].layer != index]:
                    del visible[p]
                continue
            if base.startswith(".wh."):
                gone = (parent + "/" if parent else "") + base[4:]
                visible.pop(gone, None)
                for p in [p for p in visible if p.startswith(gone + "/")]:
                    del visible[p]
                continue
            visible.pop(name, None)
            if kind == "reg":
                visible[name] = ImageFile(index, name, size)
            elif kind == "dir":
                continue
    return list(visible.values())


def startup_weight(path: str, size: int, prefixes: Sequence[str] = STARTUP_PREFIXES) -> float:
    """A file's draw weight: favours start-up paths and small files (an assumption, see the module)."""
    boost = STARTUP_BOOST if any(path.startswith(p) for p in prefixes) else 1.0
    return boost / math.sqrt(1.0 + size / SIZE_SCALE)


def synthesize(files: Iterable[ImageFile | tuple], *, fraction: float = SLACKER_FRACTION,
               locality: float = DEFAULT_LOCALITY, cpu_between: float = DEFAULT_CPU_BETWEEN_S,
               partial: float = 1.0, seed: int | None = 0, prefixes: Sequence[str] = STARTUP_PREFIXES,
               image: str = "") -> StartupTrace:
    """A start-up trace over ``files`` (:class:`ImageFile` or ``(layer, path, size)``): files drawn
    as the module describes until ``fraction`` of the image's bytes are read."""
    if not 0.0 <= fraction <= 1.0:
        raise TraceError(f"fraction must be between 0 and 1, got {fraction}")
    if not 0.0 <= locality <= 1.0:
        raise TraceError(f"locality must be between 0 and 1, got {locality}")
    if not (cpu_between >= 0.0 and math.isfinite(cpu_between)):
        raise TraceError(f"cpu_between must be a finite number of seconds >= 0, got {cpu_between}")
    if not 0.0 < partial <= 1.0:
        raise TraceError(f"partial must be in (0, 1], got {partial}")
    pool = [f if isinstance(f, ImageFile) else ImageFile(f[0], clean_name(f[1]), int(f[2])) for f in files]
    for f in pool:
        if f.size < 0:
            raise TraceError(f"file {f.path!r} of layer {f.layer!r} has a negative size {f.size}")
    total = sum(f.size for f in pool)
    pool = [f for f in pool if f.size > 0]  # an empty file costs no fetch
    target = fraction * total
    rng = np.random.default_rng(seed)
    meta = {"generator": "synthetic", "fraction": fraction, "locality": locality, "cpu_between_s": cpu_between,
            "partial": partial, "seed": seed, "image_bytes": total, "image_files": len(pool)}
    source = f"synthetic(fraction={fraction}, locality={locality}, cpu_between={cpu_between}, " \
             f"partial={partial}, seed={seed})"
    if not pool or target <= 0:
        return StartupTrace((), source, image, meta)

    # a global draw order without replacement, weighted (Efraimidis & Spirakis: key = u ** (1 / w))
    weights = np.array([startup_weight(f.path, f.size, prefixes) for f in pool])
    keys = np.log(rng.random(len(pool))) / weights
    order = list(np.argsort(-keys, kind="stable"))
    # per directory, its files in layer order (what "the next file of the same directory" means)
    folders: dict[str, list[int]] = {}
    for i, f in enumerate(pool):
        folders.setdefault(dirname(f.path), []).append(i)
    position = {i: (d, k) for d, members in folders.items() for k, i in enumerate(members)}
    next_in = {d: 0 for d in folders}  # first possibly-unread position in each folder
    taken = np.zeros(len(pool), dtype=bool)
    cursor = 0
    reads: list[Read] = []
    done = 0
    prev: int | None = None
    while done < target:
        pick = None
        if prev is not None and locality > 0 and rng.random() < locality:
            d, k = position[prev]
            members = folders[d]
            j = k + 1
            while j < len(members) and taken[members[j]]:
                j += 1
            if j >= len(members):  # nothing after it: the first unread file of the folder
                j = next_in[d]
                while j < len(members) and taken[members[j]]:
                    j += 1
                next_in[d] = j
            if j < len(members):
                pick = members[j]
        if pick is None:
            while cursor < len(order) and taken[order[cursor]]:
                cursor += 1
            if cursor >= len(order):
                break
            pick = int(order[cursor])
        taken[pick] = True
        f = pool[pick]
        length = max(1, math.ceil(f.size * partial)) if partial < 1.0 else f.size
        cpu = float(rng.exponential(cpu_between)) if cpu_between > 0 else 0.0
        reads.append(Read(f.layer, f.path, 0, length, cpu))
        done += length
        prev = pick
    return StartupTrace(tuple(reads), source, image, meta)


def same_directory_share(trace: StartupTrace) -> float:
    """The share of consecutive file reads that stay in the previous read's directory (what
    ``locality`` drives; a test and a report measure it)."""
    paths = [r.path for r in trace.reads if r.path is not None]
    if len(paths) < 2:
        return 0.0
    same = sum(1 for a, b in zip(paths, paths[1:]) if dirname(a) == dirname(b))
    return same / (len(paths) - 1)


def synthesize_layout(layout: str | Path, ref: str | None = None, *, platform: str = "linux/amd64",
                      **profile) -> StartupTrace:
    """:func:`synthesize` over the files of an image of an OCI layout (:func:`image_files`)."""
    files = image_files(layout, ref, platform=platform)
    return synthesize(files, image=ref or "", **profile)
