"""``/v2/<name>/referrers/<digest>``: the manifests whose ``subject`` is a digest, as an OCI
image index. ``?artifactType=`` filters them, and the reply then says so in
``OCI-Filters-Applied: artifactType``. A digest nothing refers to gets an empty index (200), as
the spec requires; a malformed digest is ``DIGEST_INVALID``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..registry.descriptors import OCI_INDEX
from ..registry.digest import Digest
from .auth import services_of
from .replies import json_reply
from .streams import in_thread


async def list_referrers(request: Request) -> Response:
    reg = services_of(request).registry
    digest = Digest.parse(request.path_params["digest"])
    artifact_type = request.query_params.get("artifactType") or None
    index = await in_thread(reg.referrers, request.path_params["name"], digest, artifact_type)
    headers = {"OCI-Filters-Applied": "artifactType"} if artifact_type else None
    return json_reply(index, media_type=OCI_INDEX, headers=headers)
