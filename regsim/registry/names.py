"""Repository names and tags, by the OCI distribution spec's grammar.

    name      = component ("/" component)*
    component = [a-z0-9]+ ((\\.|_|__|-+) [a-z0-9]+)*
    tag       = [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}

A name is at most 255 characters (what common clients accept, hostname included). The grammar
already rules out path traversal (``..``), absolute paths, empty components and uppercase; the
errors say which rule a name broke, because "invalid name" alone helps nobody.
"""

from __future__ import annotations

import re

from .errors import NameInvalid, TagInvalid

MAX_NAME_LENGTH = 255
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")


def validate_name(name: str) -> str:
    """Return ``name`` unchanged if it is a valid repository name, else raise :class:`NameInvalid`."""
    if not isinstance(name, str) or not name:
        raise NameInvalid("repository name is empty")
    if len(name) > MAX_NAME_LENGTH:
        raise NameInvalid(f"repository name is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}")
    for i, component in enumerate(name.split("/")):
        if component == "":
            raise NameInvalid(f"repository name {name!r} has an empty path component (position {i})")
        if component in (".", ".."):
            raise NameInvalid(f"repository name {name!r} contains the path component {component!r}")
        if component != component.lower() and _COMPONENT.fullmatch(component.lower()):
            raise NameInvalid(f"repository name {name!r} must be lowercase (component {component!r})")
        if not _COMPONENT.fullmatch(component):
            raise NameInvalid(
                f"repository name {name!r}: component {component!r} must be lowercase letters and digits, "
                "separated by '.', '_', '__' or dashes, and must start and end with a letter or digit"
            )
    return name


def validate_tag(tag: str) -> str:
    """Return ``tag`` unchanged if valid, else raise :class:`TagInvalid`."""
    if not isinstance(tag, str) or not _TAG.fullmatch(tag):
        raise TagInvalid(
            f"invalid tag {tag!r}: 1-128 characters of [A-Za-z0-9_.-], not starting with '.' or '-'"
        )
    return tag


def is_digest_reference(reference: str) -> bool:
    """A manifest reference is a digest when it contains ':' (tags cannot)."""
    return ":" in reference
