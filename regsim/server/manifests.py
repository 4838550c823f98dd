"""``/v2/<name>/manifests/<reference>``: fetch, check, push and delete manifests.

The reference is a tag or a digest. A PUT is refused with ``MANIFEST_BLOB_UNKNOWN`` while a blob
it names is not in the repository (layers with ``urls``, the non-distributable ones, excepted:
they need not be pushed), with ``DIGEST_INVALID`` when pushed by a digest its content does not
hash to, and with 413 past the spec's 4 MiB limit (read no further than that). A manifest pushed
by digest is stored under that digest's algorithm (sha256 or sha512), and the
``Docker-Content-Digest`` of the reply, and of every later GET or HEAD by digest or by a tag
pointing at it, is that digest.

A PUT by digest may carry ``tag`` query parameters (``?tag=v1&tag=latest``, end-7b): each is
checked against the tag grammar (``TAG_INVALID`` before anything is stored), all are pointed at
the manifest, and the 201 names them in one ``OCI-Tag`` header (``OCI-Tag: v1, latest``). This is
how a client tags content whose digest is not the registry's canonical sha256: a push by tag
can only be hashed with sha256. At most :data:`MAX_TAG_PARAMS` tags per request (414 past that);
``tag`` parameters on a push by tag are ``TAG_INVALID``.

A pushed manifest with a ``subject`` gets the ``OCI-Subject`` header, telling the client the
registry maintains the referrers API for it. DELETE by digest removes the manifest and its tags;
DELETE by tag removes only the tag.

With a ``signatures.require`` policy, a GET of a manifest under a listed prefix is answered 403
``DENIED`` unless a trusted cosign signature of its digest exists (:mod:`.signatures`).
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from ..registry.manifests import MAX_MANIFEST_BYTES
from ..registry.names import is_digest_reference
from .auth import services_of
from .errors import TooManyTags
from .replies import DIGEST_HEADER, empty
from .signatures import require_signature
from .streams import in_thread, read_limited
from .uploads import absolute


#: the most ``tag`` query parameters one manifest PUT may carry (the spec: SHOULD support at
#: least 10, MAY answer 414 past a limit); bounds the metadata writes of one request and keeps
#: the ``OCI-Tag`` reply header well under common header-size limits
MAX_TAG_PARAMS = 50


def _tag_params(request: Request) -> list[str]:
    """The ``tag`` query parameters, in order, each once."""
    tags = list(dict.fromkeys(request.query_params.getlist("tag")))
    if len(tags) > MAX_TAG_PARAMS:
        raise TooManyTags(f"{len(tags)} tag parameters; at most {MAX_TAG_PARAMS} per request")
    return tags


def _media_type(request: Request) -> str | None:
    value = request.headers.get("content-type")
    return value.split(";", 1)[0].strip() or None if value else None


async def get_manifest(request: Request) -> Response:
    reg = services_of(request).registry
    repo, reference = request.path_params["name"], request.path_params["reference"]
    if request.method == "HEAD":
        digest, media_type, size = await in_thread(reg.repos.manifest_info, repo, reference)
        return empty(200, {"Content-Type": media_type, "Content-Length": str(size), DIGEST_HEADER: str(digest),
                           "ETag": f'"{digest}"'})
    stored = await in_thread(reg.get_manifest, repo, reference)
    await require_signature(request, repo, reference, stored)  # signatures.require: 403 DENIED if unsigned
    return Response(stored.data, media_type=stored.media_type,
                    headers={DIGEST_HEADER: str(stored.digest), "ETag": f'"{stored.digest}"'})


async def put_manifest(request: Request) -> Response:
    reg = services_of(request).registry
    repo, reference = request.path_params["name"], request.path_params["reference"]
    tags = _tag_params(request)
    data = await read_limited(request, MAX_MANIFEST_BYTES)
    digest = await in_thread(reg.put_manifest, repo, reference, data, _media_type(request), tags=tags)
    headers = {"Location": absolute(request, f"/v2/{repo}/manifests/{digest}"), DIGEST_HEADER: str(digest)}
    if tags:
        headers["OCI-Tag"] = ", ".join(tags)
    subject = json.loads(data).get("subject")
    if isinstance(subject, dict) and isinstance(subject.get("digest"), str):
        headers["OCI-Subject"] = subject["digest"]
    return empty(201, headers)


async def delete_manifest(request: Request) -> Response:
    reg = services_of(request).registry
    repo, reference = request.path_params["name"], request.path_params["reference"]
    if is_digest_reference(reference):
        digest = await in_thread(reg.delete_manifest, repo, reference)
        return empty(202, {DIGEST_HEADER: str(digest)})
    await in_thread(reg.delete_tag, repo, reference)
    return empty(202)
