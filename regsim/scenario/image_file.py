"""Writing a real image's layer sizes into a scenario's ``image`` section, leaving the rest of the file alone.

``regsim image import DIR --scenario F`` owns a few keys of the file: ``image.layers`` (set to
the image's layer sizes in bytes), ``image.from`` (dropped: a scenario gives layers or a source,
not both) and, when asked, ``image.repository`` and ``image.tag``. Everything else is the user's.
The file is read in ruamel.yaml's round-trip mode, and only the lines of its top-level ``image``
section are rewritten (by the same round trip, so comments, quoting and flow or block style inside
the section stay too); every other line is kept byte for byte -- ruamel's emitter re-indents block
scalars such as a folded ``description: >``, which a whole-file dump would change. A comment
attached to ``from`` (or to an item of a layer list that gets shorter) moves to the new ``layers``
rather than being lost. A file whose top level is one flow mapping is dumped whole, still in
round-trip mode.

The edited text is read back with the scenario loader and validated as a whole scenario before
the file is replaced, so a failed import leaves the file untouched; the file is replaced
atomically (a temporary file in the same folder, then a rename) and keeps its permissions. The
file must exist: a mistyped name is an error, not a new scenario.
"""

from __future__ import annotations

import io
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.tokens import CommentToken
from ruamel.yaml.util import load_yaml_guess_indent

from regsim.registry.errors import ConfigError


def _round_trip(text: str) -> tuple[Any, YAML]:
    """The document in ``text`` for round-trip editing, and a YAML that writes it back with the
    file's own indentation (guessed from its block mappings and sequences)."""
    _, indent, block_seq_indent = load_yaml_guess_indent(text)
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap the user's long lines
    indent = indent or 2
    offset = block_seq_indent or 0
    yaml.indent(mapping=indent, sequence=max(indent, offset + 2), offset=offset)
    return yaml.load(text), yaml


def _layers_seq(sizes: list[int], old: Any) -> CommentedSeq:
    """``sizes`` as a sequence in ``old``'s style (a new list is written on one line, ``[1, 2]``),
    keeping every comment of ``old``: an item's comment stays on the item at its index, and the
    lines that followed the old list (held by its last item) follow the new list's last item, with
    the comments of items past the new end."""
    seq = CommentedSeq(int(s) for s in sizes)
    seq.fa.set_flow_style()
    if not isinstance(old, CommentedSeq):
        return seq
    if not old.fa.flow_style():
        seq.fa.set_block_style()
    if old.ca.comment:
        seq.ca.comment = old.ca.comment
    last_old, last = len(old) - 1, len(seq) - 1
    moved: list[str] = []  # comment text that goes after the new last item
    for index, entry in sorted(old.ca.items.items()):
        token = entry[0] if entry else None
        if token is None or not isinstance(getattr(token, "value", None), str):
            if index <= last:
                seq.ca.items[index] = entry
            continue
        own, rest = token.value, ""
        if index == last_old and last_old != last:  # its following lines belong after the whole list
            own, _, rest = token.value.partition("\n")
            own += "\n"
        if index <= last:
            token.value = own
            seq.ca.items[index] = entry
        else:  # an end-of-line comment of a dropped item: on its own line, in its column
            moved.append(" " * (getattr(token, "column", 0) or 0) + own)
        if rest:
            moved.append(rest)
    if moved:
        text = "".join(moved)
        entry = seq.ca.items.get(last)
        if entry and entry[0] is not None:
            entry[0].value += text
        else:
            seq.ca.items[last] = [CommentToken("\n" + text, CommentMark(0), None), None, None, None]
    return seq


