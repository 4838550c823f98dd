"""Access scopes in the grammar of the Docker registry token authentication spec.

A client asks for access as space-separated resource scopes::

    scope          = resourcescope *(" " resourcescope)
    resourcescope  = resourcetype ":" resourcename ":" action *("," action)
    resourcetype   = value ["(" value ")"]          ; value = [a-z0-9]+, e.g. "repository(plugin)"
    resourcename   = [hostname "/"] component *("/" component)
    hostname       = hostcomponent *("." hostcomponent) [":" port]
    action         = [a-z]+ | "*"

e.g. ``repository:team-a/app:pull,push`` or ``registry:catalog:*``. A token carries the same
information as ``access`` claim entries, ``{"type", "name", "actions"}`` (plus ``"class"`` when
set). A grant is the intersection of what was asked and what a policy allows; an allowed ``*``
covers every action, while a requested ``*`` is granted only where ``*`` itself is allowed.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..errors import RegistryError
from ..names import MAX_NAME_LENGTH

PULL, PUSH, DELETE, ALL = "pull", "push", "delete", "*"

_VALUE = re.compile(r"[a-z0-9]+")
_TYPE = re.compile(r"([a-z0-9]+)(?:\(([a-z0-9]+)\))?")
_HOST_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOSTNAME = rf"{_HOST_COMPONENT}(?:\.{_HOST_COMPONENT})*(?::[0-9]+)?"
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_NAME = re.compile(rf"(?:{_HOSTNAME}/)?{_COMPONENT}(?:/{_COMPONENT})*")
_ACTION = re.compile(r"[a-z]+|\*")


class ScopeInvalid(RegistryError):
    """A scope string or an access entry does not follow the token spec's grammar."""

    code, status = "UNSUPPORTED", 400


@dataclass(frozen=True, slots=True)
class Scope:
    """Some actions on one resource: ``repository:team-a/app:pull,push``.

    ``cls`` is the optional resource class of ``repository(plugin):...``; scopes on the same
    type, class and name describe the same resource.
    """

    type: str
    name: str
    actions: frozenset[str]
    cls: str | None = None

    @classmethod
    def parse(cls, text: str) -> Scope:
        """Parse one resource scope, raising :class:`ScopeInvalid` with the rule it broke."""
        if not isinstance(text, str):
            raise ScopeInvalid(f"scope must be a string, got {type(text).__name__}")
        first, last = text.find(":"), text.rfind(":")
        if first < 0 or first == last:
            raise ScopeInvalid(f"scope {text!r} must be 'type:name:actions'")
        rtype, name, actions = text[:first], text[first + 1 : last], text[last + 1 :]
        m = _TYPE.fullmatch(rtype)
        if not m:
            raise ScopeInvalid(f"scope {text!r}: resource type {rtype!r} must be [a-z0-9]+ with an optional (class)")
        check_name(name, where=f"scope {text!r}")
        acts = actions.split(",")
        for a in acts:
            if not _ACTION.fullmatch(a):
                raise ScopeInvalid(f"scope {text!r}: action {a!r} must be lowercase letters or '*'")
        return Scope(m.group(1), name, frozenset(acts), m.group(2))

    @classmethod
    def repository(cls, name: str, *actions: str) -> Scope:
        """A repository scope, e.g. ``Scope.repository("team-a/app", "pull")``."""
        return cls.parse(f"repository:{name}:{','.join(actions)}")

    @classmethod
    def from_claim(cls, entry: object) -> Scope:
        """Read one entry of a token's ``access`` claim."""
        if not isinstance(entry, Mapping):
            raise ScopeInvalid(f"access entry must be an object, got {type(entry).__name__}")
        rtype, name, actions = entry.get("type"), entry.get("name"), entry.get("actions")
        rclass = entry.get("class")
        if not isinstance(rtype, str) or not isinstance(name, str):
            raise ScopeInvalid(f"access entry {dict(entry)!r} needs string 'type' and 'name'")
        if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
            raise ScopeInvalid(f"access entry {dict(entry)!r} needs 'actions' as a list of strings")
        if rclass is not None and not isinstance(rclass, str):
            raise ScopeInvalid(f"access entry {dict(entry)!r}: 'class' must be a string")
        if not _VALUE.fullmatch(rtype) or (rclass is not None and not _VALUE.fullmatch(rclass)):
            raise ScopeInvalid(f"access entry type {rtype!r} and class {rclass!r} must be [a-z0-9]+")
        check_name(name, where="access entry")
        for a in actions:
            if not _ACTION.fullmatch(a):
                raise ScopeInvalid(f"access entry action {a!r} must be lowercase letters or '*'")
        return Scope(rtype, name, frozenset(actions), rclass)

    @property
    def resource(self) -> tuple[str, str | None, str]:
        """What the scope is about, without the actions: (type, class, name)."""
        return (self.type, self.cls, self.name)

    @property
    def type_label(self) -> str:
        return f"{self.type}({self.cls})" if self.cls else self.type

    def with_actions(self, actions: Iterable[str]) -> Scope:
        return Scope(self.type, self.name, frozenset(actions), self.cls)

    def to_claim(self) -> dict[str, object]:
        """The ``access`` claim entry for this scope (actions sorted, for stable tokens)."""
        claim: dict[str, object] = {"type": self.type, "name": self.name, "actions": sorted(self.actions)}
        if self.cls:
            claim["class"] = self.cls
        return claim

    def __str__(self) -> str:
        return f"{self.type_label}:{self.name}:{','.join(sorted(self.actions))}"


