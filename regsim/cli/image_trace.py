"""``regsim image trace``: write a start-up access trace (JSON) for lazy-pulling models.

- ``regsim image trace DIR [--ref REF] --fraction 0.064 --locality 0.5 --cpu-between 0.001
  --partial 1 --seed 1 --out trace.json``: a synthetic trace over the files of an image of the OCI
  layout ``DIR`` (:mod:`regsim.registry.lazy.synthetic`);
- ``regsim image trace --recorded FILE [--recorded-format auto|overlaybd|csv|jsonl] --out
  trace.json``: a recorded trace (overlaybd's trace-prefetch file or its layer tar, CSV, JSON
  lines; :mod:`regsim.registry.lazy.recorded`) converted to the same JSON.

Both print a one-line summary (reads, bytes, files, layers, CPU). A bad value, an unreadable
file or a malformed line is one line on stderr and exit code 2. See docs/lazy-pulling.md,
"Start-up traces".
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError


def register_trace(verbs: argparse._SubParsersAction) -> None:
    """Add the ``trace`` verb to ``regsim image``."""
    from ..registry.lazy.synthetic import DEFAULT_CPU_BETWEEN_S, DEFAULT_LOCALITY, SLACKER_FRACTION

    p = verbs.add_parser("trace", help="write a start-up access trace (synthetic from a layout, or a recorded one)",
                         description="Write a start-up access trace as JSON: synthetic, over the files of an image "
                                     "of an OCI layout (DIR), or converted from a recorded trace (--recorded: "
                                     "overlaybd trace-prefetch, CSV layer,offset,length[,cpu_s], JSON lines). "
                                     "See docs/lazy-pulling.md.")
    p.add_argument("layout", nargs="?", type=Path, metavar="DIR", help="OCI image layout folder (synthetic trace)")
    p.add_argument("--recorded", type=Path, metavar="FILE", help="a recorded trace to convert instead")
    p.add_argument("--recorded-format", default="auto", choices=("auto", "overlaybd", "csv", "jsonl"),
                   help="format of --recorded (default: detected from the content)")
    p.add_argument("--out", type=Path, required=True, metavar="FILE", help="where to write the trace (JSON)")
    p.add_argument("--ref", help="which image of the layout (its ref name); needed when it holds several")
    p.add_argument("--platform", default="linux/amd64",
                   help="platform of a multi-platform image (default: %(default)s)")
    p.add_argument("--fraction", type=float, default=SLACKER_FRACTION,
                   help="share of the image's bytes read at start-up (default %(default)s: Slacker, FAST '16)")
    p.add_argument("--locality", type=float, default=DEFAULT_LOCALITY,
                   help="probability the next file read is the next one of the same directory (default %(default)s)")
    p.add_argument("--cpu-between", type=float, default=None, metavar="SECONDS",
                   help=f"mean CPU seconds before each read, exponential (default {DEFAULT_CPU_BETWEEN_S} for a "
                        "synthetic trace; with --recorded, replaces each read's own CPU time by this value)")
    p.add_argument("--partial", type=float, default=1.0,
                   help="share of each file read, from its start (default %(default)s: whole files)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    p.set_defaults(func=run_trace)


def run_trace(args: argparse.Namespace) -> int:
    from ..registry.errors import RegistryError
    from .common import as_user_error

    if (args.layout is None) == (args.recorded is None):
        raise UserError("give either an OCI layout DIR (synthetic trace) or --recorded FILE, not both or neither")
    with as_user_error(RegistryError):
        if args.recorded is not None:
            trace = _recorded(args)
        else:
            trace = _synthetic(args)
    if args.out.exists() and args.out.is_dir():
        raise UserError(f"--out {args.out} is a folder; give a file name")
    try:
        trace.save(args.out)
    except OSError as e:
        raise UserError(f"cannot write {args.out}: {e.strerror}") from None
    print(f"{trace.source}: {trace.summary()}")
    print(f"wrote {args.out}")
    return 0


def _recorded(args: argparse.Namespace):
    from dataclasses import replace

    from ..registry.lazy.recorded import load_recorded
    from ..registry.lazy.synthetic import DEFAULT_LOCALITY, SLACKER_FRACTION
    from ..registry.lazy.trace import StartupTrace

    defaults = {"ref": None, "fraction": SLACKER_FRACTION, "locality": DEFAULT_LOCALITY, "partial": 1.0, "seed": 0}
    given = [f"--{n}" for n, v in defaults.items() if getattr(args, n) != v]
    if given:
        raise UserError(f"{', '.join(given)} apply only to a synthetic trace (a layout DIR), not to --recorded")
    if not args.recorded.is_file():
        raise UserError(f"no such file: {args.recorded}")
    trace = load_recorded(args.recorded, args.recorded_format)
    if args.cpu_between is None:
        return trace
    if not args.cpu_between >= 0:
        raise UserError(f"--cpu-between must be >= 0, got {args.cpu_between}")
    return StartupTrace(tuple(replace(r, cpu_before_s=args.cpu_between) for r in trace.reads),
                        trace.source, trace.image, {**trace.meta, "cpu_between_s": args.cpu_between})


def _synthetic(args: argparse.Namespace):
    from ..registry.lazy.synthetic import DEFAULT_CPU_BETWEEN_S, synthesize_layout

    if not args.layout.is_dir():
        raise UserError(f"no such folder: {args.layout}")
    if args.recorded_format != "auto":
        raise UserError("--recorded-format applies only to --recorded")
    cpu = DEFAULT_CPU_BETWEEN_S if args.cpu_between is None else args.cpu_between
    return synthesize_layout(args.layout, args.ref, platform=args.platform, fraction=args.fraction,
                             locality=args.locality, cpu_between=cpu, partial=args.partial, seed=args.seed)
