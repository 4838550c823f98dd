"""Filesystem backend speed as a ratio to the raw file operations it wraps.

Each round runs the raw primitive (in the benchmark's untimed setup) right before the backend, so
both see the same machine state; the median of the per-round ratios raw/backend is printed and
checked loosely (target x 0.8) because the machine is shared. Run with
``pytest -m benchmark tests/registry/test_backend_bench.py -s`` to see the figures.
"""

from __future__ import annotations

import os
import statistics
import time

import pytest

from regsim.registry import receipts
from regsim.registry.storage import FilesystemBackend, MeteredBackend

MiB = 1 << 20
SIZE = 64 * MiB
CHUNK = 4 * MiB
TARGET = 0.85
LOOSE = 0.8
WARMUP = 1

pytestmark = pytest.mark.benchmark


@pytest.fixture(scope="module")
def payload() -> bytes:
    return os.urandom(SIZE)


@pytest.fixture(params=["filesystem", "metered"])
def store(request, tmp_path):
    fs = FilesystemBackend(tmp_path / "store", name="bench", fsync=True)
    return MeteredBackend(fs) if request.param == "metered" else fs


def chunks_of(payload: bytes) -> list[memoryview]:
    view = memoryview(payload)
    return [view[i : i + CHUNK] for i in range(0, SIZE, CHUNK)]


def raw_write(directory: str, chunks: list[memoryview]) -> None:
    """The primitive: a temp file, the same chunks, fsync, os.replace."""
    temp, dest = os.path.join(directory, "raw.tmp"), os.path.join(directory, "raw")
    with open(temp, "wb") as f:
        for chunk in chunks:
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temp, dest)


def raw_read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def report(label: str, raw: list[float], stats, warmup_rounds: int) -> float:
    """Print the figures and return the median of per-round raw/backend ratios (pairing each
    backend round with the raw run just before it cancels most of the machine's drift)."""
    raw = raw[warmup_rounds:]  # setup also ran before the untimed warm-up rounds
    paired = statistics.median(r / b for r, b in zip(raw, stats.data, strict=True))
    print(
        f"\n{label}: raw min {min(raw) * 1e3:.1f} ms, backend min {stats.min * 1e3:.1f} ms; raw/backend: "
        f"paired median {paired:.3f}, of mins {min(raw) / stats.min:.3f} (target >= {TARGET})"
    )
    return paired


def test_write_64mib_in_4mib_chunks(benchmark, store, payload, tmp_path):
    chunks = chunks_of(payload)
    raw_dir = tmp_path / "raw"
    raw_dir.mkdir()
    raw_times: list[float] = []

    def run_raw_first() -> None:
        t0 = time.perf_counter()
        raw_write(str(raw_dir), chunks)
        raw_times.append(time.perf_counter() - t0)

    def backend_write() -> None:
        with receipts.collect(), store.writer("blobs/big") as w:
            for chunk in chunks:
                w.write(chunk)

    benchmark.pedantic(backend_write, setup=run_raw_first, rounds=8, warmup_rounds=WARMUP, iterations=1)
    assert store.get("blobs/big") == payload
    ratio = report(f"write 64 MiB ({type(store).__name__})", raw_times, benchmark.stats.stats, WARMUP)
    assert ratio >= TARGET * LOOSE


def test_read_64mib(benchmark, store, payload, tmp_path):
    store.put("blobs/big", payload)
    raw_path = str(tmp_path / "raw")
    with open(raw_path, "wb") as f:
        f.write(payload)
    raw_times: list[float] = []

    def run_raw_first() -> None:
        t0 = time.perf_counter()
        raw_read(raw_path)
        raw_times.append(time.perf_counter() - t0)

    def backend_read() -> bytes:
        with receipts.collect():
            return store.get("blobs/big")

    data = benchmark.pedantic(backend_read, setup=run_raw_first, rounds=15, warmup_rounds=WARMUP)
    assert data == payload
    ratio = report(f"read 64 MiB ({type(store).__name__})", raw_times, benchmark.stats.stats, WARMUP)
    assert ratio >= TARGET * LOOSE


def test_read_at_4mib_windows(benchmark, store, payload, tmp_path):
    store.put("blobs/big", payload)
    raw_path = str(tmp_path / "raw")
    with open(raw_path, "wb") as f:
        f.write(payload)
    raw_times: list[float] = []

    def run_raw_first() -> None:
        t0 = time.perf_counter()
        for offset in range(0, SIZE, CHUNK):
            fd = os.open(raw_path, os.O_RDONLY)
            os.pread(fd, CHUNK, offset)
            os.close(fd)
        raw_times.append(time.perf_counter() - t0)

    def backend_read_at() -> int:
        with receipts.collect():
            return sum(len(store.read_at("blobs/big", o, CHUNK)) for o in range(0, SIZE, CHUNK))

    total = benchmark.pedantic(backend_read_at, setup=run_raw_first, rounds=15, warmup_rounds=WARMUP)
    assert total == SIZE
    ratio = report(f"read_at 16 x 4 MiB ({type(store).__name__})", raw_times, benchmark.stats.stats, WARMUP)
    assert ratio >= TARGET * LOOSE
