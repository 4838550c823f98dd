"""Where the registry keeps what is not blob content: which repository has what, tags, uploads.

Everything lives as small objects in one metadata backend (any BlobBackend), in this layout::

    blobs/<alg>/<hex>/info                               {"size", "created"}: one per stored blob
    repositories/<name>/_layers/<alg>/<hex>              {"created"}: the repository may serve the blob
    repositories/<name>/_manifests/revisions/<alg>/<hex> {"media_type", "size", "created"}
    repositories/<name>/_manifests/tags/<tag>            {"digest"}
    repositories/<name>/_referrers/<alg>/<hex>/<alg>/<hex>
                                                         descriptor of a manifest whose subject is
                                                         the first digest
    repositories/<name>/_uploads/<id>/info               {"started", "updated", "offset", "parts"}
    repositories/<name>/_uploads/<id>/parts/<n>          the n-th chunk received (8-digit n)

Blob *content* is not here: it goes through the blob store into the storage cluster. Repository
names cannot contain a component starting with '_' (see names.py), so they never clash with the
reserved ``_layers``/``_manifests``/``_uploads`` folders.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .digest import Digest
from .errors import KeyNotFound
from .storage.base import BlobBackend


def blob_info(d: Digest) -> str:
    return f"blobs/{d.algorithm}/{d.hex}/info"


def repo_root(name: str) -> str:
    return f"repositories/{name}"


def layer_link(name: str, d: Digest) -> str:
    return f"repositories/{name}/_layers/{d.algorithm}/{d.hex}"


def revision_link(name: str, d: Digest) -> str:
    return f"repositories/{name}/_manifests/revisions/{d.algorithm}/{d.hex}"


def tag_link(name: str, tag: str) -> str:
    return f"repositories/{name}/_manifests/tags/{tag}"


def referrer_link(name: str, subject: Digest, d: Digest) -> str:
    return f"repositories/{name}/_referrers/{subject.algorithm}/{subject.hex}/{d.algorithm}/{d.hex}"


def upload_root(name: str, upload_id: str) -> str:
    return f"repositories/{name}/_uploads/{upload_id}"


def upload_info(name: str, upload_id: str) -> str:
    return f"repositories/{name}/_uploads/{upload_id}/info"


def upload_part(name: str, upload_id: str, part: int) -> str:
    return f"repositories/{name}/_uploads/{upload_id}/parts/{part:08d}"


class MetadataStore:
    """JSON documents and listings over a backend, with the layout above."""

    def __init__(self, backend: BlobBackend) -> None:
        self.backend = backend

    def read(self, key: str) -> dict[str, Any] | None:
        try:
            return json.loads(self.backend.get(key))
        except KeyNotFound:
            return None

    def write(self, key: str, doc: dict[str, Any]) -> None:
        self.backend.put(key, json.dumps(doc, sort_keys=True).encode())

    def exists(self, key: str) -> bool:
        return self.backend.exists(key)

    def delete(self, key: str) -> bool:
        try:
            self.backend.delete(key)
            return True
        except KeyNotFound:
            return False

    def keys(self, prefix: str) -> Iterator[str]:
        return self.backend.list(prefix)

    def digests_under(self, prefix: str) -> list[Digest]:
        """Digests of ``<prefix>/<alg>/<hex>`` links, in sorted order."""
        found = []
        for key in self.keys(prefix):
            rest = key[len(prefix) + 1 :].split("/")
            if len(rest) == 2:
                found.append(Digest(rest[0], rest[1]))
        return found

    def repositories(self) -> list[str]:
        """Names of repositories that have any metadata, sorted."""
        names = set()
        for key in self.keys("repositories"):
            parts = key.split("/")[1:]
            for i, part in enumerate(parts):
                if part.startswith("_"):
                    names.add("/".join(parts[:i]))
                    break
        return sorted(names)
