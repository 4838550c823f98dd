"""The ASGI application: the OCI distribution API v1.1 over one :class:`Registry`.

Routes (end-N are the spec's endpoint ids)::

    GET            /v2/                                   end-1   base (are my credentials good?)
    GET HEAD       /v2/<name>/blobs/<digest>              end-2   blobs.get_blob
    DELETE         /v2/<name>/blobs/<digest>              end-10  blobs.delete_blob
    POST           /v2/<name>/blobs/uploads/              end-4a/4b/11  uploads.start_upload
    PATCH          /v2/<name>/blobs/uploads/<id>          end-5   uploads.patch_upload
    PUT            /v2/<name>/blobs/uploads/<id>?digest=  end-6   uploads.finish_upload
    GET            /v2/<name>/blobs/uploads/<id>          end-13  uploads.upload_status
    DELETE         /v2/<name>/blobs/uploads/<id>                  uploads.cancel_upload
    GET HEAD       /v2/<name>/manifests/<ref>             end-3   manifests.get_manifest
    PUT            /v2/<name>/manifests/<ref>             end-7   manifests.put_manifest
    DELETE         /v2/<name>/manifests/<ref>             end-9   manifests.delete_manifest
    GET            /v2/<name>/tags/list?n=&last=          end-8   tags.list_tags
    GET            /v2/<name>/referrers/<digest>          end-12  referrers.list_referrers
    GET            /v2/_catalog?n=&last=                          catalog.list_repositories
    GET POST       /token                                         tokens.token (auth.mode: jwt)
    GET            /metrics                                       metrics (http.metrics: true)

Every response carries ``Docker-Distribution-API-Version: registry/2.0`` and, over TLS,
``Strict-Transport-Security``; with ``http.rate_limit`` a client past its budget gets 429
``TOOMANYREQUESTS`` (:mod:`.ratelimit`). Registry calls run in the thread pool, never on the
event loop. Access decisions go to the audit log with the client's address (:mod:`.audit`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..registry.errors import RegistryError
from .audit import audit_output
from .auth import DELETE, PULL, PUSH, Handler, guarded
from .blobs import delete_blob, get_blob, quiet_cut_streams
from .catalog import list_repositories
from .errors import MethodNotAllowed, RouteUnknown, error_response, internal_error_handler, registry_error_handler
from .manifests import delete_manifest, get_manifest, put_manifest
from .metrics import Metrics
from .ratelimit import RateLimit, TokenBuckets
from .referrers import list_referrers
from .replies import json_reply
from .services import Services
from .tags import list_tags
from .tokens import token
from .uploads import cancel_upload, finish_upload, patch_upload, start_upload, upload_status

API_VERSION = (b"docker-distribution-api-version", b"registry/2.0")


def by_method(handlers: Mapping[str, Handler]) -> Handler:
    """One endpoint dispatching to a handler per HTTP method (HEAD goes where GET goes)."""
    async def dispatch(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" and "HEAD" not in handlers else request.method
        return await handlers[method](request)
    return dispatch


async def base(request: Request) -> Response:
    return json_reply({})


def api_routes() -> list[Route]:
    upload_session = by_method({"GET": upload_status, "PATCH": patch_upload, "PUT": finish_upload,
                                "DELETE": cancel_upload})
    blob = by_method({"GET": get_blob, "DELETE": delete_blob})
    manifest = by_method({"GET": get_manifest, "PUT": put_manifest, "DELETE": delete_manifest})
    pull_push = {m: PUSH for m in ("GET", "PATCH", "PUT", "DELETE")}
    read_delete = {"GET": PULL, "DELETE": DELETE}
    start = guarded(start_upload, "blob_upload", {"POST": PUSH})
    return [
        Route("/v2/", guarded(base, "base"), methods=["GET"]),
        Route("/v2", guarded(base, "base"), methods=["GET"]),
        Route("/v2/_catalog", guarded(list_repositories, "catalog", catalog=True), methods=["GET"]),
        Route("/v2/{name:path}/blobs/uploads/", start, methods=["POST"]),
        Route("/v2/{name:path}/blobs/uploads", start, methods=["POST"]),
        Route("/v2/{name:path}/blobs/uploads/{upload}", guarded(upload_session, "blob_upload_chunk", pull_push),
              methods=["GET", "PATCH", "PUT", "DELETE"]),
        Route("/v2/{name:path}/blobs/{digest}", guarded(blob, "blob", read_delete), methods=["GET", "DELETE"]),
        Route("/v2/{name:path}/manifests/{reference}",
              guarded(manifest, "manifest", {"GET": PULL, "PUT": PUSH, "DELETE": DELETE}),
              methods=["GET", "PUT", "DELETE"]),
        Route("/v2/{name:path}/tags/list", guarded(list_tags, "tags", {"GET": PULL}), methods=["GET"]),
        Route("/v2/{name:path}/referrers/{digest}", guarded(list_referrers, "referrers", {"GET": PULL}),
              methods=["GET"]),
        Route("/token", token, methods=["GET", "POST"]),
    ]


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's routing errors (no route, wrong method) in the spec's error shape."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        err: RegistryError = MethodNotAllowed(f"{request.method} is not supported on {request.url.path}")
        return error_response(err, headers=dict(exc.headers or {}))
    if exc.status_code == 404:
        return error_response(RouteUnknown(f"no API endpoint at {request.url.path}"))
    return Response(exc.detail, status_code=exc.status_code, headers=exc.headers)


class _CommonHeaders:
    """Adds the API-version header to every response, and HSTS when serving TLS."""

    def __init__(self, app: ASGIApp, *, hsts_max_age: int | None) -> None:
        self.app = app
        self.extra = [API_VERSION]
        if hsts_max_age is not None:
            self.extra.append((b"strict-transport-security", f"max-age={hsts_max_age}".encode()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + self.extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(services: Services, *, tls: bool = False, certificate: object | None = None) -> ASGIApp:
    """The ASGI app serving ``services``; ``tls`` adds the HSTS header (set it when the server
    terminates TLS itself); ``certificate`` (a :class:`.tls_reload.CertificateReloader`) adds its
    expiry and reload counts to ``/metrics``."""
    routes = api_routes()
    quiet_cut_streams()
    metrics = None
    if services.config.http.metrics:
        cache = services.verifier.cache if services.verifier is not None else None
        metrics = Metrics(services.config.registry.backend,
                          token_cache=(lambda: cache.stats) if cache is not None else None,
                          lost_blobs=lambda: len(services.registry.blobs.lost_blobs()), certificate=certificate,
                          security_alerts=services.audit.alert_counts if services.audit is not None else None)
        routes.append(Route("/metrics", metrics.endpoint, methods=["GET"]))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        with audit_output(services.audit):  # served: the audit lines go to stderr (unless configured)
            yield
        services.close()

    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={RegistryError: registry_error_handler, HTTPException: _http_error,
                                        Exception: internal_error_handler})
    app.state.services = services
    app.state.metrics = metrics
    wrapped: ASGIApp = app
    limit = services.config.http.rate_limit
    if limit is not None:
        wrapped = RateLimit(wrapped, TokenBuckets(limit.rate, limit.burst))
    wrapped = _CommonHeaders(wrapped, hsts_max_age=services.config.http.hsts_max_age if tls else None)
    if metrics is not None:
        wrapped = metrics.middleware(wrapped)
    return wrapped
