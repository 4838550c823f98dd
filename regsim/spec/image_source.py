"""The layer sizes of a real image named by ``image.from``: an OCI image layout or a manifest file.

``image.from`` promises that the scenario simulates *that* image, so its layer sizes are read
when the scenario is loaded and every model sees them in ``image.layers``, as if they had been
written there. Only sizes are needed -- the manifest, never the layer blobs -- so a layout
holding just ``index.json`` and its manifests will do, and so will a single manifest JSON file
(what ``skopeo inspect --raw`` or ``crane manifest`` prints).

Which image of a layout: its only one, else the one whose ``org.opencontainers.image.ref.name``
is ``image.tag`` (``skopeo copy ... oci:DIR:TAG`` names it so). A multi-platform image
contributes the layers of its ``linux/amd64`` manifest (else of its first). A manifest file must
be an image manifest: an index names its platforms' manifests by digest only, so their sizes
are not in the file.
"""

from __future__ import annotations

from pathlib import Path

from regsim.errors import UserError
from regsim.registry.oci_layout import OciLayout, layer_sizes
from regsim.registry.errors import RegistryError
from regsim.registry.manifests import parse_manifest

__all__ = ["ImageSourceError", "read_layer_sizes"]

#: a manifest larger than this is not a manifest (the registry's own limit is 4 MiB)
MAX_MANIFEST_FILE = 4 << 20


class ImageSourceError(UserError, ValueError):
    """``image.from`` names something whose layer sizes cannot be read; the message says why."""


def read_layer_sizes(source: Path, tag: str) -> list[int]:
    """The sizes in bytes of the image's layers, in pull order (compressed, as stored)."""
    try:
        sizes = _from_layout(source, tag) if source.is_dir() else _from_manifest_file(source)
    except RegistryError as exc:  # LayoutError, ManifestInvalid, Unsupported: all say what is wrong
        raise ImageSourceError(f"cannot read the layer sizes of {source}: {exc.message}") from None
    if not sizes:
        raise ImageSourceError(f"the image in {source} has no layers to pull")
    return sizes


def _from_layout(root: Path, tag: str) -> list[int]:
    layout = OciLayout(root)
    if tag in layout.refs():
        return layer_sizes(layout, tag)
    if len(layout.entries) == 1:
        return layer_sizes(layout)
    raise ImageSourceError(f"{root} holds {len(layout.entries)} images and none is named {tag!r} (image.tag); "
                           f"set image.tag to one of: {', '.join(layout.refs()) or '(none is named)'}")


def _from_manifest_file(path: Path) -> list[int]:
    if path.stat().st_size > MAX_MANIFEST_FILE:
        raise ImageSourceError(f"{path} is {path.stat().st_size:,} bytes: too large for a manifest; expected "
                               "an OCI image layout folder or an image manifest JSON file")
    manifest = parse_manifest(path.read_bytes())
    if manifest.is_index:
        raise ImageSourceError(f"{path} is an image index, which names its platforms' manifests by digest only; "
                               "give the OCI image layout folder that holds them, or one platform's image manifest")
    return [layer.size for layer in manifest.layers]
