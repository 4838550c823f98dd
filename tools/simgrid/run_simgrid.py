#!/usr/bin/env python3
"""Simulate a flow-level scenario in SimGrid and write per-flow completion times.

Why: regsim has its own flow-level network model; this script runs the *same*
platform + flows through SimGrid (the reference flow-level simulator) so the two
can be cross-checked flow by flow.  See LV08.md beside this file for the exact
semantics of SimGrid's models, and BUILD.md for how to get the bindings.

Usage (with the SimGrid venv, not regsim's):
    /work/simgrid-venv/bin/python run_simgrid.py IN.json OUT.json
(LD_LIBRARY_PATH is optional: if libsimgrid.so is not on the loader path the
script preloads it from beside the simgrid extension module.)

Input JSON:
    {"model": "LV08" | "CM02" | "FLUID",
     "links":  [{"id": int, "bandwidth": bytes/s, "latency": s}],
     "hosts":  [name, ...],
     "routes": [{"src": name, "dst": name, "links": [link id, ...]}],   # one direction each
     "flows":  [{"id": int, "src": name, "dst": name, "bytes": float, "start": s}]}
Output JSON:
    {"model": ..., "config": [--cfg flags used], "warnings": [...],
     "flows": [{"id": int, "start": float, "finish": float}]}

Models:
  LV08   SimGrid's default model, all defaults (latency x13.01, bandwidth x0.97,
         weight-S 20537, TCP-gamma 4194304, cross-traffic on).
  CM02   SimGrid's CM02 made as "pure" as its config allows: latency-factor 1,
         bandwidth-factor 1, weight-S 0, TCP-gamma 0, crosstraffic 0.  NOTE: CM02
         still weights max-min shares by 1/(route latency) (the sharing penalty
         is the route's latency), so flows whose routes have different total
         latency do NOT get equal shares.  A zero-latency route gets penalty 1.
  FLUID  Plain max-min with equal weights: same config as CM02, but every link
         is given latency 0 inside SimGrid (so every flow has penalty 1, no
         latency phase) and each flow is instead started at start + sum of its
         route's link latencies.  finish = that delayed fluid finish.  This is
         "wait the latency, then share bandwidth max-min fairly".

Platform: one Full-routing netzone holding every host; one SHARED link per
input link; routes are added exactly as given, one direction each (not
symmetrical).  Each flow is one host-to-host Comm (Comm.sendto_async) started
by a single driver actor at the flow's start time; its finish time is the
Comm's finish_time.  Payload sizes are integers in SimGrid: bytes are rounded.

Under LV08 (crosstraffic on) a flow src->dst also loads the links of the route
dst->src with coefficient 0.05; if that route is not given SimGrid silently
uses no back route, so we emit a warning listing how many flows lack one.
"""

import json
import os
import sys
import time

MODELS = {
    "LV08": ["network/model:LV08"],
    "CM02": [
        "network/model:CM02",
        "network/latency-factor:1.0",
        "network/bandwidth-factor:1.0",
        "network/weight-S:0",
        "network/TCP-gamma:0",
        "network/crosstraffic:0",
    ],
}
MODELS["FLUID"] = MODELS["CM02"]