def _edit_image(doc: CommentedMap, sizes: list[int], repository: str | None, tag: str | None) -> CommentedMap:
    """Set ``doc``'s image layers (and repository, tag) in place; the edited ``image`` mapping."""
    image = doc.get("image")
    if not isinstance(image, CommentedMap):
        image = CommentedMap()
        doc["image"] = image
    keys = list(image)
    new = _layers_seq(sizes, image.get("layers"))
    moved = image.ca.items.pop("from", None)  # the comment on `from` goes with its replacement
    if "from" in image:
        position = keys.index("from")
        del image["from"]
        if "layers" in image:
            image["layers"] = new
        else:
            image.insert(position, "layers", new)
    else:
        image["layers"] = new
    if moved is not None and "layers" not in image.ca.items:
        image.ca.items["layers"] = moved
    if repository is not None:
        image["repository"] = repository
    if tag is not None:
        image["tag"] = tag
    return image


def _dump(doc: Any, yaml: YAML) -> str:
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def _edited_text(text: str, sizes: list[int], repository: str | None, tag: str | None) -> str:
    """``text`` with its image section edited: only the lines of the top-level ``image`` key change
    (or an ``image`` section is appended), unless the top level is a flow mapping."""
    doc, yaml = _round_trip(text)
    if doc is None:
        doc = CommentedMap()
    if not isinstance(doc, CommentedMap):
        raise ConfigError("must be a mapping")
    keys = list(doc)
    if doc.fa.flow_style() or not text.strip() or any(doc.lc.key(k)[1] != 0 for k in keys):
        _edit_image(doc, sizes, repository, tag)  # not a plain block mapping: round-trip the whole file
        return _dump(doc, yaml)
    lines = text.splitlines(keepends=True)
    if "image" not in doc:  # append a new section after the last line
        section = CommentedMap()
        _edit_image(section, sizes, repository, tag)
        tail = "" if text.endswith("\n") else "\n"
        return text + tail + _dump(section, yaml)
    index = keys.index("image")
    first = doc.lc.key("image")[0]
    end = doc.lc.key(keys[index + 1])[0] if index + 1 < len(keys) else len(lines)
    part, part_yaml = _round_trip("".join(lines[first:end]))
    _edit_image(part, sizes, repository, tag)
    new = _dump(part, part_yaml)
    if end == len(lines) and not text.endswith("\n"):
        new = new.rstrip("\n")
    return "".join(lines[:first]) + new + "".join(lines[end:])


def write_scenario_image(path: str | Path, sizes: list[int], *, repository: str | None = None,
                         tag: str | None = None) -> dict[str, Any]:
    """Set the scenario file's ``image.layers`` to ``sizes`` (and repository/tag if given), keeping
    the rest of the file as written; returns the new ``image`` section as plain data.
    ConfigError if the file is missing or would become invalid."""
    from . import ScenarioError, parse_yaml, scenario_from_dict

    path = Path(path)
    if not sizes:
        raise ConfigError("the image has no layers to write into a scenario")
    if not path.is_file():
        raise ConfigError(f"scenario {path}: no such file (to start a new scenario, write a file with "
                          f"`name: {path.stem}` first)")
    mode = stat.S_IMODE(path.stat().st_mode)
    try:
        new_text = _edited_text(path.read_text(), sizes, repository, tag)
    except YAMLError as e:
        raise ConfigError(f"scenario {path} is not valid YAML: {e}") from None
    except ConfigError as e:
        raise ConfigError(f"scenario {path} {e}") from None
    try:  # validate what will be on disk, read as `regsim run` reads it
        data = parse_yaml(new_text, str(path))
        scenario_from_dict(data, str(path), base_dir=path.resolve().parent)
    except ScenarioError as e:
        raise ConfigError(f"scenario {path} would not be valid after the import: {e}") from None
    fd, tmp = tempfile.mkstemp(dir=path.resolve().parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)  # mkstemp makes 0600; the scenario keeps the mode it had
        with os.fdopen(fd, "w") as f:
            f.write(new_text)
        os.replace(tmp, path.resolve())  # through a symlink, not over it
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    image = data.get("image") if isinstance(data, dict) else None
    return dict(image) if isinstance(image, dict) else {}
