"""Paths the command line is given or guesses: clear errors for them, and where the project is.

Verbs that write a file (``calibrate --out``, ``trace generate --out``) make its folder first and
report a path they cannot use as one line naming the path and why -- ``/etc/passwd is a file,
not a folder`` rather than ``FileExistsError``. Verbs whose defaults are project folders
(``list``: ``scenarios/``; ``check``: ``scenarios/ci/`` and ``results/baselines/``) find the
project the way git finds a repository: the current folder or the nearest parent holding
``scenarios/``, else the source checkout regsim runs from.
"""

from __future__ import annotations

import os
from pathlib import Path

import regsim
from regsim.errors import UserError

__all__ = ["find_project", "make_parent", "path_error", "project_candidates", "project_folder"]

#: the folder that marks a regsim project (a checkout, or a copy of its scenarios).
MARKER = "scenarios"
#: the source checkout this regsim runs from (an editable install), tried after the current folders.
CHECKOUT = Path(regsim.__file__).resolve().parent.parent


def _blocking_file(path: Path) -> Path | None:
    """The nearest existing ancestor of ``path`` (or ``path`` itself) that is not a folder."""
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            return None if candidate.is_dir() else candidate
    return None


def path_error(exc: OSError) -> str:
    """An OSError as one line naming the path and the reason: ``/etc/passwd/x: /etc/passwd is a file``."""
    reason = exc.strerror or str(exc)
    if exc.filename is None:
        return reason
    path = Path(os.fsdecode(exc.filename))
    blocker = _blocking_file(path) if isinstance(exc, (FileExistsError, NotADirectoryError)) else None
    if blocker is not None:
        return f"{path} is a file, not a folder" if blocker == path else f"{path}: {blocker} is a file, not a folder"
    if exc.filename2 is not None:
        return f"{path} -> {os.fsdecode(exc.filename2)}: {reason}"
    return f"{path}: {reason}"


def make_parent(path: Path, what: str) -> None:
    """Create the folder that will hold ``path`` (``what`` it is, for the message), or raise UserError."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = _blocking_file(path.parent)
        reason = f"{blocker} is a file, not a folder" if blocker is not None else (exc.strerror or str(exc))
        raise UserError(f"cannot write {what} {path}: {reason}") from None
    if path.is_dir():
        raise UserError(f"cannot write {what} {path}: it is a folder; give a file name")


def project_candidates(start: Path | None = None) -> list[Path]:
    """Where a project is looked for, nearest first: ``start`` (the current folder) and its
    parents, then the source checkout regsim was installed from (editable installs)."""
    here = (start or Path.cwd()).resolve()
    places = [here, *here.parents]
    if CHECKOUT not in places:
        places.append(CHECKOUT)
    return places


def find_project(start: Path | None = None) -> Path | None:
    """The nearest folder of :func:`project_candidates` that holds ``scenarios/``, or None."""
    for place in project_candidates(start):
        if (place / MARKER).is_dir():
            return place
    return None


def project_folder(*parts: str) -> Path:
    """``parts`` inside the project (:func:`find_project`); UserError saying where it looked if none."""
    project = find_project()
    if project is None:
        looked = project_candidates()
        raise UserError(f"no {MARKER}/ folder in {looked[0]}, its parents or regsim's checkout ({CHECKOUT}); "
                        "run it inside a project or name the folder (see --help)")
    return project.joinpath(*parts)
