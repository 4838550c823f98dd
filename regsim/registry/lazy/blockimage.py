"""Block-level layers (overlaybd / DADI style): a filesystem image read block by block.

overlaybd (containerd/accelerated-container-image and containerd/overlaybd; Li et al., "DADI:
Block-Level Image Service for Agile and Elastic Application Deployment", USENIX ATC '20) does not
ship files at all: a layer is a set of blocks of a virtual disk that holds an ordinary
filesystem, stored in *ZFile*, a compressed container whose fixed-size blocks are compressed one
by one and located through a jump table (``src/overlaybd/zfile/format_spec.md``: a 512-byte
header, the compressed blocks, an index of their compressed sizes, a 512-byte trailer). Reading a
file is the filesystem asking for blocks, and the block device fetching the compressed blocks
holding them with Range reads.

This module builds both halves, small enough to read:

- :func:`build_image` lays a layer's files out in a minimal filesystem (*RSFS*): block 0 is the
  superblock, an inode table follows (one packed record per entry: type, mode, owner, size, first
  data block, block count, name, link target), then the data region where every non-empty regular
  file starts on a block boundary (``block_size``, 4 KiB by default) and fills whole blocks;
  a hard link shares its target's blocks, as it shares its inode on a real filesystem;
- :func:`build` cuts that image into segments of ``segment_size`` (64 KiB by default, 16 blocks),
  compressed with zstd each on its own (or stored raw), in a ZFile-like container: a 512-byte
  header, the segments, a jump table of their stored sizes, and a 512-byte trailer repeating the
  header with the table's place, so a reader starts from the last 512 bytes;
- :func:`block_ranges` maps a file to its blocks; :class:`BlockReader` opens the container by
  Range reads (trailer, jump table, then the segments of the superblock and the inode table) and
  reads a file by fetching the segments that hold its blocks -- exactly its blocks when the
  segments are stored raw.

Differences from the real tool: the filesystem is this toy one, not ext4 or EROFS in a virtual
disk; a layer is a whole image, not LSMT's sparse set of changed blocks over the layers below
(so there is no cross-layer merge, and deletions are not expressed); the container's header is
ours (no CRC per block, no dictionary), and overlaybd's default ZFile block is 4 KiB rather than
a multi-block segment.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from .. import receipts
from ..receipts import Kind
from .errors import LazyFormatError
from .layer import FileInfo, LazyLayer
from .ranges import ByteRange, RangeSource
from .tarlayer import TarLayer, clean_name, read_layer

BLOCK_SIZE = 4096
SEGMENT_SIZE = 64 << 10
HEADER_SIZE = 512
MEDIA_TYPE = "application/vnd.regsim.blockimage.v1"
ALGORITHMS = {"none": 0, "zstd": 1}

_SUPER = struct.Struct("<8sIIQQQQQ")   # magic, version, block size, inodes, table block, table bytes, data block, blocks
_INODE = struct.Struct("<B3xIIIQQQIIHH")  # type, mode, uid, gid, size, first block, blocks, dev major/minor, name/link len
_CONTAINER = struct.Struct("<8sIIIIIQQQQ")  # magic, version, is_header, block, segment, algo, segments, image, index off/size
_FS_MAGIC = b"RSBLKFS1"
_CONTAINER_MAGIC = b"RSBLKZ\x00\x01"
_TYPES = ("reg", "dir", "symlink", "hardlink", "char", "block", "fifo")


@dataclass(frozen=True, slots=True)
class Inode:
    """An entry of the image: its metadata and the ``blocks`` data blocks from ``first_block``."""

    name: str
    type: str
    mode: int
    uid: int
    gid: int
    size: int
    first_block: int
    blocks: int
    linkname: str = ""
    devmajor: int = 0
    devminor: int = 0


@dataclass(frozen=True)
class FsImage:
    """A built filesystem image: its bytes, block size and inodes."""

    data: bytes
    block_size: int
    inodes: tuple[Inode, ...]

    def inode(self, name: str) -> Inode:
        return _lookup(self.inodes, name)


def _lookup(inodes, name: str) -> Inode:
    want = clean_name(name)
    for i in reversed(inodes):
        if i.name == want:
            return i
    raise LazyFormatError(f"block image has no file {name!r}")


def _pack_inodes(inodes) -> bytes:
    out = bytearray()
    for i in inodes:
        name, link = i.name.encode("utf-8", "surrogateescape"), i.linkname.encode("utf-8", "surrogateescape")
        out += _INODE.pack(_TYPES.index(i.type), i.mode, i.uid, i.gid, i.size, i.first_block, i.blocks,
                           i.devmajor, i.devminor, len(name), len(link)) + name + link
    return bytes(out)


def _unpack_inodes(data: bytes, count: int) -> tuple[Inode, ...]:
    out, pos = [], 0
    try:
        for _ in range(count):
            kind, mode, uid, gid, size, first, blocks, major, minor, nlen, llen = _INODE.unpack_from(data, pos)
            pos += _INODE.size
            name = data[pos:pos + nlen].decode("utf-8", "surrogateescape")
            link = data[pos + nlen:pos + nlen + llen].decode("utf-8", "surrogateescape")
            pos += nlen + llen
            out.append(Inode(name, _TYPES[kind], mode, uid, gid, size, first, blocks, link, major, minor))
    except (struct.error, IndexError) as exc:
        raise LazyFormatError(f"block image inode table is corrupt: {exc}") from None
    return tuple(out)


def _blocks(n: int, block_size: int) -> int:
    return -(-n // block_size)


def _check_block_size(block_size: int) -> None:
    if block_size < 512 or block_size & (block_size - 1):
        raise LazyFormatError(f"block size must be a power of two of at least 512, got {block_size}")


def build_image(layer: bytes | bytearray | memoryview | TarLayer, *, block_size: int = BLOCK_SIZE) -> FsImage:
    """Lay a plain layer's entries out in an RSFS image (superblock, inode table, block-aligned data)."""
    _check_block_size(block_size)
    src = layer if isinstance(layer, TarLayer) else read_layer(layer)
    entries = [e for e in src.entries if e.name]
    # first pass without block numbers, to size the inode table
    table_bytes = len(_pack_inodes(Inode(e.name, e.type, 0, 0, 0, 0, 0, 0, e.linkname) for e in entries))
    data_block = 1 + _blocks(table_bytes, block_size)
    next_block = data_block
    placed: dict[str, Inode] = {}
    inodes: list[Inode] = []
    payload: list[tuple[int, memoryview]] = []
    for e in entries:
        first = blocks = 0
        if e.is_data:
            first, blocks = next_block, _blocks(e.size, block_size)
            next_block += blocks
            payload.append((first, e.data))
        elif e.type == "hardlink":
            target = placed.get(clean_name(e.linkname))
            if target is not None:
                first, blocks = target.first_block, target.blocks
        size = e.size if e.type == "reg" else (placed[clean_name(e.linkname)].size
                                               if e.type == "hardlink" and clean_name(e.linkname) in placed else 0)
        inode = Inode(e.name, e.type, e.mode, e.uid, e.gid, size, first, blocks, e.linkname, e.devmajor, e.devminor)
        inodes.append(inode)
        if e.type == "reg":
            placed[e.name] = inode
    table = _pack_inodes(inodes)
    assert len(table) == table_bytes
    image = bytearray(next_block * block_size)
    image[:_SUPER.size] = _SUPER.pack(_FS_MAGIC, 1, block_size, len(inodes), 1, len(table), data_block, next_block)
    image[block_size:block_size + len(table)] = table
    for first, data in payload:
        image[first * block_size:first * block_size + len(data)] = data
    return FsImage(bytes(image), block_size, tuple(inodes))


