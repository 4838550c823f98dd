"""A plain OCI layer (``tar``, ``tar+gzip`` or ``tar+zstd`` bytes) read into its entries.

Every converter starts here: the layer is decompressed once and walked with :mod:`tarfile`, and
each entry keeps where its header and its data sit in the uncompressed tar (what SOCI's file
table records) and a view of its bytes (what eStargz, Nydus and the block image rewrite). Names
are kept as the tar gives them (``raw_name``) and cleaned of a leading ``./`` or ``/`` (``name``),
the way stargz-snapshotter's ``cleanEntryName`` does, so ``./etc/hosts`` and ``etc/hosts`` are the
same file.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zlib
from dataclasses import dataclass

from .errors import LazyFormatError

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

#: tar type flags -> the type names eStargz's TOC uses (and every format here reuses)
TYPES = {
    tarfile.REGTYPE: "reg", tarfile.AREGTYPE: "reg", tarfile.CONTTYPE: "reg",
    tarfile.DIRTYPE: "dir", tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "hardlink",
    tarfile.CHRTYPE: "char", tarfile.BLKTYPE: "block", tarfile.FIFOTYPE: "fifo",
}


def clean_name(name: str) -> str:
    """``./a/b``, ``/a/b`` and ``a/b/`` all name ``a/b``; the root is ``""``."""
    while name.startswith("./"):
        name = name[2:]
    name = name.lstrip("/").rstrip("/")
    return "" if name == "." else name


@dataclass(frozen=True, slots=True)
class TarEntry:
    """One tar entry: its metadata, where it sits in the uncompressed tar, and its bytes."""

    raw_name: str
    name: str
    type: str
    mode: int
    uid: int
    gid: int
    uname: str
    gname: str
    mtime: float
    size: int
    linkname: str
    devmajor: int
    devminor: int
    header_offset: int
    data_offset: int
    info: tarfile.TarInfo
    data: memoryview

    @property
    def is_data(self) -> bool:
        """A regular file with content (what needs chunks, members or blocks)."""
        return self.type == "reg" and self.size > 0


@dataclass(frozen=True, slots=True)
class TarLayer:
    """A layer's uncompressed tar, its entries in order, and how it was compressed."""

    tar: bytes
    entries: tuple[TarEntry, ...]
    compression: str  # "gzip", "zstd" or "none"

    def regular_files(self) -> dict[str, TarEntry]:
        """Cleaned name -> entry of every regular file (a later entry of a name wins, as on extract)."""
        out: dict[str, TarEntry] = {}
        for e in self.entries:
            if e.name:
                out.pop(e.name, None)
                if e.type == "reg":
                    out[e.name] = e
        return out

    def by_name(self) -> dict[str, TarEntry]:
        """Cleaned name -> the last entry with that name (the root, ``""``, left out)."""
        return {e.name: e for e in self.entries if e.name}


def compression_of(data: bytes | bytearray | memoryview) -> str:
    head = bytes(data[:4])
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head == ZSTD_MAGIC:
        return "zstd"
    return "none"


def decompress(data: bytes | bytearray | memoryview) -> tuple[bytes, str]:
    """The uncompressed tar of a layer, and the compression found (by magic number)."""
    kind = compression_of(data)
    try:
        if kind == "gzip":
            return gzip.decompress(bytes(data)), kind
        if kind == "zstd":
            import zstandard
            return zstandard.ZstdDecompressor().decompressobj().decompress(bytes(data)), kind
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        raise LazyFormatError(f"layer is not valid {kind}: {exc}") from None
    except Exception as exc:  # zstandard.ZstdError
        raise LazyFormatError(f"layer is not valid {kind}: {exc}") from None
    return bytes(data), kind


def read_layer(data: bytes | bytearray | memoryview) -> TarLayer:
    """Decompress ``data`` (if it is gzip or zstd) and list its tar entries."""
    tar, kind = decompress(data)
    view = memoryview(tar)
    entries = []
    try:
        with tarfile.open(fileobj=io.BytesIO(tar), mode="r:") as tf:
            for info in tf:
                kind_name = TYPES.get(info.type)
                if kind_name is None:
                    raise LazyFormatError(f"tar entry {info.name!r} has unsupported type {info.type!r}")
                if info.sparse is not None:
                    raise LazyFormatError(f"tar entry {info.name!r} is a sparse file, which no lazy format here keeps")
                size = info.size if kind_name == "reg" else 0
                if info.offset_data + size > len(tar):
                    raise LazyFormatError(f"layer is truncated: tar entry {info.name!r} needs {size} bytes of data")
                entries.append(TarEntry(
                    raw_name=info.name, name=clean_name(info.name), type=kind_name, mode=info.mode,
                    uid=info.uid, gid=info.gid, uname=info.uname, gname=info.gname, mtime=info.mtime,
                    size=size, linkname=info.linkname, devmajor=info.devmajor, devminor=info.devminor,
                    header_offset=info.offset, data_offset=info.offset_data, info=info,
                    data=view[info.offset_data:info.offset_data + size],
                ))
    except tarfile.TarError as exc:
        raise LazyFormatError(f"layer is not a tar archive: {exc}") from None
    if not entries and tar.strip(b"\0"):
        raise LazyFormatError("layer is not a tar archive: no entry could be read")
    return TarLayer(tar, tuple(entries), kind)
