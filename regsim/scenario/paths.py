"""Dotted key paths into the scenario schema: ``registry.storage.codec``, ``failures.events.0.at``.

``--set`` overrides and ``sweep`` keys name settings by path. This module answers, from the
models alone and before any file is validated, whether a path exists, what type it leads to (to
validate a value on its own) and which keys were possible where it went wrong; and it sets a
path in a raw scenario dictionary. List items are addressed by index (``events.0`` or
``events[0]``); through ``workload`` a key exists if any workload kind has it.
"""

from __future__ import annotations

import copy
import difflib
import re
import types
from collections.abc import Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter
from pydantic.fields import FieldInfo

from regsim.errors import UserError

_INDEX = re.compile(r"\[(\d+)\]")


class PathError(UserError, ValueError):
    """A key path that the schema does not have, or that cannot be set in the data given."""


def split_path(path: str) -> list[str]:
    """``"failures.events[0].at"`` -> ``["failures", "events", "0", "at"]``."""
    parts = _INDEX.sub(r".\1", path.strip()).split(".")
    if not path.strip() or any(p == "" for p in parts):
        raise PathError(f"expected a dotted key path such as 'registry.storage.codec', got {path!r}")
    return parts


def show_path(parts: Sequence[str | int]) -> str:
    """``["failures", "events", 0, "at"]`` -> ``"failures.events[0].at"``."""
    out = ""
    for part in parts:
        if isinstance(part, int) or (isinstance(part, str) and part.isdigit() and out):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _field_type(field: FieldInfo) -> Any:
    """A field's annotation with its constraints and validators, fit for a TypeAdapter."""
    extra = list(field.metadata)
    if field.discriminator is not None:
        extra.append(field.discriminator)
    return Annotated[tuple([field.annotation, *extra])] if extra else field.annotation  # type: ignore[return-value]


def _alternatives(annotation: Any) -> list[Any]:
    """The concrete types an annotation may hold: through Annotated, Optional and unions."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _alternatives(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [t for arg in get_args(annotation) for t in _alternatives(arg) if t is not type(None)]
    return [annotation]


def _model(kind: Any) -> type[BaseModel] | None:
    return kind if isinstance(kind, type) and issubclass(kind, BaseModel) else None


def _fields(model: type[BaseModel]) -> dict[str, FieldInfo]:
    return {field.alias or name: field for name, field in model.model_fields.items()}


def _step(annotation: Any, part: str) -> list[Any]:
    found = []
    for kind in _alternatives(annotation):
        model = _model(kind)
        if model is not None:
            field = _fields(model).get(part)
            if field is not None:
                found.append(_field_type(field))
        elif get_origin(kind) in (list, tuple) and part.isdigit():
            found.append(get_args(kind)[0])
        elif get_origin(kind) is dict:
            found.append(get_args(kind)[1])
    return found


def keys_at(root: Any, parts: Sequence[str], data: Any = None) -> list[str]:
    """The keys the schema allows at ``parts`` (empty when it holds no mapping of known keys).

    Where several sections may stand (the workload kinds), ``data`` -- the raw mapping found
    there -- picks the one its ``kind`` names.
    """
    annotations = [root]
    for part in parts:
        annotations = [a for ann in annotations for a in _step(ann, str(part))]
    models = [m for ann in annotations for m in map(_model, _alternatives(ann)) if m is not None]
    if len(models) > 1 and isinstance(data, dict) and "kind" in data:
        models = [m for m in models if "kind" in m.model_fields and m.model_fields["kind"].default == data["kind"]]
    keys: list[str] = []
    for model in models:
        keys += [k for k in _fields(model) if k not in keys]
    return keys


def suggest(word: str, keys: Sequence[str]) -> str:
    """``" (did you mean 'nodes'?)"`` when known keys are close to ``word``, else ``""``."""
    close = difflib.get_close_matches(word, [k for k in keys if k != word], n=2, cutoff=0.65)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


def resolve(root: Any, parts: Sequence[str]) -> list[Any]:
    """The annotations ``parts`` leads to from ``root``; :class:`PathError` if it leads nowhere."""
    annotations = [root]
    for i, part in enumerate(parts):
        following = [a for ann in annotations for a in _step(ann, part)]
        if not following:
            where = show_path(parts[:i]) or "the top level"
            keys = keys_at(root, parts[:i])
            if keys:
                raise PathError(f"{where} has no key {part!r}{suggest(part, keys)}; expected one of: {', '.join(keys)}")
            raise PathError(f"{where} holds a single value, not keys (cannot go on to {part!r})")
        annotations = following
    return annotations


def validate_value(root: Any, parts: Sequence[str], value: Any, context: dict[str, Any] | None = None) -> Any:
    """``value`` validated as the setting at ``parts`` would be, on its own.

    Cross-field rules (a codec against the number of storage nodes) are not checked here: they
    depend on the rest of the scenario. Raises the last alternative's ``ValidationError``.
    """
    error: Exception | None = None
    for annotation in resolve(root, parts):
        try:
            return TypeAdapter(annotation).validate_python(value, context=context)
        except ValueError as exc:
            error = exc
    assert error is not None
    raise error


def _compact_fields(root: Any, parts: Sequence[str]) -> list[str]:
    """The fields a single scalar stands for at ``parts`` (``nic: 10Gbps`` -> up, down), if any."""
    try:
        annotations = resolve(root, parts)
    except PathError:
        return []
    for ann in annotations:
        for kind in _alternatives(ann):
            model = _model(kind)
            if model is not None and getattr(model, "compact", False):
                return list(_fields(model))
    return []


def set_path(data: dict[str, Any], parts: Sequence[str], value: Any, root: Any = None) -> dict[str, Any]:
    """A copy of the raw scenario ``data`` with ``value`` at ``parts``, creating mappings on the way.

    Given the ``root`` model, a compact scalar on the way (``nic: 10Gbps``) is spelled out
    (``{up: 10Gbps, down: 10Gbps}``) so that one of its fields can be set.
    """
    out = copy.deepcopy(data)
    node: Any = out
    for i, part in enumerate(parts):
        if i and not isinstance(node, (dict, list)) and root is not None:
            spelled = {name: node for name in _compact_fields(root, parts[:i])}
            if spelled:
                parent = _get(out, parts[: i - 1])
                parent[int(parts[i - 1]) if isinstance(parent, list) else parts[i - 1]] = node = spelled
        last = i == len(parts) - 1
        if isinstance(node, list):
            index = int(part) if part.isdigit() else -1
            if not 0 <= index < len(node):
                raise PathError(f"{show_path(parts[:i])} has {len(node)} items; there is no item {part!r}")
            if last:
                node[index] = value
            else:
                node = node[index]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                if node.get(part) is None:
                    node[part] = [] if parts[i + 1].isdigit() else {}
                node = node[part]
        else:
            where = show_path(parts[:i])
            raise PathError(f"{where} is {node!r}, not a mapping: set {where} itself instead")
    return out


def _get(data: Any, parts: Sequence[str]) -> Any:
    for part in parts:
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data
