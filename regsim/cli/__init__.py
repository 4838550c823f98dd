"""The ``regsim`` command line: one module per verb, each a thin layer over library functions."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="regsim", description=__doc__)
    parser.add_subparsers(dest="verb", required=True)
    args = parser.parse_args(argv)
    return 0 if args else 1


if __name__ == "__main__":
    sys.exit(main())
