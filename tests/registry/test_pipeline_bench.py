"""The whole push pipeline against the bound computed from its measured stages (``-m benchmark``).

Pipeline: sha256 -> AES-256-GCM envelope encryption -> RS(4,2) encode -> six filesystem nodes
(fsync on). Each stage is timed alone in the same run, on the same bytes; the stage bound is the
sum of the stage times (one thread runs them one after the other), and the registry's
``put_blob`` should reach >= 0.9 of it: whatever it loses is glue (copies, metadata, receipts,
directory levels of the fragment layout).
Also the sha256 stage against hashlib itself (>= 0.85). Assertions are loosened by 0.8 for a noisy
shared machine; the printed figures are the ones to report.

The ``fs_write`` stage writes six *new* objects each round, one per node, as a push does (a new
blob's fragments never replace anything). It used to rewrite the same six keys every round, and a
replacement is not the same disk work: the filesystem hands the new file the blocks the replaced
one just freed, while a push takes blocks the disk has not had in use. On this project's VM
(ext4 over a thin-provisioned virtual disk) writing into fresh space measured ~2x slower
(median of six fsynced 16 MiB fragments: 470-550 ms new, 195-250 ms replaced), so the old bound
timed a cheaper operation than the pipeline can do and the ratio fell with the disk's state, not
with the code. The stage's objects sit under one existing directory: the directories the
registry's layout adds per blob stay on the pipeline's side of the ratio, as glue.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import time

import pytest

from regsim.registry import receipts
from regsim.registry.cluster.fragment import FragmentHeader, frame
from regsim.registry.codecs import ReedSolomon
from regsim.registry.config import RegistryConfig
from regsim.registry.crypto import EnvelopeCipher, Keyring
from regsim.registry.digest import compute
from regsim.registry.registry import Registry
from regsim.registry.storage import FilesystemBackend

SIZE = 64 << 20
ROUNDS = 7


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


@pytest.fixture(scope="module")
def blob() -> bytearray:
    return bytearray(os.urandom(SIZE))


@pytest.mark.benchmark
def test_sha256_stage_against_hashlib(benchmark, blob):
    raw: list[float] = []

    def setup():
        raw.append(_timed(lambda: hashlib.sha256(blob).digest()))  # same load as the round after it
        return (), {}

    def ours():
        with receipts.collect():
            compute(blob)

    benchmark.pedantic(ours, setup=setup, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    ratio = min(raw) / benchmark.stats.stats.min
    print(f"\nsha256 stage: ours {SIZE / benchmark.stats.stats.min / 1e9:.2f} GB/s, "
          f"hashlib {SIZE / min(raw) / 1e9:.2f} GB/s, ratio {ratio:.3f} (target 0.85)")
    assert ratio >= 0.85 * 0.8


@pytest.mark.benchmark
def test_push_pipeline_against_stage_bound(benchmark, blob, tmp_path):
    keyring = Keyring.generate()
    cipher = EnvelopeCipher(keyring)
    codec = ReedSolomon(4, 2)
    nodes = [FilesystemBackend(tmp_path / "stages" / f"s{i}") for i in range(6)]

    ciphertext = cipher.encrypt(blob, aad=b"x")
    fragments = codec.encode(ciphertext)
    framed = [frame(FragmentHeader.describe("blobs/k", codec.name, i, 4, 6, len(ciphertext), f), f)
              for i, f in enumerate(fragments)]

    stage_round = itertools.count()

    def write_fragments():
        # New objects every round, kept like the pushed blobs are (module docstring).
        r = next(stage_round)
        for i, (node, f) in enumerate(zip(nodes, framed)):
            node.put(f"fragments/k/{r}-{i}", f)

    stage_fns = {
        "sha256": lambda: hashlib.sha256(blob).digest(),
        "encrypt": lambda: cipher.encrypt(blob, aad=b"x"),
        "rs_encode": lambda: codec.encode(ciphertext),
        "fs_write": write_fragments,
    }
    reg = Registry(RegistryConfig(backend="filesystem", root=tmp_path / "reg", codec="rs(4,2)", nodes=6,
                                  encryption="aes-256-gcm"), keyring=keyring)
    counter = iter(range(10**6))
    bounds: list[dict[str, float]] = []

    def setup():
        # Each round times every stage alone right before the pipeline, so both see the same load.
        bounds.append({name: _timed(fn) for name, fn in stage_fns.items()})
        blob[:8] = next(counter).to_bytes(8, "little")  # a new blob each round: no dedupe
        return (), {}

    def push():
        with receipts.collect():
            reg.put_blob("bench/app", blob)

    try:
        benchmark.pedantic(push, setup=setup, rounds=ROUNDS, iterations=1, warmup_rounds=0)
    finally:  # ~1.4 GB of fragments: pytest keeps the last runs' temporary directories
        shutil.rmtree(tmp_path / "stages", ignore_errors=True)
        shutil.rmtree(tmp_path / "reg", ignore_errors=True)
    pipeline = benchmark.stats.stats.min
    stages = {name: min(b[name] for b in bounds) for name in stage_fns}
    bound = sum(stages.values())
    ratio = bound / pipeline
    figures = ", ".join(f"{k} {SIZE / v / 1e9:.2f} GB/s" for k, v in stages.items())
    print(f"\npush pipeline: {SIZE / pipeline / 1e9:.3f} GB/s; stage bound {SIZE / bound / 1e9:.3f} GB/s "
          f"({figures}); ratio {ratio:.3f} (target 0.9)")
    benchmark.extra_info.update(stages=stages, bound_s=bound, ratio=ratio)
    assert ratio >= 0.9 * 0.8
