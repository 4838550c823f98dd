"""eStargz: a gzip tar layer that can be read file by file with Range requests.

The layout follows the eStargz specification of containerd/stargz-snapshotter
(``docs/estargz.md``, "eStargz: Standard-Compatible Extension to Container Image Layers for Lazy
Pulling"), itself an extension of Google CRFS's stargz. The blob is a concatenation of gzip
members, so it is still an ordinary ``tar+gzip`` layer any runtime can pull and extract:

- the tar header of an entry is written into the gzip member that is open at that point;
- each non-empty regular file's data starts a new gzip member at a recorded ``offset``, and a file
  larger than ``chunk_size`` (4 MiB by default, as ``ctr-remote``) starts a new member every
  ``chunk_size`` bytes: one ``reg`` TOC entry for the first chunk, a ``chunk`` entry per further one;
- the TOC, a JSON document (``{"version": 1, "entries": [...]}``), is the last tar entry,
  ``stargz.index.json``, alone in its own gzip member together with the tar's end-of-archive blocks;
- a 51-byte footer, an empty gzip member whose RFC 1952 Extra field (subfield ``SG``) holds
  ``%016x`` of the TOC member's offset followed by ``STARGZ``, ends the blob.

A reader that can only issue Range reads therefore fetches the last 51 bytes, then the TOC member,
then exactly the gzip members of the file (or of the chunk) it wants: see :class:`EStargzReader`.

Prioritised files go first, followed by the ``.prefetch.landmark`` file (one byte, ``0x0f``); with
no prioritised files a ``.no.prefetch.landmark`` is written first instead. A runtime prefetches the
range before the landmark in one request (:meth:`EStargzReader.prefetch_ranges`).

Each ``reg`` and ``chunk`` entry carries ``chunkDigest`` (sha256 of its uncompressed bytes) and each
``reg`` entry ``digest`` (of the whole file); the TOC's own digest goes into the layer
descriptor's ``containerd.io/snapshot/stargz/toc.digest`` annotation, which is how a runtime checks
the TOC against a verified manifest. What this writer leaves out of the real one: ``innerOffset``
(several small files in one member, ``--estargz-min-chunk-size``), the external-TOC variant, zstd
(``zstd:chunked``), and the lossless mode that keeps the input's tar header bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import tarfile
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from .. import receipts
from ..receipts import Kind
from .errors import LazyFormatError
from .layer import FileInfo, LazyLayer
from .ranges import ByteRange, RangeSource
from .tarlayer import TarEntry, TarLayer, clean_name, read_layer

CHUNK_SIZE = 4 << 20
TOC_NAME = "stargz.index.json"
PREFETCH_LANDMARK = ".prefetch.landmark"
NO_PREFETCH_LANDMARK = ".no.prefetch.landmark"
LANDMARK_CONTENTS = b"\x0f"
FOOTER_SIZE = 51
#: the layer descriptor annotations stargz-snapshotter reads
TOC_DIGEST_ANNOTATION = "containerd.io/snapshot/stargz/toc.digest"
UNCOMPRESSED_SIZE_ANNOTATION = "io.containers.estargz.uncompressed-size"

_RESERVED = {TOC_NAME, PREFETCH_LANDMARK, NO_PREFETCH_LANDMARK}
_BLOCK = tarfile.BLOCKSIZE


@dataclass(frozen=True, slots=True)
class EStargzLayer:
    """A built eStargz blob and what a pusher needs to describe it."""

    blob: bytes
    toc: dict
    toc_digest: str
    toc_offset: int
    diff_id: str
    uncompressed_size: int
    missing_prioritized: tuple[str, ...] = ()

    def annotations(self) -> dict[str, str]:
        """The annotations of the layer's descriptor in the image manifest."""
        return {TOC_DIGEST_ANNOTATION: self.toc_digest, UNCOMPRESSED_SIZE_ANNOTATION: str(self.uncompressed_size)}


# -- the footer ------------------------------------------------------------------------------

def footer(toc_offset: int) -> bytes:
    """The 51-byte eStargz footer: an empty gzip member whose Extra field locates the TOC."""
    subfield = b"%016xSTARGZ" % toc_offset
    extra = b"SG" + struct.pack("<H", len(subfield)) + subfield
    header = b"\x1f\x8b\x08\x04" + b"\0\0\0\0" + b"\0\xff"  # deflate, FEXTRA, mtime 0, XFL 0, OS unknown
    empty_final_stored_block = b"\x01\x00\x00\xff\xff"
    out = header + struct.pack("<H", len(extra)) + extra + empty_final_stored_block + b"\0" * 8
    assert len(out) == FOOTER_SIZE
    return out


