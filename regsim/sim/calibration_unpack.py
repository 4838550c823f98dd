"""The ``unpack`` calibration workload: what decompressing and unpacking a layer costs a node's CPU.

A node that pulls a layer whole spends CPU decompressing it and extracting its tar onto the
layers below; a lazily pulled layer still inflates every chunk, span or segment a file read
needs. This workload does that work for real with the registry's own code and records the four
kinds it prices (:class:`~regsim.registry.receipts.Kind`):

- ``gzip_inflate`` and ``zstd_decompress``, per uncompressed byte: standalone chunks of 4 KiB to
  4 MiB (what a lazy reader inflates per read: an eStargz member, a Nydus chunk, a block-image
  segment) through :func:`~regsim.registry.lazy.unpack.inflate_gzip` and
  :func:`~regsim.registry.lazy.unpack.decompress_zstd`, and whole layers through
  :func:`~regsim.registry.lazy.unpack.unpack_layer`, so the small calls fix the per-call overhead
  and the large ones the per-byte cost (:func:`regsim.sim.calibrate.fit_bytes`);
- ``tar_unpack``, per byte of file data written, and ``file_create``, per entry created: each
  generated layer unpacked, gzip and zstd alike, into a fresh directory.

Content is generated once, deterministically, to look like an image layer: many small text-like
files (configuration, scripts, a vocabulary of words: gzip takes them to under a third) in a
few directories, and a few large binary-like files (2 KiB runs of random bytes between 6 KiB
text-like runs: about half their size compressed), the small files a third of the bytes, so a
layer compresses about 2.4 times (the lazy-format tests' mixed layer: 2.7); chunks have the same
mix. Layers are compressed as runtimes receive them: gzip level 6 (Go's compress/gzip default),
zstd level 3 (zstd's default). Three layer sizes (256 KiB, 2 MiB and 8 MiB of file data by default) keep
the same mix, so the per-file cost of a ``write`` call that ``tar_unpack`` carries is a constant
share of its per-byte price.

Layers are unpacked on **tmpfs** (``/dev/shm``) when this machine has one that can be written,
otherwise in the default temporary directory (:func:`tempfile.gettempdir`): on tmpfs the CPU time
is the unpacker's and the kernel's copy into memory, with no disk's speed or writeback in it (the
disk model prices those). :func:`unpack_dir` says which directory is used (:data:`UNPACK_DIRS`
lists the tmpfs candidates). Each unpacked tree is removed after its call, outside any receipt.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from regsim.registry import receipts
from regsim.registry.lazy.unpack import decompress_zstd, inflate_gzip, unpack_layer

from .calibrate import Workload, register_workload

#: (uncompressed chunk size, calls per repeat, per compression): small ones fix the overhead
UNPACK_CHUNK_SIZES = ((4 << 10, 24), (64 << 10, 12), (1 << 20, 4), (4 << 20, 2))
#: (bytes of file data in the layer, unpacks per repeat, per compression)
UNPACK_LAYER_SIZES = ((256 << 10, 4), (2 << 20, 2), (8 << 20, 1))
#: where layers are unpacked, in order of preference: tmpfs, then the default temporary directory
UNPACK_DIRS = ("/dev/shm",)
GZIP_LEVEL = 6
ZSTD_LEVEL = 3
#: share of a layer's file data in small text-like files
SMALL_SHARE = 1 / 3
#: small files are log-uniform between these sizes; a directory holds about this many of them
SMALL_FILE_SIZES = (200, 16 << 10)
FILES_PER_DIR = 24


def unpack_dir() -> str:
    """The directory layers are unpacked under: ``/dev/shm`` (tmpfs) if writable, else the temp dir."""
    for d in UNPACK_DIRS:
        if os.path.isdir(d) and os.access(d, os.W_OK | os.X_OK):
            return d
    return tempfile.gettempdir()


class _Content:
    """Deterministic layer-like bytes: text-like runs from a word vocabulary, binary-like runs
    that alternate 2 KiB of random bytes with 6 KiB of text."""

    def __init__(self, seed: int = 3) -> None:
        self.rng = np.random.default_rng(seed)
        letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz_/=.-0123456789", dtype=np.uint8)
        self.words = [bytes(self.rng.choice(letters, int(n))) for n in self.rng.integers(2, 12, 512)]

    def text(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            picks = self.rng.integers(0, len(self.words), 256)
            out += b" ".join(self.words[i] for i in picks) + b"\n"
        return bytes(out[:n])

    def binary(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            out += self.rng.integers(0, 256, 2048, dtype=np.uint8).tobytes() + self.text(6144)
        return bytes(out[:n])

    def mixed(self, n: int) -> bytes:
        """A chunk with the layers' mix: a third text, two thirds binary-like."""
        small = int(n * SMALL_SHARE)
        return self.text(small) + self.binary(n - small)


