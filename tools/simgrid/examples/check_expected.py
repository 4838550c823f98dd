#!/usr/bin/env python3
"""Independent re-implementation of the LV08/CM02 semantics written down in
../LV08.md, used to check that SimGrid's numbers (run_simgrid.py) match our
reading of its source.  Pure Python, any interpreter.

Usage: check_expected.py IN.json [SIMGRID_OUT.json]
Prints the expected finish time of each flow (and SimGrid's, if given).
"""
import json
import sys

PARAMS = {  # lat_factor, bw_factor, weight_S, gamma, crosstraffic
    "LV08": (13.01, 0.97, 20537.0, 4194304.0, True),
    "CM02": (1.0, 1.0, 0.0, 0.0, False),
}


def maxmin(active, cap):
    """Weighted max-min: var value = level / penalty, sum coef*value <= cap."""
    val, remaining = {}, dict(cap)
    free = set(active)
    while free:
        best = None
        for l, c in remaining.items():
            usage = sum(f["coef"].get(l, 0) / f["pen"] for f in (active[i] for i in free))
            if usage > 0 and (best is None or c / usage < best):
                best = c / usage
        for i in free:  # a variable bound reached first?
            b = active[i]["bound"] * active[i]["pen"]
            if best is None or b < best:
                best = b
        fixed = []
        for i in free:
            f = active[i]
            x = min(best / f["pen"], f["bound"])
            tight = abs(x - f["bound"]) < 1e-12 * f["bound"] or any(
                f["coef"].get(l, 0) > 0
                and abs(remaining[l] - sum(active[j]["coef"].get(l, 0) * best / active[j]["pen"] for j in free)) <= 1e-9 * cap[l]
                for l in remaining)
            if tight:
                val[i] = x
                fixed.append(i)
        for i in fixed:
            free.discard(i)
            for l, c in active[i]["coef"].items():
                remaining[l] -= c * val[i]
    return val


def simulate(spec):
    lf, bwf, ws, gamma, cross = PARAMS[spec["model"]]
    bw = {l["id"]: l["bandwidth"] for l in spec["links"]}
    lat = {l["id"]: l["latency"] for l in spec["links"]}
    routes = {(r["src"], r["dst"]): r["links"] for r in spec["routes"]}
    flows = {}
    for fl in spec["flows"]:
        r = routes[(fl["src"], fl["dst"])]
        L = sum(lat[l] for l in r)
        coef = {l: 1.0 for l in r}
        if cross:
            for l in routes.get((fl["dst"], fl["src"]), []):
                coef[l] = coef.get(l, 0) + 0.05
        pen = (L + sum(ws / bw[l] for l in r)) if L > 0 else 1.0
        bound = min(bw[l] for l in r)
        if gamma > 0 and L > 0:
            bound = min(bound, gamma / (2 * L))
        flows[fl["id"]] = dict(t_on=fl["start"] + L * lf, rem=fl["bytes"], coef=coef, pen=pen, bound=bound)
    t, done = 0.0, {}
    while len(done) < len(flows):
        active = {i: f for i, f in flows.items() if i not in done and f["t_on"] <= t + 1e-12}
        val = maxmin(active, bw)
        nxt = min([f["t_on"] for i, f in flows.items() if i not in done and f["t_on"] > t + 1e-12] + [float("inf")])
        for i, f in active.items():
            nxt = min(nxt, t + f["rem"] / (val[i] * bwf))
        for i, f in active.items():
            f["rem"] -= val[i] * bwf * (nxt - t)
            if f["rem"] <= 1e-6:
                done[i] = nxt
        t = nxt
    return done


if __name__ == "__main__":
    spec = json.load(open(sys.argv[1]))
    if spec["model"] not in PARAMS:
        raise SystemExit("only LV08 and CM02")
    exp = simulate(spec)
    got = {}
    if len(sys.argv) > 2:
        got = {f["id"]: f["finish"] for f in json.load(open(sys.argv[2]))["flows"]}
    for i in sorted(exp):
        g = got.get(i)
        extra = f"  simgrid {g:.9f}  diff {g - exp[i]:+.2e}" if g is not None else ""
        print(f"{sys.argv[1]} flow {i}: expected {exp[i]:.9f}{extra}")
