"""Timing checks of the CI gate, judged only as ratios to a raw primitive timed in the same run.

An absolute time says as much about the machine (and its neighbours) as about the code, so a
gate on seconds either fails at random on a shared CI runner or is too loose to catch anything.
A ratio does not have that problem: each check times one of our operations and the primitive it is
built on -- our sha256 against ``hashlib``, our envelope cipher against one raw AES-GCM pass --
in alternating rounds, so a busy machine slows both alike, and keeps the best round of each. The
ratio is ``reference time / our time`` (1.0: no overhead; 8.0: eight times faster than the
reference) and must reach the check's stated ``factor``. A check that falls short is measured
once more before it fails, so one unlucky burst of load is not a regression.

The factors and why each is what it is: ``docs/ci.md``.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["RATIO_CHECKS", "RatioCheck", "RatioResult", "measure", "run_ratios"]

Pair = tuple[Callable[[], object], Callable[[], object]]
MiB = 1 << 20


@dataclass(frozen=True)
class RatioCheck:
    """One timing check: ``setup(scale)`` returns (ours, reference) callables on prepared inputs."""

    name: str
    ours: str
    reference: str
    factor: float
    setup: Callable[[float], Pair]


@dataclass(frozen=True)
class RatioResult:
    """A measured check: best time per call of ours and of the reference, and how many tries it took."""

    check: RatioCheck
    ours_s: float
    reference_s: float
    attempts: int = 1

    @property
    def ratio(self) -> float:
        """Reference time over our time: how many times the reference's speed we reach."""
        return self.reference_s / self.ours_s if self.ours_s > 0 else float("inf")

    @property
    def ok(self) -> bool:
        return self.ratio >= self.check.factor


def _bytes(scale: float, nbytes: int) -> bytes:
    return os.urandom(max(4096, int(nbytes * scale)))


def _sha256(scale: float) -> Pair:
    from regsim.registry import receipts
    from regsim.registry.digest import compute

    data = _bytes(scale, 64 * MiB)

    def ours() -> object:
        with receipts.collect():
            return compute(data)

    return ours, lambda: hashlib.sha256(data).hexdigest()


def _aes_gcm(scale: float) -> Pair:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    from regsim.registry.crypto import EnvelopeCipher, Keyring

    data = _bytes(scale, 64 * MiB)
    cipher, key = EnvelopeCipher(Keyring.generate()), os.urandom(32)
    out, scratch = bytearray(cipher.ciphertext_size(len(data))), bytearray(len(data) + 15)

    def reference() -> object:
        enc = Cipher(algorithms.AES(key), modes.GCM(os.urandom(12))).encryptor()
        enc.update_into(data, scratch)
        enc.finalize()
        return enc.tag

    return lambda: cipher.encrypt_into(data, out), reference