def build_layer_tar(content: _Content, data_bytes: int) -> bytes:
    """An uncompressed layer tar holding about ``data_bytes`` of file data: small text-like files
    in directories (:data:`SMALL_SHARE` of the bytes), then one to three large binary-like ones."""
    rng = content.rng
    buf = io.BytesIO()
    lo, hi = np.log(SMALL_FILE_SIZES[0]), np.log(SMALL_FILE_SIZES[1])
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        def add(name: str, data: bytes | None, mode: int) -> None:
            info = tarfile.TarInfo(name)
            info.mtime, info.mode = 1_700_000_000, mode
            if data is None:
                info.type = tarfile.DIRTYPE
                tf.addfile(info)
            else:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))

        add("usr", None, 0o755)
        add("usr/share", None, 0o755)
        small_left, i = int(data_bytes * SMALL_SHARE), 0
        while small_left > 0:
            folder = f"usr/share/d{i // FILES_PER_DIR:04d}"
            if i % FILES_PER_DIR == 0:
                add(folder, None, 0o755)
            n = min(int(np.exp(rng.uniform(lo, hi))), small_left)
            add(f"{folder}/f{i:05d}.conf", content.text(n), 0o644)
            small_left -= n
            i += 1
        large_left = data_bytes - int(data_bytes * SMALL_SHARE)
        count = 1 if data_bytes < (1 << 20) else 3
        add("usr/lib", None, 0o755)
        for j in range(count):
            n = large_left // (count - j)
            add(f"usr/lib/lib{j}.so", content.binary(n), 0o755)
            large_left -= n
    return buf.getvalue()


@dataclass
class _Bench:
    """The compressed chunks and layers a run goes through, made once."""

    gzip_chunks: list[tuple[bytes, int]]
    zstd_chunks: list[tuple[bytes, int]]
    layers: list[tuple[bytes, bytes, int]]  # (gzip, zstd, unpacks per repeat)
    where: str


def _make_bench(chunk_sizes: Sequence[tuple[int, int]], layer_sizes: Sequence[tuple[int, int]]) -> _Bench:
    import zstandard

    content = _Content()
    zc = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    gz_chunks, zs_chunks = [], []
    for size, calls in chunk_sizes:
        raw = content.mixed(size)
        gz_chunks.append((gzip.compress(raw, GZIP_LEVEL, mtime=0), calls))
        zs_chunks.append((zc.compress(raw), calls))
    layers = []
    for size, calls in layer_sizes:
        tar = build_layer_tar(content, size)
        layers.append((gzip.compress(tar, GZIP_LEVEL, mtime=0), zc.compress(tar), calls))
    return _Bench(gz_chunks, zs_chunks, layers, unpack_dir())


def _round(bench: _Bench) -> None:
    for data, calls in bench.gzip_chunks:
        for _ in range(calls):
            inflate_gzip(data, detail="chunk")
    for data, calls in bench.zstd_chunks:
        for _ in range(calls):
            decompress_zstd(data, detail="chunk")
    for gz, zs, calls in bench.layers:
        for _ in range(calls):
            for data in (gz, zs):
                dest = tempfile.mkdtemp(prefix="regsim-unpack-", dir=bench.where)
                try:
                    unpack_layer(data, dest)
                finally:
                    shutil.rmtree(dest, ignore_errors=True)


def unpack_workload(*, chunk_sizes: Sequence[tuple[int, int]] = UNPACK_CHUNK_SIZES,
                    layer_sizes: Sequence[tuple[int, int]] = UNPACK_LAYER_SIZES) -> Workload:
    """The ``unpack`` workload: inflate and decompress chunks, and unpack gzip and zstd layers
    (the chunks and layers are generated and compressed on the first run, outside any receipt).
    ``chunk_sizes`` and ``layer_sizes`` are (size, calls per repeat) pairs, as the defaults."""
    state: list[_Bench] = []

    def run() -> None:
        if not state:
            with receipts.suspended():  # making the content is not part of any price
                state.append(_make_bench(chunk_sizes, layer_sizes))
        _round(state[0])

    run.__doc__ = "gzip/zstd decompression and tar extraction of generated layers (regsim.lazy.unpack)."
    return run


def register_unpack_workload() -> str:
    """Add the ``unpack`` workload to the default calibration set; returns its name."""
    register_workload("unpack", unpack_workload(chunk_sizes=UNPACK_CHUNK_SIZES, layer_sizes=UNPACK_LAYER_SIZES))
    return "unpack"
