"""Resumable blob uploads: a session per upload, chunks appended at stated offsets.

This is the OCI distribution spec's POST / PATCH / PUT flow without HTTP: a chunk must start where
the last one ended (otherwise :class:`BlobUploadInvalid`, which the HTTP layer answers with 416),
and the upload becomes a blob only when it is finished with a digest that matches its content.
Received bytes are staged in the metadata backend and are never visible as a blob before that.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from . import metadata as paths
from .errors import BlobUploadInvalid, BlobUploadUnknown, KeyNotFound
from .metadata import MetadataStore


class Uploads:
    def __init__(self, meta: MetadataStore, *, clock: Callable[[], float] = time.time) -> None:
        self.meta = meta
        self.clock = clock

    def start(self, repo: str) -> str:
        upload_id = uuid.uuid4().hex
        self.meta.write(paths.upload_info(repo, upload_id), {"started": self.clock(), "offset": 0})
        self.meta.backend.put(paths.upload_data(repo, upload_id), b"")
        return upload_id

    def offset(self, repo: str, upload_id: str) -> int:
        return int(self._info(repo, upload_id)["offset"])

    def append(self, repo: str, upload_id: str, data: bytes | bytearray | memoryview,
               offset: int | None = None) -> int:
        """Append a chunk; ``offset`` (when given) must equal the bytes received so far."""
        info = self._info(repo, upload_id)
        if offset is not None and offset != info["offset"]:
            raise BlobUploadInvalid(
                f"chunk starts at byte {offset} but upload {upload_id} has {info['offset']} bytes",
                detail={"offset": info["offset"]},
            )
        with self.meta.backend.writer(paths.upload_data(repo, upload_id), append=True) as w:
            w.write(data)
            new_offset = w.size
        info["offset"] = new_offset
        self.meta.write(paths.upload_info(repo, upload_id), info)
        return new_offset

    def content(self, repo: str, upload_id: str) -> bytes:
        self._info(repo, upload_id)
        return self.meta.backend.get(paths.upload_data(repo, upload_id))

    def discard(self, repo: str, upload_id: str) -> None:
        self._info(repo, upload_id)
        for key in (paths.upload_data(repo, upload_id), paths.upload_info(repo, upload_id)):
            self.meta.delete(key)

    def started(self, repo: str, upload_id: str) -> float:
        return float(self._info(repo, upload_id)["started"])

    def sessions(self) -> list[tuple[str, str]]:
        """Every (repository, upload id) in progress."""
        found = []
        for key in self.meta.keys("repositories"):
            if key.endswith("/info") and "/_uploads/" in key:
                repo, rest = key[len("repositories/"):].split("/_uploads/", 1)
                found.append((repo, rest.split("/")[0]))
        return found

    def _info(self, repo: str, upload_id: str) -> dict:
        if not upload_id or not upload_id.isalnum():
            raise BlobUploadUnknown(f"malformed upload id {upload_id!r}")
        try:
            info = self.meta.read(paths.upload_info(repo, upload_id))
        except KeyNotFound:
            info = None
        if info is None:
            raise BlobUploadUnknown(f"no upload {upload_id} in repository {repo!r}")
        return info