def check_name(name: str, *, where: str = "scope") -> str:
    """Return ``name`` if it is a valid resource name of the spec's grammar, else raise."""
    if not name:
        raise ScopeInvalid(f"{where}: resource name is empty")
    if len(name) > MAX_NAME_LENGTH:
        raise ScopeInvalid(f"{where}: resource name is {len(name)} characters; the limit is {MAX_NAME_LENGTH}")
    if not _NAME.fullmatch(name):
        raise ScopeInvalid(
            f"{where}: resource name {name!r} must be '/'-separated lowercase components "
            "(letters and digits joined by '.', '_', '__' or dashes), optionally after a hostname"
        )
    return name


def parse_scopes(texts: str | Iterable[str]) -> list[Scope]:
    """Parse one or more scope parameters; each may hold several space-separated scopes.

    Scopes on the same resource are merged (their actions united), keeping first-seen order, so
    ``repository:a:pull repository:a:push`` asks once for ``repository:a:pull,push``.
    """
    if isinstance(texts, str):
        texts = [texts]
    parsed = []
    for text in texts:
        if not isinstance(text, str):
            raise ScopeInvalid(f"scope must be a string, got {type(text).__name__}")
        parsed.extend(Scope.parse(part) for part in text.split(" ") if part)
    return merge_scopes(parsed)


def merge_scopes(scopes: Iterable[Scope]) -> list[Scope]:
    """One scope per resource, with the union of the actions asked for it, in first-seen order."""
    merged: dict[tuple[str, str | None, str], Scope] = {}
    for scope in scopes:
        seen = merged.get(scope.resource)
        merged[scope.resource] = scope if seen is None else seen.with_actions(seen.actions | scope.actions)
    return list(merged.values())


def granted_actions(requested: frozenset[str], allowed: frozenset[str] | set[str]) -> frozenset[str]:
    """The part of ``requested`` that ``allowed`` covers; an allowed ``*`` covers everything."""
    if ALL in allowed:
        return requested
    return requested & allowed  # type: ignore[operator]


def format_scopes(scopes: Iterable[Scope]) -> str:
    """Space-separated scope string, as used in a ``WWW-Authenticate`` challenge."""
    return " ".join(str(s) for s in scopes)


def pattern_matches(pattern: str, name: str) -> bool:
    """True if a policy pattern covers a resource name: shell-style, ``*`` spans '/' too, so
    ``team-a/*`` covers ``team-a/app`` and ``team-a/x/y``; a pattern without wildcards is exact."""
    return pattern == name or fnmatchcase(name, pattern)


def allowed_by(rules: Iterable[tuple[str, Iterable[str]]], name: str) -> frozenset[str]:
    """Union of the actions of every ``(pattern, actions)`` rule whose pattern covers ``name``."""
    allowed: set[str] = set()
    for pattern, actions in rules:
        if pattern_matches(pattern, name):
            allowed.update(actions)
    return frozenset(allowed)
