"""Writing a real image's layer sizes into a scenario's ``image`` section.

The scenario keeps every other key as it was; ``image.layers`` becomes the list of layer sizes in
bytes and ``image.from`` is dropped (a scenario gives layers or a source, not both). The result
is validated as a whole scenario before the file is replaced, so a failed import leaves the file
untouched; the file keeps its permissions. The file must exist: a mistyped name is an error, not
a new scenario. Comments in the YAML are not preserved.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import Any

import yaml

from regsim.registry.errors import ConfigError


def write_scenario_image(path: str | Path, sizes: list[int], *, repository: str | None = None,
                         tag: str | None = None) -> dict[str, Any]:
    """Set the scenario file's ``image.layers`` to ``sizes`` (and repository/tag if given);
    returns the new ``image`` section. ConfigError if the file is missing or would become invalid."""
    from . import ScenarioError, scenario_from_dict

    path = Path(path)
    if not sizes:
        raise ConfigError("the image has no layers to write into a scenario")
    if not path.is_file():
        raise ConfigError(f"scenario {path}: no such file (to start a new scenario, write a file with "
                          f"`name: {path.stem}` first)")
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"scenario {path} is not valid YAML: {e}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"scenario {path} must be a mapping")
    mode = stat.S_IMODE(path.stat().st_mode)
    image = dict(doc.get("image") or {})
    image.pop("from", None)
    image["layers"] = [int(s) for s in sizes]
    if repository is not None:
        image["repository"] = repository
    if tag is not None:
        image["tag"] = tag
    doc["image"] = image
    try:
        scenario_from_dict(doc, str(path), base_dir=path.resolve().parent)
    except ScenarioError as e:
        raise ConfigError(f"scenario {path} would not be valid after the import: {e}") from None
    fd, tmp = tempfile.mkstemp(dir=path.resolve().parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)  # mkstemp makes 0600; the scenario keeps the mode it had
        with os.fdopen(fd, "w") as f:
            yaml.safe_dump(doc, f, sort_keys=False)
        os.replace(tmp, path.resolve())  # through a symlink, not over it
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return image
