"""Scenario errors as people read them: ``FILE: KEY.PATH: what was expected (got VALUE)``.

Pydantic reports problems as (location, message, input) with its own vocabulary ("Input should
be a valid integer", union member names inside locations). :func:`problems_from_validation`
turns each into a :class:`Problem` naming the key as the user wrote it -- list items as
``events[2]``, discriminator tags dropped -- with the message phrased as what was expected and
the offending value quoted. :class:`ScenarioError` holds one or more of them, one line each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from regsim.errors import UserError

from .paths import keys_at, show_path, suggest
from .workloads import workload_kinds

_MAX_SHOWN = 80


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario: the key path (empty for the whole file) and what was expected."""

    key: str
    message: str

    def line(self, source: str) -> str:
        return f"{source}: {self.key}: {self.message}" if self.key else f"{source}: {self.message}"


class ScenarioError(UserError, ValueError):
    """A scenario that cannot be used, with every problem found; ``str()`` is one line per problem."""

    def __init__(self, source: object, problems: Sequence[Problem]) -> None:
        self.source = str(source)
        self.problems = tuple(problems)
        super().__init__("\n".join(p.line(self.source) for p in self.problems))


def show_value(value: Any) -> str:
    """A short rendering of a user's value for an error message."""
    text = repr(value) if isinstance(value, str) else _yamlish(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _yamlish(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yamlish(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yamlish(v) for v in value) + "]"
    return repr(value) if isinstance(value, str) else str(value)


def _user_loc(loc: Sequence[str | int], raw: Any, kind: str) -> list[str | int]:
    """``loc`` without the parts the user never wrote: discriminator tags, union member names,
    the fields a compact value (``nic: 10Gbps``) stood for. A missing key is kept, of course."""
    out: list[str | int] = []
    node = raw
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            out.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
        elif i == len(loc) - 1 and kind == "missing":
            out.append(part)
    return out


_EXPECTED = {
    "missing": "required key is missing",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "string_type": "expected a string",
    "list_type": "expected a list",
    "dict_type": "expected a mapping of keys to values",
    "model_type": "expected a mapping of keys to values",
    "model_attributes_type": "expected a mapping of keys to values",
    "finite_number": "expected a finite number",
}


def _get(data: Any, parts: Sequence[str | int]) -> Any:
    for part in parts:
        data = data[part]
    return data


def _message(error: dict[str, Any], parts: list[str | int], root: Any, raw: Any) -> tuple[list[str | int], str]:
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    try:
        value = _get(raw, parts) if parts and kind != "extra_forbidden" else value  # as the user wrote it
    except (KeyError, IndexError, TypeError):
        pass
    if kind == "cross_field":
        extra: list[str | int] = [int(p) if p.isdigit() else p for p in str(ctx["key"]).split(".")]
        return parts + extra, str(ctx["message"])
    if kind == "extra_forbidden":
        parent = [str(p) for p in parts[:-1]]
        keys = keys_at(root, parent, _get(raw, parts[:-1])) if root is not None else []
        name = str(parts[-1]) if parts else ""
        hint = f"{suggest(name, keys)}; expected one of: {', '.join(keys)}" if keys else ""
        return parts, f"unknown key{hint}"
    if kind == "unknown_kind":
        known = workload_kinds()
        kinds = ", ".join(repr(k) for k in known[:-1]) + f" or {known[-1]!r}"
        if isinstance(value, dict) and "kind" in value:
            return parts + ["kind"], f"expected kind {kinds} (got {show_value(value['kind'])})"
        return parts, f"expected a mapping with a kind of {kinds} (got {show_value(value)})"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = next(iter(ctx.values()))
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        words = {"greater_than_equal": "at least", "greater_than": "more than",
                 "less_than_equal": "at most", "less_than": "less than"}[kind]
        return parts, f"expected {words} {bound} (got {show_value(value)})"
    if kind in ("too_short", "too_long"):
        text = (f"expected at least {ctx.get('min_length')} item(s)" if kind == "too_short"
                else f"expected at most {ctx.get('max_length')} item(s)")
    elif kind in _EXPECTED:
        text = _EXPECTED[kind]
    else:
        text = str(error["msg"])
        for prefix in ("Value error, ", "Assertion failed, "):
            if text.startswith(prefix):
                text = text[len(prefix):]
        if text.startswith("Input should be "):
            text = "expected " + text[len("Input should be "):]
    if kind != "missing" and show_value(value) not in text and repr(value) not in text:
        text += f" (got {show_value(value)})"
    return parts, text


def problems_from_validation(error: ValidationError, raw: Any, *, root: Any = None,
                             prefix: Sequence[str | int] = ()) -> list[Problem]:
    """One :class:`Problem` per pydantic error; ``raw`` is the data that was validated.

    ``root`` is the model validated (for the list of known keys under an unknown one); ``prefix``
    is prepended to every key (``sweep.cluster.nodes`` when a lone value was validated).
    """
    problems: list[Problem] = []
    for item in error.errors(include_url=False):
        parts = _user_loc(item["loc"], raw, item["type"])
        parts, message = _message(item, parts, root, raw)
        problem = Problem(show_path([*prefix, *parts]), message)
        if problem not in problems:
            problems.append(problem)
    return problems