def block_ranges(inode: Inode) -> list[tuple[int, int]]:
    """The ``(first block, count)`` runs holding a file's data (one run: files are contiguous here)."""
    return [(inode.first_block, inode.blocks)] if inode.blocks else []


@dataclass(frozen=True)
class BlockLayer:
    """A built block layer: the container blob and the image inside it."""

    blob: bytes
    image: FsImage
    segment_size: int
    algorithm: str
    segment_sizes: tuple[int, ...]


def _container_header(is_header: bool, block_size: int, segment_size: int, algo: str, segments: int,
                      image_size: int, index_offset: int, index_size: int) -> bytes:
    raw = _CONTAINER.pack(_CONTAINER_MAGIC, 1, int(is_header), block_size, segment_size, ALGORITHMS[algo], segments,
                          image_size, index_offset, index_size)
    return raw + b"\0" * (HEADER_SIZE - len(raw))


def build(layer: bytes | bytearray | memoryview | TarLayer, *, block_size: int = BLOCK_SIZE,
          segment_size: int = SEGMENT_SIZE, compression: str = "zstd", level: int = 3) -> BlockLayer:
    """A plain layer as an RSFS image in the segment container; ``compression`` is ``zstd`` or ``none``."""
    if compression not in ALGORITHMS:
        raise LazyFormatError(f"block image compression must be one of {', '.join(ALGORITHMS)}, got {compression!r}")
    _check_block_size(block_size)
    if segment_size < block_size or segment_size % block_size:
        raise LazyFormatError(f"segment size {segment_size} must be a multiple of the block size {block_size}")
    image = build_image(layer, block_size=block_size)
    body = bytearray()
    sizes = []
    cctx = None
    if compression == "zstd":
        import zstandard
        cctx = zstandard.ZstdCompressor(level=level)
    for start in range(0, len(image.data), segment_size):
        seg = image.data[start:start + segment_size]
        stored = cctx.compress(seg) if cctx else seg
        sizes.append(len(stored))
        body += stored
    index = struct.pack(f"<{len(sizes)}I", *sizes)
    index_offset = HEADER_SIZE + len(body)
    args = (block_size, segment_size, compression, len(sizes), len(image.data), index_offset, len(index))
    blob = _container_header(True, *args) + bytes(body) + index + _container_header(False, *args)
    return BlockLayer(blob, image, segment_size, compression, tuple(sizes))


