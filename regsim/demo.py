"""The registry-core demonstration behind ``make demo``.

Pushes an image into a registry with AES-256-GCM envelope encryption over Reed-Solomon 4+2 on six
storage nodes, pulls it back, loses two storage nodes, reads the image again through degraded
reads, repairs, and prints what each step cost as receipt totals. Every byte is real.

With a ``root`` folder the registry's files stay there, beside the keyring that encrypts them
(``keyring.json``), so a second demo in the same folder reads what the first stored. A folder
holding other files is refused rather than mixed into.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

from .registry import receipts
from .registry.config import RegistryConfig
from .registry.errors import ConfigError
from .registry.registry import Registry

MiB = 1 << 20
#: the keyring file a demo keeps in its root folder.
KEYRING = "keyring.json"


def _layers(seed: int, sizes_mib: list[int]) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(s * MiB) for s in sizes_mib]


def demo_root(root: Path) -> Path:
    """``root`` made ready for a demo: created if new (OSError if it cannot be); ConfigError if it
    is a file or holds files that no demo wrote (no keyring beside them, so they could not be read back)."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"--root {root}: is a file, not a folder")
    root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()) and not (root / KEYRING).is_file():
        raise ConfigError(f"--root {root}: holds files but no {KEYRING}, so it was not made by regsim demo; "
                          "give an empty or new folder")
    return root


def run_demo(root: Path | None = None, *, out=print, seed: int = 7, sizes_mib: list[int] | None = None) -> dict:
    """Run the demonstration and return its figures (the CLI prints them; tests check them)."""
    sizes_mib = sizes_mib or [8, 4, 2]
    with tempfile.TemporaryDirectory(prefix="regsim-demo-") as tmp:
        root = demo_root(root) if root is not None else Path(tmp)
        config = RegistryConfig(backend="filesystem", root=root, codec="rs(4,2)", nodes=6,
                                encryption="aes-256-gcm", keyring=root / KEYRING, fsync=False)
        reg = Registry(config)
        layers = _layers(seed, sizes_mib)
        total = sum(map(len, layers))
        figures: dict = {"image_bytes": total}
        out(f"registry: {config.codec} over {config.nodes} filesystem nodes, encryption {config.encryption}")

        with receipts.collect() as push:
            image = reg.push_image("demo/app", "v1", layers)
        stored = reg.stored_bytes()
        figures.update(push=push.by_kind(), stored_bytes=stored, overhead=stored / total)
        out(f"\npush {len(layers)} layers, {total / MiB:.0f} MiB -> {image.manifest.short}")
        out(push.summary())
        out(f"stored {stored:,} bytes on the nodes: {stored / total:.3f}x the image")

        with receipts.collect() as pull:
            assert reg.pull_image("demo/app", "v1") == layers
        figures["pull"] = pull.by_kind()
        out("\npull (healthy)")
        out(pull.summary())

        lost = ["s1", "s4"]
        for name in lost:
            reg.fail_node(name)
        with receipts.collect() as degraded:
            assert reg.pull_image("demo/app", "v1") == layers
        figures["degraded_pull"] = degraded.by_kind()
        out(f"\npull with nodes {', '.join(lost)} lost (degraded reads)")
        out(degraded.summary())

        for name in lost:
            reg.replace_node(name)
        with receipts.collect() as rep:
            report = reg.repair()
        figures["repair"] = rep.by_kind()
        figures["repair_report"] = report
        out(f"\nrepair onto replaced nodes: {report}")
        out(rep.summary())
        assert reg.pull_image("demo/app", "v1") == layers
        out("\nimage verified after repair: all layers match their digests")
    return figures


if __name__ == "__main__":  # pragma: no cover
    run_demo(Path(os.environ["REGSIM_DEMO_ROOT"]) if "REGSIM_DEMO_ROOT" in os.environ else None)
