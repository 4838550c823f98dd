"""What the verbs share besides paths: turning a library's own way of refusing input into a UserError.

Every error regsim raises for bad input derives from :class:`~regsim.errors.UserError`, and
:func:`regsim.cli.main` has the one handler that prints it as a line and exits with 2, so a verb
catches nothing for that. Two kinds of exception still mean bad input in some verbs only:

* a plain ``ValueError`` from code that refuses a bad argument that way (the synthetic trace
  generator, the cache policies, :func:`regsim.results.compare`'s tolerances);
* a :class:`~regsim.registry.errors.RegistryError` about something the user named (an image
  layout, the store folder of ``demo --root`` or of a server configuration), which elsewhere
  would be a bug.

The verb wraps just that work in :func:`as_user_error`. This module imports nothing from the
package ``__init__``, which imports every verb.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import UserError

__all__ = ["UserError", "as_user_error"]


@contextmanager
def as_user_error(*kinds: type[Exception]) -> Iterator[None]:
    """Inside, an exception of ``kinds`` becomes a UserError with the same message (one line,
    exit 2); a UserError already is one and passes through untouched."""
    try:
        yield
    except UserError:
        raise
    except kinds as exc:
        raise UserError(str(exc)) from None