class BlockReader(LazyLayer):
    """A block layer opened by Range reads: trailer, jump table, the superblock's segment and the
    inode table's; a file read fetches the segments holding its blocks (its blocks exactly when
    the segments are stored raw)."""

    format = "block"

    def __init__(self, source: RangeSource) -> None:
        super().__init__({source.name: source})
        self.blob = source.name
        if source.size < 2 * HEADER_SIZE:
            raise LazyFormatError(f"blob of {source.size} bytes is too small to be a block image")
        tail = ByteRange(self.blob, source.size - HEADER_SIZE, HEADER_SIZE)
        magic, _v, is_header, bs, seg, algo, nseg, image_size, index_off, index_size = \
            _CONTAINER.unpack_from(source.read(tail))
        if magic != _CONTAINER_MAGIC or is_header or algo not in ALGORITHMS.values() \
                or index_off + index_size + HEADER_SIZE != source.size or index_size != 4 * nseg:
            raise LazyFormatError(f"blob {self.blob} is not a block image (bad trailer)")
        self.block_size, self.segment_size, self.image_size = bs, seg, image_size
        self.compressed = algo == ALGORITHMS["zstd"]
        index_range = ByteRange(self.blob, index_off, index_size)
        sizes = struct.unpack(f"<{nseg}I", source.read(index_range))
        self.offsets = [HEADER_SIZE]
        for s in sizes:
            self.offsets.append(self.offsets[-1] + s)
        self.open_ranges = [tail, index_range]
        self._open_cache: dict[int, bytes] = {}
        sb = self._image_bytes(0, _SUPER.size, record=True)
        magic, _v, bs2, count, table_block, table_bytes, _data_block, blocks = _SUPER.unpack(sb)
        if magic != _FS_MAGIC or bs2 != bs or blocks * bs != image_size:
            raise LazyFormatError(f"blob {self.blob}: the image inside is not an RSFS filesystem")
        self.inodes = _unpack_inodes(self._image_bytes(table_block * bs, table_bytes, record=True), count)
        del self._open_cache

    # -- image bytes by segment ---------------------------------------------------------------

    def _segment_ranges(self, offset: int, length: int) -> list[ByteRange]:
        """The container bytes holding image bytes ``[offset, offset + length)``."""
        if length <= 0:
            return []
        if not self.compressed:
            return [ByteRange(self.blob, HEADER_SIZE + offset, length)]
        first, last = offset // self.segment_size, (offset + length - 1) // self.segment_size
        return [ByteRange(self.blob, self.offsets[first], self.offsets[last + 1] - self.offsets[first])]

    def _image_bytes(self, offset: int, length: int, *, record: bool = False) -> bytes:
        """Image bytes ``[offset, offset + length)``, fetched in one Range read. When opening
        (``record``), the range is added to :attr:`open_ranges` and the segments kept, so the
        inode table is not fetched again when it shares a segment with the superblock."""
        if length <= 0:
            return b""
        if not self.compressed:
            (r,) = self._segment_ranges(offset, length)
            if record:
                self.open_ranges.append(r)
            return self.fetch(r)
        import zstandard
        first, last = offset // self.segment_size, (offset + length - 1) // self.segment_size
        cache = self._open_cache if record else {}
        missing = [s for s in range(first, last + 1) if s not in cache]
        if missing:
            a, b = missing[0], missing[-1]
            r = ByteRange(self.blob, self.offsets[a], self.offsets[b + 1] - self.offsets[a])
            if record:
                self.open_ranges.append(r)
            data = self.fetch(r)
            dctx = zstandard.ZstdDecompressor()
            for seg in range(a, b + 1):
                frame = data[self.offsets[seg] - r.offset:self.offsets[seg + 1] - r.offset]
                try:
                    with receipts.metered(Kind.ZSTD_DECOMPRESS, detail="block") as m:
                        cache[seg] = dctx.decompress(frame, max_output_size=self.segment_size)
                        m.amount = len(cache[seg])
                except zstandard.ZstdError as exc:
                    raise LazyFormatError(f"segment {seg} of {self.blob} does not decompress: {exc}") from None
        out = b"".join(cache[s] for s in range(first, last + 1))
        skip = offset - first * self.segment_size
        return out[skip:skip + length]

    # -- LazyLayer ----------------------------------------------------------------------------

    def entries(self) -> list[FileInfo]:
        return [FileInfo(i.name, i.type, i.size, i.mode, i.linkname) for i in self.inodes]

    def inode(self, name: str) -> Inode:
        return _lookup(self.inodes, self.info(name).name)

    def block_ranges(self, name: str) -> list[tuple[int, int]]:
        """The ``(first block, count)`` runs of file ``name``."""
        return block_ranges(self.inode(name))

    def _ranges(self, info: FileInfo) -> list[ByteRange]:
        inode = _lookup(self.inodes, info.name)
        return [r for first, n in block_ranges(inode)
                for r in self._segment_ranges(first * self.block_size, n * self.block_size)]

    def _read(self, info: FileInfo) -> bytes:
        inode = _lookup(self.inodes, info.name)
        out = b"".join(self._image_bytes(first * self.block_size, n * self.block_size)
                       for first, n in block_ranges(inode))
        return out[:inode.size]


def image_digest(image: FsImage) -> str:
    """The sha256 of the uncompressed filesystem image (the layer's diff ID in a converted image)."""
    return "sha256:" + hashlib.sha256(image.data).hexdigest()
