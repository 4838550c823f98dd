"""Resumable blob uploads: a session per upload, chunks appended at stated offsets.

This is the OCI distribution spec's POST / PATCH / PUT flow without HTTP: a chunk must start where
the last one ended (otherwise :class:`BlobUploadInvalid`, which the HTTP layer answers with 416),
and the upload becomes a blob only when it is finished with a digest that matches its content.
Received bytes are staged in the metadata backend, one part per append (so a long upload is never
copied again), and are never visible as a blob before it is finished.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator

from . import metadata as paths
from .errors import BlobUploadInvalid, BlobUploadUnknown
from .metadata import MetadataStore

Buffer = bytes | bytearray | memoryview


class Uploads:
    def __init__(self, meta: MetadataStore, *, clock: Callable[[], float] = time.time) -> None:
        self.meta = meta
        self.clock = clock

    def start(self, repo: str) -> str:
        upload_id = uuid.uuid4().hex
        self.meta.write(paths.upload_info(repo, upload_id), {"started": self.clock(), "offset": 0, "parts": 0})
        return upload_id

    def offset(self, repo: str, upload_id: str) -> int:
        return int(self._info(repo, upload_id)["offset"])

    def append(self, repo: str, upload_id: str, data: Buffer | Iterable[Buffer], offset: int | None = None) -> int:
        """Append a chunk (bytes, or an iterable of bytes streamed to storage as it arrives).

        ``offset``, when given, must equal the bytes received so far. Each call stores one new part,
        so appending never copies what was received before.
        """
        info = self._info(repo, upload_id)
        if offset is not None and offset != info["offset"]:
            raise BlobUploadInvalid(
                f"chunk starts at byte {offset} but upload {upload_id} has {info['offset']} bytes",
                detail={"offset": info["offset"]},
            )
        part = int(info.get("parts", 0))
        with self.meta.backend.writer(paths.upload_part(repo, upload_id, part)) as w:
            for chunk in _chunks(data):
                w.write(chunk)
            received = w.size
        if received == 0:
            self.meta.delete(paths.upload_part(repo, upload_id, part))
            return int(info["offset"])
        info["offset"] = int(info["offset"]) + received
        info["parts"] = part + 1
        self.meta.write(paths.upload_info(repo, upload_id), info)
        return info["offset"]

    def chunks(self, repo: str, upload_id: str, chunk_size: int = 4 << 20) -> Iterator[bytes]:
        """What was received, in order, in pieces of at most ``chunk_size`` bytes."""
        info = self._info(repo, upload_id)
        for part in range(int(info.get("parts", 0))):
            key = paths.upload_part(repo, upload_id, part)
            size, pos = self.meta.backend.stat(key), 0
            while pos < size:
                data = self.meta.backend.read_at(key, pos, min(chunk_size, size - pos))
                if not data:
                    break
                pos += len(data)
                yield data

    def content(self, repo: str, upload_id: str) -> bytes:
        return b"".join(self.chunks(repo, upload_id))

    def discard(self, repo: str, upload_id: str) -> None:
        info = self._info(repo, upload_id)
        for part in range(int(info.get("parts", 0))):
            self.meta.delete(paths.upload_part(repo, upload_id, part))
        self.meta.delete(paths.upload_info(repo, upload_id))

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
        if not isinstance(upload_id, str) or not upload_id.isalnum():
            raise BlobUploadUnknown(f"malformed upload id {upload_id!r}")
        info = self.meta.read(paths.upload_info(repo, upload_id))
        if info is None:
            raise BlobUploadUnknown(f"no upload {upload_id} in repository {repo!r}")
        return info


def _chunks(data: Buffer | Iterable[Buffer]) -> Iterable[Buffer]:
    return (data,) if isinstance(data, (bytes, bytearray, memoryview)) else data
