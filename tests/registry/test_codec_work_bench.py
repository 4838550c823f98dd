"""Is "bytes multiplied" the unit erasure coding's CPU time follows? (run with ``-m benchmark``)

The receipts price ec_* work in bytes multiplied (GF(2^8) multiply-accumulates), so that one
calibrated throughput prices every code shape. This measures the CPU seconds per byte multiplied
of RS(4,2) and RS(10,4) encodes, interleaved in the same run, from the receipts' own ``cpu_s``
(what calibration fits). Per data byte RS(10,4) does twice the work of RS(4,2) (m = 4 against 2)
and measures about 2-2.5x the time; per byte multiplied the two should cost about the same: the
ratio is asserted within 0.6-1.6 to survive a noisy shared machine, and printed.
"""

from __future__ import annotations

import os

import pytest

from regsim.registry import receipts
from regsim.registry.codecs import MeteredCodec, ReedSolomon
from regsim.registry.receipts import Kind

SIZE = 32 << 20
ROUNDS = 7
BAND = (0.6, 1.6)


@pytest.fixture(scope="module")
def blob() -> bytes:
    return os.urandom(SIZE)


class EncodeCost:
    """Encodes the blob through a metered codec and keeps the receipt's CPU seconds and work."""

    def __init__(self, k: int, m: int, data: bytes) -> None:
        self.codec, self.data = MeteredCodec(ReedSolomon(k, m)), data
        self.samples: list[tuple[float, int]] = []

    def __call__(self) -> None:
        with receipts.collect() as r:
            self.codec.encode(self.data)
        [item] = r.of(Kind.EC_ENCODE)
        self.samples.append((item.cpu_s, item.amount))

    @property
    def best(self) -> tuple[float, int]:
        return min(self.samples)


@pytest.mark.benchmark
def test_cpu_per_byte_multiplied_is_alike_for_rs_4_2_and_rs_10_4(benchmark, blob):
    narrow, wide = EncodeCost(4, 2, blob), EncodeCost(10, 4, blob)
    # the narrow code is timed once before each benchmarked round of the wide one: same machine load
    benchmark.pedantic(wide, setup=narrow, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    (n_cpu, n_work), (w_cpu, w_work) = narrow.best, wide.best
    assert (n_work, w_work) == (SIZE * 2, -(-SIZE // 10) * 10 * 4)  # chunk x k x m
    ratio = (w_cpu / w_work) / (n_cpu / n_work)
    per_data_byte = w_cpu / n_cpu
    benchmark.extra_info.update(rs42_cpu_s=n_cpu, rs104_cpu_s=w_cpu, ratio_per_byte_multiplied=ratio,
                                ratio_per_data_byte=per_data_byte)
    print(f"\nencode {SIZE >> 20} MiB, CPU time, best of {ROUNDS}: "
          f"rs(4,2) {n_work / n_cpu / 1e9:.2f} GB/s multiplied ({SIZE / n_cpu / 1e6:.0f} MB/s of data), "
          f"rs(10,4) {w_work / w_cpu / 1e9:.2f} GB/s multiplied ({SIZE / w_cpu / 1e6:.0f} MB/s of data); "
          f"rs(10,4)/rs(4,2) per byte multiplied {ratio:.2f} (band {BAND[0]}-{BAND[1]}), "
          f"per data byte {per_data_byte:.2f}")
    assert BAND[0] <= ratio <= BAND[1]
