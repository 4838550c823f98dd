"""``regsim experiment``: experiments that hold the model against the real thing.

``regsim experiment serve-load`` runs ``regsim serve`` on a loopback port under closed-loop load
from client processes, simulates the same set-up with the ``closed`` model, and prints the
comparison (:mod:`regsim.check.serve_load`); it exits 1 when a simulated figure falls outside
±25 % of the measured one.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("experiment", help="hold the model against the real registry")
    which = p.add_subparsers(dest="experiment", required=True, metavar="EXPERIMENT")
    s = which.add_parser("serve-load", help="regsim serve under closed-loop load against the closed model")
    s.add_argument("--clients", default=None, metavar="N,N,...",
                   help="concurrent client processes (default: 1,2,4,8; --quick: 1,2)")
    s.add_argument("--seconds", type=float, default=None,
                   help="measured seconds per load, after a warm-up (default: 5; --quick: 1.5)")
    s.add_argument("--warmup", type=float, default=None, help="warm-up seconds per load (default: 1; --quick: 0.5)")
    s.add_argument("--rounds", type=int, default=None,
                   help="rounds of every load, interleaved; each figure is the median (default: 3; --quick: 1)")
    s.add_argument("--quick", action="store_true", help="1 and 2 clients, short windows (a smoke test)")
    s.add_argument("--profile", default="reference",
                   help="cost profile: 'reference' or a JSON file from `regsim calibrate` (default: %(default)s)")
    s.add_argument("--workload", action="append", choices=["manifest", "pull"],
                   help="only this workload (repeatable; default: both)")
    s.set_defaults(func=run)


def _clients(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise UserError(f"--clients: expected counts separated by commas, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise UserError(f"--clients: every count must be at least 1, got {text!r}")
    return values


def run(args: argparse.Namespace) -> int:
    from ..check.serve_load import format_table, run_experiment
    from ..sim.profile import load_profile

    clients = _clients(args.clients) if args.clients else ((1, 2) if args.quick else (1, 2, 4, 8))
    seconds = args.seconds if args.seconds is not None else (1.5 if args.quick else 5.0)
    warmup = args.warmup if args.warmup is not None else (0.5 if args.quick else 1.0)
    if seconds <= 0 or warmup < 0 or (args.rounds is not None and args.rounds < 1):
        raise UserError("--seconds must be positive, --warmup non-negative and --rounds at least 1")
    load_profile(args.profile)  # a bad profile is refused before the server starts
    experiment = run_experiment(clients, seconds=seconds, warmup_s=warmup, rounds=args.rounds or (1 if args.quick else 3),
                                profile=args.profile,
                                workloads=tuple(args.workload or ("manifest", "pull")),
                                progress=lambda msg: print(msg, file=sys.stderr, flush=True))
    print(format_table(experiment))
    return 0 if experiment.ok else 1
