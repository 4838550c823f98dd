"""Policies: who may do what on which resource, as the token service consults them.

A policy answers "which actions may ``subject`` take on the resource of each scope?"; the token
service grants the intersection with what was asked. Two sources:

- :class:`StaticPolicy`, from a mapping such as ::

      {"alice":     {"repository:team-a/*": "pull,push"},
       "*":         {"library/*": ["pull"]},                 # every authenticated user
       "anonymous": {"public/*": "pull"},                    # requests without credentials
       "admin":     {"registry:catalog": "*"}}

  where a resource without ``type:`` is a repository pattern. Patterns are shell-style globs
  (``*`` spans ``/``); write ``repository:`` before a pattern that has a ``host:port``.
- :class:`DatabasePolicy`, the permissions table of the auth :class:`~.database.Database`.

:class:`UnionPolicy` allows what any of its members allows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from .audit import ANONYMOUS_NAME
from .database import Database
from .scopes import Scope, ScopeInvalid, pattern_matches

EVERYONE = "*"
_TYPE = re.compile(r"[a-z0-9]+")
_ACTION = re.compile(r"[a-z]+|\*")


@runtime_checkable
class Policy(Protocol):
    def allowed(self, subject: str | None, scopes: Iterable[Scope]) -> dict[tuple, frozenset[str]]:
        """Allowed actions per requested resource (``Scope.resource``); ``subject`` None is anonymous."""
        ...


@dataclass(frozen=True, slots=True)
class Rule:
    subject: str
    resource_type: str
    pattern: str
    actions: frozenset[str]

    def covers(self, subject: str | None, scope: Scope) -> bool:
        if subject is None:
            subject_ok = self.subject == ANONYMOUS_NAME
        else:
            subject_ok = self.subject in (subject, EVERYONE)
        return subject_ok and self.resource_type == scope.type and pattern_matches(self.pattern, scope.name)


class StaticPolicy:
    """Rules held in memory; see the module docstring for the mapping form."""

    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        self.rules = list(rules)

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Mapping[str, str | Iterable[str]]]) -> StaticPolicy:
        rules = []
        for subject, grants in mapping.items():
            if not isinstance(grants, Mapping):
                raise ScopeInvalid(f"policy for {subject!r} must map resources to actions")
            for resource, actions in grants.items():
                rtype, sep, pattern = resource.partition(":")
                if not sep:
                    rtype, pattern = "repository", resource
                acts = frozenset(actions.split(",") if isinstance(actions, str) else actions)
                if not _TYPE.fullmatch(rtype) or not pattern or not acts \
                        or not all(isinstance(a, str) and _ACTION.fullmatch(a) for a in acts):
                    raise ScopeInvalid(f"policy rule {subject!r}: {resource!r} -> {actions!r} needs 'type:pattern' "
                                       "(type [a-z0-9]+) or a repository pattern, and actions of [a-z]+ or '*'")
                rules.append(Rule(subject, rtype, pattern, acts))
        return cls(rules)

    def allowed(self, subject: str | None, scopes: Iterable[Scope]) -> dict[tuple, frozenset[str]]:
        result: dict[tuple, frozenset[str]] = {}
        for scope in scopes:
            acts: set[str] = set()
            for rule in self.rules:
                if rule.covers(subject, scope):
                    acts |= rule.actions
            result[scope.resource] = frozenset(acts)
        return result


class DatabasePolicy:
    """The database's permissions; anonymous requests are allowed nothing."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def allowed(self, subject: str | None, scopes: Iterable[Scope]) -> dict[tuple, frozenset[str]]:
        scopes = list(scopes)
        if subject is None or not scopes:
            return {s.resource: frozenset() for s in scopes}
        return self.db.allowed(subject, scopes)


class UnionPolicy:
    """Allows what any member policy allows (e.g. database users plus anonymous pulls)."""

    def __init__(self, *policies: Policy) -> None:
        self.policies = policies

    def allowed(self, subject: str | None, scopes: Iterable[Scope]) -> dict[tuple, frozenset[str]]:
        scopes = list(scopes)
        result: dict[tuple, frozenset[str]] = {s.resource: frozenset() for s in scopes}
        for policy in self.policies:
            for resource, acts in policy.allowed(subject, scopes).items():
                result[resource] = result[resource] | acts
        return result
