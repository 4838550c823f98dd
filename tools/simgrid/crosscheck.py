#!/usr/bin/env python3
"""Cross-check regsim's network model against SimGrid, flow by flow, on three platforms.

Why: regsim's TCP-like sharing is SimGrid's LV08 model (``LV08.md``); this runs the same
platforms and flows in both and reports how far each flow's duration (finish - start) is off.
Three platforms, as issue 17 measured them:

- ``star``: 10,000 clients (1 Gbit/s) pull 100 MB each from one server (10 Gbit/s), starting
  uniformly over 10 s;
- ``racked``: 64 hosts in 4 racks (10 Gbit/s NICs, 4:1 rack uplinks), 300 flows of 10 MB-1 GB
  between random hosts, both ways, starting over 5 s;
- ``storm``: 2,000 hosts in 20 racks (1 Gbit/s, 4:1) pull 500 MB each from 8 registries
  (10 Gbit/s, in their own rack) over 10 s.

For each platform SimGrid LV08 is the reference; regsim runs ``lv08`` (SimGrid's model),
``tcp`` (regsim's default: LV08 with latencies as written) and ``maxmin`` (plain max-min, the
engine's old scenario default). The summary goes to ``docs/simgrid.json`` (``--out``), which
``regsim reproduce --update-docs`` renders into ``docs/validation.md``.

Usage (regsim's venv; SimGrid's bindings in another, see BUILD.md)::

    python tools/simgrid/crosscheck.py --simgrid-python /work/simgrid-venv/bin/python \
        [--platforms star racked storm] [--scale 1.0] [--out docs/simgrid.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from explicit_platform import platform_doc, run_regsim  # noqa: E402

from regsim.sim.network.sharing import LV08, MAXMIN, TCP  # noqa: E402
from regsim.sim.topology import Topology  # noqa: E402

GBIT = 1e9 / 8
#: a flow whose duration is further than this from SimGrid's counts as off (issue 17's target)
TOLERANCE = 0.05
REGSIM_MODELS = {"lv08": LV08, "tcp": TCP, "maxmin": MAXMIN}


def star(scale: float) -> tuple[Topology, list]:
    n = max(10, int(10_000 * scale))
    topo = Topology.star(10 * GBIT, n, 1 * GBIT)
    rng = np.random.default_rng(1)
    starts = rng.uniform(0.0, 10.0, n)
    clients = [h for h in topo.hosts if h != "registry"]
    return topo, [("registry", c, 100e6, float(t)) for c, t in zip(clients, starts)]


def racked(scale: float) -> tuple[Topology, list]:
    topo = Topology.racked(4, 16, nic=10 * GBIT, oversubscription=4.0)
    hosts = list(topo.hosts)
    rng = np.random.default_rng(2)
    flows = []
    for _ in range(max(10, int(300 * scale))):
        s, d = rng.choice(len(hosts), 2, replace=False)
        flows.append((hosts[s], hosts[d], float(rng.uniform(10e6, 1e9)), float(rng.uniform(0.0, 5.0))))
    return topo, flows


def storm(scale: float) -> tuple[Topology, list]:
    racks = max(2, int(20 * scale))
    topo = Topology.racked(racks, 100, nic=1 * GBIT, oversubscription=4.0)
    clients = list(topo.hosts)
    topo.add_rack("registries", uplink=8 * 10 * GBIT)
    registries = [f"registry{i}" for i in range(8)]
    for name in registries:
        topo.add_host(name, rack="registries", nic=10 * GBIT)
    rng = np.random.default_rng(3)
    starts = rng.uniform(0.0, 10.0, len(clients))
    return topo, [(registries[i % 8], c, 500e6, float(t)) for i, (c, t) in enumerate(zip(clients, starts))]


PLATFORMS = {"star": star, "racked": racked, "storm": storm}


def run_simgrid(python: str, doc: dict[str, Any]) -> dict[int, float]:
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.json", Path(tmp) / "out.json"
        src.write_text(json.dumps(doc))
        subprocess.run([python, str(HERE / "run_simgrid.py"), str(src), str(dst)], check=True,
                       stdout=subprocess.DEVNULL)
        out = json.loads(dst.read_text())
    return {int(f["id"]): float(f["finish"]) for f in out["flows"]}


def errors(doc: dict[str, Any], reference: dict[int, float], got: dict[int, float]) -> dict[str, float]:
    """Relative error of each flow's duration against the reference, summarised."""
    start = {int(f["id"]): float(f["start"]) for f in doc["flows"]}
    err = np.array([abs((got[i] - start[i]) - (reference[i] - start[i])) / (reference[i] - start[i])
                    for i in reference])
    return {"flows": int(err.size), "max": float(err.max()), "mean": float(err.mean()),
            "p99": float(np.quantile(err, 0.99)), "off": float((err > TOLERANCE).mean())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--simgrid-python", default="/work/simgrid-venv/bin/python",
                        help="an interpreter whose `import simgrid` works (see BUILD.md)")
    parser.add_argument("--platforms", nargs="+", choices=list(PLATFORMS), default=list(PLATFORMS))
    parser.add_argument("--scale", type=float, default=1.0, help="shrink the platforms (tests use < 1)")
    parser.add_argument("--out", type=Path, default=None, help="write the summary JSON here")
    args = parser.parse_args(argv)
    summary: dict[str, Any] = {"tolerance": TOLERANCE, "scale": args.scale, "platforms": {}}
    for name in args.platforms:
        topo, flows = PLATFORMS[name](args.scale)
        doc = platform_doc(topo, flows, "LV08")
        t0 = time.perf_counter()
        reference = run_simgrid(args.simgrid_python, doc)
        simgrid_s = time.perf_counter() - t0
        rows: dict[str, Any] = {"hosts": len(doc["hosts"]), "simgrid_wall_s": round(simgrid_s, 1), "models": {}}
        for label, model in REGSIM_MODELS.items():
            t0 = time.perf_counter()
            got = run_regsim(doc, model)
            rows["models"][label] = {**errors(doc, reference, got), "wall_s": round(time.perf_counter() - t0, 1)}
            e = rows["models"][label]
            print(f"{name:7s} regsim {label:7s} vs SimGrid LV08: {e['flows']} flows, max {e['max']:.2%}, "
                  f"mean {e['mean']:.2%}, over {TOLERANCE:.0%}: {e['off']:.1%}  ({e['wall_s']} s; "
                  f"SimGrid {simgrid_s:.1f} s)", flush=True)
        summary["platforms"][name] = rows
    if args.out:
        args.out.write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
    worst = max(r["models"]["lv08"]["max"] for r in summary["platforms"].values())
    return 0 if worst <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
