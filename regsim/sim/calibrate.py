"""Calibration: measure this machine's cost profile by running real registry work.

Each workload is a plain callable that does real registry operations; calibration runs it inside
:func:`regsim.registry.receipts.collect`, so every hash, cipher call or token signature it makes is
recorded with the thread CPU time it took. From those items each kind's price follows:

- byte kinds: a line ``cpu_s = overhead_s + amount / throughput`` fitted through the median CPU
  time of each call size (weighted least squares on relative error, so a 4 KiB call weighs as much
  as a 4 MiB one and the intercept -- the per-call overhead -- is not drowned by the big calls).
  "Size" is whatever the kind's amount counts: for the ``ec_*`` kinds that is bytes multiplied
  (the coding work, see :mod:`regsim.registry.codecs.metered`), not data bytes, so calls of
  different codec shapes (RS(4,2) and RS(10,4) in the registry workload) lie on one line and the
  fitted throughput prices every shape;
- op kinds: total CPU time over total operations;
- qualified kinds (:data:`regsim.sim.profile.QUALIFIED`: ``jwt_sign`` and ``jwt_verify``): the
  items of each detail (the JWT algorithm) are also fitted on their own, under their qualified
  key (``jwt_sign_es256``); the plain kind is fitted over all of its items, whatever the detail.

The whole set runs ``repeats`` times after one discarded warm-up; a price is the median over
repeats and its spread the relative standard deviation across them.

Workloads are pluggable. Registering one is one line, e.g. once the registry's push and pull path
exists::

    register_workload("registry-push-pull", push_then_pull)

Only CPU kinds are priced; disk, network and database items a workload records are ignored here
(their models have their own parameters).
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from regsim.registry import digest, receipts
from regsim.registry.receipts import Kind, WorkItem

from .profile import CPU_KINDS, QUALIFIED, CostProfile, Price, ProfileError, base_kind, qualified_kind

Workload = Callable[[], None]

#: workloads run by ``calibrate()`` when none are given, by name.
WORKLOADS: dict[str, Workload] = {}


def register_workload(name: str, fn: Workload | None = None):
    """Add a default calibration workload; usable as ``register_workload(name, fn)`` or a decorator."""
    def add(f: Workload) -> Workload:
        if not callable(f):
            raise TypeError(f"calibration workload {name!r} must be callable")
        WORKLOADS[name] = f
        return f
    return add if fn is None else add(fn)


#: (call size, calls per repeat): small sizes fix the per-call overhead, large ones the throughput.
HASH_SIZES = ((4 << 10, 32), (64 << 10, 16), (1 << 20, 6), (4 << 20, 3))
_PAYLOAD = np.random.default_rng(0).integers(0, 256, max(s for s, _ in HASH_SIZES), dtype=np.uint8).tobytes()


def _hash_workload(algorithm: str) -> Workload:
    def run() -> None:
        view = memoryview(_PAYLOAD)
        for size, calls in HASH_SIZES:
            for _ in range(calls):
                digest.compute(view[:size], algorithm)
    run.__name__ = f"{algorithm}_workload"
    run.__doc__ = f"Hash call sizes from 4 KiB to 4 MiB with {algorithm} through regsim.registry.digest."
    return run


register_workload("sha256", _hash_workload("sha256"))
register_workload("sha512", _hash_workload("sha512"))


def fit_bytes(items: Iterable[WorkItem]) -> tuple[float, float]:
    """(throughput B/s, per-call overhead s) of one byte kind's items."""
    by_size: dict[int, list[float]] = defaultdict(list)
    for item in items:
        by_size[item.amount].append(item.cpu_s)
    sizes = np.array(sorted(by_size), dtype=float)
    cpu = np.array([statistics.median(by_size[int(s)]) for s in sizes])
    if cpu.sum() <= 0 or sizes.sum() <= 0:
        raise ProfileError("a byte kind recorded no measurable CPU time or no bytes; give its workload more work")
    if len(sizes) >= 2:
        slope, intercept = np.polyfit(sizes, cpu, 1, w=1.0 / np.maximum(cpu, 1e-9))
        if slope > 0:
            return float(1.0 / slope), float(max(intercept, 0.0))
    return float(sizes.sum() / cpu.sum()), 0.0


def fit_ops(items: Iterable[WorkItem]) -> float:
    """Seconds per operation of one op kind's items."""
    items = list(items)
    ops, cpu = sum(i.amount for i in items), sum(i.cpu_s for i in items)
    if ops <= 0 or cpu <= 0:
        raise ProfileError("an op kind recorded no operations or no measurable CPU time")
    return cpu / ops


def measure(workloads: Iterable[Workload], repeats: int = 5, *, warmup: int = 1) -> dict[str, list[float | tuple]]:
    """Per CPU kind, one fitted value per repeat: (throughput, overhead) for byte kinds, s/op otherwise."""
    workloads = list(workloads)
    if not workloads:
        raise ValueError("calibrate needs at least one workload")
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    for _ in range(warmup):
        with receipts.collect():
            for w in workloads:
                w()
    fits: dict[str, list] = defaultdict(list)
    for _ in range(repeats):
        with receipts.collect() as receipt:
            for w in workloads:
                w()
        by_kind: dict[str, list[WorkItem]] = defaultdict(list)
        for item in receipt:
            if item.kind in CPU_KINDS:
                by_kind[item.kind].append(item)
                if item.detail is not None and item.detail in QUALIFIED.get(item.kind, ()):
                    by_kind[qualified_kind(item.kind, item.detail)].append(item)
        for kind, items in by_kind.items():
            try:
                fits[kind].append(fit_bytes(items) if base_kind(kind) in Kind.BYTE_KINDS else fit_ops(items))
            except ProfileError as exc:
                raise ProfileError(f"calibrating {kind!r}: {exc}") from None
    return dict(fits)


def _rel_std(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    return statistics.stdev(values) / statistics.fmean(values)


def machine_info() -> dict[str, object]:
    """What the prices were measured on: enough to tell two machines apart, nothing personal."""
    model = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), model)
    except OSError:
        pass
    return {
        "cpu_model": model,
        "logical_cpus": os.cpu_count(),
        "machine": platform.machine(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "measured_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def calibrate(workloads: Iterable[Workload] | None = None, repeats: int = 5, *,
              warmup: int = 1, name: str = "calibrated", base: CostProfile | None = None) -> CostProfile:
    """Measure a cost profile on this machine.

    ``workloads`` defaults to every registered workload. Kinds the workloads do not exercise are
    taken from ``base`` if given (e.g. ``load_profile("reference")``), else left unpriced.
    """
    chosen = list(WORKLOADS.values()) if workloads is None else list(workloads)
    fits = measure(chosen, repeats, warmup=warmup)
    prices: dict[str, Price] = {}
    for kind, values in fits.items():
        if base_kind(kind) in Kind.BYTE_KINDS:
            throughputs = [v[0] for v in values]
            prices[kind] = Price(throughput=statistics.median(throughputs),
                                 overhead_s=statistics.median(v[1] for v in values),
                                 rel_std=_rel_std(throughputs), samples=len(values))
        else:
            prices[kind] = Price(per_op_s=statistics.median(values), rel_std=_rel_std(values),
                                 samples=len(values))
    note = f"measured by regsim.sim.calibrate over {repeats} repeats of {len(chosen)} workloads"
    measured = CostProfile(prices, name=name, note=note, machine=machine_info())
    return base.merged(measured) if base is not None else measured


def write_profile(profile: CostProfile, path: str | Path) -> Path:
    """Save ``profile`` as JSON at ``path`` (directories created); returns the path."""
    return profile.save(path)
