"""``/v2/_catalog``: the registry's repositories in lexical order, paginated like tags.

Not part of the OCI spec but served by CNCF distribution and used by tools; it needs the
``registry:catalog:*`` scope whenever authentication is on.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .auth import services_of
from .replies import json_reply, page_params, paginate
from .streams import in_thread


async def list_repositories(request: Request) -> Response:
    reg = services_of(request).registry
    n, last = page_params(request)
    names = await in_thread(reg.catalog, None if n is None else n + 1, last)
    page, links = paginate(names, n, "/v2/_catalog")
    return json_reply({"repositories": page}, headers=links)
