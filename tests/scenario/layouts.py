"""Small OCI image layouts and manifest files for tests of ``image.from``.

A layout here holds ``oci-layout``, ``index.json`` and the blobs of its manifests (and configs);
layer blobs are written only when asked, since reading layer sizes needs the manifest alone.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"


def _blob(root: Path, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    folder = root / "blobs" / "sha256"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def manifest_bytes(sizes: list[int], seed: str = "") -> bytes:
    """An OCI image manifest whose layers have ``sizes`` (digests made up from ``seed``)."""
    layers = [{"mediaType": OCI_LAYER, "size": size,
               "digest": "sha256:" + hashlib.sha256(f"{seed}layer{i}".encode()).hexdigest()}
              for i, size in enumerate(sizes)]
    config = b'{"architecture":"amd64","os":"linux"}'
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": OCI_CONFIG, "size": len(config),
                                  "digest": "sha256:" + hashlib.sha256(config).hexdigest()},
                       "layers": layers}, sort_keys=True).encode()


def write_layout(root: Path, images: dict[str | None, list[int]]) -> Path:
    """A layout at ``root`` with one image per entry: ref name (None: unnamed) -> layer sizes."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    entries = []
    for ref, sizes in images.items():
        entry = {"mediaType": OCI_MANIFEST, **_blob(root, manifest_bytes(sizes, seed=str(ref)))}
        if ref is not None:
            entry["annotations"] = {REF_NAME: ref}
        entries.append(entry)
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}))
    return root


def write_platform_index(root: Path, platforms: dict[str, list[int]], ref: str = "latest") -> Path:
    """A layout whose one image is a multi-platform index: ``"os/arch"`` -> layer sizes."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    children = []
    for platform, sizes in platforms.items():
        os_, arch = platform.split("/")
        children.append({"mediaType": OCI_MANIFEST, **_blob(root, manifest_bytes(sizes, seed=platform)),
                         "platform": {"os": os_, "architecture": arch}})
    index = _blob(root, json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}).encode())
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": OCI_INDEX, **index, "annotations": {REF_NAME: ref}}]}))
    return root
