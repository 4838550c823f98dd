"""``regsim trace``: synthetic traces in the IBM registry-trace format, their shape, cache replays.

    regsim trace generate --out trace.json --seed 1 --duration 1h --set pull_rate=0.2
    regsim trace stats trace.json
    regsim trace cache trace.json --capacity 1GB --policy lru --policy lfu --prefetch

Exit code 0, or 2 for bad input (a malformed trace names the file, the record and the field).
The generator's parameters and the format: ``docs/traces.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("trace", help="generate, describe and replay registry traces (IBM FAST '18 format)")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    g = actions.add_parser("generate", help="write a synthetic trace shaped like the FAST '18 findings")
    g.add_argument("--out", type=Path, required=True, metavar="FILE", help="the trace file (.json or .json.gz)")
    g.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    g.add_argument("--duration", default="1h", help="how long the trace lasts, e.g. 10m, 1h (default: %(default)s)")
    g.add_argument("--set", dest="params", action="append", default=[], metavar="NAME=VALUE",
                   help="set a generator parameter, e.g. --set pull_rate=0.2 (repeatable; see docs/traces.md)")
    s = actions.add_parser("stats", help="the shape of a trace: mix, layer sizes, popularity skew, push-then-pull")
    s.add_argument("trace", type=Path, metavar="TRACE", help="a trace file or a folder of them")
    c = actions.add_parser("cache", help="replay a trace's layer requests through cache policies")
    c.add_argument("trace", type=Path, metavar="TRACE", help="a trace file or a folder of them")
    c.add_argument("--capacity", action="append", required=True, metavar="SIZE",
                   help="cache size, e.g. 1GB (repeatable)")
    c.add_argument("--policy", action="append", choices=["lru", "lfu"], help="policies to try (default: lru and lfu)")
    c.add_argument("--prefetch", action="store_true", help="also try each policy with prefetch-on-manifest")
    p.set_defaults(func=run)


def _params(pairs: list[str]) -> dict[str, float | int]:
    from dataclasses import fields

    from ..traces import SyntheticSpec

    types = {f.name: f.type for f in fields(SyntheticSpec)}
    out: dict[str, float | int] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or name not in types:
            raise UserError(f"--set {pair!r}: expected NAME=VALUE with NAME one of: {', '.join(types)}")
        whole = types[name] in ("int", int)
        try:
            out[name] = int(value) if whole else float(value)
        except ValueError:
            raise UserError(f"--set {pair!r}: {name} must be a {'whole ' if whole else ''}number, "
                            f"got {value!r}") from None
    return out


def run(args: argparse.Namespace) -> int:
    from ..traces import compare_policies, generate, read_trace, summarize, write_trace
    from ..units import parse_duration, parse_size
    from .common import as_user_error
    from .paths import make_parent

    # a malformed trace (TraceError) or size (UnitError) is a UserError already; the generator and
    # the cache policies refuse bad parameters with plain ValueErrors
    with as_user_error(ValueError):
        if args.action == "generate":
            trace = generate(seed=args.seed, duration_s=parse_duration(args.duration), **_params(args.params))
            make_parent(args.out, "the trace to")
            write_trace(trace, args.out)
            print(f"{args.out}: {len(trace)} requests over {trace.span_s:.0f} s")
            return 0
        trace = read_trace(args.trace)
        if args.action == "stats":
            for key, value in summarize(trace).items():
                print(f"{key:<26} {value:.4g}" if isinstance(value, float) else f"{key:<26} {value}")
            return 0
        capacities = [parse_size(c) for c in args.capacity]
        table = compare_policies(trace, args.policy or ["lru", "lfu"], capacities,
                                 prefetch=(False, True) if args.prefetch else (False,))
    columns = ["policy", "capacity", "requests", "hit_ratio", "byte_hit_ratio", "bytes_saved", "prefetched_bytes",
               "prefetch_wasted"]
    print(table[columns].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 0