def _load_simgrid():
    """Import simgrid; if libsimgrid.so.* is not on the loader path (the pip
    build installs it next to the extension module, in site-packages), preload
    it by absolute path so that LD_LIBRARY_PATH is not required."""
    try:
        import simgrid  # noqa: F401
        return
    except ImportError:
        pass
    import ctypes
    import glob
    import importlib.util

    spec = importlib.util.find_spec("simgrid")
    if spec is None or spec.origin is None:
        raise SystemExit("simgrid module not found: run with /work/simgrid-venv/bin/python (see BUILD.md)")
    libs = sorted(glob.glob(os.path.join(os.path.dirname(spec.origin), "libsimgrid.so.*")))
    if not libs:
        raise SystemExit("libsimgrid.so.* not found next to the simgrid module; set LD_LIBRARY_PATH (see BUILD.md)")
    ctypes.CDLL(libs[-1], mode=ctypes.RTLD_GLOBAL)
    import simgrid  # noqa: F401,F811


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    t0 = time.time()
    with open(argv[1]) as f:
        spec = json.load(f)
    model = spec.get("model", "LV08")
    if model not in MODELS:
        raise SystemExit(f"unknown model {model!r}; use one of {sorted(MODELS)}")
    cfg = MODELS[model]
    fluid = model == "FLUID"

    _load_simgrid()
    from simgrid import Comm, Engine, Link, LinkInRoute, this_actor

    e = Engine(["run_simgrid"] + ["--cfg=" + c for c in cfg] + ["--log=root.thresh:warning"])
    zone = e.netzone_root.add_netzone_full("flows_zone")

    hosts = {}
    for name in spec["hosts"]:
        name = str(name)
        if name in hosts:
            raise SystemExit(f"duplicate host {name!r}")
        hosts[name] = zone.add_host(name, 1e9).seal()

    links, lat_of = {}, {}
    for l in spec["links"]:
        lid = int(l["id"])
        if lid in links:
            raise SystemExit(f"duplicate link id {lid}")
        lat = float(l.get("latency", 0.0))
        lat_of[lid] = lat
        link = zone.add_link(f"l{lid}", float(l["bandwidth"]))
        link.set_latency(0.0 if fluid else lat)
        links[lid] = link.seal()
        assert links[lid].get_sharing_policy() == Link.SharingPolicy.SHARED

    route_lat = {}
    for r in spec["routes"]:
        s, d = str(r["src"]), str(r["dst"])
        if (s, d) in route_lat:
            raise SystemExit(f"duplicate route {s}->{d}")
        ids = [int(i) for i in r["links"]]
        zone.add_route(hosts[s], hosts[d], [LinkInRoute(links[i]) for i in ids], False)
        route_lat[(s, d)] = sum(lat_of[i] for i in ids)
    zone.seal()
    e.netzone_root.seal()

    warnings = []
    flows = []
    missing_back = 0
    nonint = 0
    for fl in spec["flows"]:
        s, d = str(fl["src"]), str(fl["dst"])
        if s != d and (s, d) not in route_lat:
            raise SystemExit(f"flow {fl['id']}: no route {s}->{d}")
        if s != d and (d, s) not in route_lat:
            missing_back += 1
        b = float(fl["bytes"])
        if b != round(b):
            nonint += 1
        start = float(fl["start"])
        go = start + (route_lat.get((s, d), 0.0) if fluid else 0.0)
        flows.append((go, len(flows), int(fl["id"]), start, hosts[s], hosts[d], int(round(b))))
    if missing_back and model == "LV08":
        warnings.append(f"{missing_back} flow(s) have no reverse route dst->src: no cross-traffic for them")
    if nonint:
        warnings.append(f"{nonint} flow(s) had non-integer bytes, rounded to the nearest byte")
    for w in warnings:
        sys.stderr.write("run_simgrid: warning: " + w + "\n")

    order = sorted(flows, key=lambda x: (x[0], x[1]))
    comms = [None] * len(flows)

    def driver():
        for go, idx, _fid, _start, src, dst, size in order:
            if go > Engine.clock:
                this_actor.sleep_until(go)
            comms[idx] = Comm.sendto_async(src, dst, size)
        for c in comms:
            c.wait()

    if flows:
        next(iter(hosts.values())).add_actor("driver", driver)
        e.run()

    out = {
        "model": model,
        "config": cfg,
        "warnings": warnings,
        "flows": [
            {"id": fid, "start": start, "finish": comms[idx].finish_time}
            for _go, idx, fid, start, _s, _d, _b in flows
        ],
    }
    with open(argv[2], "w") as f:
        json.dump(out, f, indent=1)
    sys.stderr.write(
        f"run_simgrid: {len(flows)} flows, {len(hosts)} hosts, {len(links)} links, "
        f"sim end {Engine.clock:.6f} s, wall {time.time() - t0:.1f} s\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
