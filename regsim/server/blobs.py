"""``/v2/<name>/blobs/<digest>``: fetch (GET, with Range), check (HEAD) and delete a blob.

A GET streams the blob from the registry one extent at a time (each read in the thread pool), so
a blob of any size is never whole in memory. ``Range: bytes=a-b`` (also ``a-`` and ``-n``) gets
206 with ``Content-Range``; a range that starts past the end gets 416 with ``Content-Range:
bytes */<size>``; a malformed or multi-part range is ignored, as RFC 9110 allows, and the whole
blob is sent.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ..errors import RegsimError
from ..registry.digest import Digest
from .auth import services_of
from .replies import DIGEST_HEADER, empty
from .streams import in_thread

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")
OCTETS = "application/octet-stream"
#: the most handed to the HTTP layer at once: an extent (tens of MiB) is sent in slices, so the
#: socket's flow control paces the reads and no extra copy of an extent is ever buffered.
SLICE = 1 << 20


class RangeNotSatisfiable(RegsimError):
    pass


def slice_bounds(length: int, size: int = SLICE) -> list[tuple[int, int]]:
    """``(start, stop)`` of consecutive, non-overlapping pieces of at most ``size`` bytes that
    cover ``length`` bytes exactly (none for an empty extent): every byte goes out once."""
    return [(start, min(start + size, length)) for start in range(0, length, size)]


async def sliced(extents: Iterator[bytes], size: int = SLICE) -> AsyncIterator[bytes | memoryview]:
    """Each extent read in the thread pool, then sent in views of at most ``size`` bytes; the
    last piece of an extent is a copy, so nothing handed on keeps the extent alive while the next
    one is read. The pieces add up to exactly the extents' bytes, whatever their lengths."""
    iterator = iter(extents)
    while (extent := await run_in_threadpool(next, iterator, None)) is not None:
        view = memoryview(extent)
        del extent
        bounds = slice_bounds(len(view), size)
        for start, stop in bounds[:-1]:
            yield view[start:stop]
        if bounds:
            start, stop = bounds[-1]
            tail = bytes(view[start:stop])
            del view
            yield tail


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(offset, length)`` the Range header asks for, None to send everything.

    Raises :class:`RangeNotSatisfiable` for a syntactically valid range outside the blob.
    """
    if header is None:
        return None
    m = _RANGE.match(header)
    if not m or (not m.group(1) and not m.group(2)):
        return None
    first, last = m.group(1), m.group(2)
    if not first:  # suffix: the last n bytes
        n = int(last)
        if n == 0:
            raise RangeNotSatisfiable
        return max(0, size - n), min(n, size)
    start = int(first)
    end = size - 1 if not last else min(int(last), size - 1)
    if last and int(last) < start:
        return None  # invalid: ignore
    if start >= size:
        raise RangeNotSatisfiable
    return start, end - start + 1


async def get_blob(request: Request) -> Response:
    reg = services_of(request).registry
    repo = request.path_params["name"]
    digest = Digest.parse(request.path_params["digest"])
    size = await in_thread(reg.stat_blob, repo, digest)
    headers = {DIGEST_HEADER: str(digest), "Accept-Ranges": "bytes", "ETag": f'"{digest}"',
               "Cache-Control": "max-age=31536000"}
    if request.method == "HEAD":
        return empty(200, {**headers, "Content-Length": str(size), "Content-Type": OCTETS})
    try:
        wanted = parse_range(request.headers.get("range"), size)
    except RangeNotSatisfiable:
        return empty(416, {"Content-Range": f"bytes */{size}"})
    status, offset, length = 200, 0, size
    if wanted is not None:
        offset, length = wanted
        status = 206
        headers["Content-Range"] = f"bytes {offset}-{offset + length - 1}/{size}"
    chunks = await in_thread(reg.iter_blob, repo, digest, offset, length)
    headers["Content-Length"] = str(length)
    return StreamingResponse(sliced(chunks), status_code=status, headers=headers, media_type=OCTETS)


async def delete_blob(request: Request) -> Response:
    reg = services_of(request).registry
    digest = Digest.parse(request.path_params["digest"])
    await in_thread(reg.delete_blob, request.path_params["name"], digest)
    return empty(202, {DIGEST_HEADER: str(digest)})
