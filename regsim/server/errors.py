"""Error responses in the shape the OCI distribution spec gives them.

Every failure a client can act on is answered with the spec's JSON body ::

    {"errors": [{"code": "BLOB_UNKNOWN", "message": "...", "detail": ...}]}

and the status the spec (or CNCF distribution, where the spec is silent) uses for that code. The
registry's own error classes already carry ``code`` and ``status``; this module only renders
them, adds the headers some codes need (a ``WWW-Authenticate`` challenge on 401 and 403), and
defines the few errors that exist only on the wire (a bad pagination number, a method a route
does not serve, too many ``tag`` parameters on a manifest push).
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..registry.auth import Challenge, challenge_of
from ..registry.errors import RegistryError

log = logging.getLogger("regsim.server")

#: the error codes of the OCI distribution spec v1.1 (plus distribution's TAG_INVALID and
#: PAGINATION_NUMBER_INVALID); any other code is answered as UNKNOWN so clients see only codes
#: they know.
SPEC_CODES = frozenset({
    "BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID", "MANIFEST_BLOB_UNKNOWN",
    "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "NAME_INVALID", "NAME_UNKNOWN", "SIZE_INVALID", "UNAUTHORIZED",
    "DENIED", "UNSUPPORTED", "TOOMANYREQUESTS", "TAG_INVALID", "PAGINATION_NUMBER_INVALID", "UNKNOWN",
})

JSON = "application/json; charset=utf-8"


class PaginationInvalid(RegistryError):
    """``n`` of a tag or catalog listing is not a non-negative integer."""

    code, status = "PAGINATION_NUMBER_INVALID", 400


class PayloadTooLarge(RegistryError):
    """A manifest larger than the registry accepts (the spec: 413)."""

    code, status = "SIZE_INVALID", 413


class TooManyTags(RegistryError):
    """More ``tag`` query parameters on a manifest PUT than the server takes (the spec: 414)."""

    code, status = "TAG_INVALID", 414


class MethodNotAllowed(RegistryError):
    """The route exists but does not serve this method (e.g. PUT on a blob)."""

    code, status = "UNSUPPORTED", 405


class RouteUnknown(RegistryError):
    """No API endpoint lives at this path."""

    code, status = "UNKNOWN", 404


def _jsonable(detail: Any) -> Any:
    """The error's detail if it can go in a JSON body, else None (challenges go in a header)."""
    if detail is None or isinstance(detail, Challenge):
        return None
    try:
        json.dumps(detail)
    except (TypeError, ValueError):
        return None
    return detail


def error_body(code: str, message: str, detail: Any = None) -> bytes:
    entry: dict[str, Any] = {"code": code, "message": message}
    if detail is not None:
        entry["detail"] = detail
    return json.dumps({"errors": [entry]}).encode()


def error_response(err: RegistryError, *, headers: dict[str, str] | None = None,
                   realm: str | None = None) -> Response:
    """The spec's response for ``err``; ``realm`` replaces the challenge's realm when given (the
    token endpoint's URL is only known from the request's Host)."""
    code = err.code if err.code in SPEC_CODES else "UNKNOWN"
    status = err.status
    hdrs = dict(headers or {})
    challenge = challenge_of(err)
    if challenge is not None:
        if realm is not None and challenge.scheme == "Bearer":
            challenge = replace(challenge, realm=realm)
        hdrs["WWW-Authenticate"] = challenge.header()
    if status >= 500:
        log.error("request failed with %s: %s", type(err).__name__, err.message)
    body = b"" if status in (204, 304) else error_body(code, err.message, _jsonable(err.detail))
    return Response(body, status_code=status, headers=hdrs, media_type=JSON)


async def registry_error_handler(request: Request, exc: Exception) -> Response:
    """Starlette exception handler for every :class:`RegistryError` a handler lets through."""
    assert isinstance(exc, RegistryError)
    response = error_response(exc, realm=getattr(request.state, "realm", None))
    if request.method == "HEAD":
        response.body = b""
        response.headers["Content-Length"] = "0"
    return response


async def internal_error_handler(request: Request, exc: Exception) -> Response:
    """Anything else is a bug: log it with its traceback, answer 500 UNKNOWN without internals."""
    log.exception("unhandled error serving %s %s", request.method, request.url.path)
    return Response(error_body("UNKNOWN", "internal server error"), status_code=500, media_type=JSON)
