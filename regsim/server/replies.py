"""Small response helpers the resource handlers share: empty replies, JSON, pagination links."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from .errors import PaginationInvalid

DIGEST_HEADER = "Docker-Content-Digest"


def empty(status: int, headers: dict[str, str] | None = None) -> Response:
    """A reply without a body; Content-Length 0 unless the headers say otherwise (HEAD)."""
    hdrs = dict(headers or {}) if status == 204 else {"Content-Length": "0", **(headers or {})}
    return Response(b"", status_code=status, headers=hdrs)


def json_reply(doc: Any, *, status: int = 200, media_type: str = "application/json",
               headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(doc).encode(), status_code=status, media_type=media_type, headers=headers)


def page_params(request: Request) -> tuple[int | None, str | None]:
    """``n`` and ``last`` of a listing (``n`` must be a non-negative integer)."""
    raw_n, last = request.query_params.get("n"), request.query_params.get("last")
    n = None
    if raw_n is not None and raw_n != "":
        if not raw_n.isdigit():
            raise PaginationInvalid(f"n must be a non-negative integer, got {raw_n!r}")
        n = int(raw_n)
    return n, (last or None)


def paginate(items: list[str], n: int | None, path: str) -> tuple[list[str], dict[str, str]]:
    """Cut ``items`` (the listing after ``last``, with one extra item fetched) to ``n`` and the
    ``Link: <path?n=..&last=..>; rel="next"`` header when more follow."""
    if n is None or len(items) <= n:
        return items, {}
    page = items[:n]
    if not page:
        return page, {}
    query = urlencode({"n": n, "last": page[-1]})
    return page, {"Link": f'<{path}?{query}>; rel="next"'}
