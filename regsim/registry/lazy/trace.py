"""Start-up access traces: which bytes of an image a container reads as it starts, in what order.

A lazy-pulling runtime starts a container before its layers are downloaded, so how long start-up
takes depends on *what* the container reads first: each first touch of a file (or of a block)
becomes one or more Range fetches (see :mod:`.replay`). A :class:`StartupTrace` is that workload,
independent of any layer format: an ordered list of :class:`Read` records, each

- a **file read** (``path`` given): ``length`` bytes at ``offset`` of the file ``path`` of layer
  ``layer`` -- what a file-level lazy format (eStargz, SOCI, Nydus) serves; or
- a **raw read** (``path`` is ``None``): ``length`` bytes at ``offset`` of the layer's
  *uncompressed content* -- what a block-level format sees (overlaybd's trace-prefetch records
  are of this kind: an offset and a length within one layer);

with ``cpu_before_s``, the CPU time the container spends before issuing it (think time: a model
adds it between fetches, so a fast network cannot make start-up faster than its CPU part).
``layer`` is a layer index (0 = the bottom layer of the image manifest) or a layer digest
(``sha256:...``).

Traces come from :mod:`.synthetic` (an image's file list and a profile) or :mod:`.recorded` (a
recorded trace file); they are saved as JSON (:meth:`StartupTrace.to_json`, version
:data:`TRACE_VERSION`). Nothing here imports the simulator.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import LazyFormatError
from .tarlayer import clean_name

#: the version written in a trace's JSON (``"version"``); a reader refuses any other
TRACE_VERSION = 1
#: the ``"kind"`` field of a trace's JSON, so a stray JSON file is not taken for a trace
TRACE_KIND = "regsim.startup-trace"

_DIGEST = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")


class TraceError(LazyFormatError):
    """A start-up trace that is malformed (a negative offset, an unknown layer, a read past the end of
    its file, a JSON document of another version)."""

    code, status = "TRACE_INVALID", 400


@dataclass(frozen=True, slots=True)
class Read:
    """One read of a start-up trace: ``length`` bytes at ``offset`` of file ``path`` of layer
    ``layer`` (a raw read of the layer's uncompressed content when ``path`` is ``None``), after
    ``cpu_before_s`` seconds of CPU."""

    layer: int | str
    path: str | None
    offset: int
    length: int
    cpu_before_s: float = 0.0

    def __post_init__(self) -> None:
        if self.path is not None:
            object.__setattr__(self, "path", clean_name(self.path))

    @property
    def kind(self) -> str:
        """``"file"`` or ``"raw"``."""
        return "raw" if self.path is None else "file"

    @property
    def end(self) -> int:
        return self.offset + self.length

    def problem(self) -> str | None:
        """What is wrong with this read on its own (``None`` if nothing)."""
        if isinstance(self.layer, bool) or not isinstance(self.layer, (int, str)):
            return f"layer must be an index or a digest, got {self.layer!r}"
        if isinstance(self.layer, int) and self.layer < 0:
            return f"layer index must be >= 0, got {self.layer}"
        if isinstance(self.layer, str) and not _DIGEST.fullmatch(self.layer):
            return f"layer must be an index or a digest like sha256:<hex>, got {self.layer!r}"
        if self.path is not None and (not isinstance(self.path, str) or self.path == ""):
            return f"path must be a file name, got {self.path!r}"
        for name in ("offset", "length"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                return f"{name} must be an integer >= 0, got {v!r}"
        if self.length == 0:
            return "length must be > 0 (a read of nothing costs nothing)"
        c = self.cpu_before_s
        if isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(c) or c < 0:
            return f"cpu_before_s must be a finite number >= 0, got {c!r}"
        return None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"layer": self.layer}
        if self.path is not None:
            doc["path"] = self.path
        doc.update(offset=self.offset, length=self.length, cpu_s=self.cpu_before_s)
        return doc


@dataclass(frozen=True)
class StartupTrace:
    """An ordered list of :class:`Read` records, checked on creation; ``source`` says where it came
    from (a profile, a file), ``image`` which image it is for (a ref or a manifest digest, if known)."""

    reads: tuple[Read, ...]
    source: str = ""
    image: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "reads", tuple(self.reads))
        for i, r in enumerate(self.reads):
            if not isinstance(r, Read):
                raise TraceError(f"trace read {i} is a {type(r).__name__}, not a Read")
            why = r.problem()
            if why:
                raise TraceError(f"trace read {i}: {why}")

    def __len__(self) -> int:
        return len(self.reads)

    def __iter__(self):
        return iter(self.reads)

    # -- totals ------------------------------------------------------------------------------

    @property
    def bytes_read(self) -> int:
        """Bytes the reads ask for, counted once per read (a byte read twice counts twice)."""
        return sum(r.length for r in self.reads)

    @property
    def unique_bytes_read(self) -> int:
        """Distinct bytes read: overlapping reads of the same file (or layer) counted once."""
        spans: dict[tuple, list[tuple[int, int]]] = {}
        for r in self.reads:
            spans.setdefault((r.layer, r.path), []).append((r.offset, r.end))
        total = 0
        for parts in spans.values():
            end = -1
            for a, b in sorted(parts):
                if b > end:
                    total += b - max(a, end)
                    end = b
        return total

    @property
    def files_touched(self) -> int:
        """Distinct ``(layer, path)`` pairs read (raw reads touch no file)."""
        return len({(r.layer, r.path) for r in self.reads if r.path is not None})

    @property
    def cpu_s(self) -> float:
        """Total CPU time between reads."""
        return math.fsum(r.cpu_before_s for r in self.reads)

    def layers(self) -> list[int | str]:
        """The layers read, in order of first read."""
        return list(dict.fromkeys(r.layer for r in self.reads))

    def summary(self) -> str:
        raw = sum(1 for r in self.reads if r.path is None)
        return (f"{len(self.reads)} reads ({raw} raw), {self.bytes_read:,} bytes, {self.files_touched} files, "
                f"{len(self.layers())} layers, {self.cpu_s:.3f} s CPU")

    # -- validation against an image --------------------------------------------------------

    def validate(self, files: Mapping[int | str, Mapping[str, int]] | None = None,
                 layer_sizes: Mapping[int | str, int] | None = None) -> None:
        """Check every read against an image: ``files`` (layer -> {path: size}) for file reads,
        ``layer_sizes`` (layer -> uncompressed bytes) for raw reads. A read of an unknown layer or
        file, or one past the end, raises :class:`TraceError` naming the read."""
        for i, r in enumerate(self.reads):
            if r.path is not None and files is not None:
                if r.layer not in files:
                    raise TraceError(f"trace read {i}: no layer {r.layer!r} in the image "
                                     f"(it has {', '.join(map(str, files)) or 'none'})")
                size = files[r.layer].get(r.path)
                if size is None:
                    raise TraceError(f"trace read {i}: layer {r.layer!r} has no file {r.path!r}")
                if r.end > size:
                    raise TraceError(f"trace read {i}: bytes {r.offset}..{r.end} of {r.path!r} are past its end "
                                     f"({size} bytes)")
            elif r.path is None and layer_sizes is not None:
                if r.layer not in layer_sizes:
                    raise TraceError(f"trace read {i}: no layer {r.layer!r} in the image")
                if r.end > layer_sizes[r.layer]:
                    raise TraceError(f"trace read {i}: bytes {r.offset}..{r.end} are past the end of layer "
                                     f"{r.layer!r} ({layer_sizes[r.layer]} bytes)")

    # -- JSON -------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"kind": TRACE_KIND, "version": TRACE_VERSION}
        if self.source:
            doc["source"] = self.source
        if self.image:
            doc["image"] = self.image
        if self.meta:
            doc["meta"] = dict(self.meta)
        doc["reads"] = [r.to_json() for r in self.reads]
        return doc

    def dumps(self) -> str:
        """JSON text: the header fields indented, one read per line (diffable, compact)."""
        doc = self.to_json()
        reads = doc.pop("reads")
        head = json.dumps(doc, indent=1, sort_keys=False)[:-2]
        lines = ",\n  ".join(json.dumps(r, separators=(",", ":")) for r in reads)
        return head + (",\n" if doc else "\n") + ' "reads": [' + ("\n  " + lines + "\n ]" if reads else "]") + "\n}\n"

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.dumps(), encoding="utf-8")
        return path

    @classmethod
    def from_json(cls, doc: Any, where: str = "trace") -> StartupTrace:
        """A trace from its JSON document; errors name ``where`` and the read."""
        if not isinstance(doc, dict):
            raise TraceError(f"{where}: a trace is a JSON object, got {type(doc).__name__}")
        if doc.get("kind", TRACE_KIND) != TRACE_KIND:
            raise TraceError(f"{where}: kind is {doc.get('kind')!r}, expected {TRACE_KIND!r}")
        version = doc.get("version")
        if version != TRACE_VERSION:
            raise TraceError(f"{where}: unsupported trace version {version!r} (this reader reads {TRACE_VERSION})")
        reads = doc.get("reads")
        if not isinstance(reads, list):
            raise TraceError(f"{where}: 'reads' must be a list of reads")
        out = []
        for i, r in enumerate(reads):
            out.append(read_from_json(r, f"{where}: reads[{i}]"))
        meta = doc.get("meta", {})
        if not isinstance(meta, dict):
            raise TraceError(f"{where}: 'meta' must be an object")
        try:
            return cls(tuple(out), str(doc.get("source", "")), str(doc.get("image", "")), meta)
        except TraceError as e:
            raise TraceError(f"{where}: {e.message}") from None

    @classmethod
    def loads(cls, text: str | bytes, where: str = "trace") -> StartupTrace:
        try:
            doc = json.loads(text)
        except ValueError as e:
            raise TraceError(f"{where}: not JSON: {e}") from None
        return cls.from_json(doc, where)

    @classmethod
    def load(cls, path: str | Path) -> StartupTrace:
        path = Path(path)
        try:
            text = path.read_bytes()
        except OSError as e:
            raise TraceError(f"cannot read trace {path}: {e.strerror}") from None
        return cls.loads(text, str(path))


_READ_KEYS = {"layer", "path", "offset", "length", "cpu_s"}


def read_from_json(doc: Any, where: str) -> Read:
    """One :class:`Read` from ``{"layer", "path"?, "offset", "length", "cpu_s"?}``, checked."""
    if not isinstance(doc, dict):
        raise TraceError(f"{where}: expected an object with layer, offset, length, got {doc!r}")
    unknown = sorted(set(doc) - _READ_KEYS)
    if unknown:
        raise TraceError(f"{where}: unknown field(s) {', '.join(unknown)} (expected {', '.join(sorted(_READ_KEYS))})")
    missing = [k for k in ("layer", "offset", "length") if k not in doc]
    if missing:
        raise TraceError(f"{where}: missing {', '.join(missing)}")
    r = Read(doc["layer"], doc.get("path"), doc["offset"], doc["length"], doc.get("cpu_s", 0.0))
    why = r.problem()
    if why:
        raise TraceError(f"{where}: {why}")
    return r


def concat(traces: Iterable[StartupTrace], source: str = "") -> StartupTrace:
    """The reads of several traces one after the other (a container that runs them in turn)."""
    traces = list(traces)
    return StartupTrace(tuple(r for t in traces for r in t.reads),
                        source or " + ".join(t.source for t in traces if t.source))