def _rs_encode(scale: float) -> Pair:
    import zfec

    from regsim.registry.codecs.reed_solomon import ReedSolomon

    data = _bytes(scale, 64 * MiB)
    codec, encoder = ReedSolomon(4, 2), zfec.Encoder(4, 6)
    chunk = -(-len(data) // 4)
    view = memoryview(data)
    chunks = tuple(bytes(view[i * chunk:(i + 1) * chunk]).ljust(chunk, b"\0") for i in range(4))
    return lambda: codec.encode(data), lambda: encoder.encode(chunks, (4, 5))


def _jwt_cached(scale: float) -> Pair:
    import jwt

    from regsim.registry.auth import AuthSpec, Scope, SigningKey, make_auth

    issuer, service = "https://auth.check.test", "registry.check.test"
    key = SigningKey.hmac(b"regsim-check-secret-of-32-bytes!", kid="check")
    stack = make_auth(AuthSpec(mode="jwt", signing_key=key, issuer=issuer, service=service,
                               grants={"alice": {"team/*": "pull"}}))
    token = stack.tokens.issue("alice", [Scope.parse("repository:team/app:pull")]).token
    verifier = stack.verifier
    verifier.verify(token)  # the checks below time the cached path
    return (lambda: verifier.verify(token),
            lambda: jwt.decode(token, key.verify_key, algorithms=["HS256"], audience=service, issuer=issuer))


def _push_pipeline(scale: float) -> Pair:
    """A whole push against the sum of its stages, each done alone on the same bytes.

    Ours: ``Registry.put_blob`` on RS(4,2) over six fsynced filesystem nodes with envelope
    encryption, a new blob every call (no dedupe). Reference, in one call: sha256, envelope
    encryption, RS(4,2) encode, and six new fsynced fragment files (new objects, as a push writes:
    see ``tests/registry/test_pipeline_bench.py``). What ours loses is glue: copies, metadata,
    receipts, directory levels. Both write under a temporary directory, removed with the pair.
    """
    import itertools
    import shutil
    import tempfile
    import weakref
    from pathlib import Path

    from regsim.registry import receipts
    from regsim.registry.cluster.fragment import FragmentHeader, frame
    from regsim.registry.codecs.reed_solomon import ReedSolomon
    from regsim.registry.config import RegistryConfig
    from regsim.registry.crypto import EnvelopeCipher, Keyring
    from regsim.registry.registry import Registry
    from regsim.registry.storage import FilesystemBackend

    data = bytearray(_bytes(scale, 64 * MiB))
    root = Path(tempfile.mkdtemp(prefix="regsim-check-"))
    keyring = Keyring.generate()
    cipher, codec = EnvelopeCipher(keyring), ReedSolomon(4, 2)
    registry = Registry(RegistryConfig(backend="filesystem", root=root / "registry", codec=codec.name, nodes=6,
                                       encryption="aes-256-gcm"), keyring=keyring)
    nodes = [FilesystemBackend(root / "stages" / f"s{i}") for i in range(6)]
    ciphertext = cipher.encrypt(data)
    framed = [frame(FragmentHeader.describe("blobs/k", codec.name, i, 4, 6, len(ciphertext), f), f)
              for i, f in enumerate(codec.encode(ciphertext))]
    pushes, writes = itertools.count(), itertools.count()

    def ours() -> object:
        data[:8] = next(pushes).to_bytes(8, "little")
        with receipts.collect():
            return registry.put_blob("check/app", data)

    def reference() -> object:
        digest = hashlib.sha256(data).hexdigest()
        cipher.encrypt(data)
        codec.encode(ciphertext)
        write = next(writes)
        for i, (node, fragment) in enumerate(zip(nodes, framed)):
            node.put(f"fragments/{write}-{i}", fragment)
        return digest

    weakref.finalize(ours, shutil.rmtree, root, ignore_errors=True)
    return ours, reference


#: the checks ``regsim check`` runs, each against a stated factor (``docs/ci.md`` says why).
RATIO_CHECKS: tuple[RatioCheck, ...] = (
    RatioCheck("sha256-64MiB", "regsim digest.compute, receipt recorded", "hashlib.sha256", 0.9, _sha256),
    RatioCheck("aes-gcm-64MiB", "EnvelopeCipher.encrypt_into, 1 MiB segments",
               "one AES-256-GCM pass (update_into)", 0.85, _aes_gcm),
    RatioCheck("rs(4,2)-encode-64MiB", "ReedSolomon(4,2).encode", "zfec encode of pre-cut chunks", 0.8, _rs_encode),
    RatioCheck("jwt-cached-verify", "TokenVerifier.verify, cached token", "PyJWT HS256 decode and verify", 8.0,
               _jwt_cached),
    RatioCheck("push-pipeline-64MiB", "Registry.put_blob: rs(4,2), AES-GCM, 6 fs nodes",
               "its 4 stages timed alone, summed", 0.8, _push_pipeline),
)


def _calibrate(fn: Callable[[], object], min_time: float) -> int:
    """Calls per timing loop so that one loop lasts at least ``min_time`` seconds."""
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        if time.perf_counter() - start >= min_time:
            return number
        number *= 4


def _loop(fn: Callable[[], object], number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def measure(check: RatioCheck, *, rounds: int = 5, min_time: float = 0.02, scale: float = 1.0) -> RatioResult:
    """Time ``check``: calibrated loops of ours and the reference in alternating rounds, best of each."""
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    ours, reference = check.setup(scale)
    n_ours, n_ref = _calibrate(ours, min_time), _calibrate(reference, min_time)
    best_ours = best_ref = float("inf")
    for _ in range(rounds):
        best_ref = min(best_ref, _loop(reference, n_ref))
        best_ours = min(best_ours, _loop(ours, n_ours))
    return RatioResult(check, best_ours, best_ref)


def run_ratios(checks: Iterable[RatioCheck] = RATIO_CHECKS, *, rounds: int = 5, retries: int = 1,
               scale: float = 1.0) -> list[RatioResult]:
    """Measure every check; one that falls short is measured again, up to ``retries`` times."""
    results = []
    for check in checks:
        result = measure(check, rounds=rounds, scale=scale)
        attempts = 1
        while not result.ok and attempts <= retries:
            attempts += 1
            again = measure(check, rounds=rounds, scale=scale)
            result = RatioResult(check, again.ours_s, again.reference_s, attempts) if again.ratio > result.ratio \
                else RatioResult(check, result.ours_s, result.reference_s, attempts)
        results.append(result)
    return results
