"""The one error root of regsim, and its subclass for bad input.

    from regsim.errors import RegsimError, UserError

Every error regsim raises on purpose derives from :class:`RegsimError`; a mistake in what the
user asked for (a malformed scenario, an unknown key, a path that cannot be used, a model that
cannot simulate what was asked) derives from :class:`UserError`, which the command line turns into
one line and exit code 2. Anything else that escapes is a bug and keeps its traceback.

The classes are defined in :mod:`regsim.registry.errors`, the lowest layer, so that the registry
can subclass them without importing anything above it.
"""

from regsim.registry.errors import RegsimError, UserError

__all__ = ["RegsimError", "UserError"]
