"""The ``regsim`` command line: one module per verb, each a thin layer over library functions.

Exit codes: 0 success, 1 failure, 2 bad input (a user's mistake, reported without a traceback).
"""

from __future__ import annotations

import argparse
import sys

from ..registry.errors import RegistryError
from . import calibrate, check, compare, demo, image, list_, report, run, serve, trace, validate

VERBS = [run, validate, list_, report, compare, calibrate, demo, serve, image, check, trace]


class UserError(Exception):
    """A mistake in what the user asked for; printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="regsim", description="Simulate and benchmark container-registry architectures.")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb in VERBS:
        verb.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UserError, RegistryError) as exc:
        print(f"regsim {args.verb}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
