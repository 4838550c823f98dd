"""Reading scenarios: YAML files, ``--set`` overrides, clear errors, and the resolved form.

    scenario = load_scenario("scenarios/rollout.yaml", ["cluster.nodes=1000", "registry.storage.codec=rs(4,2)"])
    Path("results/.../scenario.yaml").write_text(dump_yaml(scenario))

Every failure is a :class:`~.errors.ScenarioError` whose lines read ``FILE: KEY.PATH: what was
expected (got VALUE)``: YAML syntax errors (with line and column), an empty file, unknown keys
(with the keys that would do), wrong types, bad units, inconsistent settings, settings the
scenario's model would ignore or refuse (:mod:`.simulated`), sweep keys that do not exist and
sweep values that do not validate, and ``--set`` paths that are not in the schema.

YAML is read as YAML 1.1 without its surprises for scenario files: ``4:1`` stays the string
``"4:1"`` (not the base-60 integer 241), ``010`` stays a string (not octal 8), ``1e3`` is a
number, and a key given twice in one mapping is an error rather than silently the last one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .errors import Problem, ScenarioError, problems_from_validation, show_value
from .paths import PathError, keys_at, resolve, set_path, show_path, split_path, validate_value
from .schema import Scenario
from .simulated import model_problems

#: the most variants one sweep may expand to: beyond it, a typo is likelier than intent.
MAX_VARIANTS = 10_000
_INT, _FLOAT = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_EXP_FLOAT = re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")


class _Loader(yaml.SafeLoader):
    """Safe YAML without base-60 or leading-zero octal numbers, with ``1e3`` floats, no duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:
                continue  # unhashable: the base class reports it
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} appears twice in one mapping", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _INT, re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"), list("-+0123456789"))
_Loader.add_implicit_resolver(
    _FLOAT, re.compile(r"""^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


class _Dumper(yaml.SafeDumper):
    """Quotes every string that either YAML 1.1 or :class:`_Loader` would read as a number."""

    def represent_list(self, data: Any) -> yaml.Node:
        flow = all(not isinstance(item, (dict, list)) for item in data)
        return self.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_implicit_resolver(_FLOAT, _EXP_FLOAT, list("-+0123456789"))
_Dumper.add_representer(list, _Dumper.represent_list)


def parse_yaml(text: str, source: str = "<scenario>") -> Any:
    """The data in ``text``; a :class:`ScenarioError` with line and column for a syntax error."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 -- _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        what = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise ScenarioError(source, [Problem("", f"{where}invalid YAML: {what}")]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(source, [Problem("", f"invalid YAML: {exc}")]) from None


def parse_override(text: str, source: str = "<scenario>") -> tuple[list[str], Any]:
    """``"cluster.nodes=1000"`` -> (``["cluster", "nodes"]``, ``1000``); the value is read as YAML.

    ``sweep.<dotted.key>=[...]`` sets one whole sweep entry.
    """
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ScenarioError(source, [Problem("", f"--set {text!r}: expected KEY=VALUE, e.g. cluster.nodes=1000")])
    try:
        parts = split_path(key)
        if parts[0] == "sweep" and len(parts) > 1:
            parts = ["sweep", ".".join(parts[1:])]
        else:
            resolve(Scenario, parts)
    except PathError as exc:
        raise ScenarioError(source, [Problem(key.strip(), f"cannot --set {key.strip()}: {exc}")]) from None
    return parts, parse_yaml(value, f"{source}: --set {key.strip()}")


def apply_overrides(data: Mapping[str, Any], overrides: Iterable[str], source: str = "<scenario>") -> dict[str, Any]:
    """A copy of raw scenario ``data`` with each ``dotted.key=value`` override applied in turn
    (one override may be given as a plain string)."""
    out = dict(data)
    for text in [overrides] if isinstance(overrides, str) else overrides:
        parts, value = parse_override(text, source)
        try:
            out = set_path(out, parts, value, root=Scenario)
        except PathError as exc:
            raise ScenarioError(source, [Problem(show_path(parts), f"cannot --set: {exc}")]) from None
    return out


def _kind_mismatch(data: Any, parts: list[str]) -> str | None:
    """Why ``parts`` cannot be set in ``data`` although the schema has it (a key of another workload kind)."""
    node = data
    for i, part in enumerate(parts[:-1]):
        node = node.get(part) if isinstance(node, Mapping) else None
        if isinstance(node, Mapping):
            allowed = keys_at(Scenario, parts[: i + 1], node)
            if parts[i + 1] not in allowed:
                where = show_path(parts[: i + 1])
                return f"{where} of kind {node.get('kind')!r} has no key {parts[i + 1]!r}; expected one of: " + \
                    ", ".join(allowed)
    return None


def check_sweep(sweep: Any, context: dict[str, Any] | None = None, data: Any = None) -> list[Problem]:
    """Problems with a raw ``sweep`` section: keys not in the schema, values that do not validate.

    Each value is validated on its own, as the setting it sweeps; rules that tie settings
    together are checked per variant when the sweep is expanded. Given the scenario's ``data``
    (resolved, so that defaults count), a key of another workload kind is a problem too.
    """
    if not isinstance(sweep, Mapping):
        return []
    problems: list[Problem] = []
    for key, values in sweep.items():
        if not isinstance(key, str) or not isinstance(values, list):
            continue  # the model reports the shape
        where = f"sweep.{key}"
        try:
            parts = split_path(key)
            resolve(Scenario, parts)
            mismatch = _kind_mismatch(data, parts)
            if mismatch:
                raise PathError(mismatch)
        except PathError as exc:
            problems.append(Problem(where, f"not a scenario key: {exc}"))
            continue
        if parts[0] in ("sweep", "name") or parts == ["workload", "kind"]:
            why = ("each workload kind has its own keys: sweep `workload` over whole workload mappings, or write "
                   "one scenario per kind") if parts[0] == "workload" else "it is not a setting of the experiment"
            problems.append(Problem(where, f"{show_path(parts)} cannot be swept: {why}"))
            continue
        for i, value in enumerate(values):
            try:
                validate_value(Scenario, parts, value, context)
            except ValidationError as exc:
                for p in problems_from_validation(exc, value):
                    inner = f"{p.key}: {p.message}" if p.key else p.message
                    problems.append(Problem(where, f"value {i + 1} ({show_value(value)}) is invalid: {inner}"))
    sizes = [len(v) for v in sweep.values() if isinstance(v, list)]
    if sizes and math.prod(sizes) > MAX_VARIANTS:
        problems.append(Problem("sweep", f"expands to {math.prod(sizes)} variants; expected at most {MAX_VARIANTS}"))
    return problems


def scenario_from_dict(data: Any, source: str = "<scenario>", base_dir: str | Path | None = None) -> Scenario:
    """Validate raw scenario data (as read from YAML); relative paths are taken from ``base_dir``."""
    if data is None:
        raise ScenarioError(source, [Problem("", "the scenario is empty; expected a mapping with at least a name")])
    if not isinstance(data, Mapping):
        raise ScenarioError(source, [Problem("", f"expected a mapping of scenario keys (name, cluster, registry, "
                                                 f"...) at the top level (got {show_value(data)})")])
    context = {"base_dir": Path(base_dir) if base_dir is not None else Path.cwd()}
    problems: list[Problem] = []
    scenario = None
    try:
        scenario = Scenario.model_validate(data, context=context)
    except ValidationError as exc:
        problems += problems_from_validation(exc, data, root=Scenario)
    if data.get("sweep"):
        problems += check_sweep(data["sweep"], context, resolved(scenario) if scenario is not None else data)
    if scenario is not None and not problems:
        problems += model_problems(scenario, swept=scenario.sweep)
    if problems:
        raise ScenarioError(source, problems)
    assert scenario is not None
    return scenario


def load_scenario(path: str | Path, overrides: Iterable[str] = ()) -> Scenario:
    """The scenario in the YAML file at ``path``, with ``dotted.key=value`` overrides applied."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ScenarioError(source, [Problem("", f"cannot read the scenario: {reason}")]) from None
    data = parse_yaml(text, source)
    if data is None:
        raise ScenarioError(source, [Problem("", "the file is empty; expected a mapping with at least a name")])
    if isinstance(data, Mapping):
        data = apply_overrides(data, overrides, source)
    return scenario_from_dict(data, source, base_dir=Path(path).parent)


def resolved(scenario: Scenario) -> dict[str, Any]:
    """The scenario with every default filled in, in human units; it loads back to an equal scenario.

    Paths are absolute, so the result can be saved anywhere (``scenario.yaml`` in a results folder).
    """
    return scenario.model_dump(mode="json", by_alias=True)


def dump_yaml(data: Scenario | Mapping[str, Any], path: str | Path | None = None) -> str:
    """YAML text for a scenario (resolved) or raw data; also written to ``path`` when given."""
    if isinstance(data, Scenario):
        data = resolved(data)
    text = yaml.dump(dict(data), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")
    return text
