"""``regsim calibrate``: measure this machine's cost profile from real registry operations."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError
from ..sim.calibrate import WORKLOADS, calibrate, write_profile
from ..sim.calibration_s3 import register_s3_workload
from ..sim.calibration_unpack import register_unpack_workload
from ..sim.calibration_workloads import register_http_workload, register_registry_workloads
from ..sim.profile import load_profile


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calibrate", help="measure a cost profile (JSON) on this machine")
    p.add_argument("--out", type=Path, default=Path("results/profiles/calibrated.json"),
                   help="where to write the profile (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=5, help="repeats of every workload (default: %(default)s)")
    p.add_argument("--only", action="append", metavar="WORKLOAD",
                   help="run only these workloads (repeatable); default: all")
    p.add_argument("--list", action="store_true", help="list the workloads and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .paths import make_parent

    register_registry_workloads()
    register_http_workload(*_server_apps())
    register_s3_workload()  # starts a local S3 server (moto) only if it runs
    register_unpack_workload()  # generates its layers only if it runs
    if args.list:
        print("\n".join(sorted(WORKLOADS)))
        return 0
    names = args.only or sorted(WORKLOADS)
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        raise UserError(f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(sorted(WORKLOADS))}")
    if args.repeats < 1:
        raise UserError("--repeats must be at least 1")
    make_parent(args.out, "the profile to")  # before minutes of measuring, not after
    print(f"calibrating {len(names)} workloads x {args.repeats} repeats: {', '.join(names)}")
    profile = calibrate([WORKLOADS[n] for n in names], repeats=args.repeats, base=load_profile("reference"))
    path = write_profile(profile, args.out)
    reference = load_profile("reference")
    print(f"{'kind':<22} {'this machine':>16} {'reference':>16}")
    for kind in sorted(profile.prices):
        print(f"{kind:<22} {_price(profile, kind):>16} {_price(reference, kind):>16}")
    print(f"profile written to {path}")
    return 0


def _server_apps():
    """Factories of the server application the ``http-endpoints`` workload measures (the engine
    layer that holds the workload may not import the server): auth mode none on an in-memory
    store, and a token service (jwt, HS256, anonymous pulls)."""
    from ..server import build_services, create_app, parse_config

    def registry():
        return create_app(build_services(parse_config({})))

    def token_service():
        return create_app(build_services(parse_config(
            {"auth": {"mode": "jwt", "algorithm": "HS256", "anonymous_pull": True}})))

    return registry, token_service


def _price(profile, kind: str) -> str:
    price = profile.prices.get(kind)
    if price is None:
        return "-"
    if price.throughput:
        return f"{price.throughput / 1e9:.3g} GB/s"
    return f"{price.per_op_s * 1e6:.4g} us/op"
