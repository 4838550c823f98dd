"""The ``regsim`` command line: one module per verb, each a thin layer over library functions.

Exit codes: 0 success, 1 failure, 2 bad input (a user's mistake, reported without a traceback),
130 interrupted (Ctrl-C). Whatever the verb, a file or folder it cannot use is one line naming
the path and the reason, Ctrl-C is one line, and a reader that goes away early (``| head``)
ends the command quietly.

Bad input is any :class:`regsim.errors.UserError`, from whichever layer raised it (a unit, a
scenario key, a results folder, a registry configuration): :func:`main` has the one handler for
it, so the verbs catch nothing to get exit code 2. The verb modules import nothing from this
package's ``__init__`` (it imports them); what they share is in :mod:`.paths` and :mod:`.common`.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import UserError
from . import calibrate, check, compare, demo, experiment, image, list_, report, reproduce, run, serve, trace, validate
from .paths import path_error

VERBS = [run, validate, list_, report, compare, calibrate, demo, serve, image, check, reproduce, trace, experiment]

#: the exit code of a command stopped by Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130
#: the exit code of a command whose output pipe closed (128 + SIGPIPE), as shells report it.
EXIT_BROKEN_PIPE = 141


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="regsim", description="Simulate and benchmark container-registry architectures.")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb in VERBS:
        verb.register(sub)
    return parser


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout is not a file (a test's capture)
        pass


def main(argv: list[str] | None = None) -> int:
    """Run the verb ``argv`` names (default: the process's arguments) and return its exit code.

    A UserError from any layer is its message after ``regsim VERB:`` on stderr and 2; a path the
    system refused is one line naming it and 2; Ctrl-C is one line and 130; a closed output pipe
    is silent and 141. Anything else is a bug and keeps its traceback.
    """
    args = build_parser().parse_args(argv)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the handlers, not at exit
        return code
    except UserError as exc:
        print(f"regsim {args.verb}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as exc:
        if exc.filename is None:
            raise
        print(f"regsim {args.verb}: {path_error(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(f"regsim {args.verb}: {str(exc) or 'interrupted'}", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
