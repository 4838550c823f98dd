"""What every scenario section shares: unknown keys rejected, defaults written in human units.

A section is a frozen pydantic model. Its defaults are written as a user would write them
(``nic: Link = "10Gbps"``) and validated like user input, so the code, the documentation and
the resolved scenario all speak the same units. Paths in a scenario are relative to the file
that names them: the loader passes the file's folder as ``base_dir`` in the validation context.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, PlainSerializer, ValidationInfo


class Section(BaseModel):
    """Base of every scenario model: strict about keys, immutable, defaults validated."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, populate_by_name=False)

    #: True for sections that also accept a single scalar (``nic: 10Gbps``) for all their fields.
    compact: ClassVar[bool] = False
    #: True for sections usually written as one value (``nic: 10Gbps``, ``rack_uplink: 4:1``).
    scalar_form: ClassVar[bool] = False


def base_dir(info: ValidationInfo | None) -> Path:
    """The folder relative paths are taken from: the scenario file's, else the working directory."""
    context = info.context if info is not None else None
    if isinstance(context, dict) and context.get("base_dir") is not None:
        return Path(context["base_dir"])
    return Path.cwd()


def _existing_file(value: Path, info: ValidationInfo) -> Path:
    path = value.expanduser()
    if not path.is_absolute():
        path = base_dir(info) / path
    path = path.resolve()
    if not path.exists():
        raise ValueError(f"expected an existing file, but {str(path)!r} does not exist")
    return path


def _existing_source(value: Path, info: ValidationInfo) -> Path:
    """An OCI image layout folder (one with an ``index.json``) or a manifest JSON file."""
    path = _existing_file(value, info)
    if path.is_dir() and not (path / "index.json").is_file():
        raise ValueError(f"expected an OCI image layout folder with an index.json, or a manifest JSON file; "
                         f"{str(path)!r} is a folder without index.json")
    return path


def _plain(value: Path) -> str:
    return str(value)


_AS_TEXT = PlainSerializer(_plain, return_type=str, when_used="json")
#: a file that must exist; relative to the scenario file; written back as an absolute path.
ExistingPath = Annotated[Path, AfterValidator(_existing_file), _AS_TEXT]
#: an OCI layout folder or a manifest file, as :data:`ExistingPath`.
ImageSource = Annotated[Path, AfterValidator(_existing_source), _AS_TEXT]


def expand_scalar(data: Any, fields: tuple[str, ...]) -> Any:
    """``"10Gbps"`` -> ``{"up": "10Gbps", "down": "10Gbps"}`` for a compact section's fields."""
    if isinstance(data, (str, int, float)) and not isinstance(data, bool):
        return {name: data for name in fields}
    return data


def collapse(data: dict[str, Any]) -> Any:
    """The inverse of :func:`expand_scalar` on serialised output: one value if all are equal."""
    values = list(data.values())
    if values and all(v == values[0] for v in values) and not isinstance(values[0], (dict, list)):
        return values[0]
    return data