def parse_footer(data: bytes) -> int:
    """The TOC offset a footer names; :class:`LazyFormatError` when ``data`` is not one."""
    if len(data) != FOOTER_SIZE:
        raise LazyFormatError(f"eStargz footer must be {FOOTER_SIZE} bytes, got {len(data)}")
    if data[:3] != b"\x1f\x8b\x08" or not data[3] & 0x04:
        raise LazyFormatError("eStargz footer is not a gzip header with an Extra field")
    (xlen,) = struct.unpack_from("<H", data, 10)
    extra = data[12:12 + xlen]
    if xlen != 26 or extra[:2] != b"SG" or struct.unpack_from("<H", extra, 2)[0] != 22 or extra[20:26] != b"STARGZ":
        raise LazyFormatError("eStargz footer lacks the SG/STARGZ Extra subfield (is the layer eStargz?)")
    try:
        return int(extra[4:20], 16)
    except ValueError:
        raise LazyFormatError(f"eStargz footer has a malformed TOC offset {extra[4:20]!r}") from None


# -- writing ---------------------------------------------------------------------------------

class _MemberWriter:
    """Appends gzip members to ``out``; the uncompressed bytes are hashed for the diff ID."""

    def __init__(self, level: int) -> None:
        self.level = level
        self.out = bytearray()
        self._gz = None
        self.diff = hashlib.sha256()
        self.uncompressed = 0

    def write(self, data: bytes | memoryview) -> None:
        if self._gz is None:
            self._gz = zlib.compressobj(self.level, zlib.DEFLATED, 31)
        self.out += self._gz.compress(data)
        self.diff.update(data)
        self.uncompressed += len(data)

    def close_member(self) -> int:
        """End the open member (if any); returns where the next one starts."""
        if self._gz is not None:
            self.out += self._gz.flush()
            self._gz = None
        return len(self.out)


def _modtime(mtime: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(mtime)))


def _toc_entry(e: TarEntry) -> dict:
    ent: dict = {"name": e.raw_name, "type": e.type}
    if e.type == "reg":
        ent["size"] = e.size
    ent["modtime"] = _modtime(e.mtime)
    if e.linkname and e.type in ("symlink", "hardlink"):
        ent["linkName"] = e.linkname
    ent["mode"] = e.mode
    if e.uid:
        ent["uid"] = e.uid
    if e.gid:
        ent["gid"] = e.gid
    if e.uname:
        ent["userName"] = e.uname
    if e.gname:
        ent["groupName"] = e.gname
    if e.type in ("char", "block"):
        ent["devMajor"], ent["devMinor"] = e.devmajor, e.devminor
    xattrs = {k[len("SCHILY.xattr."):]: base64.b64encode(v.encode("utf-8", "surrogateescape")).decode()
              for k, v in (e.info.pax_headers or {}).items() if k.startswith("SCHILY.xattr.")}
    if xattrs:
        ent["xattrs"] = xattrs
    return ent


def _landmark(name: str) -> TarEntry:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(LANDMARK_CONTENTS), 0o644
    return TarEntry(name, name, "reg", info.mode, 0, 0, "", "", 0, info.size, "", 0, 0, -1, -1, info,
                    memoryview(LANDMARK_CONTENTS))


def _order(entries: Sequence[TarEntry], prioritized: Sequence[str], allow_missing: bool) -> tuple[list[TarEntry], list[str]]:
    """The entries in eStargz order: prioritised files (each after its parent directories and,
    for a hard link, its target), the landmark, then the rest in their original order."""
    entries = [e for e in entries if e.name not in _RESERVED]
    by_name = {e.name: e for e in entries}
    picked: list[TarEntry] = []
    taken: set[str] = set()
    missing: list[str] = []

    def move(name: str) -> bool:
        if name in taken:
            return True
        if name not in by_name:
            return False
        parent = name.rpartition("/")[0]
        if parent:
            move(parent)  # a parent directory the tar does not list is implicit, as in the real builder
        e = by_name[name]
        if e.type == "hardlink":
            move(clean_name(e.linkname))
        taken.add(name)
        picked.append(e)
        return True

    for want in prioritized:
        if not move(clean_name(want)):
            if not allow_missing:
                raise LazyFormatError(f"prioritized file {want!r} is not in the layer")
            missing.append(want)
    if not prioritized:
        return [_landmark(NO_PREFETCH_LANDMARK), *entries], missing
    rest = [e for e in entries if e.name not in taken]  # an earlier entry of a picked name is overridden anyway
    return [*picked, _landmark(PREFETCH_LANDMARK), *rest], missing


