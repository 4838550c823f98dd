"""``/v2/<name>/blobs/<digest>``: fetch (GET, with Range), check (HEAD) and delete a blob.

A GET streams the blob from the registry one extent at a time (each read in the thread pool), so
a blob of any size is never whole in memory. ``Range: bytes=a-b`` (also ``a-`` and ``-n``) gets
206 with ``Content-Range``; a range that starts past the end gets 416 with ``Content-Range:
bytes */<size>``; a malformed or multi-part range is ignored, as RFC 9110 allows, and the whole
blob is sent.

A blob that cannot be read back -- an extent with more fragments lost than the codec tolerates --
is answered 503 ``BLOB_UNKNOWN`` before any header is sent whenever the loss can be known then:
the registry checks that every extent the request covers has enough fragments on live nodes
(:meth:`Registry.check_blob`, no payload read) and the first extent is read before the response
starts. A loss found later (a fragment damaged, or removed after the check) can only cut the
connection: the server logs one line naming the blob and the nodes, no traceback
(:class:`BlobResponse`). Either way ``regsim_blob_unrecoverable_reads_total`` counts it.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from ..errors import RegsimError
from ..registry.digest import Digest
from ..registry.errors import BlobLost, RegistryError
from ..registry.registry import Registry
from .auth import services_of
from .replies import DIGEST_HEADER, empty
from .streams import in_thread

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")
OCTETS = "application/octet-stream"
#: the most handed to the HTTP layer at once: an extent (tens of MiB) is sent in slices, so the
#: socket's flow control paces the reads and no extra copy of an extent is ever buffered.
SLICE = 1 << 20


log = logging.getLogger("regsim.server")

#: set in a request's context when its response was cut short on purpose (the uvicorn filter below)
_STREAM_CUT: contextvars.ContextVar[bool] = contextvars.ContextVar("regsim_stream_cut", default=False)
_UNFINISHED = "ASGI callable returned without completing response"


class RangeNotSatisfiable(RegsimError):
    pass


class _QuietCut(logging.Filter):
    """Drops uvicorn's "returned without completing response" for a response :class:`BlobResponse`
    cut on purpose (it has logged its own line); any other unfinished response is still logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (_STREAM_CUT.get() and str(record.msg).startswith(_UNFINISHED))


_QUIET_CUT = _QuietCut()


def quiet_cut_streams() -> None:
    """Install the filter on uvicorn's error logger (once, whatever the number of apps)."""
    logger = logging.getLogger("uvicorn.error")
    if _QUIET_CUT not in logger.filters:
        logger.addFilter(_QUIET_CUT)


class BlobResponse(StreamingResponse):
    """A streamed blob that, when the registry fails mid-stream, logs one line and ends without
    completing the body: the server then closes the connection (nothing else can tell a client
    that a response whose headers are sent is wrong) and nothing reaches the exception handlers,
    so no traceback is logged. ``on_cut(error)`` is called once for such a failure."""

    def __init__(self, content: AsyncIterator[bytes | memoryview], *, what: str,
                 on_cut: Callable[[RegistryError], None] | None = None, **kwargs) -> None:
        super().__init__(content, **kwargs)
        self.what = what
        self.on_cut = on_cut
        self.cut = False

    async def stream_response(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        sent = 0
        try:
            async for chunk in self.body_iterator:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                sent += len(chunk)
        except RegistryError as err:
            self.cut = True
            log.error("%s: connection cut after %s of %s bytes: %s", self.what, f"{sent:,}",
                      self.headers.get("content-length", "?"), err.message)
            if self.on_cut is not None:
                self.on_cut(err)
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)
        if self.cut:
            _STREAM_CUT.set(True)  # this request's task: the filter sees it when uvicorn logs


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
    try:
        first, rest = await in_thread(_open_blob, reg, repo, digest, offset, length)
    except BlobLost:
        _count_loss(request, "before_headers")
        raise  # 503 BLOB_UNKNOWN, logged in one line by the error handler
    headers["Content-Length"] = str(length)
    return BlobResponse(sliced(itertools.chain(first, rest)), status_code=status, headers=headers, media_type=OCTETS,
                        what=f"GET {request.url.path}",
                        on_cut=lambda err: _count_loss(request, "mid_stream") if isinstance(err, BlobLost) else None)


def _open_blob(reg: Registry, repo: str, digest: Digest, offset: int,
               length: int) -> tuple[list[bytes], Iterator[bytes]]:
    """Check the range can be read back, then read its first extent: a loss known now is raised
    before the response starts. Returns that extent (in a list: none for an empty range) and the
    iterator of the rest."""
    reg.check_blob(repo, digest, offset, length)
    chunks = reg.iter_blob(repo, digest, offset, length)
    first = next(chunks, None)
    return ([] if first is None else [first]), chunks


def _count_loss(request: Request, when: str) -> None:
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.unrecoverable_reads.labels(when).inc()


async def delete_blob(request: Request) -> Response:
    reg = services_of(request).registry
    digest = Digest.parse(request.path_params["digest"])
    await in_thread(reg.delete_blob, request.path_params["name"], digest)
    return empty(202, {DIGEST_HEADER: str(digest)})
