"""Real layers for the lazy-format tests: tar archives built in memory from real bytes."""

from __future__ import annotations

import gzip
import io
import random
import tarfile
from dataclasses import dataclass, field

MiB = 1 << 20


@dataclass
class Layer:
    """A layer's uncompressed tar, its gzip form, and what it holds."""

    tar: bytes
    gz: bytes
    files: dict[str, bytes]                                        # regular files (cleaned name -> bytes)
    dirs: list[str] = field(default_factory=list)
    symlinks: dict[str, str] = field(default_factory=dict)
    hardlinks: dict[str, str] = field(default_factory=dict)


def build_tar(spec, *, level: int = 1) -> Layer:
    """A layer from ``spec``: (name, kind, payload) with kind ``dir`` / ``reg`` (payload: bytes) /
    ``symlink`` / ``hardlink`` (payload: the target)."""
    buf = io.BytesIO()
    layer = Layer(b"", b"", {})
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, kind, payload in spec:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(info)
                layer.dirs.append(name)
            elif kind == "reg":
                info.size, info.mode = len(payload), 0o644
                tf.addfile(info, io.BytesIO(payload))
                layer.files[name] = payload
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, payload
                tf.addfile(info)
                layer.symlinks[name] = payload
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, payload
                tf.addfile(info)
                layer.hardlinks[name] = payload
            else:  # pragma: no cover
                raise ValueError(kind)
    layer.tar = buf.getvalue()
    layer.gz = gzip.compress(layer.tar, level, mtime=0)
    return layer


def compressible(rnd: random.Random, n: int) -> bytes:
    words = [rnd.randbytes(rnd.randint(3, 9)).hex().encode() for _ in range(64)]
    out = bytearray()
    while len(out) < n:
        out += rnd.choice(words) + b" "
    return bytes(out[:n])


def mixed_spec(seed: int = 7, *, files: int = 300, big: bool = True, prefix: str = "") -> list:
    """A few hundred entries of varied sizes: directories, empty files, small and medium files of
    random and of compressible content, symlinks, a hard link, a long (PAX) and a non-ASCII name,
    and (``big``) two files over 4 MiB, one random and one compressible."""
    rnd = random.Random(seed)
    spec: list = [(f"{prefix}usr", "dir", None), (f"{prefix}usr/lib", "dir", None), (f"{prefix}etc", "dir", None)]
    sizes = [0, 0, 1, 7, 511, 512, 513, 4096, 10_000, 65_536, 200_000]
    for i in range(files):
        folder = ("usr/lib", "etc", "usr")[i % 3]
        n = rnd.choice(sizes) if i % 10 else rnd.randint(100_000, 300_000)
        data = rnd.randbytes(n) if i % 2 else compressible(rnd, n)
        spec.append((f"{prefix}{folder}/file{i:03d}.bin", "reg", data))
    spec += [
        (f"{prefix}etc/{'long-name-' * 12}.conf", "reg", b"a name over 100 characters needs a PAX header\n"),
        (f"{prefix}etc/caf\u00e9.txt", "reg", "non-ascii name \u2603\n".encode()),
        (f"{prefix}etc/empty", "reg", b""),
        (f"{prefix}usr/bin", "symlink", "usr/lib"),
        (f"{prefix}etc/hosts.link", "symlink", "/etc/hosts"),
    ]
    if big:
        spec += [(f"{prefix}usr/lib/big-random.so", "reg", rnd.randbytes(4 * MiB + 123_457)),
                 (f"{prefix}usr/lib/big-text.dat", "reg", compressible(rnd, 9 * MiB + 17))]
    spec.append((f"{prefix}usr/lib/hard.link", "hardlink", f"{prefix}usr/lib/file000.bin"))
    return spec


def write_layout(root, layers: list[Layer], ref: str = "v1"):
    """An OCI image layout holding one image of ``layers`` (gzip), with a config whose
    ``rootfs.diff_ids`` are the digests of the uncompressed tars, as a real image's."""
    import hashlib
    import json
    from pathlib import Path

    root = Path(root)
    (root / "blobs" / "sha256").mkdir(parents=True)

    def blob(data: bytes) -> dict:
        d = hashlib.sha256(data).hexdigest()
        (root / "blobs" / "sha256" / d).write_bytes(data)
        return {"digest": f"sha256:{d}", "size": len(data)}

    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
                         "rootfs": {"type": "layers",
                                    "diff_ids": ["sha256:" + hashlib.sha256(x.tar).hexdigest() for x in layers]}})
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **blob(config.encode())},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **blob(x.gz)}
                                      for x in layers]}).encode()
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", **blob(manifest),
         "annotations": {"org.opencontainers.image.ref.name": ref}}]}))
    return root
