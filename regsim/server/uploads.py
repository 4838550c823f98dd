"""``/v2/<name>/blobs/uploads/``: push a blob -- monolithic, chunked, or by mounting it.

The spec's flows, over the registry's upload sessions:

- ``POST ?digest=<d>`` with the body: a monolithic upload in one request (201).
- ``POST ?mount=<d>&from=<repo>``: a cross-repository mount (201) when the blob is in ``repo``
  and the credentials may pull it there; otherwise an upload session is opened instead (202), as
  the spec asks.
- ``POST`` then ``PATCH`` chunks (``Content-Range: <start>-<end>``; a chunk that does not start
  where the last ended gets 416 with ``Range: 0-<offset-1>``), then ``PUT ?digest=<d>`` with an
  optional last chunk (201); ``GET`` reports progress (204), ``DELETE`` cancels (204).

Bodies stream into the registry (see :mod:`.streams`) and are never held whole in memory.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..registry.auth import Scope
from ..registry.digest import Digest
from ..registry.errors import BlobUnknown, BlobUploadInvalid, DigestInvalid, NameInvalid, SizeInvalid
from ..registry.names import validate_name
from .auth import allows, services_of
from .errors import error_response
from .replies import DIGEST_HEADER, empty
from .streams import body_chunks, content_range, declared_length, in_thread


def absolute(request: Request, path: str) -> str:
    """An absolute URL on this server as the client reached it."""
    return f"{request.url.scheme}://{request.url.netloc}{path}"


def _session_headers(request: Request, repo: str, upload_id: str, offset: int) -> dict[str, str]:
    return {
        "Location": absolute(request, f"/v2/{repo}/blobs/uploads/{upload_id}"),
        "Range": f"0-{max(offset - 1, 0)}",
        "Docker-Upload-UUID": upload_id,
    }


def _blob_created(request: Request, repo: str, digest: Digest) -> Response:
    return empty(201, {"Location": absolute(request, f"/v2/{repo}/blobs/{digest}"), DIGEST_HEADER: str(digest)})


def _chunk_length(request: Request) -> tuple[int | None, int | None]:
    """Where the chunk says it starts, and how long the body is (from the headers)."""
    rng, length = content_range(request), declared_length(request)
    if rng is None:
        return None, length
    start, end = rng
    if length is not None and length != end - start + 1:
        raise SizeInvalid(f"Content-Range {start}-{end} covers {end - start + 1} bytes "
                          f"but Content-Length is {length}")
    return start, end - start + 1


async def start_upload(request: Request) -> Response:
    reg = services_of(request).registry
    repo = request.path_params["name"]
    query = request.query_params
    mount, source = query.get("mount"), query.get("from")
    if mount and source:
        digest = Digest.parse(mount)
        try:
            validate_name(source)
        except NameInvalid:
            source = None
        if source and await allows(request, Scope.repository(source, "pull")):
            try:
                await in_thread(reg.mount_blob, repo, source, digest)
                return _blob_created(request, repo, digest)
            except BlobUnknown:
                pass  # not there: open a session instead, as the spec says
    if query.get("digest"):
        digest = Digest.parse(query["digest"])
        length = declared_length(request)
        await in_thread(reg.put_blob_stream, repo, body_chunks(request, expected=length), digest)
        return _blob_created(request, repo, digest)
    upload_id = await in_thread(reg.start_upload, repo)
    return empty(202, _session_headers(request, repo, upload_id, 0))


async def _offset_or_416(request: Request, repo: str, upload_id: str, err: BlobUploadInvalid) -> Response:
    offset = await in_thread(services_of(request).registry.upload_offset, repo, upload_id)
    return error_response(err, headers=_session_headers(request, repo, upload_id, offset))


async def patch_upload(request: Request) -> Response:
    reg = services_of(request).registry
    repo, upload_id = request.path_params["name"], request.path_params["upload"]
    try:
        start, length = _chunk_length(request)
        offset = await in_thread(reg.upload_chunk, repo, upload_id, body_chunks(request, expected=length), start)
    except BlobUploadInvalid as err:
        return await _offset_or_416(request, repo, upload_id, err)
    return empty(202, _session_headers(request, repo, upload_id, offset))


async def finish_upload(request: Request) -> Response:
    reg = services_of(request).registry
    repo, upload_id = request.path_params["name"], request.path_params["upload"]
    raw = request.query_params.get("digest")
    if not raw:
        raise DigestInvalid("PUT that closes an upload needs ?digest=<algorithm>:<hex>")
    digest = Digest.parse(raw)
    try:
        start, length = _chunk_length(request)
        final = body_chunks(request, expected=length)
        digest = await in_thread(reg.finish_upload, repo, upload_id, digest, final, start)
    except BlobUploadInvalid as err:
        return await _offset_or_416(request, repo, upload_id, err)
    return _blob_created(request, repo, digest)


async def upload_status(request: Request) -> Response:
    reg = services_of(request).registry
    repo, upload_id = request.path_params["name"], request.path_params["upload"]
    offset = await in_thread(reg.upload_offset, repo, upload_id)
    return empty(204, _session_headers(request, repo, upload_id, offset))


async def cancel_upload(request: Request) -> Response:
    reg = services_of(request).registry
    await in_thread(reg.cancel_upload, request.path_params["name"], request.path_params["upload"])
    return empty(204)
