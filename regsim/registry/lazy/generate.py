"""Synthetic layers of real bytes: a plausible filesystem for a layer of a given compressed size.

A model of lazy pulling needs real layers to convert (the formats' units, sizes and indexes come
from the real converters), but a scenario names an image by its layer sizes. :func:`generate_layer`
builds a ``tar+gzip`` layer of about ``size`` compressed bytes from a :class:`FileProfile`:

- file sizes are lognormal (``median``, ``sigma``), each capped at ``max_file``; defaults (median
  4 KiB, sigma 2.0) are an *assumption* giving what studies of Docker Hub report qualitatively:
  most files are small and most bytes are in a few large ones;
- contents mix incompressible bytes (a fixed pool of random bytes, as compressed or encrypted
  data, images, archives) and text drawn from a small vocabulary (sources, configuration,
  symbol tables); each file is one or the other, ``random_share`` of the bytes random (files are
  assigned in turn so that the share holds as the layer grows) (an *assumption*: 0.3, which with gzip -6 gives about 0.45 compressed over
  uncompressed, near the 2-3x ratios registries report for image layers);
- files sit in a directory tree under the top-level directories of a Linux image (``usr/lib``,
  ``usr/bin``, ``etc``...), so a start-up trace's path preferences find them, and are written
  directory by directory, as a walk of a tree writes a tar (a directory's files are contiguous).

The same ``size``, profile and ``seed`` give the same bytes. The uncompressed size is the target over
the compression ratio measured on a sample layer of the same profile (:data:`SAMPLE_BYTES`).
"""

from __future__ import annotations

import gzip
import io
import tarfile
from dataclasses import dataclass

import numpy as np

from .errors import LazyFormatError

#: directories files are spread over (weights: where an image's files mostly are)
DIRECTORIES = (("usr/lib", 0.35), ("usr/lib/python3/dist-packages", 0.15), ("usr/bin", 0.08), ("usr/share", 0.2),
               ("lib", 0.07), ("etc", 0.05), ("opt/app", 0.1))
_WORDS = (b"the of and to in is for on that by this with from at as are be or an it not which have "
          b"int char void return static const struct if else while for include define unsigned "
          b"import def class self none true false yield lambda value key name path config error "
          b"0x00 0xff 127.0.0.1 localhost usr lib bin etc share python module version license").split()
_POOL_BYTES = 96 << 20
#: the uncompressed size of the sample a layer's compression ratio is measured on
SAMPLE_BYTES = 8 << 20
_MTIME = 1_700_000_000


@dataclass(frozen=True)
class FileProfile:
    """What a synthetic layer's files look like (see the module docstring for the defaults' basis)."""

    median: int = 4096
    sigma: float = 2.0
    max_file: int = 64 << 20
    random_share: float = 0.3
    level: int = 6

    def __post_init__(self) -> None:
        if self.median <= 0 or self.max_file < self.median:
            raise LazyFormatError(f"file sizes: median {self.median} must be positive and at most max_file "
                                  f"{self.max_file}")
        if not 0 <= self.sigma <= 6:
            raise LazyFormatError(f"file sizes: sigma must be in [0, 6], got {self.sigma}")
        if not 0 <= self.random_share <= 1:
            raise LazyFormatError(f"random_share must be in [0, 1], got {self.random_share}")
        if not 0 <= self.level <= 9:
            raise LazyFormatError(f"gzip level must be in 0..9, got {self.level}")


@dataclass(frozen=True)
class GeneratedLayer:
    """A synthetic layer: its ``tar+gzip`` bytes, its tar's size and how many files it holds."""

    gz: bytes
    tar_size: int
    files: int


class _Pools:
    """The byte pools contents are cut from, built once per process (deterministic)."""

    _random: bytes | None = None
    _text: bytes | None = None

    @classmethod
    def get(cls) -> tuple[bytes, bytes]:
        if cls._random is None:
            rng = np.random.default_rng(20260101)
            cls._random = rng.integers(0, 256, _POOL_BYTES, dtype=np.uint8).tobytes()
            words = rng.choice(len(_WORDS), 2_000_000)
            seps = np.array([b" ", b"\n", b"_", b"/"], dtype=object)[rng.choice(4, len(words), p=[0.8, 0.1, 0.05, 0.05])]
            cls._text = b"".join(_WORDS[w] + s for w, s in zip(words.tolist(), seps.tolist()))
        return cls._random, cls._text  # type: ignore[return-value]


