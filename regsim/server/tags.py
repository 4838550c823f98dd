"""``/v2/<name>/tags/list``: the repository's tags in lexical order, paginated with ``n`` and
``last`` and a ``Link: <...>; rel="next"`` header when more follow. An unknown repository is
``NAME_UNKNOWN``; ``n=0`` is an empty page, as the spec says."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..registry.errors import NameUnknown
from .auth import services_of
from .replies import json_reply, page_params, paginate
from .streams import in_thread


def _listing(reg, repo: str, n: int | None, last: str | None) -> list[str]:
    if not reg.repos.exists(repo):
        raise NameUnknown(f"repository {repo!r} is not known to the registry")
    # one more than asked for tells whether a next page exists
    return reg.tags(repo, None if n is None else n + 1, last)


async def list_tags(request: Request) -> Response:
    reg = services_of(request).registry
    repo = request.path_params["name"]
    n, last = page_params(request)
    tags = await in_thread(_listing, reg, repo, n, last)
    page, links = paginate(tags, n, f"/v2/{repo}/tags/list")
    return json_reply({"name": repo, "tags": page}, headers=links)