def _header(info: tarfile.TarInfo) -> bytes:
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def build(layer: bytes | bytearray | memoryview | TarLayer, *, chunk_size: int = CHUNK_SIZE,
          prioritized: Sequence[str] = (), allow_missing: bool = False, level: int = 9) -> EStargzLayer:
    """Convert a plain layer (tar, tar+gzip or tar+zstd bytes, or a read :class:`TarLayer`) to eStargz.

    ``prioritized`` files go first, before a ``.prefetch.landmark`` (a name not in the layer is an
    error unless ``allow_missing``); ``level`` is the gzip level (9, as ``ctr-remote``).
    """
    if chunk_size <= 0:
        raise LazyFormatError(f"chunk size must be positive, got {chunk_size}")
    src = layer if isinstance(layer, TarLayer) else read_layer(layer)
    ordered, missing = _order(src.entries, prioritized, allow_missing)
    w = _MemberWriter(level)
    toc_entries: list[dict] = []
    for e in ordered:
        w.write(_header(e.info))
        ent = _toc_entry(e)
        if not e.is_data:
            toc_entries.append(ent)
            continue
        ent["digest"] = "sha256:" + hashlib.sha256(e.data).hexdigest()
        for start in range(0, e.size, chunk_size):
            chunk = e.data[start:start + chunk_size]
            offset = w.close_member()
            w.write(chunk)
            last = start + chunk_size >= e.size
            ent.update(offset=offset, chunkOffset=start, chunkSize=0 if last else len(chunk),
                       chunkDigest="sha256:" + hashlib.sha256(chunk).hexdigest())
            toc_entries.append(ent)
            ent = {"name": e.raw_name, "type": "chunk"}
        w.write(b"\0" * (-e.size % _BLOCK))
    toc_offset = w.close_member()
    toc = {"version": 1, "entries": toc_entries}
    toc_json = json.dumps(toc, indent="\t").encode()
    info = tarfile.TarInfo(TOC_NAME)
    info.size, info.mode = len(toc_json), 0o644
    w.write(_header(info))
    w.write(toc_json)
    w.write(b"\0" * (-len(toc_json) % _BLOCK) + b"\0" * (2 * _BLOCK))  # padding and end of archive
    w.close_member()
    w.out += footer(toc_offset)
    return EStargzLayer(bytes(w.out), toc, "sha256:" + hashlib.sha256(toc_json).hexdigest(), toc_offset,
                        "sha256:" + w.diff.hexdigest(), w.uncompressed, tuple(missing))


# -- reading by ranges -----------------------------------------------------------------------

def parse_toc(member: bytes) -> tuple[dict, str]:
    """The TOC and its digest from the bytes of the TOC gzip member (TOC offset to footer)."""
    try:
        with receipts.metered(Kind.GZIP_INFLATE, detail="estargz") as m:
            tar = zlib.decompressobj(31).decompress(member)
            m.amount = len(tar)
        info = tarfile.TarInfo.frombuf(tar[:_BLOCK], "utf-8", "surrogateescape")
        if info.name != TOC_NAME:  # (the TOC is written with a plain ustar header: its name is short)
            raise LazyFormatError(f"eStargz TOC member holds {info.name!r}, not {TOC_NAME}")
        raw = tar[_BLOCK:_BLOCK + info.size]
        toc = json.loads(raw)
    except (zlib.error, tarfile.TarError, ValueError) as exc:
        raise LazyFormatError(f"eStargz TOC cannot be read: {exc}") from None
    if not isinstance(toc, dict) or toc.get("version") != 1 or not isinstance(toc.get("entries"), list):
        raise LazyFormatError("eStargz TOC must be {\"version\": 1, \"entries\": [...]}")
    return toc, "sha256:" + hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True, slots=True)
class Chunk:
    """One gzip member holding ``size`` bytes of a file from ``chunk_offset``; the member spans
    ``[offset, end)`` of the blob."""

    offset: int
    end: int
    chunk_offset: int
    size: int
    digest: str


