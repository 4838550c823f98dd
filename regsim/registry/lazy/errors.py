"""The one error the lazy-pulling formats raise: a layer or index that cannot be read or built.

It derives from :class:`~regsim.registry.errors.RegistryError` so that a command given a broken
layer (``regsim image convert``) reports it as bad input, on one line, like any other registry
refusal.
"""

from __future__ import annotations

from ..errors import RegistryError


class LazyFormatError(RegistryError):
    """A layer is not what its format says (not a tar, a footer or TOC that does not parse, a
    chunk whose digest does not match), or an option cannot be honoured."""

    code, status = "LAZY_FORMAT_INVALID", 400
