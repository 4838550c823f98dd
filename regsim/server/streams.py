"""Bridges between the asynchronous HTTP side and the synchronous registry, for request bodies.

The registry is synchronous and takes an upload as an iterable of byte chunks; the server reads
request bodies asynchronously. :func:`body_chunks` turns a request body into a plain iterator
that a registry call running in a worker thread consumes: each ``next()`` hops back to the event
loop to read about :data:`CHUNK` bytes, so a blob of any size flows through with at most a chunk
or two in memory, and the event loop is never blocked by hashing, encryption or coding.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import anyio.from_thread
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request

from ..registry.errors import BlobUploadInvalid, SizeInvalid
from .errors import PayloadTooLarge

#: bytes handed to the registry per hop from the event loop to the worker thread.
CHUNK = 1 << 20


async def _gather(stream: AsyncIterator[bytes], want: int) -> bytes:
    """Up to about ``want`` bytes from ``stream``; b"" at its end."""
    parts, got = [], 0
    async for piece in stream:
        if piece:
            parts.append(piece)
            got += len(piece)
            if got >= want:
                break
    return parts[0] if len(parts) == 1 else b"".join(parts)


def body_chunks(request: Request, *, expected: int | None = None) -> Iterator[bytes]:
    """The request body as a synchronous iterator, for a registry call in a worker thread.

    ``expected`` (the declared Content-Length or Content-Range length) is checked at the end:
    a body that stops short raises :class:`SizeInvalid`, which aborts the registry's write.
    """
    stream = request.stream()
    received = 0
    while True:
        try:
            chunk = anyio.from_thread.run(_gather, stream, CHUNK)
        except ClientDisconnect:
            raise SizeInvalid(f"client disconnected after {received} bytes of the body") from None
        if not chunk:
            break
        received += len(chunk)
        yield chunk
    if expected is not None and received != expected:
        raise SizeInvalid(f"body has {received} bytes but {expected} were declared")


def declared_length(request: Request) -> int | None:
    """The Content-Length header as an int (None when absent); malformed values are SIZE_INVALID."""
    value = request.headers.get("content-length")
    if value is None:
        return None
    if not value.strip().isdigit():
        raise SizeInvalid(f"Content-Length {value!r} is not a byte count")
    return int(value)


def content_range(request: Request) -> tuple[int, int] | None:
    """The ``Content-Range: <start>-<end>`` of a chunk upload (inclusive end), if sent.

    The spec's form has no unit; ``bytes <start>-<end>/<total>`` as some clients send it is
    accepted too. A malformed range is answered like an out-of-order chunk (416).
    """
    value = request.headers.get("content-range")
    if value is None:
        return None
    text = value.strip()
    if text.startswith("bytes"):
        text = text[5:].strip().split("/", 1)[0]
    start, sep, end = text.partition("-")
    if not sep or not start.isdigit() or not end.isdigit() or int(end) < int(start):
        raise BlobUploadInvalid(f"malformed Content-Range {value!r}: expected '<start>-<end>'")
    return int(start), int(end)


async def read_limited(request: Request, limit: int) -> bytes:
    """The whole body (a manifest), refusing more than ``limit`` bytes without reading them all."""
    declared = declared_length(request)
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"body of {declared:,} bytes exceeds the limit of {limit:,}")
    parts, got = [], 0
    async for piece in request.stream():
        got += len(piece)
        if got > limit:
            raise PayloadTooLarge(f"body exceeds the limit of {limit:,} bytes")
        parts.append(piece)
    return b"".join(parts)


async def in_thread(func, *args, **kwargs):
    """Run a registry call in the thread pool (the registry does real, blocking work)."""
    return await run_in_threadpool(func, *args, **kwargs)