def _file_sizes(rng: np.random.Generator, total: int, profile: FileProfile) -> list[int]:
    sizes: list[int] = []
    acc = 0
    while acc < total:
        batch = np.exp(np.log(profile.median) + profile.sigma * rng.standard_normal(1024))
        for s in np.minimum(np.maximum(batch, 1), profile.max_file).astype(int).tolist():
            s = min(s, total - acc) if total - acc > 0 else s
            sizes.append(max(1, s))
            acc += s
            if acc >= total:
                break
    return sizes


def _build(uncompressed: int, profile: FileProfile, seed: int) -> GeneratedLayer:
    rng = np.random.default_rng(seed)
    pool, text = _Pools.get()
    sizes = _file_sizes(rng, uncompressed, profile)
    dirs = [d for d, _ in DIRECTORIES]
    weights = np.array([w for _, w in DIRECTORIES])
    where = rng.choice(len(dirs), len(sizes), p=weights / weights.sum())
    sub = rng.integers(0, max(1, len(sizes) // 40 + 1), len(sizes))
    # a file is random when the random bytes so far fall short of the share: the layer's ratio
    # stays steady whichever files happen to be large
    is_random, acc, rnd = [], 0, 0
    for size in sizes:
        acc += size
        is_random.append(rnd + size / 2 < profile.random_share * acc)
        rnd += size if is_random[-1] else 0
    buf = io.BytesIO()
    made: set[str] = set()
    folders = [f"{dirs[where[i]]}/d{sub[i]:04d}" for i in range(len(sizes))]
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        # a tree's files go into a tar directory by directory, as a walk of the tree writes them
        for i in sorted(range(len(sizes)), key=lambda i: (folders[i], i)):
            size, folder = sizes[i], folders[i]
            parts = folder.split("/")
            for depth in range(1, len(parts) + 1):
                d = "/".join(parts[:depth])
                if d not in made:
                    made.add(d)
                    info = tarfile.TarInfo(d)
                    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, _MTIME
                    tf.addfile(info)
            source = pool if is_random[i] else text
            start = int(rng.integers(0, len(source) - size)) if size < len(source) else 0
            data = source[start:start + size]
            if len(data) < size:  # a file larger than the pool: repeat it (only past max_file's default)
                data = (data * (size // max(1, len(data)) + 1))[:size]
            info = tarfile.TarInfo(f"{folder}/f{i:06d}{'.so' if is_random[i] else '.txt'}")
            info.size, info.mode, info.mtime = size, 0o755 if i % 7 == 0 else 0o644, _MTIME
            tf.addfile(info, io.BytesIO(data))
    tar = buf.getvalue()
    return GeneratedLayer(gzip.compress(tar, compresslevel=profile.level, mtime=0), len(tar), len(sizes))


def generate_layer(size: int, profile: FileProfile = FileProfile(), *, seed: int = 0) -> GeneratedLayer:
    """A ``tar+gzip`` layer of about ``size`` compressed bytes (within 10 % for layers of more than
    a few hundred files), built from ``profile`` and ``seed``."""
    if size <= 0:
        raise LazyFormatError(f"a generated layer needs a positive size, got {size}")
    if size <= SAMPLE_BYTES:
        guess = 1.0 - 0.55 * (1 - profile.random_share) if profile.level else 1.0
        layer = _build(max(1, int(size / guess)), profile, seed)
        if abs(len(layer.gz) - size) <= 0.05 * size:
            return layer
    else:  # the ratio measured on a sample of the same profile, so the layer is built once
        layer = _build(SAMPLE_BYTES, profile, seed + 7919)
    return _build(max(1, int(size * layer.tar_size / len(layer.gz))), profile, seed)