class EStargzReader(LazyLayer):
    """An eStargz blob opened by Range reads: the footer (last 51 bytes), then the TOC member.

    ``toc_digest`` (the descriptor's annotation), when given, is checked against the TOC fetched.
    """

    format = "estargz"

    def __init__(self, source: RangeSource, *, toc_digest: str | None = None, verify: bool = True) -> None:
        super().__init__({source.name: source})
        self.blob = source.name
        self.verify = verify
        if source.size < FOOTER_SIZE:
            raise LazyFormatError(f"blob of {source.size} bytes is too small to be eStargz")
        tail = ByteRange(source.name, source.size - FOOTER_SIZE, FOOTER_SIZE)
        self.toc_offset = parse_footer(source.read(tail))
        if not 0 <= self.toc_offset < tail.offset:
            raise LazyFormatError(f"eStargz footer points at {self.toc_offset}, outside the blob")
        toc_range = ByteRange(source.name, self.toc_offset, tail.offset - self.toc_offset)
        self.toc, digest = parse_toc(source.read(toc_range))
        if toc_digest is not None and digest != toc_digest:
            raise LazyFormatError(f"eStargz TOC digest is {digest}, the descriptor says {toc_digest}")
        self.toc_digest = digest
        self.open_ranges = [tail, toc_range]
        try:
            self._entries, self._chunks, self._landmark = self._index(self.toc["entries"])
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise LazyFormatError(f"eStargz TOC has a malformed entry: {exc!r}") from None

    def _index(self, raw: list) -> tuple[list[FileInfo], dict[str, list[Chunk]], int | None]:
        starts = sorted({int(e["offset"]) for e in raw if e.get("type") in ("reg", "chunk") and "offset" in e})
        starts.append(self.toc_offset)
        next_start = dict(zip(starts, starts[1:]))
        entries: list[FileInfo] = []
        chunks: dict[str, list[Chunk]] = {}
        landmark = None
        current: FileInfo | None = None
        for e in raw:
            kind = e.get("type")
            if kind == "chunk":
                if current is None:
                    raise LazyFormatError("eStargz TOC has a chunk entry before any regular file")
                name = current.name
            else:
                name = clean_name(str(e.get("name", "")))
                if kind == "reg" and name in (PREFETCH_LANDMARK, NO_PREFETCH_LANDMARK):
                    if name == PREFETCH_LANDMARK:
                        landmark = int(e.get("offset", 0))
                    current = None
                    continue
                current = FileInfo(name, kind, int(e.get("size", 0)), int(e.get("mode", 0)), e.get("linkName", ""))
                entries.append(current)
                if kind == "reg":
                    chunks[name] = []
            if kind in ("reg", "chunk") and current is not None and current.size > 0:
                off = int(e["offset"])
                chunk_offset = int(e.get("chunkOffset", 0))
                size = int(e.get("chunkSize", 0)) or current.size - chunk_offset
                chunks[name].append(Chunk(off, next_start[off], chunk_offset, size, e.get("chunkDigest", "")))
        return entries, chunks, landmark

    def entries(self) -> list[FileInfo]:
        return list(self._entries)

    def chunks(self, name: str) -> list[Chunk]:
        """The gzip members of regular file ``name``, in file order."""
        return list(self._chunks.get(self._regular(name).name, ()))

    def _ranges(self, info: FileInfo) -> list[ByteRange]:
        return [ByteRange(self.blob, c.offset, c.end - c.offset) for c in self._chunks.get(info.name, ())]

    def read_chunk(self, chunk: Chunk, member: bytes | None = None) -> bytes:
        """The uncompressed bytes of one chunk (its member fetched unless given), verified."""
        if member is None:
            member = self.fetch(ByteRange(self.blob, chunk.offset, chunk.end - chunk.offset))
        try:
            with receipts.metered(Kind.GZIP_INFLATE, detail="estargz") as m:
                data = zlib.decompressobj(31).decompress(member, chunk.size)
                m.amount = len(data)
        except zlib.error as exc:
            raise LazyFormatError(f"eStargz member at {chunk.offset} does not inflate: {exc}") from None
        if len(data) != chunk.size:
            raise LazyFormatError(f"eStargz member at {chunk.offset} holds {len(data)} bytes, the TOC says {chunk.size}")
        if self.verify and chunk.digest and "sha256:" + hashlib.sha256(data).hexdigest() != chunk.digest:
            raise LazyFormatError(f"eStargz chunk at {chunk.offset} does not match its chunkDigest {chunk.digest}")
        return data

    def _read(self, info: FileInfo) -> bytes:
        out = bytearray()
        for r in self.byte_ranges(info.name):  # one request per run of adjacent members
            data = self.fetch(r)
            for c in self._chunks[info.name]:
                if r.offset <= c.offset < r.end:
                    out += self.read_chunk(c, data[c.offset - r.offset:c.end - r.offset])
        return bytes(out)

    def prefetch_ranges(self) -> list[ByteRange]:
        """The range before ``.prefetch.landmark`` (the prioritised files), one request; none when
        the layer was built without prioritised files."""
        if not self._landmark:
            return []
        return [ByteRange(self.blob, 0, self._landmark)]
