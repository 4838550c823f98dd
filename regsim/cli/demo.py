"""``regsim demo``: the registry core end to end (push, pull, lose two nodes, read, repair)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..demo import run_demo
from ..registry.errors import RegistryError
from .common import as_user_error


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="push, pull, lose two RS(4,2) nodes, read back, repair; print receipts")
    p.add_argument("--root", type=Path, help="keep the registry's files here, with its keyring, so a second demo "
                                             "reuses them (default: a temporary folder)")
    p.add_argument("--seed", type=int, default=7, help="seed for the demo image's bytes")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with as_user_error(RegistryError):  # a --root store that cannot be read back is the user's folder
        run_demo(args.root, seed=args.seed)
    return 0
