"""The one reader interface every lazy-pulling format offers: :class:`LazyLayer`.

A lazy reader opens a converted layer through Range reads only (a footer, a TOC, a bootstrap, an
index -- whatever its format keeps the metadata in), then serves any file by fetching just the
byte ranges that hold it. The interface is what the simulator needs from real code:

- :meth:`LazyLayer.files` and :meth:`LazyLayer.entries`: what the layer holds;
- :meth:`LazyLayer.byte_ranges`: the remote ranges a read of one file fetches, without fetching
  them (what a model prices);
- :meth:`LazyLayer.read_file`: the file's bytes, fetched by those ranges and verified;
- :attr:`LazyLayer.open_ranges`, :attr:`LazyLayer.bytes_fetched`, :attr:`LazyLayer.requests`:
  what opening the layer cost and what every read since cost, counted on the
  :class:`~.ranges.RangeSource` objects the reader was given.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import LazyFormatError
from .ranges import ByteRange, RangeSource, coalesce
from .tarlayer import clean_name


@dataclass(frozen=True, slots=True)
class FileInfo:
    """A file a lazy layer holds: its cleaned name, type (``reg``, ``dir``, ``symlink``,
    ``hardlink``, ``char``, ``block``, ``fifo``), size (regular files), mode and link target."""

    name: str
    type: str
    size: int
    mode: int
    linkname: str = ""


class LazyLayer(ABC):
    """A converted layer opened by Range reads; subclasses fill :attr:`open_ranges` when opening."""

    format: str = ""

    def __init__(self, sources: Mapping[str, RangeSource]) -> None:
        self.sources = dict(sources)
        self.open_ranges: list[ByteRange] = []

    # -- what a format provides ------------------------------------------------------------

    @abstractmethod
    def entries(self) -> list[FileInfo]:
        """Every entry of the layer, in the layer's order."""

    @abstractmethod
    def _ranges(self, info: FileInfo) -> list[ByteRange]:
        """The ranges holding the data of the regular file ``info`` (not coalesced)."""

    @abstractmethod
    def _read(self, info: FileInfo) -> bytes:
        """The bytes of the regular file ``info``, fetched by Range reads and verified."""

    # -- the shared part -------------------------------------------------------------------

    def files(self) -> list[str]:
        """The names of the regular files (hard links left out: they name a file listed here)."""
        return [e.name for e in self.entries() if e.type == "reg"]

    def info(self, name: str) -> FileInfo:
        """The entry ``name`` (cleaned as the tar reader does); a hard link resolves to its target."""
        table = self._table()
        want = clean_name(name)
        seen = set()
        while True:
            e = table.get(want)
            if e is None:
                raise LazyFormatError(f"{self.format} layer has no file {name!r}")
            if e.type != "hardlink":
                return e
            if want in seen:
                raise LazyFormatError(f"{self.format} layer: hard link loop at {name!r}")
            seen.add(want)
            want = clean_name(e.linkname)

    def _table(self) -> dict[str, FileInfo]:
        table = getattr(self, "_by_name", None)
        if table is None:
            table = self._by_name = {e.name: e for e in self.entries() if e.name}
        return table

    def _regular(self, name: str) -> FileInfo:
        e = self.info(name)
        if e.type != "reg":
            raise LazyFormatError(f"{self.format} layer: {name!r} is a {e.type}, not a regular file")
        return e

    def byte_ranges(self, name: str) -> list[ByteRange]:
        """The remote byte ranges (coalesced per blob, sorted) a read of file ``name`` fetches,
        once the layer is open; an empty file needs none."""
        return coalesce(self._ranges(self._regular(name)))

    def read_file(self, name: str) -> bytes:
        """The bytes of file ``name`` (a hard link reads its target), by Range reads only."""
        info = self._regular(name)
        if info.size == 0:
            return b""
        data = self._read(info)
        if len(data) != info.size:
            raise LazyFormatError(f"{self.format} layer: {name!r} read back {len(data)} bytes, expected {info.size}")
        return data

    @property
    def bytes_fetched(self) -> int:
        return sum(s.bytes_fetched for s in self.sources.values())

    @property
    def requests(self) -> int:
        return sum(s.requests for s in self.sources.values())

    def reset_counters(self) -> None:
        for s in self.sources.values():
            s.reset_counters()

    def source(self, blob: str) -> RangeSource:
        try:
            return self.sources[blob]
        except KeyError:
            raise LazyFormatError(f"{self.format} layer needs blob {blob}, which no source was given for") from None

    def fetch(self, r: ByteRange) -> bytes:
        return self.source(r.blob).read_range(r.offset, r.length)
